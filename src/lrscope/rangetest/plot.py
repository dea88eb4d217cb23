"""Draw a range test: loss (and test accuracy) against lr, suggestions marked.

matplotlib is imported inside :func:`plot_range_test` (Agg canvas, no pyplot
state, no GUI); computing the suggestions is :func:`lrscope.rangetest.suggest`'s
job, this module only draws what a result holds.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lrscope._plaintext import plain_text
from lrscope.rangetest.result import RangeTestResult, Suggestions
from lrscope.rangetest.suggest import suggest

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_range_test"]

_MARKS: dict[str, tuple[str, str]] = {
    "suggested_lr": ("#d1242f", "-"),
    "max_lr": ("#1a7f37", "--"),
    "min_lr": ("#1a7f37", ":"),
    "steepest": ("#8250df", "-."),
    "valley": ("#bf8700", "-."),
}


def _loss_limits(result: RangeTestResult) -> tuple[float, float] | None:
    """y-range of the loss axis: all smoothed values, but the divergence cut off at 1.5x start."""
    values = [v for v in result.smoothed_loss if math.isfinite(v)]
    raw = [v for v in result.loss if math.isfinite(v)]
    if not values or not raw:
        return None
    low = min(min(values), min(raw))
    high = min(max(raw), 1.5 * max(values[0], min(values)))
    if not high > low:
        high = low + max(abs(low), 1.0) * 0.1
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def _mark(ax: Axes, suggestions: Suggestions) -> None:
    for name, (color, style) in _MARKS.items():
        s = getattr(suggestions, name)
        label = f"{name} = {s.lr:.3g} ({s.method}{', fallback' if s.fallback else ''})"
        ax.axvline(s.lr, color=color, linestyle=style, linewidth=1.4, label=plain_text(label))
    lower, upper = suggestions.min_lr.lr, suggestions.max_lr.lr
    if lower < upper:
        ax.axvspan(lower, upper, color="#1a7f37", alpha=0.08)


def plot_range_test(
    result: RangeTestResult, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write the range-test figure to ``path`` (format from its suffix, e.g. ``.png``).

    Left axis: raw mini-batch loss (light) and smoothed loss (dark) against the
    lr on a log axis; the diverging step is marked with a cross. Right axis
    (when the test evaluated): test-subset accuracy. Vertical lines mark and
    the legend labels ``suggested_lr``, ``min_lr``, ``max_lr``, ``steepest``
    and ``valley`` with their rules; the band spans ``min_lr`` to ``max_lr``.
    Returns the path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    suggestions = result.suggestions or suggest(result)
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(result.lr, result.loss, color="#9ecae1", linewidth=0.8, label="loss (batch)")
    ax.plot(result.lr, result.smoothed_loss, color="#08519c", linewidth=1.8, label="smoothed")
    limits = _loss_limits(result)
    if limits is not None:
        ax.set_ylim(*limits)
    if result.diverged_lr is not None and result.diverged_at is not None:
        # drawn at the top edge when the diverging loss is off the chart (or not finite)
        y = result.smoothed_loss[result.diverged_at]
        top = limits[1] if limits is not None else y
        y = min(y, top) if math.isfinite(y) else top
        if math.isfinite(y):
            label = f"diverged at lr {result.diverged_lr:.3g}"
            ax.plot(
                [result.diverged_lr], [y], "x", color="#d1242f", ms=9, clip_on=False, label=label
            )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    _mark(ax, suggestions)
    handles, labels = ax.get_legend_handles_labels()
    if result.evals:
        ax2 = ax.twinx()
        lrs = [p.lr for p in result.evals]
        (line,) = ax2.plot(lrs, [p.top1 for p in result.evals], "o-", color="#e6550d", ms=3)
        ax2.set_ylabel("test-subset accuracy")
        ax2.set_ylim(0.0, 1.0)
        handles.append(line)
        labels.append("test accuracy")
    ax.legend(handles, labels, fontsize=7, loc="lower left")
    name = result.task or "model"
    ax.set_title(
        plain_text(title or f"LR range test: {name} ({result.mode}, {result.steps_done} steps)")
    )
    out = Path(path)
    fig.savefig(out, dpi=110)
    return out
