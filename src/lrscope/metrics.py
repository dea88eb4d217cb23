"""The metric table: every metric lrscope measures, ranks or shows, defined once.

Each :class:`Metric` carries its name (the key in results, the store and
``--metric``), a short label (table headers; a newline marks where it may
wrap), its unit, its direction (``"max"``: higher is better, ``"min"``: lower
is better), how it is displayed and a one-line description. The CLI's
``--metric`` help, ``lrscope rank``, ``tune``, ``recommend`` and the report
read this table; nothing else spells a metric's direction.

The built-in trial metrics are those of LRBench (Wu, Liu et al. 2019,
section III): utility (top-1, top-5, the best top-1 and the step that reached
it), confidence (AC, CD, CDAC), the loss difference LD, cost (wall time,
#Param) and robustness (the share of seeds that diverged). Tasks that are not
classification add loss-based metrics (:data:`REGRESSION_METRICS`) or their
own, each a :class:`Metric` with a direction.

Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from lrscope.validation import Choice, check

__all__ = [
    "AGGREGATED_METRICS",
    "CLASSIFICATION_METRICS",
    "COMMON_METRICS",
    "METRICS",
    "RANK_METRICS",
    "REGRESSION_METRICS",
    "Direction",
    "Metric",
    "get_metric",
    "metric_help",
]

Direction = Literal["max", "min"]


@dataclass(frozen=True)
class Metric:
    """One metric: what it is called, what it measures and which way is better.

    ``unit`` is ``"fraction"`` (in [0, 1]), ``"steps"`` (optimizer steps),
    ``"nats"`` (a loss), ``"s"`` (seconds), ``"count"`` or ``""`` (a plain
    number, e.g. a loss in the task's own units). ``percent`` shows a fraction
    as percent; ``digits`` is the number of decimals shown.
    """

    name: str
    label: str
    direction: Direction
    unit: str
    description: str
    percent: bool = False
    digits: int = 3

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"

    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is; ``sign() * value`` is "goodness"."""
        return 1.0 if self.direction == "max" else -1.0

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` (NaN is never better)."""
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        return a > b if self.direction == "max" else a < b

    def sort_key(self, value: float) -> tuple[bool, float]:
        """Ascending sort key that puts the best value first and NaN last."""
        if math.isnan(value):
            return (True, 0.0)
        return (False, -self.sign() * value)

    def format(self, mean: float, std: float = math.nan) -> str:
        """``mean±std`` in the display unit (percent for fractions so marked); ``-`` for NaN."""
        if math.isnan(mean):
            return "-"
        scale = 100.0 if self.percent else 1.0
        digits = self.digits
        text = f"{scale * mean:.{digits}f}"
        return text if math.isnan(std) else f"{text}±{scale * std:.{digits}f}"

    @property
    def header(self) -> str:
        """The label on one line, with `` %`` for percentages."""
        label = self.label.replace("\n", " ")
        return f"{label} %" if self.percent else label


def _table(metrics: Iterable[Metric]) -> dict[str, Metric]:
    return {m.name: m for m in metrics}


#: What a classification trial measures (LRBench, section III), in table order.
CLASSIFICATION_METRICS: Mapping[str, Metric] = _table(
    (
        Metric("top1", "Top-1", "max", "fraction", "final test top-1 accuracy", True, 2),
        Metric("top5", "Top-5", "max", "fraction", "final test top-5 accuracy", True, 2),
        Metric(
            "best_top1",
            "Best\ntop-1",
            "max",
            "fraction",
            "highest test top-1 over the evaluations",
            True,
            2,
        ),
        Metric(
            "best_iter",
            "Best\niter",
            "min",
            "steps",
            "step at which the best value of the primary metric was first reached",
            digits=0,
        ),
        Metric("ld", "LD", "min", "nats", "loss difference: test loss minus train loss"),
        Metric("ac", "AC", "max", "fraction", "average confidence of correct predictions"),
        Metric("cd", "CD", "min", "fraction", "confidence deviation of correct predictions"),
        Metric("cdac", "CDAC", "min", "fraction", "confidence deviation across classes"),
        Metric("wall_s", "Wall s", "min", "s", "wall time per trial, seconds", digits=1),
    )
)

#: Loss-based metrics of a regression task (the test set, final model).
REGRESSION_METRICS: Mapping[str, Metric] = _table(
    (
        Metric("mse", "MSE", "min", "", "mean squared error on the test set", digits=5),
        Metric("mae", "MAE", "min", "", "mean absolute error on the test set", digits=5),
        Metric("r2", "R²", "max", "", "coefficient of determination on the test set", digits=4),
    )
)

#: Metrics every trial has, whatever the task.
COMMON_METRICS: Mapping[str, Metric] = _table(
    (
        Metric("test_loss", "Test\nloss", "min", "", "final loss on the test set", digits=4),
        Metric(
            "diverged_rate",
            "Diverged",
            "min",
            "fraction",
            "share of the seeds whose training diverged",
            True,
            0,
        ),
        Metric(
            "n_params", "#Param", "min", "count", "number of parameters of the policy", digits=0
        ),
    )
)

#: Every built-in metric by name.
METRICS: Mapping[str, Metric] = {
    **CLASSIFICATION_METRICS,
    **REGRESSION_METRICS,
    **COMMON_METRICS,
}

#: The per-trial metrics a ranking averages over seeds (``<name>_mean``,
#: ``<name>_std`` in its rows), in column order.
AGGREGATED_METRICS: tuple[str, ...] = tuple(CLASSIFICATION_METRICS)

#: The metrics ``lrscope rank --metric``, ``tune --metric`` and the report
#: rank by: the aggregated ones and the share of diverged seeds.
RANK_METRICS: tuple[str, ...] = (*AGGREGATED_METRICS, "diverged_rate")


def get_metric(
    name: str,
    *,
    among: Iterable[str] = RANK_METRICS,
    extra: Mapping[str, Metric] | None = None,
    owner: str = "the ranking",
) -> Metric:
    """The metric called ``name`` among the built-ins named in ``among`` and ``extra``.

    ``among`` defaults to :data:`RANK_METRICS` (what a ranking can order by);
    ``extra`` adds a task's own metrics. ``owner`` names the caller in the
    error message ("The 'metric' parameter of the ranking must be a str among
    {'top1', 'top5', ...}. Got 'accuracy' instead.").

    Raises:
        ParameterError: an unknown name; the message lists the known ones.
    """
    known = {**{n: METRICS[n] for n in among}, **(extra or {})}
    chosen: str = check(owner, "metric", name, Choice(tuple(known)))
    return known[chosen]


def metric_help(names: Iterable[str] = RANK_METRICS) -> str:
    """``name (better: higher|lower)`` for each name: the ``--metric`` help text."""
    parts = []
    for name in names:
        metric = METRICS[name]
        parts.append(f"{name} ({'higher' if metric.higher_is_better else 'lower'} is better)")
    return "; ".join(parts)
