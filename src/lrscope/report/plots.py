"""The report's figures, drawn with matplotlib and returned as lean inline SVG.

matplotlib is imported inside the functions (never at module import), and
figures are built with :class:`matplotlib.figure.Figure` directly, so no
pyplot state and no GUI backend is involved. Text stays text
(``svg.fonttype = "none"``) and takes the page's font; every string comes out
escaped by matplotlib's SVG writer; :func:`finish_svg` then drops what an
inline SVG does not need (XML prologue, metadata, unreferenced ids, font
lists), rounds coordinates to 0.1 unit and prefixes the ids that remain so
several SVGs can share one page.

Sizes are in SVG user units, which the page shows at about one unit per CSS
pixel (a full-width figure is :data:`FULL_W` units wide).
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lrscope._plaintext import plain_text
from lrscope.metrics import METRICS as METRIC_TABLE
from lrscope.metrics import Metric
from lrscope.report.decimate import minmax_indices, stride_indices
from lrscope.report.model import (
    InterpolationView,
    MetricCurve,
    PolicyCurve,
    PolicyRow,
    RangeTestView,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FULL_W",
    "OTHER_COLOR",
    "PALETTE",
    "finish_svg",
    "interpolation_svg",
    "metric_curves_svg",
    "metric_limits",
    "pareto_svg",
    "policy_curves_svg",
    "range_test_svg",
]

#: Colours of the plotted policies, in rank order (Tableau 10 without its grey).
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#17becf",
)
#: Colour of the policies that are listed but not drawn in colour.
OTHER_COLOR = "#c3c8cf"
TEXT_COLOR = "#1f2328"
MUTED_COLOR = "#59636e"

FULL_W = 1040.0  # units (~CSS px) of a full-width figure
_UNITS_PER_INCH = 72.0

_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "lrscope-report",
    "font.size": 11.5,
    "axes.titlesize": 12.5,
    "axes.titlelocation": "left",
    "axes.titlepad": 10.0,
    "axes.titleweight": "bold",
    "axes.labelsize": 11.5,
    "axes.labelcolor": TEXT_COLOR,
    "axes.edgecolor": "#8c959f",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e8ebef",
    "grid.linewidth": 0.8,
    "xtick.color": MUTED_COLOR,
    "ytick.color": MUTED_COLOR,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "legend.fontsize": 10.5,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.solid_capstyle": "round",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "path.simplify": True,
}


@contextmanager
def _figure(width: float, height: float, ncols: int = 1) -> Iterator[tuple[Figure, list[Axes]]]:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    style: Any = _STYLE  # matplotlib types rc keys as literals
    with matplotlib.rc_context(style):
        layout = ConstrainedLayoutEngine(w_pad=8 / 72, h_pad=6 / 72, wspace=0.06)
        fig = Figure(figsize=(width / _UNITS_PER_INCH, height / _UNITS_PER_INCH), layout=layout)
        axes = fig.subplots(1, ncols, squeeze=False)[0]
        yield fig, list(axes)


_NUM = re.compile(r"-?\d+\.\d{2,}")
_GEOM_ATTR = re.compile(r'\b(d|x|y|x1|x2|y1|y2|width|height|transform|points)="([^"]*)"')


def _round_geometry(svg: str) -> str:
    def attr(match: re.Match[str]) -> str:
        value = _NUM.sub(lambda m: f"{float(m.group(0)):.1f}", match.group(2))
        value = re.sub(r"\s*\n\s*", " ", value).strip()
        return f'{match.group(1)}="{value}"'

    return _GEOM_ATTR.sub(attr, svg)


def finish_svg(svg: str, *, uid: str, title: str) -> str:
    """Make matplotlib's SVG document an element fit to inline in HTML.

    ``uid`` (letters, digits, ``-``) prefixes every id kept; ``title`` becomes
    the SVG's accessible ``<title>`` (escaped here).
    """
    if not re.fullmatch(r"[A-Za-z][\w-]*", uid):
        raise ValueError(f"uid must be letters, digits, '_' or '-', got {uid!r}")
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    svg = re.sub(r"font-family:[^;\"]*;?\s*", "", svg)
    referenced = set(re.findall(r"url\(#([^)]+)\)", svg))
    referenced |= set(re.findall(r'href="#([^"]+)"', svg))

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        return f' id="{uid}-{name}"' if name in referenced else ""

    svg = re.sub(r'\s+id="([^"]*)"', rename, svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{uid}-{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{uid}-{m.group(1)}"', svg)
    svg = _round_geometry(svg)
    svg = re.sub(r'\s(width|height)="[\d.]+pt"', "", svg, count=2)
    svg = re.sub(r">\s+<", "><", svg)
    head_end = svg.index(">") + 1
    head = svg[:head_end].replace("<svg", '<svg role="img" class="plot"', 1)
    return f"{head}<title>{html.escape(title)}</title>{svg[head_end:]}"


def _to_svg(fig: Figure, uid: str, title: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return finish_svg(buffer.getvalue(), uid=uid, title=title)


_MAX_LINE_POINTS = 800  # per line: about one point per unit of a full-width axis


def _thin(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """Finite ``(x, y)`` pairs, min-max decimated to about :data:`_MAX_LINE_POINTS`."""
    fx, fy = _finite_pairs(xs, ys)
    keep = minmax_indices(fy, _MAX_LINE_POINTS)
    return [fx[i] for i in keep], [fy[i] for i in keep]


def _finite_pairs(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=False) if math.isfinite(x) and math.isfinite(y)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade_label(value: float, _pos: object = None) -> str:
    """``10⁻³`` for a power of ten, else empty: log-axis labels without mathtext."""
    if value <= 0 or not math.isfinite(value):
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) > 1e-9:
        return ""
    return "10" + str(round(exponent)).translate(_SUPERSCRIPT)


def _log_axis(ax: Axes, axis: str = "x") -> None:
    """A log scale labelled ``10⁻⁴, 10⁻³, ...`` (plain text, no mathtext).

    Minor ticks only at 2 and 5 times each decade: enough to read a value off,
    and a quarter of the tick objects matplotlib would otherwise lay out.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_locator(LogLocator(base=10.0, numticks=12))
    target.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 5.0), numticks=12))
    target.set_major_formatter(FuncFormatter(_decade_label))
    target.set_minor_formatter(NullFormatter())


