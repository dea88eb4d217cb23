"""lrscope._plaintext: any user string drawn by matplotlib exactly as written."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lrscope._plaintext import plain_text


def _svg(text: str) -> str:
    """``text`` drawn as a title into an SVG (which keeps each text as a comment)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure()
    FigureCanvasSVG(figure)
    figure.add_subplot().set_title(text)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "text",
    [r"cost $5 and $6", r"$\frac{x$", r"$x^{$", "$", r"a\$b", "_hidden", r"\$\$", "plain"],
)
def test_plain_text_draws_without_mathtext(text: str) -> None:
    from matplotlib.text import Text

    shown = Text(text=plain_text(text))
    # what Text.draw shows; _preprocess_math is private, so matplotlib's stubs leave it out
    literal, math = shown._preprocess_math(shown.get_text())  # type: ignore[attr-defined]
    assert not math
    assert literal.removeprefix("\u200b") == text
    assert f"<!-- {literal} -->" in _svg(plain_text(text)).replace("&#x27;", "'")


def test_a_leading_underscore_is_not_hidden_from_legends() -> None:
    assert plain_text("_x") == "\u200b_x"
    assert plain_text("x_") == "x_"


@given(st.text(max_size=40))
def test_any_text_is_literal(text: str) -> None:
    from matplotlib.text import Text

    shown = Text(text=plain_text(text))
    literal, math = shown._preprocess_math(shown.get_text())  # type: ignore[attr-defined]
    assert not math
    assert literal in (text, "\u200b" + text)
