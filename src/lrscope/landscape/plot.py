"""Figures of loss and accuracy along the line between two weight sets.

matplotlib is imported inside the functions (Agg backend), never at import
time. One column per :class:`~lrscope.landscape.InterpolationResult`, side by
side, in the style of Smith and Topin's (2017) Figure 3: train and test loss (top) and
train and test top-1 (bottom, dashed) against :math:`\\alpha`; the two saved
networks (:math:`\\alpha = 0` and :math:`1`) are marked by dotted lines and
dots, the minimum of the test loss by a star.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lrscope._plaintext import plain_text
from lrscope.landscape.result import InterpolationResult, LandscapeError
from lrscope.validation import Choice, check

__all__ = ["LOSS_SCALE", "plot_interpolation", "plot_interpolations"]

_TRAIN = "tab:blue"
_TEST = "tab:red"
LOSS_SCALE = Choice(("log", "linear"))
"""The loss axis: ``"log"`` or ``"linear"``."""


def _short(source: str) -> str:
    """``run/step_000600.pt`` for ``/long/path/run/step_000600.pt``."""
    parts = Path(source).parts if source else ("?",)
    return "/".join(parts[-2:])


def _mark_ends(ax: Any) -> None:
    for alpha in (0.0, 1.0):
        ax.axvline(alpha, color="0.6", linestyle=":", linewidth=1.0)


def _loss_panel(ax: Any, result: InterpolationResult, title: str, loss_scale: str) -> None:
    alphas = [p.alpha for p in result.points]
    ax.plot(alphas, [p.train_loss for p in result.points], color=_TRAIN, label="train")
    ax.plot(alphas, [p.test_loss for p in result.points], color=_TEST, label="test")
    _mark_ends(ax)
    for alpha, end in ((0.0, result.end_a), (1.0, result.end_b)):
        ax.plot([alpha], [end.train_loss], "o", color=_TRAIN, markersize=5)
        ax.plot([alpha], [end.test_loss], "o", color=_TEST, markersize=5)
    best = result.argmin("test_loss")
    ax.plot(
        [best.alpha], [best.test_loss], "*", color="black", markersize=10, label="test-loss minimum"
    )
    ax.annotate(
        f"α={best.alpha:.2f}",
        (best.alpha, best.test_loss),
        textcoords="offset points",
        xytext=(0, -14),
        ha="center",
        fontsize=8,
    )
    ax.set_yscale(loss_scale)
    ax.set_title(plain_text(title), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)


def _accuracy_panel(ax: Any, result: InterpolationResult) -> None:
    alphas = [p.alpha for p in result.points]
    ax.plot(alphas, [p.train_top1 for p in result.points], color=_TRAIN, linestyle="--")
    ax.plot(alphas, [p.top1 for p in result.points], color=_TEST, linestyle="--")
    _mark_ends(ax)
    for alpha, end in ((0.0, result.end_a), (1.0, result.end_b)):
        ax.plot([alpha], [end.train_top1], "o", color=_TRAIN, markersize=4)
        ax.plot([alpha], [end.top1], "o", color=_TEST, markersize=4)
    ends = f"α   (0: {_short(result.source_a)},  1: {_short(result.source_b)})"
    ax.set_xlabel(plain_text(ends), fontsize=8)
    ax.grid(True, alpha=0.3)


def plot_interpolations(
    results: Sequence[InterpolationResult],
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    loss_scale: str = "log",
    title: str | None = None,
) -> Path:
    """Draw several interpolations side by side in one PNG (or any matplotlib format).

    One column per result: loss on top (train blue, test red; dots at the
    saved networks :math:`\\alpha = 0, 1`; a star at the test-loss minimum),
    top-1 accuracy below (dashed). Rows share their y range, so the columns
    compare directly.

    Args:
        results: one column each, left to right.
        path: output file; its suffix selects the format.
        labels: column titles (default: each result's ``label``, else
            "A -> B" from the file names). One entry per result.
        loss_scale: ``"log"`` (default; extrapolated ends can be orders of
            magnitude higher) or ``"linear"``.
        title: figure title.

    Returns:
        The path written.

    Raises:
        LandscapeError: no results, or a wrong number of labels.
        ParameterError: an unknown ``loss_scale``.
    """
    titles = _titles(results, labels)
    loss_scale = check("plot_interpolations", "loss_scale", loss_scale, LOSS_SCALE)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    fig, axes = plt.subplots(
        2,
        n,
        figsize=(5.0 * n, 6.4),
        sharex="col",
        sharey="row",
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 2]},
    )
    try:
        for i, result in enumerate(results):
            _loss_panel(axes[0][i], result, titles[i], loss_scale)
            _accuracy_panel(axes[1][i], result)
        axes[0][0].set_ylabel("loss (cross-entropy, nats)")
        axes[1][0].set_ylabel("top-1 accuracy")
        handles = [
            *axes[0][0].get_legend_handles_labels()[0],
            *axes[1][0].get_lines()[:2],
        ]
        names = ["train loss", "test loss", "test-loss minimum", "train top-1", "test top-1"]
        fig.legend(handles, names, loc="lower center", ncol=5, fontsize=8, frameon=False)
        if title:
            fig.suptitle(plain_text(title))
        fig.tight_layout(rect=(0.0, 0.05, 1.0, 1.0))
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
    finally:
        plt.close(fig)
    return out


def _titles(results: Sequence[InterpolationResult], labels: Sequence[str] | None) -> list[str]:
    if not results:
        raise LandscapeError("plot_interpolations needs at least one interpolation result")
    if labels is not None and len(labels) != len(results):
        raise LandscapeError(
            f"got {len(labels)} label(s) for {len(results)} interpolation(s); "
            "give one label per interpolation or none"
        )
    if labels is not None:
        return list(labels)
    return [r.label or f"{_short(r.source_a)} → {_short(r.source_b)}" for r in results]


def plot_interpolation(
    result: InterpolationResult,
    path: str | Path,
    *,
    label: str | None = None,
    loss_scale: str = "log",
) -> Path:
    """One interpolation in one figure: :func:`plot_interpolations` with one panel."""
    return plot_interpolations(
        [result], path, labels=None if label is None else [label], loss_scale=loss_scale
    )
