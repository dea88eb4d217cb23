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
classification add loss-based metrics (:data:`REGRESSION_METRICS`); any task,
classification too, may add its own, each a :class:`Metric` with a direction,
which rank, tune, recommend and the report order by as they do the built-ins.

A task's metrics are a :class:`Scoring`: the definitions of its final test
metrics and the name of its primary one, which picks the best evaluation of a
trial (``best_<primary>`` and ``best_iter``), the default ranking and the
Pareto front. Classification tasks score as :data:`CLASSIFICATION_SCORING`
(top-1 primary), regression tasks as :data:`REGRESSION_SCORING` (MSE primary).
A task's metadata carries its scoring (:meth:`Scoring.to_metadata`), so a
ranking read from the store knows which way each metric points.

Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from lrscope.errors import ParameterError
from lrscope.validation import (
    INVALID,
    Bool,
    Choice,
    Constraint,
    Identifier,
    Interval,
    Text,
    Validated,
    check,
)

__all__ = [
    "AGGREGATED_METRICS",
    "CLASSIFICATION_METRICS",
    "CLASSIFICATION_SCORING",
    "COMMON_METRICS",
    "LOSS_SCORING",
    "METRICS",
    "RANK_METRICS",
    "REGRESSION_METRICS",
    "REGRESSION_SCORING",
    "RESERVED_NAMES",
    "Direction",
    "Metric",
    "MetricList",
    "Scoring",
    "best_of",
    "get_metric",
    "metric_help",
]

Direction = Literal["max", "min"]


@dataclass(frozen=True)
class Metric(Validated):
    """One metric: what it is called, what it measures and which way is better.

    ``unit`` is ``"fraction"`` (in [0, 1]), ``"steps"`` (optimizer steps),
    ``"nats"`` (a classification's cross-entropy loss), ``"loss units"`` (a
    loss in another task's own units), ``"s"`` (seconds), ``"count"`` or
    ``""`` (a plain number), or any short unit of a task's own metric. A
    loss's unit depends on the task (:attr:`Scoring.loss_unit`): the table's
    ``ld`` says nats, as LRBench's classification does, and
    :meth:`Scoring.rankable` gives other tasks theirs. ``percent`` shows a
    fraction as percent; ``digits`` is the number of decimals shown.

    Raises:
        ParameterError: a name that is not an identifier, a direction other
            than ``"max"`` / ``"min"``, an empty label.
    """

    owner = "Metric"

    name: Annotated[str, Identifier()]
    label: Annotated[str, Text(max_length=40, strip=True)]
    direction: Annotated[Direction, Choice(("max", "min"))]
    unit: Annotated[str, Text(min_length=0, max_length=20)]
    description: Annotated[str, Text(min_length=0, max_length=200)]
    percent: Annotated[bool, Bool()] = False
    digits: Annotated[int, Interval(int, 0, 12)] = 3

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
    """``name (better: higher|lower)`` for each name: the ``--metric`` help text.

    With the default names (LRBench's) it ends with where a task's own
    metrics come from.
    """
    parts = []
    for name in names:
        metric = METRICS[name]
        parts.append(f"{name} ({'higher' if metric.higher_is_better else 'lower'} is better)")
    text = "; ".join(parts)
    if tuple(names) == RANK_METRICS:
        text += (
            "; a task ranks by its own metrics and best_<primary> too (a classification's "
            "custom bal_acc: bal_acc and best_bal_acc); regression ranks by mse, mae, r2, "
            "test_loss and best_mse (default: the primary metric, mse)"
        )
    return text


#: Names a task's own metric may not take: the other fields of a trial's
#: result and of a ranking row (``best_<name>`` is kept for the best value of
#: the primary metric).
RESERVED_NAMES: frozenset[str] = frozenset(
    {
        "best_iter",
        "ld",
        "wall_s",
        "n_params",
        "diverged_rate",
        "steps_done",
        "diverged",
        "diverged_at",
        "task",
        "spec",
        "seed",
        "steps",
        "eval_every",
        "runtime",
        "curve",
        "metrics",
        "primary_metric",
        "rank",
        "pareto",
        "seeds",
        "n",
        "n_diverged",
    }
)


def best_of(metric: Metric) -> Metric:
    """``best_<name>``: the best value of ``metric`` over a trial's evaluations.

    Same direction, unit and display as ``metric``; for ``top1`` it is the
    table's ``best_top1``.
    """
    name = f"best_{metric.name}"
    if name in METRICS:
        return METRICS[name]
    return Metric(
        name,
        f"Best\n{metric.label.replace(chr(10), ' ')}",
        metric.direction,
        metric.unit,
        f"best value of {metric.name} over the evaluations",
        metric.percent,
        metric.digits,
    )


