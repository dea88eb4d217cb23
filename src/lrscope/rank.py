"""Rank LR policies from stored trials: the one ranking rule of lrscope.

``lrscope rank``, ``lrscope tune``'s table and winner, the report and the demo
summary all rank with :func:`rank_trials`, so they rank the same trials by the
same rule and quote the same numbers.

Trials are grouped by ``(task, spec, steps, eval_every)``: one policy at one
budget, measured on one evaluation grid (``best_<primary>`` and ``best_iter``
depend on the grid). For each group:

- ``n``: trials measured (stored ``done`` or ``diverged``, or ``pruned``:
  stopped early on purpose; ``failed`` and ``running`` trials are not
  measurements and are left out); ``n_diverged`` and
  ``diverged_rate = n_diverged / n``.
- for every metric ``m`` the task's scoring aggregates
  (:meth:`lrscope.metrics.Scoring.aggregated`: LRBench's columns of
  :data:`lrscope.metrics.AGGREGATED_METRICS`, NaN for a task that is not
  classification, then the task's own final metrics and ``best_<primary>``),
  ``m_mean`` and ``m_std``: the mean and the sample standard deviation
  (``n - 1`` in the denominator) over the *non-diverged* trials whose value
  is finite. A diverged trial's numbers describe a model that blew up, so
  they are not averaged in; the failure shows in ``diverged_rate`` instead.
  With one such value the std is NaN; with none (every seed diverged) mean
  and std are NaN. NaN is printed as ``-`` in the table, empty in CSV and
  ``null`` in JSON.
- ``n_params``: the policy's number of parameters (LRBench's #Param).

Which groups are ranked: those measured on at least ``min_seeds`` seeds
(:data:`DEFAULT_MIN_SEEDS`) that trained their whole budget, at the main
budget (``steps``, default: the budget at which the most such groups were
measured, the largest of those: where the comparison is; a tune's timing
trials or time-to-accuracy ladder, one or two policies at shorter budgets,
never take it from its confirmed policies). The others
are *shown apart* (:attr:`Ranking.apart`, each with its reason): one-seed
groups (a search's trials: one seed says little, and the best of many
one-seed results is flattered by luck), trials stopped early, and other
budgets. They are never ranked and never on the Pareto front.

The rule (:func:`order_rows`), LRBench's (Wu, Liu et al. 2019: the highest
utility at the lowest cost), robustness first: groups that diverged on fewer
of their seeds come first (a mean over the seeds that did not blow up would
flatter a policy that diverges one time in three; no user wants it). Among
groups that diverge equally often: take the best remaining group by the
metric's mean (in its direction from :mod:`lrscope.metrics`: higher is
better for accuracies, confidence and R², lower for losses, errors,
``best_iter``, ``ld``, ``cd``, ``cdac``, ``wall_s`` and ``diverged_rate``;
NaN last); the
groups within ``tie`` of it are tied (``tie`` is absolute for a fraction such
as top-1 and relative to that best value for any other metric, whose scale is
the task's), and among them the one that is better on the tie-break
(:func:`tie_break`) comes next; repeat:

- ranked by a value of the *final* model (final top-1, MSE, test loss, the
  task's own metrics: the default), every group trained the same budget, so
  there is no cost to save: the most robust comes next, the one of the
  lowest standard deviation of that metric over its seeds (LRBench's
  robustness), then the lower ``best_iter`` mean. The steps at which one seed
  happened to peak say nothing about a schedule that is kept to its end: on
  tune's confirmation seeds the cost rule put SIN (96.60 %, std 0.50) over
  COS (96.90 %, std 0.44) on MNIST-1D because SIN's best evaluation came 160
  steps earlier on average;
- ranked by anything else (``best_<primary>``, which a user can reach by
  stopping at ``best_iter``, and the cost-like metrics), the one of lowest
  cost, ``best_iter`` mean (the steps to its best evaluation, LRBench's
  "#Iterations"): the highest utility at the lowest cost.

``tie=0`` orders by the metric alone (exact ties by the same tie-break,
then the spec). The default
metric is the task's primary metric at the end of the budget (its
:class:`~lrscope.metrics.Scoring`, :func:`task_scoring`: final test top-1 for
classification, final test MSE for regression): the model a user keeps.

Pareto front (``pareto``): among the ranked groups, those not dominated in
utility (the mean of ``best_<primary>``, in the primary metric's direction)
against cost (``best_iter_mean``, lower is better); a group is dominated when
another is at least as good in both and strictly better in one. Groups with a
NaN in either are never on the front.

>>> ranking = rank(Store.open(), "mnist1d-cnn")            # doctest: +SKIP
>>> ranking.rows[0].spec, ranking.to_dataframe().shape     # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from lrscope.errors import LRScopeWarning
from lrscope.metrics import AGGREGATED_METRICS, CLASSIFICATION_SCORING, Metric, Scoring
from lrscope.validation import (
    COUNT,
    FINITE_FLOAT,
    INVALID,
    NONNEGATIVE_FLOAT,
    STEP_SIZE,
    OrNone,
    check,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas  # type: ignore[import-untyped,unused-ignore]

    from lrscope.store import Store

__all__ = [
    "DEFAULT_MIN_SEEDS",
    "DEFAULT_TIE",
    "PolicyStats",
    "Ranking",
    "TrialLike",
    "aggregate",
    "left_out",
    "order_rows",
    "pareto_front",
    "rank",
    "rank_trials",
    "task_scoring",
    "tie_break",
    "tie_break_name",
    "tie_margin",
    "trial_value",
]

DEFAULT_TIE = 0.003
"""Metric differences up to this count as ties: in the metric's units for a
fraction (top-1), relative to the best value for every other metric
(:func:`tie_margin`).

