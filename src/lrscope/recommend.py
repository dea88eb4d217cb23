"""Recommendations from history: policies that won on the same or similar tasks.

LRBench (Wu, Liu et al. 2019, section IV) keeps every measured policy so the
next user of a similar network and dataset starts from what worked, and means
the database to be shared: results imported from other stores
(``lrscope db import``, ``lrscope db merge``) count as evidence too, and every
recommendation says where its evidence was measured. :func:`recommend`
compares the task's metadata with every stored task that has finished trials:

================  ======  ==================================================
field             weight  score
================  ======  ==================================================
dataset           0.35    1 if equal
model_family      0.25    1 if equal
num_classes       0.15    1 if equal
input_shape       0.15    1 if equal
train_size        0.10    ``min(a, b) / max(a, b)``
================  ======  ==================================================

A stored task of the same name is an exact match (similarity 1). Others count
as similar from :data:`MIN_SIMILARITY` (a shared dataset, or a shared model
family together with the input format), when it is scored by the same
primary metric (a regression's MSE is no evidence for a classification's
top-1). Each similar task's best policies (ranked by the final value of that
primary metric, in its direction, with :mod:`lrscope.rank`, the one ranking
rule: the policies measured on two seeds or more at the ranked budget, so a
tuning run's one-seed search trials and shorter ladder trials do not compete
with its confirmed ones; a task with one-seed trials only is ranked from
those, and its evidence weighs less) are carried over with
:func:`lrscope.policies.rescale.rescale`:
learning rates times the ratio of the two tasks' range-test suggestions
(target over source; the target's range test is run, and stored unless the
store is read-only, if none is stored and ``run_range_test`` is true), step
counts times the ratio of their epoch lengths.

Weighing the evidence: a recommendation's ``score`` is

    similarity x n / (n + SEED_PRIOR) x utility

with ``n`` the seeds measured (:data:`SEED_PRIOR` = 0.5: one seed weighs 2/3,
three weigh 6/7) and ``utility`` the policy's primary metric relative to the
best of its source task (``top1 / best top1``; for a lower-is-better metric
``best mse / mse``), so a policy measured on many seeds of a close task comes
before one seen once on a distant task. Recommendations are listed by score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lrscope.metrics import Metric, Scoring
from lrscope.policies import parse
from lrscope.policies.rescale import rescale
from lrscope.rank import left_out
from lrscope.validation import is_real

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rank import PolicyStats
    from lrscope.store import SourceRecord, Store, TrialRecord
    from lrscope.tasks import Task

__all__ = [
    "MIN_SIMILARITY",
    "SEED_PRIOR",
    "Evidence",
    "RecommendResult",
    "Recommendation",
    "recommend",
    "similarity",
]

WEIGHTS = {
    "dataset": 0.35,
    "model_family": 0.25,
    "num_classes": 0.15,
    "input_shape": 0.15,
    "train_size": 0.10,
}
MIN_SIMILARITY = 0.35
SEED_PRIOR = 0.5
"""Seeds of doubt added to every policy's count: ``n`` seeds weigh ``n / (n + 0.5)``."""
SIGNIFICANT_DIGITS = 3
"""Carried-over learning rates keep 3 significant digits (the factor is a ratio
of two range-test readings; more digits would be noise)."""


def _primary(metadata: Mapping[str, object] | None) -> Metric:
    """The primary metric a task's metadata records (top-1 for a classification's)."""
    return Scoring.from_metadata(metadata).primary_metric


def _utility(value: float, best: float, metric: Metric) -> float:
    """``value`` relative to the best one, 1 at the best, in ``metric``'s direction."""
    if metric.higher_is_better:
        return value / best if best > 0 else 1.0
    return best / value if value > 0 else 1.0


LOCAL = "this store"
"""The origin of evidence measured in the store itself."""
_MEASURED = ("done", "diverged")


def _number(value: object) -> float | None:
    if not is_real(value):
        return None
    return float(value)


def _shape(value: object) -> tuple[object, ...] | None:
    return tuple(value) if isinstance(value, (list, tuple)) else None


