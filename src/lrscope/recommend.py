"""Recommendations from history: policies that won on the same or similar tasks.

LRBench (seed 004, section IV) keeps every measured policy so the next user of
a similar network and dataset starts from what worked. :func:`recommend`
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
family together with the input format). Each similar task's best policies
(ranked by final top-1 with :mod:`lrscope.rank` among its trials at its largest budget,
so the short trials of a tuning run do not compete with its full ones) are
carried over with
:func:`lrscope.policies.rescale.rescale`: learning rates times the ratio of the
two tasks' range-test suggestions (target over source; the target's range
test is run, and stored, if none is stored and ``run_range_test`` is true),
step counts times the ratio of their epoch lengths. The evidence (source
task, trial ids, metrics) travels with every recommendation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lrscope.policies import parse
from lrscope.policies.rescale import rescale

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.store import Store
    from lrscope.tasks import Task

__all__ = ["MIN_SIMILARITY", "RecommendResult", "Recommendation", "recommend", "similarity"]

WEIGHTS = {
    "dataset": 0.35,
    "model_family": 0.25,
    "num_classes": 0.15,
    "input_shape": 0.15,
    "train_size": 0.10,
}
MIN_SIMILARITY = 0.35
SIGNIFICANT_DIGITS = 3
"""Carried-over learning rates keep 3 significant digits (the factor is a ratio
of two range-test readings; more digits would be noise)."""
RANK_METRIC = "top1"
"""Stored policies are ranked by final test top-1, as ``lrscope tune`` picks them."""


def similarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[float, list[str]]:
    """Weighted similarity in [0, 1] of two task metadata dicts, and the fields that match."""
    score, matched = 0.0, []
    for name in ("dataset", "model_family", "num_classes"):
        if a.get(name) is not None and a.get(name) == b.get(name):
            score += WEIGHTS[name]
            matched.append(name)
    shape_a, shape_b = a.get("input_shape"), b.get("input_shape")
    if shape_a is not None and shape_b is not None and list(shape_a) == list(shape_b):
        score += WEIGHTS["input_shape"]
        matched.append("input_shape")
    size_a, size_b = a.get("train_size"), b.get("train_size")
    if size_a and size_b:
        score += WEIGHTS["train_size"] * min(size_a, size_b) / max(size_a, size_b)
    return round(score, 6), matched


@dataclass(frozen=True)
class Recommendation:
    """A policy carried over from ``source_task``, with the evidence behind it.

    ``spec`` is the carried-over policy and ``steps`` the budget it was
    measured at, scaled to this task; ``source_spec`` / ``source_steps`` are
    what was measured. ``metrics`` are the source's aggregated metrics (mean
    and std over seeds); ``trial_ids`` the stored trials they come from.
    """

    spec: str
    steps: int
    source_task: str
    source_spec: str
    source_steps: int
    similarity: float
    matched: tuple[str, ...]
    lr_factor: float
    step_factor: float
    lr_basis: str
    rank: int
    metrics: dict[str, Any]
    trial_ids: tuple[int, ...]


@dataclass(frozen=True)
class RecommendResult:
    """Recommendations, best first; ``message`` says why there are none."""

    task: str
    recommendations: tuple[Recommendation, ...]
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "recommendations": [asdict(r) for r in self.recommendations],
            "message": self.message,
        }


def _steps_per_epoch(metadata: Mapping[str, Any]) -> int | None:
    batch = metadata.get("batch_size")
    size = metadata.get("train_size")
    if not batch or not size:
        return None
    return math.ceil(int(size) / int(batch))


def _suggested_lr(store: Store, task: str) -> float | None:
    tests = store.range_tests(task)
    if not tests:
        return None
    suggestions = tests[-1].result.get("suggestions") or {}
    value = (suggestions.get("suggested_lr") or {}).get("lr")
    return None if value is None else float(value)


def _target_lr(store: Store, task: Task, run_range_test: bool) -> float | None:
    value = _suggested_lr(store, task.name)
    if value is None and run_range_test:
        from lrscope.rangetest import range_test

        result = range_test(task)
        store.put_range_test(task.name, result.to_dict())
        value = _suggested_lr(store, task.name)
    return value


def _lr_factor(target: float | None, source: float | None) -> tuple[float, str]:
    if target is None or source is None:
        missing = "this task" if target is None else "the source task"
        return 1.0, f"no range test stored for {missing}: learning rates kept"
    return target / source, f"range-test suggestions {target:.4g} / {source:.4g}"


def _carry(
    store: Store,
    task: Task,
    source: str,
    score: float,
    matched: list[str],
    source_meta: Mapping[str, Any],
    target_lr: float | None,
    top: int,
) -> list[Recommendation]:
    from lrscope.rank import rank_trials

    records = [r for r in store.trials(source) if r.status in ("done", "diverged")]
    budget = max(r.steps for r in records)
    ranking = rank_trials([r for r in records if r.steps == budget], RANK_METRIC).to_dicts()
    exact = source == task.name
    lr_factor, basis = (
        (1.0, "same task") if exact else _lr_factor(target_lr, _suggested_lr(store, source))
    )
    source_epoch = _steps_per_epoch(source_meta)
    step_factor = 1.0 if exact or not source_epoch else task.steps_per_epoch / source_epoch
    out = []
    for row in ranking[:top]:
        carried = rescale(
            parse(row["spec"]),
            lr_factor=lr_factor,
            step_factor=step_factor,
            significant=None if exact else SIGNIFICANT_DIGITS,
        )
        ids = tuple(r.id for r in records if r.spec == row["spec"] and r.steps == row["steps"])
        metrics = {k: v for k, v in row.items() if k.endswith(("_mean", "_std"))}
        metrics.update(n=row["n"], diverged_rate=row["diverged_rate"])
        out.append(
            Recommendation(
                spec=carried.spec,
                steps=max(1, round(row["steps"] * step_factor)),
                source_task=source,
                source_spec=row["spec"],
                source_steps=row["steps"],
                similarity=score,
                matched=tuple(matched),
                lr_factor=lr_factor,
                step_factor=step_factor,
                lr_basis=basis,
                rank=int(row["rank"]),
                metrics=metrics,
                trial_ids=ids,
            )
        )
    return out


def recommend(
    store: Store,
    task: Task | str,
    *,
    top: int = 3,
    data_dir: str | None = None,
    run_range_test: bool = True,
) -> RecommendResult:
    """Policies for ``task`` from the stored history (see the module docstring).

    Exact matches come first, then similar tasks by decreasing similarity;
    each contributes its ``top`` best policies.
    """
    from lrscope.tasks import get_task

    task_obj = get_task(task, data_dir=data_dir) if isinstance(task, str) else task
    meta = task_obj.metadata.to_dict() if task_obj.metadata else {}
    meta["batch_size"] = task_obj.batch_size
    candidates = []
    for record in store.tasks():
        if not any(r.status in ("done", "diverged") for r in store.trials(record.name)):
            continue
        if record.name == task_obj.name:
            candidates.append((1.0, ["name"], record))
            continue
        score, matched = similarity(meta, record.metadata or {})
        if score >= MIN_SIMILARITY:
            candidates.append((score, matched, record))
    if not candidates:
        return RecommendResult(
            task_obj.name,
            (),
            f"nothing similar to {task_obj.name!r} is stored yet; "
            f"run `lrscope tune --task {task_obj.name}` to measure it",
        )
    candidates.sort(key=lambda c: (-c[0], c[2].name))
    exact_only = candidates[0][0] == 1.0 and candidates[0][2].name == task_obj.name
    target_lr = (
        None if exact_only and len(candidates) == 1 else _target_lr(store, task_obj, run_range_test)
    )
    out: list[Recommendation] = []
    for score, matched, record in candidates:
        out.extend(
            _carry(
                store, task_obj, record.name, score, matched, record.metadata or {}, target_lr, top
            )
        )
    return RecommendResult(task_obj.name, tuple(out), None)
