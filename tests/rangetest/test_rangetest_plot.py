"""The range-test figure: written, labelled, and matplotlib only imported when drawing."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from lrscope.rangetest import plot_range_test, range_test, read_curve
from lrscope.rangetest.reading import default_half_width

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


def test_plot_returns_its_axes_and_shows_the_raw_dip(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = range_test(make_task(), start_lr=1e-3, end_lr=1e6, steps=80, eval_every=10)
    assert result.suggestions is not None
    fig, given = plt.subplots()
    try:
        ax = result.plot(ax=given)
        assert ax is given
        low, high = ax.get_ylim()
        reading = read_curve(result.lr, result.loss, default_half_width(result.steps))
        assert low <= float(np.min(reading.curve.loss))  # the whole dip of the raw loss
        assert high >= reading.plateau
        finite = [v for v in result.loss if math.isfinite(v)]
        assert high < max(finite)  # the blow-up runs off the top
        labels = [str(line.get_label()) for line in ax.get_lines()]
        assert any(label.startswith("suggested_lr = ") for label in labels)
        assert any(label.startswith("onecycle_max_lr = ") for label in labels)
        assert "robust loss (read)" in labels
    finally:
        plt.close(fig)
    new = result.plot()
    try:
        assert new.figure is not fig
        assert new.get_xscale() == "log"
    finally:
        plt.close(new.figure)  # type: ignore[arg-type]


def test_a_test_without_a_usable_range_says_so_in_the_title(tmp_path: Path) -> None:
    from .hostile import random_labels_task

    result = range_test(random_labels_task(), steps=120)
    assert result.suggestions is not None
    assert not result.suggestions.usable
    svg = plot_range_test(result, tmp_path / "flat.svg").read_text()
    assert "no usable range" in svg


def test_dollars_in_the_task_name_and_title_are_drawn_as_text(tmp_path: Path) -> None:
    """mathtext would fail on these at draw time; they are plain text (lrscope._plaintext)."""
    import dataclasses

    result = range_test(make_task(), start_lr=1e-3, end_lr=1e6, steps=40)
    odd = dataclasses.replace(result, task=r"cost $5 and $\frac{x$")
    svg = plot_range_test(odd, tmp_path / "rt.svg").read_text()
    assert "cost $5 and $\\frac{x$" in svg
    png = plot_range_test(result, tmp_path / "rt.png", title="_$x^{$")
    assert png.read_bytes()[:8] == PNG_MAGIC
