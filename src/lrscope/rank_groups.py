"""The groups a ranking is made of: what it reads of a trial, and a group's averages.

A ranking (:mod:`lrscope.rank`) groups the measured trials of a task by
:func:`group_key`: policy (spec), step budget, evaluation grid, runtime
(:attr:`lrscope.engine.Runtime.identity`: precision and gradient
accumulation change a trial's numbers, so a bf16 or accumulated trial is
never one more seed of the fp32 ones) and whether it was stopped early;
:func:`aggregate` averages each group over its seeds into a
:class:`PolicyStats`. :func:`on_runtime` is lrscope's one runtime filter:
``lrscope rank --precision/--grad-accum`` and ``lrscope tune``'s ranking of
its own trials keep trials with it. Everything here is re-exported by
:mod:`lrscope.rank`; the averaging rules are described there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from lrscope.metrics import AGGREGATED_METRICS, CLASSIFICATION_SCORING, Scoring
from lrscope.validation import FINITE_FLOAT, INVALID

__all__ = [
    "GroupKey",
    "PolicyStats",
    "TrialLike",
    "aggregate",
    "group_key",
    "on_runtime",
    "runtime_label",
    "trial_runtime",
    "trial_value",
]

_MEASURED = ("done", "diverged", "pruned")
_R = TypeVar("_R")


class TrialLike(Protocol):
    """What a ranking reads of a trial: a store ``TrialRecord`` or a ``TrialResult``.

    Besides these, every metric of :data:`lrscope.metrics.AGGREGATED_METRICS`
    and ``eval_every`` are read as attributes of those names, and any other
    metric (a task's own, ``test_loss``, ``best_<primary>``) from the record's
    ``metrics`` mapping (a float; ``None`` or NaN when not measured; no
    ``eval_every`` is one grid), and ``runtime``, the identity of the runtime
    it ran on (:attr:`lrscope.engine.Runtime.identity`; none: the default
    runtime, ``""``). A record with a
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


def trial_runtime(record: object) -> str:
    """The identity of the runtime ``record`` ran on (``""``: fp32, no accumulation).

    Read from its ``runtime`` attribute (a store record's, an engine
    result's, a :class:`PolicyStats`'); a record without one ran on the
    default runtime.
    """
    return str(getattr(record, "runtime", "") or "")


def _runtime_columns(identity: str) -> dict[str, Any]:
    """``precision`` and ``grad_accum`` of a runtime identity, as ``--precision`` and
    ``--grad-accum`` name them."""
    from lrscope.engine.runtime import Runtime

    runtime = Runtime.from_identity(identity)
    return {"precision": runtime.precision, "grad_accum": runtime.grad_accum_steps}


def runtime_label(identity: str) -> str:
    """A runtime identity for people: ``"fp32"`` for the default (``""``), else itself."""
    return identity or "fp32"


def on_runtime(records: Iterable[_R], runtime: str | None) -> list[_R]:
    """The records of ``runtime`` (a :attr:`lrscope.engine.Runtime.identity`); all for None.

    The one runtime filter of lrscope: ``lrscope rank --precision/--grad-accum``
    and ``lrscope tune``'s ranking of its own trials both keep trials with it.
    """
    return [r for r in records if runtime is None or trial_runtime(r) == runtime]


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else math.nan


@dataclass(frozen=True)
class PolicyStats:
    """One row of a ranking: a policy (spec) at a step budget on a task, on one runtime.

    ``mean[m]`` and ``std[m]`` for every aggregated metric ``m`` (see the
    module docstring for which, and for NaN), ``n`` trials measured of which
    ``n_diverged`` diverged, ``rank`` (1 = best; 0 when not ranked),
    ``pareto`` (on the utility/cost front),
    ``eval_every`` (the evaluation grid; None when the records have none),
    ``runtime`` (the identity of the runtime its trials ran on, ``""``: fp32
    without accumulation), ``partial`` (the trials stopped early) and
    ``apart``: why the row is shown apart from the ranking (empty for a
    ranked row).
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
    runtime: str = ""

    @property
    def key(self) -> GroupKey:
        """The group's identity: :func:`group_key` of each of its trials."""
        every = -1 if self.eval_every is None else self.eval_every
        return (self.task, self.spec, self.steps, every, self.runtime, self.partial)

    def holds(self, record: TrialLike) -> bool:
        """Is ``record`` (of any status) in this row's group (:func:`group_key`)?"""
        return group_key(record) == self.key

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
        """Flat row: identity (the runtime as ``precision`` and ``grad_accum``), counts,
        ``<metric>_mean`` / ``<metric>_std``, rank, pareto.

        ``rank`` is None and ``apart`` the reason for a row shown apart.
        """
        row: dict[str, Any] = {
            "rank": self.rank or None,
            "task": self.task,
            "spec": self.spec,
            "steps": self.steps,
            "eval_every": self.eval_every,
            **_runtime_columns(self.runtime),
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


GroupKey = tuple[str, str, int, int, str, bool]
"""``(task, spec, steps, eval_every or -1, runtime, stopped early)``: what a ranking row is."""


def group_key(record: TrialLike) -> GroupKey:
    """The ranking group ``record`` belongs to: its task, spec, budget, evaluation grid
    (-1 for none), runtime identity (:func:`trial_runtime`) and whether it was stopped early."""
    every = getattr(record, "eval_every", None)
    return (
        str(record.task),
        str(record.spec),
        int(record.steps),
        -1 if every is None else int(every),
        trial_runtime(record),
        _status(record) == "pruned",
    )


def aggregate(
    records: Iterable[TrialLike], scoring: Scoring = CLASSIFICATION_SCORING
) -> list[PolicyStats]:
    """Group measured trials (:func:`group_key`) and average over seeds.

    ``records`` are store records or :class:`~lrscope.engine.TrialResult`
    objects (:class:`TrialLike`); ``scoring`` (the task's) names the metrics
    averaged. Trials stopped early (``pruned``) form groups
    of their own (``partial``). The result is unranked, sorted by key.
    """
    groups: dict[GroupKey, list[TrialLike]] = {}
    for record in records:
        if _status(record) in _MEASURED:
            groups.setdefault(group_key(record), []).append(record)
    stats = []
    for (task, spec, steps, every, runtime, partial), members in sorted(groups.items()):
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
                runtime=runtime,
            )
        )
    return stats
