"""Rank LR policies from stored trials: aggregate over seeds, order, Pareto front.

Trials are grouped by ``(task, spec, steps)``. For each group:

- ``n``: trials measured (stored ``done`` or ``diverged``; ``failed`` and
  ``running`` trials are not measurements and are left out); ``n_diverged``
  and ``diverged_rate = n_diverged / n``.
- for every metric ``m`` the task's scoring aggregates
  (:meth:`lrscope.metrics.Scoring.aggregated`: LRBench's columns of
  :data:`lrscope.metrics.AGGREGATED_METRICS`, NaN for a task that is not
  classification, then the task's own final metrics and ``best_<primary>``),
  ``m_mean`` and ``m_std``: the mean and the sample standard deviation
  (``n - 1`` in the denominator) over the *non-diverged* trials whose value
  is finite. A diverged trial's numbers
  describe a model that blew up, so they are not averaged in; the failure
  shows in ``diverged_rate`` instead. With one such value the std is NaN;
  with none (every seed diverged) mean and std are NaN. NaN is printed as
  ``-`` in the table, empty in CSV and ``null`` in JSON.
- ``n_params``: the policy's number of parameters (LRBench's #Param).

Ranking (:func:`rank_trials`): by the chosen metric's mean (default: the
best value of the task's primary metric, ``best_top1`` for classification,
``best_mse`` for regression), best first, in the metric's direction from
:mod:`lrscope.metrics` (higher is better for accuracies, confidence and R²,
lower for ``best_iter``, ``ld``, ``cd``, ``cdac``, ``wall_s``,
``diverged_rate``, losses and errors); ties by the smaller ``best_iter``
mean, then the smaller ``diverged_rate``, then the spec. Groups whose metric
mean is NaN (every seed diverged) come last.

Pareto front (``pareto``): the groups not dominated in utility (the mean of
``best_<primary>``, in the primary metric's direction) against cost
(``best_iter_mean``, the steps needed to reach it, lower is better); a group
is dominated when another is at least as good in both and strictly better in
one. Groups with a NaN in either are never on the front.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from lrscope.errors import LRScopeWarning
from lrscope.metrics import AGGREGATED_METRICS, CLASSIFICATION_SCORING, Metric, Scoring
from lrscope.validation import FINITE_FLOAT, INVALID, STEP_SIZE, OrNone, check

if TYPE_CHECKING:  # pragma: no cover
    import pandas  # type: ignore[import-untyped,unused-ignore]
    from rich.table import Table

    from lrscope.store import Store

__all__ = [
    "PolicyStats",
    "Ranking",
    "TrialLike",
    "aggregate",
    "left_out",
    "pareto_front",
    "rank",
    "rank_trials",
    "task_scoring",
]

_MEASURED = ("done", "diverged")
_OWNER = "the ranking"


class TrialLike(Protocol):
    """What a ranking reads of a trial: a store ``TrialRecord`` or a ``TrialResult``.

    Besides these, every metric of :data:`lrscope.metrics.AGGREGATED_METRICS`
    is read as an attribute of that name, and any other metric (a task's own,
    ``test_loss``, ``best_<primary>``) from the record's ``metrics`` mapping
    (a float; ``None`` or NaN when not measured). A record with a ``status``
    (the store's) is measured when it is ``done`` or ``diverged``; one
    without (an engine result) always is, and counts as diverged when
    ``diverged`` is true.
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
    ``n_diverged`` diverged, ``rank`` (1 = best; 0 before ranking),
    ``pareto`` (on the utility/cost front).
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

    @property
    def diverged_rate(self) -> float:
        """Fraction of the measured trials that diverged, in [0, 1]."""
        return self.n_diverged / self.n if self.n else math.nan

    def value(self, metric: str) -> float:
        """What the ranking orders by for ``metric``: its mean, or ``diverged_rate``."""
        if metric == "diverged_rate":
            return self.diverged_rate
        return self.mean.get(metric, math.nan)

    def to_dict(self) -> dict[str, Any]:
        """Flat row: identity, counts, ``<metric>_mean`` / ``<metric>_std``, rank, pareto."""
        row: dict[str, Any] = {
            "rank": self.rank,
            "task": self.task,
            "spec": self.spec,
            "steps": self.steps,
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
        return row


def aggregate(
    records: Iterable[TrialLike], scoring: Scoring = CLASSIFICATION_SCORING
) -> list[PolicyStats]:
    """Group measured trials by ``(task, spec, steps)`` and average over seeds.

    ``records`` are store records or :class:`~lrscope.engine.TrialResult`
    objects (:class:`TrialLike`); ``scoring`` (the task's) names the metrics
    averaged. The result is unranked, sorted by key.
    """
    groups: dict[tuple[str, str, int], list[TrialLike]] = {}
    for record in records:
        if _status(record) in _MEASURED:
            key = (str(record.task), str(record.spec), int(record.steps))
            groups.setdefault(key, []).append(record)
    stats = []
    for (task, spec, steps), members in sorted(groups.items()):
        healthy = [r for r in members if _status(r) == "done"]
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
            )
        )
    return stats