def similarity(a: Mapping[str, object], b: Mapping[str, object]) -> tuple[float, list[str]]:
    """Weighted similarity in [0, 1] of two task metadata dicts, and the fields that match."""
    score, matched = 0.0, []
    for name in ("dataset", "model_family", "num_classes"):
        if a.get(name) is not None and a.get(name) == b.get(name):
            score += WEIGHTS[name]
            matched.append(name)
    shape_a, shape_b = _shape(a.get("input_shape")), _shape(b.get("input_shape"))
    if shape_a is not None and shape_a == shape_b:
        score += WEIGHTS["input_shape"]
        matched.append("input_shape")
    size_a, size_b = _number(a.get("train_size")), _number(b.get("train_size"))
    if size_a and size_b and size_a > 0 and size_b > 0:
        score += WEIGHTS["train_size"] * min(size_a, size_b) / max(size_a, size_b)
    return round(score, 6), matched


@dataclass(frozen=True)
class Evidence:
    """The stored trials behind a recommendation: what was measured, where, how often.

    ``task``, ``spec`` and ``steps`` are what was measured, on ``runtime``
    (:func:`lrscope.rank.runtime_label`: ``fp32``, ``bf16``, ``accum=2``, ...:
    one ranking row holds the trials of one runtime); ``trial_ids`` the
    stored trials (``n_seeds`` of them, ``n_diverged`` diverged, ``n_imported``
    measured in another store); ``mean`` and ``std`` the metrics over the seeds
    that did not diverge (:mod:`lrscope.rank`); ``origins`` where the trials were
    measured: :data:`LOCAL` or the label of the store they were imported from.
    """

    task: str
    spec: str
    steps: int
    trial_ids: tuple[int, ...]
    n_seeds: int
    n_diverged: int
    n_imported: int
    mean: Mapping[str, float]
    std: Mapping[str, float]
    origins: tuple[str, ...]
    runtime: str = "fp32"

    @property
    def imported(self) -> bool:
        """Whether any of the trials came from another store."""
        return self.n_imported > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "task": self.task,
            "spec": self.spec,
            "steps": self.steps,
            "runtime": self.runtime,
            "trial_ids": list(self.trial_ids),
            "n_seeds": self.n_seeds,
            "n_diverged": self.n_diverged,
            "n_imported": self.n_imported,
            "imported": self.imported,
            "origins": list(self.origins),
            "mean": dict(self.mean),
            "std": dict(self.std),
        }


@dataclass(frozen=True)
class Recommendation:
    """A policy carried over from the task of its :class:`Evidence`.

    ``spec`` is the carried-over policy and ``steps`` the budget it was
    measured at, scaled to this task (``lr_factor``, ``step_factor``;
    ``lr_basis`` says where the learning-rate factor came from). ``rank`` is
    its rank on the source task; ``score`` the weight of its evidence (see the
    module docstring) and ``seed_weight`` the seeds' part of it.
    """

    spec: str
    steps: int
    rank: int
    score: float
    similarity: float
    matched: tuple[str, ...]
    seed_weight: float
    lr_factor: float
    step_factor: float
    lr_basis: str
    evidence: Evidence

    @property
    def source_task(self) -> str:
        return self.evidence.task

    @property
    def source_spec(self) -> str:
        return self.evidence.spec

    @property
    def source_steps(self) -> int:
        return self.evidence.steps

    @property
    def trial_ids(self) -> tuple[int, ...]:
        return self.evidence.trial_ids

    @property
    def imported(self) -> bool:
        """Whether its evidence (any of it) was measured in another store."""
        return self.evidence.imported

    @property
    def metrics(self) -> Mapping[str, float]:
        """The evidence as flat ``<metric>_mean`` / ``<metric>_std`` values, ``n``, rates."""
        flat = {f"{k}_mean": v for k, v in self.evidence.mean.items()}
        flat.update({f"{k}_std": v for k, v in self.evidence.std.items()})
        flat["n"] = self.evidence.n_seeds
        flat["diverged_rate"] = self.evidence.n_diverged / max(1, self.evidence.n_seeds)
        return flat

    def to_dict(self) -> dict[str, object]:
        return {
            "spec": self.spec,
            "steps": self.steps,
            "rank": self.rank,
            "score": self.score,
            "similarity": self.similarity,
            "matched": list(self.matched),
            "seed_weight": self.seed_weight,
            "lr_factor": self.lr_factor,
            "step_factor": self.step_factor,
            "lr_basis": self.lr_basis,
            "source_task": self.source_task,
            "source_spec": self.source_spec,
            "source_steps": self.source_steps,
            "trial_ids": list(self.trial_ids),
            "imported": self.imported,
            "evidence": self.evidence.to_dict(),
        }


