"""What one trial produces: its evaluation curve and the LRBench metrics.

These are plain frozen dataclasses with ``to_dict`` / ``from_dict`` so they
cross process boundaries (the ``process`` and ``ray`` executors) and go into
the results store as JSON without pickling anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from lrscope.metrics import CLASSIFICATION_SCORING, Scoring

__all__ = ["EvalPoint", "FinalEvaluation", "TrialKey", "TrialResult", "summarize"]


@dataclass(frozen=True)
class TrialKey:
    """What identifies a trial in a benchmark: never run twice once stored as done.

    ``runtime`` is the runtime's identity (:attr:`lrscope.engine.Runtime.identity`):
    ``""`` for fp32 without gradient accumulation, else e.g. ``"bf16"`` or
    ``"accum=4"`` (the device is not part of a trial's identity).
    """

    task: str
    spec: str
    seed: int
    steps: int
    eval_every: int
    runtime: str = ""


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation during a trial.

    ``step`` counts optimizer steps done before the evaluation; ``lr`` is the
    learning rate of the last step taken (of the first parameter group);
    losses are the task's loss (mean cross-entropy in nats for
    classification); ``top1`` and ``top5`` are accuracies in [0, 1] (NaN for a
    task that is not classification); ``primary`` is the task's primary
    metric on the test set (top-1 for classification). ``train_loss`` is
    measured in eval mode on a fixed subsample of at most 10,000 training
    samples.
    """

    step: int
    lr: float
    train_loss: float
    test_loss: float
    top1: float
    top5: float
    primary: float = math.nan

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalPoint:
        """A stored point; one stored before points carried ``primary`` reads top-1 there."""
        fields = dict(data)
        fields.setdefault("primary", fields.get("top1", math.nan))
        return cls(**fields)


@dataclass(frozen=True)
class TrialResult:
    """The outcome of :func:`lrscope.engine.run_trial`.

    Metrics on the test set; the formulas are in :mod:`lrscope.tasks.scoring`:

    - ``metrics``: every final metric of the task by name (for
      classification LRBench's ``top1``, ``top5``, ``ac``, ``cd``, ``cdac``;
      for regression ``mse``, ``mae``, ``r2``; the task's own), its
      ``test_loss``, and ``best_<primary>``: the best value of the primary
      metric (``primary_metric``) over the evaluations.
    - ``best_iter``: the step of the evaluation at which the primary metric
      was first at its best (LRBench's "#Iterations at the highest top-1"
      for classification).
    - LRBench's columns (Wu, Liu et al. 2019, section III), NaN for a task
      that is not classification: ``top1``, ``top5`` (accuracy of the final
      model, fractions in [0, 1]; top-5 means top-min(5, classes); a sample
      with non-finite logits counts as wrong), ``best_top1`` (the highest
      top-1 over the evaluations), ``ac``, ``cd`` (mean and population
      standard deviation of the true-class softmax probability over the
      correctly classified test samples of the final model; NaN when none is
      correct), ``cdac`` (population standard deviation across classes of the
      per-class mean of that probability).
    - ``ld``: test loss minus train loss at the best evaluation (the one at
      ``best_iter``); the train loss is measured in eval mode on a fixed
      subsample of at most 10,000 training samples, the same for every seed.
    - ``n_params``: the policy's number of parameters (LRBench's #Param).
    - ``wall_s``: seconds of wall time (summed over resumed sessions);
      ``steps_done``: optimizer steps taken.
    - ``diverged`` and ``diverged_at``: the trial stopped because the training
      loss of step ``diverged_at`` (0-based) became non-finite or exceeded 10x
      the loss of step 0; that update was not applied, so
      ``steps_done == diverged_at``. The final metrics are those of the model
      at that point.
    - ``runtime``: the runtime's identity (``""``: fp32, no accumulation).

    ``curve`` holds one :class:`EvalPoint` per evaluation: every
    ``eval_every`` steps and after the last step taken.
    """

    task: str
    spec: str
    seed: int
    steps: int
    eval_every: int
    top1: float
    top5: float
    best_top1: float
    best_iter: int
    ac: float
    cd: float
    cdac: float
    ld: float
    n_params: int
    wall_s: float
    steps_done: int
    diverged: bool
    diverged_at: int | None = None
    curve: tuple[EvalPoint, ...] = field(default_factory=tuple)
    metrics: Mapping[str, float] = field(default_factory=dict)
    primary_metric: str = "top1"
    runtime: str = ""

    @property
    def key(self) -> TrialKey:
        return TrialKey(self.task, self.spec, self.seed, self.steps, self.eval_every, self.runtime)

    @property
    def best(self) -> float:
        """The best value of the primary metric over the evaluations (``best_<primary>``).

        A result stored without its ``metrics`` (by an older lrscope) is a
        classification's: its ``best_top1``.
        """
        name = f"best_{self.primary_metric}"
        if name in self.metrics:
            return float(self.metrics[name])
        return self.best_top1 if self.primary_metric == "top1" else math.nan

    def summary(self) -> dict[str, Any]:
        """The scalar results (no curve), as printed by ``lrscope train --json``."""
        data = asdict(self)
        data.pop("curve")
        data["metrics"] = dict(self.metrics)
        return data

    def to_dict(self) -> dict[str, Any]:
        data = self.summary()
        data["curve"] = [asdict(p) for p in self.curve]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialResult:
        """The inverse of :meth:`to_dict`; also reads results stored by older versions.

        A result without ``primary_metric`` takes it from its ``best_<name>``
        metric, else top-1 (every older result is a classification's).
        """
        fields = dict(data)
        fields["curve"] = tuple(EvalPoint.from_dict(p) for p in data.get("curve", ()))
        metrics = {
            str(k): math.nan if v is None else float(v)
            for k, v in (data.get("metrics") or {}).items()
        }
        fields["metrics"] = metrics
        if not fields.get("primary_metric"):
            bests = [name[len("best_") :] for name in metrics if name.startswith("best_")]
            fields["primary_metric"] = bests[0] if len(bests) == 1 else "top1"
        fields["runtime"] = str(fields.get("runtime") or "")
        return cls(**fields)


class FinalEvaluation(Protocol):
    """What :func:`summarize` reads from the final test evaluation (read-only)."""

    def value(self, name: str) -> float: ...
    def values(self) -> dict[str, float]: ...


def _best_point(curve: Sequence[EvalPoint], scoring: Scoring) -> EvalPoint:
    """The evaluation whose primary metric is best (the earliest on ties; NaN is never best)."""
    metric = scoring.primary_metric
    best = curve[0]
    for point in curve[1:]:
        if metric.better(point.primary, best.primary):
            best = point
    return best


def _highest_top1(curve: Sequence[EvalPoint]) -> float:
    values = [p.top1 for p in curve if not math.isnan(p.top1)]
    return max(values) if values else math.nan


def summarize(
    key: TrialKey,
    *,
    n_params: int,
    final: FinalEvaluation,
    curve: Sequence[EvalPoint],
    wall_s: float,
    steps_done: int,
    diverged_at: int | None,
    scoring: Scoring = CLASSIFICATION_SCORING,
) -> TrialResult:
    """The :class:`TrialResult` of a finished trial: the one place metrics are derived.

    ``best_iter`` and ``best_<primary>`` come from the evaluation whose
    primary metric is best in its direction (the earliest on ties), ``ld``
    is that evaluation's test loss minus train loss; ``best_top1`` is the
    highest top-1 of the curve; the other metrics are the final model's.
    Used by the engine and by the batched trainer alike.
    """
    best = _best_point(curve, scoring)
    metrics = {name: final.value(name) for name in scoring.names}
    metrics[scoring.best.name] = best.primary
    return TrialResult(
        task=key.task,
        spec=key.spec,
        seed=key.seed,
        steps=key.steps,
        eval_every=key.eval_every,
        top1=final.value("top1"),
        top5=final.value("top5"),
        best_top1=_highest_top1(curve),
        best_iter=best.step,
        ac=final.value("ac"),
        cd=final.value("cd"),
        cdac=final.value("cdac"),
        ld=best.test_loss - best.train_loss,
        n_params=n_params,
        wall_s=wall_s,
        steps_done=steps_done,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
        curve=tuple(curve),
        metrics=metrics,
        primary_metric=scoring.primary,
        runtime=key.runtime,
    )
