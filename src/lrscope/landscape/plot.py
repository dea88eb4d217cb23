"""Figures of loss and the task's primary metric along the line between two weight sets.

matplotlib is imported inside the functions (Agg backend), never at import
time. One column per :class:`~lrscope.landscape.InterpolationResult`, side by
side, in the style of Smith and Topin's (2017) Figure 3: train and test loss (top) and
train and test top-1 (bottom, dashed) against :math:`\\alpha`; the two saved
networks (:math:`\\alpha = 0` and :math:`1`) are marked by dotted lines and
dots, the minimum of the test loss by a star.

A task that is not classification has no top-1: the bottom row shows its
primary metric instead (:class:`lrscope.metrics.Scoring`: e.g. MAE for a
regression scored by it, a task's own metric), and is left out when it would
only repeat the losses or be empty
(:attr:`~lrscope.landscape.InterpolationResult.shows_primary`: a task scored
by its loss alone, a regression trained on the MSE it is scored by). The loss
axis says "cross-entropy, nats" only for a classification; other losses are in
the task's own units.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lrscope._plaintext import plain_text
from lrscope.landscape.result import InterpolationResult, LandscapeError
from lrscope.metrics import METRICS, Metric
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


def _ends_label(ax: Any, result: InterpolationResult) -> None:
    ends = f"α   (0: {_short(result.source_a)},  1: {_short(result.source_b)})"
    ax.set_xlabel(plain_text(ends), fontsize=8)


def _metric_panel(ax: Any, result: InterpolationResult) -> None:
    """Train and test values of the primary metric (top-1 for classification), dashed."""
    alphas = [p.alpha for p in result.points]
    values = [result.primary_of(p) for p in result.points]
    ax.plot(alphas, [train for train, _ in values], color=_TRAIN, linestyle="--")
    ax.plot(alphas, [test for _, test in values], color=_TEST, linestyle="--")
    _mark_ends(ax)
    for alpha, end in ((0.0, result.end_a), (1.0, result.end_b)):
        train, test = result.primary_of(end)
        ax.plot([alpha], [train], "o", color=_TRAIN, markersize=4)
        ax.plot([alpha], [test], "o", color=_TEST, markersize=4)
    _ends_label(ax, result)
    ax.grid(True, alpha=0.3)


def _primary(results: Sequence[InterpolationResult], given: Metric | None) -> Metric | None:
    """The metric of the bottom row, or None when no result shows one (see the module)."""
    if not any(r.shows_primary for r in results):
        return None
    names = {r.primary_metric for r in results if r.shows_primary}
    if len(names) > 1:
        raise LandscapeError(
            f"the interpolations report different primary metrics ({', '.join(sorted(names))}); "
            "plot the results of one task together"
        )
    name = names.pop()
    if given is not None and given.name == name:
        return given
    return METRICS.get(name) or Metric(name, name, "min", "", "")


def _metric_names(metric: Metric) -> tuple[str, str, str]:
    """(axis label, train legend, test legend): classification's words kept."""
    if metric.name == "top1":
        return "top-1 accuracy", "train top-1", "test top-1"
    label = metric.label.replace("\n", " ")
    return label, f"train {label}", f"test {label}"


def plot_interpolations(
    results: Sequence[InterpolationResult],
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    loss_scale: str = "log",
    title: str | None = None,
    primary: Metric | None = None,
) -> Path:
    """Draw several interpolations side by side in one PNG (or any matplotlib format).

    One column per result: loss on top (train blue, test red; dots at the
    saved networks :math:`\\alpha = 0, 1`; a star at the test-loss minimum),
    the task's primary metric below (dashed): top-1 accuracy for a
    classification, e.g. MAE for a regression scored by it; no bottom row
    when it would repeat the losses (a regression trained on the MSE it is
    scored by, a task scored by its loss alone). Rows share their y range, so the columns
    compare directly.

    Args:
        results: one column each, left to right.
        path: output file; its suffix selects the format.
        labels: column titles (default: each result's ``label``, else
            "A -> B" from the file names). One entry per result.
        loss_scale: ``"log"`` (default; extrapolated ends can be orders of
            magnitude higher) or ``"linear"``.
        title: figure title.
        primary: the definition of the results' primary metric (its label
            names the bottom row); default: the metric table's, else its name.

    Returns:
        The path written.

    Raises:
        LandscapeError: no results, a wrong number of labels, or results
            of different primary metrics.
        ParameterError: an unknown ``loss_scale``.
    """
    titles = _titles(results, labels)
    loss_scale = check("plot_interpolations", "loss_scale", loss_scale, LOSS_SCALE)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(results)
    shown = _primary(results, primary)
    fig, axes = plt.subplots(
        2 if shown else 1,
        n,
        figsize=(5.0 * n, 6.4 if shown else 4.2),
        sharex="col",
        sharey="row",
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 2] if shown else [1]},
    )
    try:
        for i, result in enumerate(results):
            _loss_panel(axes[0][i], result, titles[i], loss_scale)
            if shown:
                _metric_panel(axes[1][i], result)
            else:
                _ends_label(axes[0][i], result)
        classification = all(r.primary_metric == "top1" for r in results)
        axes[0][0].set_ylabel("loss (cross-entropy, nats)" if classification else "loss")
        handles = list(axes[0][0].get_legend_handles_labels()[0])
        names = ["train loss", "test loss", "test-loss minimum"]
        if shown:
            axis, train, test = _metric_names(shown)
            axes[1][0].set_ylabel(plain_text(axis))
            handles += axes[1][0].get_lines()[:2]
            names += [plain_text(train), plain_text(test)]
        fig.legend(handles, names, loc="lower center", ncol=5, fontsize=8, frameon=False)
        if title:
            fig.suptitle(plain_text(title))
        fig.tight_layout(rect=(0.0, 0.05 if shown else 0.08, 1.0, 1.0))
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
    primary: Metric | None = None,
) -> Path:
    """One interpolation in one figure: :func:`plot_interpolations` with one panel."""
    return plot_interpolations(
        [result],
        path,
        labels=None if label is None else [label],
        loss_scale=loss_scale,
        primary=primary,
    )