On MNIST-1D (1,000 test samples) the final top-1 of one policy varies by
about 0.005 from seed to seed, so a 3-seed mean has a standard error of about
0.003: closer than that, two policies are not told apart."""
DEFAULT_MIN_SEEDS = 2
"""Groups measured on fewer seeds are shown apart, not ranked (a spread needs two)."""

_MEASURED = ("done", "diverged", "pruned")
_OWNER = "the ranking"


class TrialLike(Protocol):
    """What a ranking reads of a trial: a store ``TrialRecord`` or a ``TrialResult``.

    Besides these, every metric of :data:`lrscope.metrics.AGGREGATED_METRICS`
    and ``eval_every`` are read as attributes of those names, and any other
    metric (a task's own, ``test_loss``, ``best_<primary>``) from the record's
    ``metrics`` mapping (a float; ``None`` or NaN when not measured; no
    ``eval_every`` is one grid). A record with a
    ``status`` (the store's) is measured when it is ``done``, ``diverged`` or
    ``pruned``; one without (an engine result) always is, and counts as
    diverged when ``diverged`` is true.
    """

    @property
    def task(self) -> str: ...
    @property
    def spec(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def n_params(self) -> int | None: ...
    @property
    def diverged(self) -> bool: ...


def _status(record: TrialLike) -> str:
    status = getattr(record, "status", None)
    if status is None:  # an engine TrialResult: finished, maybe diverged
        return "diverged" if record.diverged else "done"
    return str(getattr(status, "value", status))


def _finite(value: object) -> float | None:
    """``value`` as a float if it is a finite number (not a bool), else None."""
    number = FINITE_FLOAT.coerce(value)
    return None if number is INVALID else float(number)


def _measured(record: TrialLike, metric: str) -> float | None:
    """The record's finite value of ``metric``: a column, else from its ``metrics`` mapping."""
    if metric in AGGREGATED_METRICS:
        return _finite(getattr(record, metric, None))
    metrics = getattr(record, "metrics", None)
    return _finite(metrics.get(metric)) if isinstance(metrics, Mapping) else None


def trial_value(record: TrialLike, metric: str) -> float:
    """One trial's value of ``metric`` (an LRBench column, or a task's own metric,
    ``test_loss`` or ``best_<primary>`` from its ``metrics``); NaN when not measured."""
    value = _measured(record, metric)
    return math.nan if value is None else value


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else math.nan


@dataclass(frozen=True)
class PolicyStats:
    """One row of a ranking: a policy (spec) at a step budget on a task.

    ``mean[m]`` and ``std[m]`` for every aggregated metric ``m`` (see the
    module docstring for which, and for NaN), ``n`` trials measured of which
    ``n_diverged`` diverged, ``rank`` (1 = best; 0 when not ranked),
    ``pareto`` (on the utility/cost front),
    ``eval_every`` (the evaluation grid; None when the records have none),
    ``partial`` (the trials stopped early) and ``apart``: why the row is shown
    apart from the ranking (empty for a ranked row).
    """

    task: str
    spec: str
    steps: int
    n: int
    n_diverged: int
    n_params: int | None
    mean: Mapping[str, float]
    std: Mapping[str, float]
    rank: int = 0
    pareto: bool = False
    seeds: tuple[int, ...] = field(default_factory=tuple)
    eval_every: int | None = None
    partial: bool = False
    apart: str = ""

    @property
    def diverged_rate(self) -> float:
        """Fraction of the measured trials that diverged, in [0, 1]."""
        return self.n_diverged / self.n if self.n else math.nan

    @property
    def ranked(self) -> bool:
        return self.rank > 0

    def value(self, metric: str) -> float:
        """What the ranking orders by for ``metric``: its mean, or ``diverged_rate``."""
        if metric == "diverged_rate":
            return self.diverged_rate
        return self.mean.get(metric, math.nan)

    def to_dict(self) -> dict[str, Any]:
        """Flat row: identity, counts, ``<metric>_mean`` / ``<metric>_std``, rank, pareto.

        ``rank`` is None and ``apart`` the reason for a row shown apart.
        """
        row: dict[str, Any] = {
            "rank": self.rank or None,
            "task": self.task,
            "spec": self.spec,
            "steps": self.steps,
            "eval_every": self.eval_every,
            "n": self.n,
            "n_diverged": self.n_diverged,
            "diverged_rate": self.diverged_rate,
            "n_params": self.n_params,
            "seeds": list(self.seeds),
        }
        for metric, mean in self.mean.items():
            row[f"{metric}_mean"] = mean
            row[f"{metric}_std"] = self.std.get(metric, math.nan)
        row["pareto"] = self.pareto
        row["apart"] = self.apart or None
        return row


def _group_key(record: TrialLike) -> tuple[str, str, int, int, bool]:
    every = getattr(record, "eval_every", None)
    return (
        str(record.task),
        str(record.spec),
        int(record.steps),
        -1 if every is None else int(every),
        _status(record) == "pruned",
    )


def aggregate(
    records: Iterable[TrialLike], scoring: Scoring = CLASSIFICATION_SCORING
) -> list[PolicyStats]:
    """Group measured trials by ``(task, spec, steps, eval_every)`` and average over seeds.

    ``records`` are store records or :class:`~lrscope.engine.TrialResult`
    objects (:class:`TrialLike`); ``scoring`` (the task's) names the metrics
    averaged. Trials stopped early (``pruned``) form groups
    of their own (``partial``). The result is unranked, sorted by key.
    """
    groups: dict[tuple[str, str, int, int, bool], list[TrialLike]] = {}
    for record in records:
        if _status(record) in _MEASURED:
            groups.setdefault(_group_key(record), []).append(record)
    stats = []
    for (task, spec, steps, every, partial), members in sorted(groups.items()):
        healthy = [r for r in members if _status(r) != "diverged"]
        means, stds = {}, {}
        for metric in scoring.aggregated():
            values = [v for r in healthy if (v := _measured(r, metric)) is not None]
            means[metric], stds[metric] = _mean_std(values)
        n_params = members[0].n_params
        stats.append(
            PolicyStats(
                task=task,
                spec=spec,
                steps=steps,
                n=len(members),
                n_diverged=len(members) - len(healthy),
                n_params=None if n_params is None else int(n_params),
                mean=means,
                std=stds,
                seeds=tuple(sorted(int(r.seed) for r in members)),
                eval_every=None if every < 0 else every,
                partial=partial,
            )
        )
    return stats


def _sort_key(row: PolicyStats, metric: Metric) -> tuple[Any, ...]:
    missing, signed = metric.sort_key(row.value(metric.name))
    rate = row.diverged_rate
    return (rate, missing, signed, _cost(row), row.spec, row.steps, row.eval_every or 0)


def _cost(row: PolicyStats) -> float:
    best_iter = row.value("best_iter")
    return math.inf if math.isnan(best_iter) else best_iter


_COST_LIKE = frozenset({"best_iter", "wall_s", "diverged_rate", "n_params"})


def tie_break_name(metric: str) -> str:
    """``"cost"`` for ``best_<primary>`` and the cost-like metrics, else ``"std"``."""
    return "cost" if metric.startswith("best_") or metric in _COST_LIKE else "std"


def tie_break(row: PolicyStats, metric: Metric) -> tuple[float, ...]:
    """What orders groups tied on ``metric`` (lower first; see the module docstring).

    For a value of the final model (:func:`tie_break_name` ``"std"``): ``(std
    of metric over the seeds, best_iter mean)``, a NaN std last; for
    ``best_<primary>`` and the cost-like metrics: ``(best_iter mean,)``.
    """
    if tie_break_name(metric.name) == "cost":
        return (_cost(row),)
    std = row.std.get(metric.name, math.nan)
    return (math.inf if math.isnan(std) else std, _cost(row))


def tie_margin(metric: Metric, tie: float, best_value: float) -> float:
    """The difference from ``best_value`` that still ties: ``tie`` itself for a
    fraction (top-1 0.950 and 0.948 tie at 0.003), ``tie * |best_value|`` for
    any other metric, whose scale is the task's (an MSE of 0.0150 ties with
    0.01504 at 0.003, not with 0.018)."""
    return tie if metric.unit == "fraction" else tie * abs(best_value)


def order_rows(rows: Iterable[PolicyStats], metric: Metric, tie: float) -> list[PolicyStats]:
    """``rows`` in ranking order: utility first, ties within ``tie`` by :func:`tie_break`.

    Raises:
        ParameterError: ``tie`` is not a finite float >= 0.
    """
    tie = check(_OWNER, "tie", tie, NONNEGATIVE_FLOAT)
    remaining = sorted(rows, key=lambda r: _sort_key(r, metric))
    ordered: list[PolicyStats] = []
    while remaining:
        best = remaining[0]
        best_value = best.value(metric.name)
        chosen = best
        if not math.isnan(best_value):  # tie 0: equal values (to float noise) only
            margin = tie_margin(metric, tie, best_value)
            tied = [
                row
                for row in remaining
                if metric.sign() * (best_value - row.value(metric.name)) <= margin + 1e-12
                and row.diverged_rate <= best.diverged_rate
            ]
            chosen = min(tied, key=lambda r: (tie_break(r, metric), remaining.index(r)))
        ordered.append(chosen)
        remaining.remove(chosen)
    return ordered


def pareto_front(
    rows: Sequence[PolicyStats], scoring: Scoring = CLASSIFICATION_SCORING
) -> list[bool]:
    """For each row: is it on the front of ``best_<primary>`` mean vs ``best_iter`` mean (min)?

    The primary metric's direction says which way its best value is better
    (``best_top1``: higher; ``best_mse``: lower).
    """
    sign = scoring.best.sign()
    points = [(sign * r.value(scoring.best.name), r.value("best_iter")) for r in rows]
    front = []
    for utility, cost in points:
        if math.isnan(utility) or math.isnan(cost):
            front.append(False)
            continue
        dominated = any(
            u >= utility and c <= cost and (u > utility or c < cost)
            for u, c in points
            if not (math.isnan(u) or math.isnan(c))
        )
        front.append(not dominated)
    return front


def _apart_reason(row: PolicyStats, min_seeds: int, budget: int | None) -> str:
    if row.partial:
        return "stopped early"
    if row.n < min_seeds:
        return f"{row.n} seed" + "s" * (row.n != 1)
    if row.steps != budget:
        return "other budget"
    return ""


def rank_trials(
    records: Iterable[TrialLike],
    metric: str | None = None,
    *,
    tie: float = DEFAULT_TIE,
    min_seeds: int = DEFAULT_MIN_SEEDS,
    steps: int | None = None,
    scoring: Scoring = CLASSIFICATION_SCORING,
) -> Ranking:
    """Aggregate ``records`` (see :func:`aggregate`), rank them, mark the Pareto front.

    Args:
        records: the trials (store records or engine results).
        metric: what ranks (one of the task's rankable metrics,
            :meth:`lrscope.metrics.Scoring.rankable`); default the task's
            primary metric (``scoring.primary``: final top-1 for
            classification, final MSE for regression).
        tie: metric differences up to this are ties, broken by cost
            (:func:`order_rows`); 0 ranks by the metric alone.
        min_seeds: groups with fewer measured seeds are shown apart.
        steps: the budget ranked (others are shown apart); default the
            budget with the most groups that can be ranked (ties: the largest).
        scoring: the task's (classification's by default): its metrics, their
            directions and the primary one.

    Raises:
        ParameterError: a ``metric`` the task does not rank by, a negative
            ``tie``, ``min_seeds`` < 1.
    """
    chosen = scoring.get(metric or scoring.default_rank_metric, owner=_OWNER)
    min_seeds = check(_OWNER, "min_seeds", min_seeds, COUNT)
    steps = check(_OWNER, "steps", steps, OrNone(COUNT))
    rows = aggregate(records, scoring)
    candidates = [r for r in rows if not r.partial and r.n >= min_seeds]
    counts = Counter(r.steps for r in candidates)
    budget = steps if steps is not None else max(counts, key=lambda b: (counts[b], b), default=None)
    ranked = order_rows([r for r in candidates if r.steps == budget], chosen, tie)
    front = pareto_front(ranked, scoring)
    ranked_rows = tuple(
        replace(row, rank=i + 1, pareto=on_front)
        for i, (row, on_front) in enumerate(zip(ranked, front, strict=True))
    )
    kept = {id(row) for row in ranked}
    apart = tuple(
        replace(row, apart=_apart_reason(row, min_seeds, budget) or "not ranked")
        for row in sorted(
            (r for r in rows if id(r) not in kept),
            key=lambda r: (-r.steps, _sort_key(r, chosen)),
        )
    )
    tasks = sorted({row.task for row in rows})
    return Ranking(
        task=", ".join(tasks),
        metric=chosen.name,
        rows=ranked_rows,
        apart=apart,
        tie=tie,
        min_seeds=min_seeds,
        steps=budget,
        scoring=scoring,
    )


def task_scoring(store: Store, task: str) -> Scoring:
    """The scoring ``task`` is stored with (classification's for a task stored without one)."""
    tasks = store.tasks(on_unreadable=left_out("the ranking"))
    record = next((r for r in tasks if r.name == task), None)
    return Scoring.from_metadata(None if record is None else record.metadata)


def rank(
    store: Store,
    task: str,
    metric: str | None = None,
    steps: int | None = None,
    *,
    tie: float = DEFAULT_TIE,
    min_seeds: int = DEFAULT_MIN_SEEDS,
) -> Ranking:
    """Rank the trials of ``task`` stored in ``store`` (see :func:`rank_trials`).

    The task's stored metadata says how it is scored (its metrics, their
    directions, the primary one: :func:`task_scoring`); ``metric`` defaults
    to the primary one. ``steps`` keeps only the trials of that budget. A stored trial that cannot
    be read (a damaged row) is left out with an
    :class:`~lrscope.errors.LRScopeWarning` naming it; the others are ranked.

    Raises:
        ParameterError: a ``metric`` the task does not rank by, a negative ``tie``,
            ``min_seeds`` < 1, ``steps`` not None or an int >= 1.
    """
    scoring = task_scoring(store, task)
    chosen = scoring.get(metric or scoring.default_rank_metric, owner=_OWNER)
    check(_OWNER, "steps", steps, OrNone(STEP_SIZE))
    trials = store.trials(task=task, on_unreadable=left_out("the ranking"))
    records = [r for r in trials if steps is None or r.steps == steps]
    ranking = rank_trials(
        records, chosen.name, tie=tie, min_seeds=min_seeds, steps=steps, scoring=scoring
    )
    return replace(ranking, task=task)


def left_out(what: str) -> Callable[[Exception], None]:
    """An ``on_unreadable`` callback warning that a damaged stored row is left out of ``what``."""

    def warn(exc: Exception) -> None:
        warnings.warn(f"{exc}; it is left out of {what}", LRScopeWarning, stacklevel=2)

    return warn


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value


@dataclass(frozen=True)
class Ranking:
    """Ranked rows, best first, the rows shown apart, and exporters (JSON, CSV, DataFrame).

    ``rows`` are ranked (``rank`` 1, 2, ...) at the budget ``steps`` by
    ``metric`` with the ``tie`` margin; ``apart`` holds every other group,
    each with its reason (:attr:`PolicyStats.apart`); ``scoring`` is the
    task's: the definitions behind the columns. The exporters list the
    ranked rows first, then the rows shown apart. For a terminal table that
    reads well at any width: :class:`lrscope.rank_table.RankingTable`.
    """

    task: str
    metric: str
    rows: tuple[PolicyStats, ...]
    apart: tuple[PolicyStats, ...] = ()
    tie: float = DEFAULT_TIE
    min_seeds: int = DEFAULT_MIN_SEEDS
    steps: int | None = None
    scoring: Scoring = CLASSIFICATION_SCORING

    def row(self, spec: str) -> PolicyStats | None:
        """The ranked row of ``spec`` (the first, if it is ranked twice), or None."""
        return next((row for row in self.rows if row.spec == spec), None)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One flat dict per row, ranked rows first (NaN kept as float NaN)."""
        return [row.to_dict() for row in (*self.rows, *self.apart)]

    def to_json(self) -> str:
        """JSON list of the rows; NaN becomes ``null``."""
        rows = [
            {k: (None if _cell(v) is None else v) for k, v in d.items()} for d in self.to_dicts()
        ]
        return json.dumps(rows)

    def to_csv(self) -> str:
        """CSV with a header; NaN and None are empty cells, seeds space-separated."""
        buffer = io.StringIO()
        dicts = self.to_dicts()
        fields = list(dicts[0]) if dicts else list(PolicyStats.__dataclass_fields__)
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in dicts:
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return buffer.getvalue()

    def to_dataframe(self) -> pandas.DataFrame:
        """A pandas DataFrame of :meth:`to_dicts` (pandas is imported here)."""
        import pandas  # type: ignore[import-untyped,unused-ignore]

        return pandas.DataFrame(self.to_dicts())
