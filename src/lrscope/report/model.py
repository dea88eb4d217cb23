"""What the report shows, as plain frozen dataclasses (no store, no matplotlib).

:mod:`lrscope.report.data` fills these from a results store;
:mod:`lrscope.report.plots` draws them; :mod:`lrscope.report.html` lays them
out. Keeping the three apart means the page can be tested from hand-made
views and the gathering can be tested without drawing anything.

Units: learning rates are plain numbers (the optimizer's ``lr``), steps count
optimizer steps, accuracies are fractions in [0, 1] (the page shows percent),
losses are in the task's loss units (:attr:`lrscope.metrics.Scoring.loss_unit`:
nats for a classification's cross-entropy), ``wall_s`` in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lrscope.ladder import TimeToAccuracy
from lrscope.metrics import CLASSIFICATION_SCORING, Metric, Scoring
from lrscope.metrics import METRICS as METRIC_TABLE

__all__ = [
    "METRICS",
    "InterpolationView",
    "MetricCurve",
    "PolicyCurve",
    "PolicyRow",
    "RangeTestView",
    "ReportData",
    "StoreSummary",
    "SuggestionMark",
    "TaskView",
    "table_columns",
]


#: The columns of a classification task's ranking table, in order: the LRBench
#: metrics (Wu, Liu et al. 2019, section III) from the metric table of
#: :mod:`lrscope.metrics` (label, direction, display digits, description).
METRICS: tuple[Metric, ...] = tuple(
    METRIC_TABLE[name]
    for name in (
        *("top1", "top5", "best_top1", "best_iter"),
        *("ac", "cd", "cdac", "ld", "n_params", "wall_s"),
    )
)


def table_columns(scoring: Scoring) -> tuple[Metric, ...]:
    """The ranking table's columns for a task scored by ``scoring``.

    Classification: :data:`METRICS`, then the task's own metrics
    (:meth:`lrscope.metrics.Scoring.own_metrics`) and the best value of its
    primary metric when that is not top-1. Other tasks: their own final
    metrics (``test_loss`` last), the best value of the primary metric,
    ``best_iter``, ``ld``, #Param and wall time. Each as the scoring defines
    it (:meth:`lrscope.metrics.Scoring.rankable`: direction and unit).
    """
    known = scoring.rankable()
    if scoring.is_classification:
        added = [known[m.name] for m in scoring.own_metrics()]
        extra = [m for m in (*added, known[scoring.best.name]) if m not in METRICS]
        return (*METRICS, *dict.fromkeys(extra))
    own = sorted(scoring.metrics, key=lambda m: m.name == "test_loss")
    rest = tuple(METRIC_TABLE[name] for name in ("best_iter", "ld", "n_params", "wall_s"))
    return (*own, scoring.best, *rest)


@dataclass(frozen=True)
class StoreSummary:
    """The header of the page: where the data comes from and how much there is.

    ``url`` has its credentials hidden; ``sources`` names the other stores
    that imported rows came from (empty when everything was measured here).
    """

    url: str
    schema_version: str
    counts: Mapping[str, int]
    generated_at: str
    version: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuggestionMark:
    """One suggested learning rate of a range test (``name``: which number it is)."""

    name: str
    lr: float
    method: str
    fallback: str | None = None


@dataclass(frozen=True)
class RangeTestView:
    """One stored range test: per-step training loss and test-subset evaluations."""

    title: str
    lr: tuple[float, ...]
    loss: tuple[float, ...]
    smoothed_loss: tuple[float, ...]
    eval_lr: tuple[float, ...] = ()
    eval_top1: tuple[float, ...] = ()
    eval_loss: tuple[float, ...] = ()
    suggestions: tuple[SuggestionMark, ...] = ()
    diverged_lr: float | None = None


@dataclass(frozen=True)
class PolicyRow:
    """One policy at one step budget on one runtime, aggregated over seeds by :mod:`lrscope.rank`.

    ``mean`` and ``std`` map metric names (:data:`METRICS`) to the mean and the
    sample standard deviation over the seeds that did not diverge; ``rank`` is
    1 for the best policy (``None`` for a row shown apart, whose ``apart`` says
    why: one seed, stopped early, another budget or runtime). ``label`` names
    the row in legends and keys its colour: the spec, with the step budget
    appended when the task holds the same spec at several budgets (and the
    runtime when at several runtimes). ``eval_every`` is the evaluation grid
    of its trials (None when unknown); ``runtime`` the runtime they ran on
    (:func:`lrscope.rank.runtime_label`: ``fp32``, ``bf16``, ``accum=2``,
    ...); ``n_imported`` counts the seeds measured in another store (imported).
    """

    spec: str
    rank: int | None
    n_seeds: int
    n_diverged: int
    mean: Mapping[str, float]
    std: Mapping[str, float]
    pareto: bool = False
    steps: int = 0
    label: str = ""
    apart: str = ""
    eval_every: int | None = None
    n_imported: int = 0
    runtime: str = "fp32"

    @property
    def key(self) -> str:
        """``label`` when set, else ``spec``."""
        return self.label or self.spec


@dataclass(frozen=True)
class PolicyCurve:
    """The learning rate (and momentum, when the policy cycles it) per step.

    ``label`` is the :attr:`PolicyRow.key` of the row drawn.
    """

    label: str
    steps: tuple[int, ...]
    lr: tuple[float, ...]
    momentum: tuple[float, ...] | None = None


@dataclass(frozen=True)
class MetricCurve:
    """The task's primary metric (test top-1 for classification) against step over the
    seeds of one policy: mean, min and max.

    ``label`` is the :attr:`PolicyRow.key` of the row drawn.
    """

    label: str
    steps: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    n_seeds: int


@dataclass(frozen=True)
class InterpolationView:
    """Loss and the task's primary metric along the line between two weight sets.

    :math:`\\theta(\\alpha) = (1-\\alpha)\\theta_A + \\alpha\\theta_B`; ``alphas`` in
    order, losses in ``loss_unit`` (:attr:`lrscope.metrics.Scoring.loss_unit`),
    ``primary`` the test values of ``metric`` (top-1, a fraction in [0, 1],
    for a classification); ``primary`` is empty when the metric would only
    repeat the loss (:attr:`lrscope.landscape.InterpolationResult.shows_primary`).
    """

    title: str
    alphas: tuple[float, ...]
    train_loss: tuple[float, ...]
    test_loss: tuple[float, ...]
    primary: tuple[float, ...] = ()
    metric: Metric = METRIC_TABLE["top1"]
    loss_unit: str = "nats"


@dataclass(frozen=True)
class TaskView:
    """Everything the page shows about one task.

    ``rows`` lists the ranked policies in rank order (:func:`lrscope.rank.rank_trials`,
    the rule of ``lrscope rank`` and ``lrscope tune``) and ``apart`` the rows
    shown apart, never ranked; ``plotted`` the row keys
    (:attr:`PolicyRow.key`) drawn in the curve plots (the top ``N`` by rank)
    and ``colors`` their colours, the same in every plot of the task.
    ``ranked_by`` is the metric of the ranking, ``tie`` its tie margin and
    ``budget`` the ranked step budget and ``runtime`` the ranked runtime
    (:func:`lrscope.rank.runtime_label`); ``pareto_axes`` the (cost, utility)
    metrics of the Pareto front (``best_iter`` and the best value of the
    primary metric); ``scoring`` the task's metrics (their labels and
    directions); ``columns`` those of the ranking table; ``metric_curves`` the
    primary metric during training. ``ladder`` is the time to accuracy of
    rank 1 against FIX on a stored budget ladder (``lrscope tune`` trains
    one), or None. ``provenance`` says which of the task's results were
    imported from other stores, and from which (empty when all were measured
    in this one).
    """

    name: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    status_counts: Mapping[str, int] = field(default_factory=dict)
    range_tests: tuple[RangeTestView, ...] = ()
    rows: tuple[PolicyRow, ...] = ()
    apart: tuple[PolicyRow, ...] = ()
    ranked_by: str = "top1"
    tie: float = 0.0
    budget: int | None = None
    runtime: str = "fp32"
    ladder: TimeToAccuracy | None = None
    pareto_axes: tuple[str, str] = ("best_iter", "best_top1")
    plotted: tuple[str, ...] = ()
    colors: Mapping[str, str] = field(default_factory=dict)
    policy_curves: tuple[PolicyCurve, ...] = ()
    metric_curves: tuple[MetricCurve, ...] = ()
    interpolations: tuple[InterpolationView, ...] = ()
    notes: tuple[str, ...] = ()
    provenance: str = ""
    scoring: Scoring = CLASSIFICATION_SCORING
    columns: tuple[Metric, ...] = METRICS

    def metric(self, name: str) -> Metric:
        """The definition of metric ``name`` of this task (label, unit, direction)."""
        return self.scoring.get(name, owner="the report")


@dataclass(frozen=True)
class ReportData:
    """The whole page: the store summary, one view per task, and page-wide notes.

    ``notes`` name what the page leaves out as a whole (a stored task whose
    row cannot be read); each task's own notes are in its view.
    """

    summary: StoreSummary
    tasks: tuple[TaskView, ...] = ()
    notes: tuple[str, ...] = ()