def _percent_axis(ax: Axes, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))


_SUGGESTION_STYLE: dict[str, dict[str, Any]] = {
    "suggested_lr": {"color": "#d1242f", "linestyle": "-", "linewidth": 1.8},
    "onecycle_max_lr": {"color": "#8250df", "linestyle": "--", "linewidth": 1.4},
    "steepest": {"color": "#57606a", "linestyle": ":", "linewidth": 1.3},
    "valley": {"color": "#bf8700", "linestyle": ":", "linewidth": 1.3},
    "min_div_10": {"color": "#0969da", "linestyle": ":", "linewidth": 1.3},
}


def _loss_limits(loss: Sequence[float]) -> tuple[float, float] | None:
    finite = [v for v in loss if math.isfinite(v)]
    if not finite:
        return None
    low = min(finite)
    first = finite[: max(1, len(finite) // 10)]
    high = max(max(first), low) * 1.15
    pad = 0.05 * (high - low or abs(high) or 1.0)
    return low - pad, high + pad


def _mark_suggestions(ax: Axes, view: RangeTestView) -> None:
    by_name = {s.name: s for s in view.suggestions}
    low, high = by_name.get("min_lr"), by_name.get("max_lr")
    if low is not None and high is not None and 0 < low.lr < high.lr:
        ax.axvspan(low.lr, high.lr, color="#2da44e", alpha=0.10, lw=0, label="min_lr to max_lr")
    for mark in view.suggestions:
        if mark.name in ("min_lr", "max_lr") or not (mark.lr > 0 and math.isfinite(mark.lr)):
            continue
        style = _SUGGESTION_STYLE.get(mark.name, {"color": "#6e7781", "linestyle": "-."})
        label = plain_text(f"{mark.name} = {mark.lr:.3g} ({mark.method})")
        ax.axvline(mark.lr, label=label, **style)
    if view.diverged_lr is not None and view.diverged_lr > 0:
        ax.axvline(view.diverged_lr, color="#24292f", lw=1.0, ls=(0, (2, 2)), label="diverged")


def range_test_svg(view: RangeTestView, *, uid: str, title: str) -> str:
    """Training loss against lr (log axis) with the suggestions marked; the test subset's
    accuracy beside it (its loss, for a task without top-1).

    The raw per-step loss is drawn thin and light, the smoothed loss bold; the
    y axis is cut at 1.15 times the loss at the start so a divergence does not
    flatten the interesting part.
    """
    accuracy = bool(_finite_pairs(view.eval_lr, view.eval_top1)[0])
    has_evals = accuracy or bool(_finite_pairs(view.eval_lr, view.eval_loss)[0])
    with _figure(FULL_W, 420, ncols=2 if has_evals else 1) as (fig, axes):
        ax = axes[0]
        lr, loss = _thin(view.lr, view.loss)
        slr, smooth = _thin(view.lr, view.smoothed_loss)
        ax.plot(lr, loss, color="#9fb3c8", lw=0.8, alpha=0.8, label="loss per step")
        ax.plot(slr, smooth, color="#1f4e79", lw=2.0, label="smoothed loss")
        _mark_suggestions(ax, view)
        if slr and min(slr) > 0:
            _log_axis(ax)
        limits = _loss_limits(view.smoothed_loss or view.loss)
        if limits is not None:
            ax.set_ylim(*limits)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("Loss against learning rate")
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=4,
            handlelength=2.2,
            columnspacing=2.0,
            fontsize=10,
        )
        if has_evals:
            ax2 = axes[1]
            values = view.eval_top1 if accuracy else view.eval_loss
            elr, shown = _finite_pairs(view.eval_lr, values)
            marker = "o" if len(elr) <= 40 else None
            what = "test top-1" if accuracy else "test loss"
            ax2.plot(elr, shown, color="#2da44e", marker=marker, ms=3.5, lw=1.6, label=what)
            _mark_suggestions(ax2, view)
            if min(elr) > 0:
                _log_axis(ax2)
            if accuracy:
                _percent_axis(ax2)
                ax2.set_ylim(bottom=0)
            ax2.set_xlim(ax.get_xlim())
            ax2.set_xlabel("learning rate")
            ax2.set_ylabel(f"{what} (subset)")
            ax2.set_title(f"{'Accuracy' if accuracy else 'Test loss'} against learning rate")
        return _to_svg(fig, uid, title)


def _use_log(values: Sequence[float]) -> bool:
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    return bool(positive) and len(positive) == len(values) and max(positive) / min(positive) > 50


def policy_curves_svg(
    curves: Sequence[PolicyCurve], colors: Mapping[str, str], *, uid: str, title: str
) -> str:
    """Learning rate against step for each policy; momentum beside it when any cycles it."""
    has_momentum = any(c.momentum is not None for c in curves)
    with _figure(FULL_W, 320, ncols=2 if has_momentum else 1) as (fig, axes):
        ax = axes[0]
        all_lr: list[float] = []
        for i, curve in enumerate(curves):
            color = colors.get(curve.label, OTHER_COLOR)
            ax.plot(*_thin(curve.steps, curve.lr), color=color, lw=1.6, zorder=3 + len(curves) - i)
            all_lr.extend(curve.lr)
        if _use_log(all_lr):
            _log_axis(ax, "y")
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
        ax.set_title("Learning rate")
        ax.set_xlim(left=0)
        if has_momentum:
            ax2 = axes[1]
            for curve in curves:
                if curve.momentum is not None:
                    color = colors.get(curve.label, OTHER_COLOR)
                    ax2.plot(*_thin(curve.steps, curve.momentum), color=color, lw=1.6)
            ax2.set_xlabel("step")
            ax2.set_ylabel("momentum")
            ax2.set_title("Momentum (policies that cycle it)")
            ax2.set_xlim(left=0)
        return _to_svg(fig, uid, title)


ZOOM_FROM = 0.25
"""The metric plot's y axis covers every mean from this share of training on."""


def metric_limits(
    curves: Sequence[MetricCurve], metric: Metric = METRIC_TABLE["top1"]
) -> tuple[float, float] | None:
    """The y range of the metric plot: where the policies differ, not 0 to 100 %.

    It spans every curve's mean from :data:`ZOOM_FROM` of its steps on and
    the best seed's edge of every band (the top of a higher-is-better
    metric's, the bottom of a lower-is-better one's), padded by a tenth of
    that span (at least half a percentage point for a percentage, else 2 % of
    the largest magnitude); a percentage is kept within [0, 1]. The first
    steps, where every policy is still far off, fall outside the axis. None
    without finite points. Returned low first, whatever the metric's direction.
    """
    late: list[float] = []
    best: list[float] = []
    for curve in curves:
        if not curve.steps:
            continue
        cut = curve.steps[0] + ZOOM_FROM * (curve.steps[-1] - curve.steps[0])
        late += [m for t, m in zip(curve.steps, curve.mean, strict=True) if t >= cut]
        best += list(curve.high if metric.higher_is_better else curve.low)
    late = [v for v in late if math.isfinite(v)]
    if not late:
        return None
    edges = late + [v for v in best if math.isfinite(v)]
    low, high = (min(late), max(edges)) if metric.higher_is_better else (min(edges), max(late))
    floor = 0.005 if metric.percent else 0.02 * max(abs(low), abs(high), 1e-12)
    pad = max(0.1 * (high - low), floor)
    if metric.percent:
        return max(0.0, low - pad), min(1.0, high + pad)
    return low - pad, high + pad


def _metric_axis(ax: Axes, metric: Metric, axis: str = "y") -> None:
    """Percent ticks for a percentage; a lower-is-better metric's axis flipped (up: better)."""
    if metric.percent:
        _percent_axis(ax, axis)
    if not metric.higher_is_better:
        (ax.invert_yaxis if axis == "y" else ax.invert_xaxis)()


def _axis_name(metric: Metric) -> str:
    """A metric's label inside an axis title: lower case but acronyms, drawn as written."""
    words = metric.label.replace("\n", " ").split(" ")
    return plain_text(" ".join(word if word.isupper() else word.lower() for word in words))


def metric_curves_svg(
    curves: Sequence[MetricCurve],
    colors: Mapping[str, str],
    metric: Metric,
    *,
    uid: str,
    title: str,
) -> str:
    """``metric`` (the task's primary metric) against step: the mean over seeds, with a band
    from min to max. Up is better (a lower-is-better metric's axis is flipped); the y
    axis is zoomed to where the policies differ (:func:`metric_limits`)."""
    with _figure(FULL_W, 360) as (fig, axes):
        ax = axes[0]
        for i, curve in enumerate(curves):
            color = colors.get(curve.label, OTHER_COLOR)
            z = 3 + len(curves) - i
            keep = stride_indices(len(curve.steps), _MAX_LINE_POINTS // 2)
            steps = [curve.steps[k] for k in keep]
            if curve.n_seeds > 1:
                low, high = [curve.low[k] for k in keep], [curve.high[k] for k in keep]
                ax.fill_between(steps, low, high, color=color, alpha=0.16, lw=0)
            ax.plot(steps, [curve.mean[k] for k in keep], color=color, lw=1.8, zorder=z)
        limits = metric_limits(curves, metric)
        if limits is not None:
            ax.set_ylim(*limits)
        _metric_axis(ax, metric)
        ax.set_xlabel("step")
        ax.set_ylabel(f"test {_axis_name(metric)}")
        ax.set_xlim(left=0)
        return _to_svg(fig, uid, title)


def pareto_svg(
    rows: Sequence[PolicyRow],
    colors: Mapping[str, str],
    *,
    uid: str,
    title: str,
    x_metric: Metric = METRIC_TABLE["best_iter"],
    y_metric: Metric = METRIC_TABLE["best_top1"],
) -> str:
    """Mean utility against mean cost per policy, the Pareto front as a staircase.

    Every policy is a point (grey unless it is drawn in colour elsewhere), with
    its rank written beside it when it is coloured or on the front. Up is
    better: the axis of a lower-is-better utility (e.g. ``best_mse``) is flipped.
    """
    with _figure(FULL_W, 380) as (fig, axes):
        ax = axes[0]
        x_name, y_name = x_metric.name, y_metric.name
        points = [(r, r.mean.get(x_name, math.nan), r.mean.get(y_name, math.nan)) for r in rows]
        points = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
        grey = [p for p in points if p[0].key not in colors]
        ax.scatter([p[1] for p in grey], [p[2] for p in grey], s=18, color=OTHER_COLOR, lw=0)
        front = sorted((p for p in points if p[0].pareto), key=lambda p: p[1])
        if front:
            ax.step(
                [p[1] for p in front],
                [p[2] for p in front],
                where="post",
                color="#24292f",
                lw=1.2,
                ls="--",
                zorder=2,
                label="Pareto front",
            )
            ax.scatter(
                [p[1] for p in front],
                [p[2] for p in front],
                s=120,
                facecolor="none",
                edgecolor="#24292f",
                lw=1.3,
                zorder=4,
            )
        for row, x, y in points:
            if row.key in colors:
                ax.scatter([x], [y], s=54, color=colors[row.key], zorder=5, lw=0.8, ec="white")
            if row.rank is not None and (row.key in colors or row.pareto):
                ax.annotate(
                    f"{row.rank}",
                    (x, y),
                    xytext=(7, 5),
                    textcoords="offset points",
                    fontsize=9.5,
                    color=MUTED_COLOR,
                    zorder=6,
                )
        _metric_axis(ax, y_metric)
        ax.set_xlabel(_AXIS_NAMES.get(x_name, _axis_name(x_metric)) + " (mean over seeds)")
        ax.set_ylabel(_AXIS_NAMES.get(y_name, _axis_name(y_metric)) + " (mean over seeds)")
        if front:
            ax.legend(loc="lower right")
        return _to_svg(fig, uid, title)


_AXIS_NAMES = {
    "best_iter": "step of the best value",
    "best_top1": "best test top-1",
    "top1": "final test top-1",
    "top5": "final test top-5",
    "wall_s": "wall time per trial (s)",
}


def interpolation_svg(view: InterpolationView, *, uid: str, title: str) -> str:
    """Train and test loss along the line from weights A (alpha 0) to B (alpha 1), and the
    test value of the task's primary metric beside it when the view has one (top-1 for a
    classification; none for a regression trained on the MSE it is scored by)."""
    shown = bool(_finite_pairs(view.alphas, view.primary)[0])
    metric = view.metric
    with _figure(FULL_W, 320, ncols=2 if shown else 1) as (fig, axes):
        ax = axes[0]
        ax.plot(*_finite_pairs(view.alphas, view.train_loss), color="#4e79a7", label="train loss")
        ax.plot(*_finite_pairs(view.alphas, view.test_loss), color="#e15759", label="test loss")
        ax.set_xlabel("alpha  (0 = A, 1 = B)")
        ax.set_ylabel("loss (nats)" if view.loss_unit == "nats" else "loss")
        ax.set_title("Loss along the line")
        ax.legend(loc="best")
        targets = [ax]
        if shown:
            ax2 = axes[1]
            what = f"test {_axis_name(metric)}"
            ax2.plot(*_finite_pairs(view.alphas, view.primary), color="#59a14f", label=what)
            if metric.percent:
                _percent_axis(ax2)
            ax2.set_xlabel("alpha  (0 = A, 1 = B)")
            ax2.set_ylabel(what)
            name = "Accuracy" if metric.name == "top1" else _axis_name(metric)
            ax2.set_title(f"{name} along the line")
            targets.append(ax2)
        for target in targets:
            for alpha in (0.0, 1.0):
                target.axvline(alpha, color="#8c959f", lw=0.9, ls=":", zorder=1)
        return _to_svg(fig, uid, title)