@dataclass(frozen=True)
class MetricList(Constraint):
    """A non-empty list of :class:`Metric` with distinct names (canonical form: a tuple)."""

    def coerce(self, value: object) -> Any:
        if not isinstance(value, (list, tuple)) or not value:
            return INVALID
        if not all(isinstance(m, Metric) for m in value):
            return INVALID
        if len({m.name for m in value}) != len(value):
            return INVALID
        return tuple(value)

    def describe(self) -> str:
        return "a non-empty list of Metric with distinct names"


#: Built-in metrics every task may name; the task's own may not reuse these
#: names with another meaning.
_BUILTIN_BEST = {f"best_{name}" for name in METRICS}


@dataclass(frozen=True)
class Scoring(Validated):
    """How a task is scored: its final test metrics and the primary one.

    ``metrics`` are the definitions of every metric a trial reports at the
    end (``test_loss`` among them); ``primary`` names the one that picks the
    best evaluation of a trial (``best_<primary>``, ``best_iter``), orders a
    ranking by default and spans the Pareto front with ``best_iter``.

    >>> REGRESSION_SCORING.primary, REGRESSION_SCORING.best.name, REGRESSION_SCORING.best.direction
    ('mse', 'best_mse', 'min')

    Raises:
        ParameterError: ``primary`` is not one of the metrics, or a metric has
            a reserved name (:data:`RESERVED_NAMES`, ``best_...``).
    """

    owner = "the task's scoring"

    metrics: Annotated[tuple[Metric, ...], MetricList()]
    primary: Annotated[str, Identifier()]

    def _check(self) -> None:
        names = tuple(m.name for m in self.metrics)
        check(self.owner_name(), "primary", self.primary, Choice(names))
        for metric in self.metrics:
            builtin = METRICS.get(metric.name)
            reserved = metric.name in RESERVED_NAMES or (
                metric.name.startswith("best_") and metric.name not in _BUILTIN_BEST
            )
            if reserved or (builtin is not None and builtin.name.startswith("best_")):
                raise ParameterError(
                    self.owner_name(),
                    "metrics",
                    "metrics whose names are neither reserved "
                    f"({', '.join(sorted(RESERVED_NAMES))}) nor start with 'best_'",
                    metric.name,
                )

    @property
    def primary_metric(self) -> Metric:
        """The :class:`Metric` called :attr:`primary`."""
        return next(m for m in self.metrics if m.name == self.primary)

    @property
    def best(self) -> Metric:
        """``best_<primary>``: the best value of the primary metric over the evaluations."""
        return best_of(self.primary_metric)

    @property
    def is_classification(self) -> bool:
        """Whether the LRBench classification metrics (top-1 and the rest) are scored."""
        return all(name in self.names for name in ("top1", "top5", "ac", "cd", "cdac"))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    @property
    def loss_unit(self) -> str:
        """The unit of the task's loss, and so of ``test_loss`` and ``ld``.

        ``"nats"`` for a classification (its loss is the mean cross-entropy
        with natural logarithms, LRBench's); ``"loss units"`` for any other
        task: its loss is its own (a regression's MSE is in squared target
        units), which lrscope does not know the unit of.
        """
        return "nats" if self.is_classification else "loss units"

    def _in_loss_units(self, metric: Metric) -> Metric:
        """``metric`` (a loss or a difference of losses) with :attr:`loss_unit`."""
        if metric.unit == self.loss_unit:
            return metric
        return replace(metric, unit=self.loss_unit)

    @property
    def default_rank_metric(self) -> str:
        """What ``lrscope rank``, ``tune``, the report and the demo order by: the
        primary metric at the end of the budget (the model a user keeps; its best
        value over the evaluations would credit a checkpoint nobody kept)."""
        return self.primary

    def own_metrics(self) -> tuple[Metric, ...]:
        """The task's metrics beyond LRBench's columns, in declared order.

        Every metric of a task that is not a classification. For a
        classification: those the LRBench scoring
        (:data:`CLASSIFICATION_SCORING`) does not have, and its primary
        metric whatever it is (a classification ranked by ``test_loss``
        ranks by it); so LRBench's own scoring adds none and ranks as
        lrscope always ranked it.
        """
        if not self.is_classification:
            return self.metrics
        lrbench = set(CLASSIFICATION_SCORING.names) - {self.primary}
        return tuple(m for m in self.metrics if m.name not in lrbench)

    def rankable(self) -> dict[str, Metric]:
        """Every metric a ranking of this task can order by (``--metric``).

        Classification: :data:`RANK_METRICS` (LRBench's; ``ld`` in nats),
        then the task's own metrics (:meth:`own_metrics`) and
        ``best_<primary>``. Other tasks: their final metrics,
        ``best_<primary>``, ``best_iter``, ``ld``, ``wall_s`` and
        ``diverged_rate``. ``ld`` and ``test_loss`` are in :attr:`loss_unit`
        (the definitions a task records keep their own, so stored tasks read
        as they were stored). Each metric keeps its declared direction.
        """
        table: dict[str, Metric] = {}
        if self.is_classification:
            table.update((name, METRICS[name]) for name in RANK_METRICS)
        table.update((m.name, m) for m in self.own_metrics())
        best = self.best
        table[best.name] = best
        for name in ("best_iter", "ld", "wall_s", "diverged_rate"):
            table[name] = METRICS[name]
        for name in ("ld", "test_loss"):
            if table.get(name) == METRICS[name]:
                table[name] = self._in_loss_units(METRICS[name])
        return table

    def aggregated(self) -> tuple[str, ...]:
        """The per-trial metrics a ranking averages over seeds, in column order.

        LRBench's columns (:data:`AGGREGATED_METRICS`: a classification's, NaN
        for another task), then the task's own final metrics
        (:meth:`own_metrics`) and ``best_<primary>``: for LRBench's own
        scoring, :data:`AGGREGATED_METRICS` alone.
        """
        names = dict.fromkeys(AGGREGATED_METRICS)
        names.update(dict.fromkeys(m.name for m in self.own_metrics()))
        names[self.best.name] = None
        return tuple(names)

    def get(self, name: str, *, owner: str) -> Metric:
        """The rankable metric called ``name``; a :class:`ParameterError` naming ``owner`` else."""
        return get_metric(name, among=(), extra=self.rankable(), owner=owner)

    def to_metadata(self) -> dict[str, Any]:
        """``{"metrics": [{name, label, direction, unit}, ...], "primary_metric": name}``.

        What :class:`lrscope.tasks.TaskMetadata` records, and the store
        fingerprints: a task whose metrics change is another task.
        """
        return {
            "metrics": [
                {"name": m.name, "label": m.label, "direction": m.direction, "unit": m.unit}
                for m in self.metrics
            ],
            "primary_metric": self.primary,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> Scoring:
        """The scoring a task's metadata records; a classification task's without one.

        Tasks stored before tasks declared their metrics were all
        classification tasks, scored as :data:`CLASSIFICATION_SCORING`.

        Raises:
            ParameterError: a recorded definition that is not a valid metric.
        """
        if not metadata or not metadata.get("metrics"):
            return CLASSIFICATION_SCORING
        definitions = metadata["metrics"]
        if not isinstance(definitions, (list, tuple)) or not all(
            isinstance(d, Mapping) for d in definitions
        ):
            raise ParameterError(
                cls.owner_name(), "metrics", "a list of metric definitions", definitions
            )
        metrics = tuple(_metric_from_definition(d) for d in definitions)
        primary = metadata.get("primary_metric") or metrics[0].name
        return cls(metrics=metrics, primary=primary)


def _metric_from_definition(data: Mapping[str, Any]) -> Metric:
    """A recorded ``{name, label, direction, unit}``: the table's metric when it matches."""
    name, label = data.get("name"), data.get("label") or data.get("name")
    direction, unit = data.get("direction"), data.get("unit", "")
    builtin = METRICS.get(name) if isinstance(name, str) else None
    if builtin is not None and (builtin.label, builtin.direction, builtin.unit) == (
        label,
        direction,
        unit,
    ):
        return builtin
    return Metric(name, label, direction, unit, "", digits=4)  # type: ignore[arg-type]


#: How a classification task is scored (LRBench): top-1 primary.
CLASSIFICATION_SCORING = Scoring(
    metrics=tuple(METRICS[name] for name in ("top1", "top5", "ac", "cd", "cdac", "test_loss")),
    primary="top1",
)
#: How a regression task is scored: MSE primary, MAE and R² too.
REGRESSION_SCORING = Scoring(
    metrics=(*REGRESSION_METRICS.values(), METRICS["test_loss"]), primary="mse"
)
#: How a task scored by its loss alone is (a training step without evaluation outputs).
LOSS_SCORING = Scoring(metrics=(METRICS["test_loss"],), primary="test_loss")
