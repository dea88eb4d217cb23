"""Plots of interpolations, and the light import of lrscope.landscape."""

from __future__ import annotations

import subprocess
import sys
from math import nan
from pathlib import Path

import pytest

from lrscope.errors import ParameterError
from lrscope.landscape import (
    InterpolationPoint,
    InterpolationResult,
    LandscapeError,
    plot_interpolation,
    plot_interpolations,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _result(label: str, bump: float, primary_metric: str = "top1") -> InterpolationResult:
    """A classification's line; with another ``primary_metric`` a regression's, whose
    top-1 is NaN and whose primary metric is its MSE loss (``"mse"``) or its MAE."""
    points = []
    for i in range(15):
        alpha = -0.2 + 0.1 * i
        loss = 0.5 + bump * alpha * (1 - alpha) + 0.1 * alpha
        if primary_metric == "top1":
            point = InterpolationPoint(alpha, loss, 0.9 - loss / 10, loss + 0.2, 0.8, 0.99)
        else:
            own = (loss, loss + 0.2) if primary_metric == "mse" else (loss / 3, loss / 2)
            point = InterpolationPoint(alpha, loss, nan, loss + 0.2, nan, nan, *own)
        points.append(point)
    ends = (points[2], points[12])
    return InterpolationResult(
        "t",
        "run/step_000012.pt",
        "run/step_000024.pt",
        tuple(points),
        *ends,
        recompute_bn=False,
        train_samples=100,
        label=label,
        primary_metric=primary_metric,
    )


def _height(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[20:24], "big")


def test_side_by_side_png(tmp_path: Path) -> None:
    out = plot_interpolations(
        [_result("TRI", 2.0), _result("FIX", -0.5)],
        tmp_path / "sub" / "cmp.png",
        labels=["TRI cycles 2-3", "FIX"],
    )
    assert out == tmp_path / "sub" / "cmp.png"
    data = out.read_bytes()
    assert data.startswith(PNG_MAGIC)
    width = int.from_bytes(data[16:20], "big")
    single = plot_interpolation(_result("TRI", 2.0), tmp_path / "one.png", loss_scale="linear")
    single_width = int.from_bytes(single.read_bytes()[16:20], "big")
    assert width > 1.8 * single_width  # two panels side by side


def test_a_regression_scored_by_its_loss_has_no_empty_accuracy_row(tmp_path: Path) -> None:
    classification = plot_interpolation(_result("c", 1.0), tmp_path / "c.png")
    regression = plot_interpolation(_result("r", 1.0, "mse"), tmp_path / "r.png")
    by_mae = plot_interpolation(_result("m", 1.0, "mae"), tmp_path / "m.png")
    assert _height(classification) == _height(by_mae) == round(6.4 * 120)  # two rows
    assert _height(regression) == round(4.2 * 120)  # the loss row alone
    with pytest.raises(LandscapeError, match="different primary metrics"):
        plot_interpolations([_result("c", 1.0), _result("m", 1.0, "mae")], tmp_path / "x.png")


def test_plot_argument_errors(tmp_path: Path) -> None:
    pair = [_result("a", 1.0), _result("b", 1.0)]
    with pytest.raises(LandscapeError, match="one label per"):
        plot_interpolations(pair, tmp_path / "x.png", labels=["only one"])
    with pytest.raises(ParameterError, match="'loss_scale' parameter of plot_interpolations"):
        plot_interpolations(pair, tmp_path / "x.png", loss_scale="symlog")
    with pytest.raises(LandscapeError, match="at least one"):
        plot_interpolations([], tmp_path / "x.png")


def test_importing_the_results_and_plots_is_light() -> None:
    code = (
        "import sys; from lrscope.landscape import InterpolationResult, plot_interpolations; "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).parents[2] / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]"


def test_dollars_in_labels_sources_and_title_are_drawn_as_text(tmp_path: Path) -> None:
    """mathtext would fail on these at draw time; they are plain text (lrscope._plaintext)."""
    result = _result(r"$\undefined{", 2.0)
    out = plot_interpolations(
        [result], tmp_path / "i.svg", labels=[r"cost $5 and $\frac{x$"], title="$x^{$"
    )
    svg = out.read_text()
    assert "cost $5 and $\\frac{x$" in svg
    assert "$x^{$" in svg
