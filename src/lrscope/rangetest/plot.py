"""Draw a range test: loss (and test accuracy) against lr, suggestions marked.

matplotlib is imported inside the functions, never at module import.
:func:`draw_range_test` draws on any axes and returns them (what
:meth:`RangeTestResult.plot <lrscope.rangetest.RangeTestResult.plot>` calls in
a notebook); :func:`plot_range_test` writes a file from an Agg canvas, with no
pyplot state and no GUI. Computing the suggestions is
:func:`lrscope.rangetest.suggest`'s job; this module draws what a result holds
and the robust curve the suggestions were read on.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lrscope._plaintext import plain_text
from lrscope.rangetest.reading import Reading, default_half_width, read_curve
from lrscope.rangetest.suggest import suggest
from lrscope.rangetest.suggestions import Suggestions

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

    from lrscope.rangetest.result import RangeTestResult

__all__ = ["draw_range_test", "loss_limits", "plot_range_test"]

_MARKS: dict[str, tuple[str, str]] = {
    "suggested_lr": ("#d1242f", "-"),
    "max_lr": ("#1a7f37", "--"),
    "min_lr": ("#1a7f37", ":"),
    "onecycle_max_lr": ("#8250df", "--"),
    "steepest": ("#8250df", "-."),
    "valley": ("#bf8700", "-."),
}


def loss_limits(reading: Reading) -> tuple[float, float] | None:
    """y-range of the loss axis: the whole dip of the raw loss, the blow-up cut off.

    From just below the lowest raw batch loss of the analysable curve (the
    dip the bounds are read from) to a little above the higher of the
    plateau and the starting level of the robust loss; the rise into
    divergence, often orders of magnitude higher, runs off the top. ``None``
    when nothing can be analysed.
    """
    curve = reading.curve
    if curve.n == 0:
        return None
    low = float(np.min(curve.loss))
    level = reading.plateau if math.isfinite(reading.plateau) else float(reading.robust[0])
    high = max(level, float(reading.robust[0]))
    if not high > low:
        high = low + max(abs(low), 1.0) * 0.1
    return low - 0.05 * (high - low), high + 0.25 * (high - low)


def _mark(ax: Axes, suggestions: Suggestions) -> None:
    for name, (color, style) in _MARKS.items():
        s = getattr(suggestions, name)
        label = f"{name} = {s.lr:.3g} ({s.method}{', fallback' if s.fallback else ''})"
        ax.axvline(s.lr, color=color, linestyle=style, linewidth=1.4, label=plain_text(label))
    lower, upper = suggestions.min_lr.lr, suggestions.max_lr.lr
    if suggestions.usable and lower < upper:
        ax.axvspan(lower, upper, color="#1a7f37", alpha=0.08)


def _diverged(ax: Axes, result: RangeTestResult, top: float | None) -> None:
    if result.diverged_lr is None or result.diverged_at is None:
        return
    # drawn at the top edge when the diverging loss is off the chart (or not finite)
    y = result.loss[result.diverged_at]
    if top is not None:
        y = min(y, top) if math.isfinite(y) else top
    if math.isfinite(y):
        label = f"diverged at lr {result.diverged_lr:.3g}"
        ax.plot([result.diverged_lr], [y], "x", color="#d1242f", ms=9, clip_on=False, label=label)


def _accuracy(ax: Axes, result: RangeTestResult) -> tuple[list[Artist], list[str]]:
    """The test-subset accuracy on a second axis; its loss for a task without top-1."""
    handles, labels = ax.get_legend_handles_labels()
    if result.evals:
        ax2 = ax.twinx()
        lrs = [p.lr for p in result.evals]
        if any(math.isfinite(p.top1) for p in result.evals):
            (line,) = ax2.plot(lrs, [p.top1 for p in result.evals], "o-", color="#e6550d", ms=3)
            ax2.set_ylabel("test-subset accuracy")
            ax2.set_ylim(0.0, 1.0)
            labels.append("test accuracy")
        else:  # a regression (or a loss-only task): its test loss
            (line,) = ax2.plot(
                lrs, [p.test_loss for p in result.evals], "o-", color="#e6550d", ms=3
            )
            ax2.set_ylabel("test-subset loss")
            labels.append("test loss")
        handles.append(line)
    return list(handles), labels


def draw_range_test(
    result: RangeTestResult, ax: Axes | None = None, *, title: str | None = None
) -> Axes:
    """Draw ``result`` on ``ax`` and return the axes.

    ``ax=None`` makes a new figure with ``matplotlib.pyplot.subplots`` (so a
    notebook shows it, as torch-lr-finder's ``plot`` does). Drawn: the raw
    mini-batch loss (light), the robust loss the suggestions are read on
    (dark), the recorded smoothed loss (thin, dashed), all against the lr
    on a log axis; the y-axis spans the raw loss's dip (:func:`loss_limits`).
    Vertical lines mark ``suggested_lr``, ``min_lr``, ``max_lr``,
    ``onecycle_max_lr``, ``steepest`` and ``valley`` with their rules; the
    band spans ``min_lr`` to ``max_lr``; a cross marks where the test
    diverged; the test-subset accuracy is on a second axis when the test
    evaluated. A test without a usable range gets no band and its reason as
    the title's second line.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    suggestions = result.suggestions or suggest(result)
    reading = read_curve(result.lr, result.loss, default_half_width(result.steps))
    curve = reading.curve
    ax.plot(result.lr, result.loss, color="#9ecae1", linewidth=0.8, label="loss (batch)")
    ax.plot(curve.lr, reading.robust, color="#08519c", linewidth=1.8, label="robust loss (read)")
    ax.plot(
        result.lr, result.smoothed_loss, color="#6b6b6b", linewidth=0.8, linestyle="--",
        label="smoothed (recorded)",
    )  # fmt: skip
    limits = loss_limits(reading)
    if limits is not None:
        ax.set_ylim(*limits)
    _diverged(ax, result, None if limits is None else limits[1])
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    _mark(ax, suggestions)
    handles, labels = _accuracy(ax, result)
    ax.legend(handles, labels, fontsize=7, loc="lower left")
    name = result.task or "model"
    heading = title or f"LR range test: {name} ({result.mode}, {result.steps_done} steps)"
    if not suggestions.usable:
        heading += f"\nno usable range: {suggestions.reason}"
    ax.set_title(plain_text(heading), fontsize=9 if not suggestions.usable else None, wrap=True)
    return ax


def plot_range_test(
    result: RangeTestResult, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write the figure of :func:`draw_range_test` to ``path`` (format from its suffix).

    Uses an Agg canvas of its own (no pyplot figure is left open). Returns
    the path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    draw_range_test(result, fig.add_subplot(), title=title)
    out = Path(path)
    fig.savefig(out, dpi=110)
    return out