@dataclass(frozen=True)
class RecommendResult:
    """Recommendations, best first; ``message`` says why there are none.

    ``metric`` is the task's primary metric (top-1 for a classification, MSE for
    a regression): every source task is scored by it, so the evidence shows it.
    """

    task: str
    recommendations: tuple[Recommendation, ...]
    message: str | None
    metric: Metric

    def to_dict(self) -> dict[str, object]:
        return {
            "task": self.task,
            "primary_metric": self.metric.name,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "message": self.message,
        }


@dataclass(frozen=True)
class _Candidate:
    """A stored task similar to the target, with its measured trials."""

    name: str
    score: float
    matched: tuple[str, ...]
    metadata: Mapping[str, object]
    trials: tuple[TrialRecord, ...]


def _steps_per_epoch(metadata: Mapping[str, object]) -> int | None:
    batch, size = _number(metadata.get("batch_size")), _number(metadata.get("train_size"))
    if not batch or not size or batch < 1:
        return None
    return math.ceil(size / batch)


def _suggested_lr(store: Store, task: str) -> float | None:
    """The suggested learning rate of ``task``'s newest stored range test that found a range.

    Each stored test is read back through :meth:`RangeTestResult.from_dict`,
    so a test stored by an older lrscope is read with today's rules; a test
    that found no usable range, or a document that does not parse, is skipped
    (rescaling by the rate of a failed test would carry its failure over).
    """
    from lrscope.rangetest import RangeTestResult

    for record in reversed(store.range_tests(task, on_unreadable=left_out("the rescaling"))):
        try:
            result = RangeTestResult.from_dict(record.result)
        except (KeyError, TypeError, ValueError):
            continue
        if result.usable:
            return result.suggestion
    return None


def _target_lr(store: Store, task: Task, run_range_test: bool) -> tuple[float | None, str]:
    value = _suggested_lr(store, task.name)
    if value is not None or not run_range_test:
        return value, ""
    from lrscope.rangetest import range_test

    result = range_test(task)
    if not store.readonly:
        store.put_range_test(task.name, result.to_dict())
        return _suggested_lr(store, task.name), ""
    lr = result.suggestion if result.usable else None
    return lr, " (range test run now, not stored: the store is read-only)"


def _lr_factor(target: float | None, source: float | None, note: str) -> tuple[float, str]:
    if target is None or source is None:
        missing = "this task" if target is None else "the source task"
        return 1.0, f"no range test stored for {missing}: learning rates kept"
    return target / source, f"range-test suggestions {target:.4g} / {source:.4g}{note}"


def _evidence(
    row: PolicyStats, trials: Sequence[TrialRecord], sources: Mapping[int, SourceRecord]
) -> Evidence:
    from lrscope.rank import runtime_label

    members = [t for t in trials if row.holds(t) and t.status in ("done", "diverged")]
    imported = [t for t in members if t.source_id is not None]
    origins = [LOCAL] * (len(imported) < len(members)) + [
        sources[t.source_id].label if t.source_id in sources else f"source {t.source_id}"
        for t in imported
        if t.source_id is not None
    ]
    return Evidence(
        task=row.task,
        spec=row.spec,
        steps=row.steps,
        trial_ids=tuple(t.id for t in members),
        n_seeds=row.n,
        n_diverged=row.n_diverged,
        n_imported=len(imported),
        mean=dict(row.mean),
        std=dict(row.std),
        origins=tuple(dict.fromkeys(origins)),
        runtime=runtime_label(row.runtime),
    )