def _sort_key(row: PolicyStats, metric: Metric) -> tuple[Any, ...]:
    missing, signed = metric.sort_key(row.value(metric.name))
    best_iter = row.value("best_iter")
    return (
        missing,
        signed,
        math.inf if math.isnan(best_iter) else best_iter,
        row.diverged_rate,
        row.spec,
        row.steps,
    )


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


def rank_trials(
    records: Iterable[TrialLike],
    metric: str | None = None,
    *,
    scoring: Scoring = CLASSIFICATION_SCORING,
) -> Ranking:
    """Aggregate ``records`` (see :func:`aggregate`), order them, mark the Pareto front.

    ``scoring`` is the task's (classification's by default); ``metric``
    defaults to its :attr:`~lrscope.metrics.Scoring.default_rank_metric`
    (``best_<primary>``).

    Raises:
        ParameterError: ``metric`` is not one the task's scoring ranks by
            (:meth:`lrscope.metrics.Scoring.rankable`).
    """
    chosen = scoring.get(metric or scoring.default_rank_metric, owner=_OWNER)
    rows = sorted(aggregate(records, scoring), key=lambda r: _sort_key(r, chosen))
    front = pareto_front(rows, scoring)
    ranked = tuple(
        replace(row, rank=i + 1, pareto=on_front)
        for i, (row, on_front) in enumerate(zip(rows, front, strict=True))
    )
    tasks = sorted({row.task for row in ranked})
    return Ranking(task=", ".join(tasks), metric=chosen.name, rows=ranked, scoring=scoring)


def task_scoring(store: Store, task: str) -> Scoring:
    """The scoring ``task`` is stored with (classification's for a task stored without one)."""
    record = next((r for r in store.tasks() if r.name == task), None)
    return Scoring.from_metadata(None if record is None else record.metadata)


def rank(store: Store, task: str, metric: str | None = None, steps: int | None = None) -> Ranking:
    """Rank the trials of ``task`` stored in ``store`` (optionally one step budget).

    The task's stored metadata says how it is scored (its metrics, their
    directions, the primary one); ``metric`` defaults to ``best_<primary>``.
    A stored trial that cannot be read (a damaged row) is left out with an
    :class:`~lrscope.errors.LRScopeWarning` naming it; the others are ranked.

    Raises:
        ParameterError: ``metric`` is not one the task ranks by, or ``steps``
            is not None or an int >= 1.
    """
    scoring = task_scoring(store, task)
    chosen = scoring.get(metric or scoring.default_rank_metric, owner=_OWNER)
    steps = check(_OWNER, "steps", steps, OrNone(STEP_SIZE))
    trials = store.trials(task=task, on_unreadable=left_out("the ranking"))
    records = [r for r in trials if steps is None or r.steps == steps]
    ranking = rank_trials(records, chosen.name, scoring=scoring)
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
    """Ranked rows, best first, with exporters (JSON, CSV, DataFrame, rich table).

    ``scoring`` is the task's: the definitions behind the columns.
    """

    task: str
    metric: str
    rows: tuple[PolicyStats, ...]
    scoring: Scoring = CLASSIFICATION_SCORING

    def to_dicts(self) -> list[dict[str, Any]]:
        """One flat dict per row, best first (NaN kept as float NaN)."""
        return [row.to_dict() for row in self.rows]

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

    def table(self) -> Table:
        """A rich table, best first: each metric as ``mean±std`` in its display unit.

        Shows the ranking metric, the best value of the primary metric,
        best_iter, the primary metric, ld and wall_s (headers, units and
        digits from :mod:`lrscope.metrics`); ``-`` is NaN; ``*`` marks the
        Pareto front. Every metric is in :meth:`to_dicts`, JSON and CSV.
        """
        from rich.table import Table
        from rich.text import Text

        scoring = self.scoring
        shown = (scoring.best.name, "best_iter", scoring.primary, "ld", "wall_s")
        names = [m for m in (self.metric, *shown) if m != "diverged_rate"]
        known = scoring.rankable()
        metrics = [known[m] for m in dict.fromkeys(names)]
        several_budgets = len({row.steps for row in self.rows}) > 1
        table = Table(title=Text(f"{self.task}: ranked by {self.metric} (* = Pareto front)"))
        table.add_column("#", justify="right")
        table.add_column("policy", overflow="fold")
        if several_budgets:
            table.add_column("steps", justify="right")
        table.add_column("n", justify="right")
        table.add_column("div", justify="right")
        for metric in metrics:
            table.add_column(metric.header, justify="right")
        table.add_column("*", justify="center")
        for row in self.rows:
            cells: list[str | Text] = [str(row.rank), Text(row.spec)]  # specs are not markup
            cells += [str(row.steps)] if several_budgets else []
            cells += [str(row.n), f"{row.diverged_rate:.0%}"]
            cells += [m.format(row.value(m.name), row.std.get(m.name, math.nan)) for m in metrics]
            cells.append("*" if row.pareto else "")
            table.add_row(*cells)
        return table
