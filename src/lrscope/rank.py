"""Rank LR policies from stored trials: the one ranking rule of lrscope.

``lrscope rank``, ``lrscope tune``'s table and winner, the report and the demo
summary all rank with :func:`rank_trials`, so they rank the same trials by the
same rule and quote the same numbers.

Trials are grouped by ``(task, spec, steps, eval_every, runtime)``
(:func:`group_key`): one policy at one budget, measured on one evaluation
grid (``best_<primary>`` and ``best_iter`` depend on the grid) on one
runtime (:attr:`lrscope.engine.Runtime.identity`: precision and gradient
accumulation change the numbers a trial produces; a bf16 seed is not one
more seed of the fp32 trials). For each group:

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
budget on the main runtime (``steps`` and ``runtime``; by default the
budget and runtime at which the most such groups were measured, the default
runtime and then the largest budget among equals: where the comparison is;
a tune's timing trials or time-to-accuracy ladder, one or two policies at
shorter budgets, never take it from its confirmed policies). The others
are *shown apart* (:attr:`Ranking.apart`, each with its reason): one-seed
groups (a search's trials: one seed says little, and the best of many
one-seed results is flattered by luck), trials stopped early, other
budgets and other runtimes. They are never ranked and never on the Pareto
front. A given ``runtime`` keeps only its trials (:func:`on_runtime`), as
``lrscope tune`` ranks only the trials of its own runtime.

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
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lrscope.errors import LRScopeWarning
from lrscope.metrics import CLASSIFICATION_SCORING, Metric, Scoring
from lrscope.rank_groups import (
    GroupKey,
    PolicyStats,
    TrialLike,
    aggregate,
    group_key,
    on_runtime,
    runtime_label,
    trial_runtime,
    trial_value,
)
from lrscope.validation import COUNT, NONNEGATIVE_FLOAT, STEP_SIZE, OrNone, check

if TYPE_CHECKING:  # pragma: no cover
    import pandas  # type: ignore[import-untyped,unused-ignore]

    from lrscope.store import Store

__all__ = [
    "DEFAULT_MIN_SEEDS",
    "DEFAULT_TIE",
    "GroupKey",
    "PolicyStats",
    "Ranking",
    "TrialLike",
    "aggregate",
    "group_key",
    "left_out",
    "on_runtime",
    "order_rows",
    "pareto_front",
    "rank",
    "rank_trials",
    "runtime_label",
    "task_scoring",
    "tie_break",
    "tie_break_name",
    "tie_margin",
    "trial_runtime",
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

_OWNER = "the ranking"


def _sort_key(row: PolicyStats, metric: Metric) -> tuple[Any, ...]:
    missing, signed = metric.sort_key(row.value(metric.name))
    rate = row.diverged_rate
    every = row.eval_every or 0
    return (rate, missing, signed, _cost(row), row.spec, row.steps, every, row.runtime)


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


def _apart_reason(row: PolicyStats, min_seeds: int, main: tuple[str, int] | None) -> str:
    if row.partial:
        return "stopped early"
    if row.n < min_seeds:
        return f"{row.n} seed" + "s" * (row.n != 1)
    if main is None or row.steps != main[1]:
        return "other budget"
    if row.runtime != main[0]:
        return "other runtime"
    return ""


def _main_comparison(
    candidates: Sequence[PolicyStats], steps: int | None, runtime: str | None
) -> tuple[str, int] | None:
    """The ``(runtime, budget)`` ranked: the one of the most candidate groups (at ``steps``
    when given); among equals the default runtime, then the largest budget."""
    counts = Counter((r.runtime, r.steps) for r in candidates if steps in (None, r.steps))
    if not counts:
        return None if steps is None else (runtime or "", steps)
    return max(counts, key=lambda k: (counts[k], k[0] == "", k[1], k[0]))


def rank_trials(
    records: Iterable[TrialLike],
    metric: str | None = None,
    *,
    tie: float = DEFAULT_TIE,
    min_seeds: int = DEFAULT_MIN_SEEDS,
    steps: int | None = None,
    scoring: Scoring = CLASSIFICATION_SCORING,
    runtime: str | None = None,
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
        runtime: keep only the trials of this runtime identity
            (:func:`on_runtime`; ``""``: fp32 without accumulation); default:
            rank the runtime with the most groups that can be ranked (at
            ``steps``; ties: the default runtime), the others shown apart.

    Raises:
        ParameterError: a ``metric`` the task does not rank by, a negative
            ``tie``, ``min_seeds`` < 1, a ``runtime`` that is no runtime's identity.
    """
    chosen = scoring.get(metric or scoring.default_rank_metric, owner=_OWNER)
    min_seeds = check(_OWNER, "min_seeds", min_seeds, COUNT)
    steps = check(_OWNER, "steps", steps, OrNone(COUNT))
    if runtime is not None:
        from lrscope.engine.runtime import Runtime

        runtime = Runtime.from_identity(runtime).identity
    rows = aggregate(on_runtime(records, runtime), scoring)
    candidates = [r for r in rows if not r.partial and r.n >= min_seeds]
    main = _main_comparison(candidates, steps, runtime)
    ranked = order_rows([r for r in candidates if (r.runtime, r.steps) == main], chosen, tie)
    front = pareto_front(ranked, scoring)
    ranked_rows = tuple(
        replace(row, rank=i + 1, pareto=on_front)
        for i, (row, on_front) in enumerate(zip(ranked, front, strict=True))
    )
    kept = {id(row) for row in ranked}
    apart = tuple(
        replace(row, apart=_apart_reason(row, min_seeds, main) or "not ranked")
        for row in sorted(
            (r for r in rows if id(r) not in kept),
            key=lambda r: (r.runtime != (main or ("",))[0], -r.steps, _sort_key(r, chosen)),
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
        steps=None if main is None else main[1],
        scoring=scoring,
        runtime=runtime if main is None else main[0],
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
    runtime: str | None = None,
) -> Ranking:
    """Rank the trials of ``task`` stored in ``store`` (see :func:`rank_trials`).

    The task's stored metadata says how it is scored (its metrics, their
    directions, the primary one: :func:`task_scoring`); ``metric`` defaults
    to the primary one. ``steps`` keeps only the trials of that budget,
    ``runtime`` (a :attr:`lrscope.engine.Runtime.identity`) only those of
    that runtime. A stored trial that cannot
    be read (a damaged row) is left out with an
    :class:`~lrscope.errors.LRScopeWarning` naming it; the others are ranked.

    Raises:
        ParameterError: a ``metric`` the task does not rank by, a negative ``tie``,
            ``min_seeds`` < 1, ``steps`` not None or an int >= 1, a ``runtime``
            that is no runtime's identity.
    """
    scoring = task_scoring(store, task)
    chosen = scoring.get(metric or scoring.default_rank_metric, owner=_OWNER)
    check(_OWNER, "steps", steps, OrNone(STEP_SIZE))
    trials = store.trials(task=task, on_unreadable=left_out("the ranking"))
    records = [r for r in trials if steps is None or r.steps == steps]
    ranking = rank_trials(
        records,
        chosen.name,
        tie=tie,
        min_seeds=min_seeds,
        steps=steps,
        scoring=scoring,
        runtime=runtime,
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

    ``rows`` are ranked (``rank`` 1, 2, ...) at the budget ``steps`` on the
    runtime ``runtime`` (an identity, ``""`` the default; None: nothing ranked) by
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
    runtime: str | None = None

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