def _carry(
    store: Store,
    task: Task,
    source: _Candidate,
    target_lr: tuple[float | None, str],
    sources: Mapping[int, SourceRecord],
    top: int,
) -> list[Recommendation]:
    from lrscope.rank import rank_trials

    scoring = Scoring.from_metadata(source.metadata)
    primary = scoring.primary_metric
    ranking = rank_trials(source.trials, primary.name, scoring=scoring)  # confirmed seeds
    if not ranking.rows:  # a history of one-seed trials only: weak evidence, weighed as such
        ranking = rank_trials(source.trials, primary.name, min_seeds=1, scoring=scoring)
    rows = [r for r in ranking.rows if math.isfinite(r.value(primary.name))]
    if not rows:
        return []
    exact = source.name == task.name
    if exact:
        lr_factor, basis = 1.0, "same task"
    else:
        lr_factor, basis = _lr_factor(target_lr[0], _suggested_lr(store, source.name), target_lr[1])
    source_epoch = _steps_per_epoch(source.metadata)
    step_factor = 1.0 if exact or not source_epoch else task.steps_per_epoch / source_epoch
    best = rows[0].value(primary.name)  # ranked best first
    out = []
    for row in rows[:top]:
        carried = rescale(
            parse(row.spec),
            lr_factor=lr_factor,
            step_factor=step_factor,
            significant=None if exact else SIGNIFICANT_DIGITS,
        )
        seed_weight = row.n / (row.n + SEED_PRIOR)
        utility = _utility(row.value(primary.name), best, primary)
        out.append(
            Recommendation(
                spec=carried.spec,
                steps=max(1, round(row.steps * step_factor)),
                rank=row.rank,
                score=round(source.score * seed_weight * utility, 6),
                similarity=source.score,
                matched=source.matched,
                seed_weight=round(seed_weight, 6),
                lr_factor=lr_factor,
                step_factor=step_factor,
                lr_basis=basis,
                evidence=_evidence(row, source.trials, sources),
            )
        )
    return out


def _candidates(store: Store, name: str, meta: Mapping[str, object]) -> list[_Candidate]:
    """Stored tasks with measured trials that are this task or similar to it (and scored by
    the same primary metric), best first."""
    found = []
    primary = _primary(meta)
    warn = left_out("the recommendation")
    for record in store.tasks(on_unreadable=warn):
        if record.name != name and _primary(record.metadata) != primary:
            continue
        trials = tuple(
            t for t in store.trials(record.name, on_unreadable=warn) if t.status in _MEASURED
        )
        if not trials:
            continue
        if record.name == name:
            score, matched = 1.0, ["name"]
        else:
            score, matched = similarity(meta, record.metadata or {})
        if score >= MIN_SIMILARITY:
            found.append(
                _Candidate(record.name, score, tuple(matched), record.metadata or {}, trials)
            )
    found.sort(key=lambda c: (-c.score, c.name))
    return found


def recommend(
    store: Store,
    task: Task | str,
    *,
    top: int = 3,
    data_dir: str | None = None,
    run_range_test: bool = True,
) -> RecommendResult:
    """Policies for ``task`` from the stored history (see the module docstring).

    Each matching task contributes its ``top`` best policies; all are listed
    by decreasing :attr:`Recommendation.score`.
    """
    from lrscope.tasks import get_task

    task_obj = get_task(task, data_dir=data_dir) if isinstance(task, str) else task
    meta: dict[str, object] = dict(task_obj.metadata.to_dict()) if task_obj.metadata else {}
    meta["batch_size"] = task_obj.batch_size
    candidates = _candidates(store, task_obj.name, meta)
    metric = _primary(meta)
    if not candidates:
        return RecommendResult(
            task_obj.name,
            (),
            f"nothing similar to {task_obj.name!r} is stored yet; "
            f"run `lrscope tune --task {task_obj.name}` to measure it",
            metric,
        )
    only_exact = len(candidates) == 1 and candidates[0].name == task_obj.name
    target_lr = (None, "") if only_exact else _target_lr(store, task_obj, run_range_test)
    sources = {source.id: source for source in store.sources()}
    out: list[Recommendation] = []
    for candidate in candidates:
        out.extend(_carry(store, task_obj, candidate, target_lr, sources, top))
    out.sort(key=lambda r: (-r.score, r.source_task, r.rank))
    return RecommendResult(task_obj.name, tuple(out), None, metric)
