"""The range-test figure: written, labelled, and matplotlib only imported when drawing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lrscope.rangetest import plot_range_test, range_test

from .tiny import make_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_marks_and_labels_the_suggestions(tmp_path: Path) -> None:
    result = range_test(make_task(), start_lr=1e-3, end_lr=1e6, steps=80, eval_every=10)
    assert result.diverged
    assert result.evals
    assert result.suggestions is not None
    svg = plot_range_test(result, tmp_path / "rt.svg").read_text()
    for name in ("suggested_lr", "max_lr", "min_lr", "steepest", "valley", "test accuracy"):
        assert name in svg
    assert f"{result.suggestions.max_lr.lr:.3g}" in svg
    png = plot_range_test(result, tmp_path / "rt.png")
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_importing_the_package_does_not_import_matplotlib() -> None:
    code = "import sys, lrscope.rangetest; print('matplotlib' in sys.modules)"
    src = str(Path(__file__).parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "False"


def test_dollars_in_the_task_name_and_title_are_drawn_as_text(tmp_path: Path) -> None:
    """mathtext would fail on these at draw time; they are plain text (lrscope._plaintext)."""
    import dataclasses

    result = range_test(make_task(), start_lr=1e-3, end_lr=1e6, steps=40)
    odd = dataclasses.replace(result, task=r"cost $5 and $\frac{x$")
    svg = plot_range_test(odd, tmp_path / "rt.svg").read_text()
    assert "cost $5 and $\\frac{x$" in svg
    png = plot_range_test(result, tmp_path / "rt.png", title="_$x^{$")
    assert png.read_bytes()[:8] == PNG_MAGIC
