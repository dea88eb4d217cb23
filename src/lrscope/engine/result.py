"""What one trial produces: its evaluation curve and the LRBench metrics.

These are plain frozen dataclasses with ``to_dict`` / ``from_dict`` so they
cross process boundaries (the ``process`` and ``ray`` executors) and go into
the results store as JSON without pickling anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

__all__ = ["EvalPoint", "FinalEvaluation", "TrialKey", "TrialResult", "summarize"]


@dataclass(frozen=True)
class TrialKey:
    """What identifies a trial in a benchmark: never run twice once stored as done."""

    task: str
    spec: str
    seed: int
    steps: int
    eval_every: int


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation during a trial.

    ``step`` counts optimizer steps done before the evaluation; ``lr`` is the
    learning rate of the last step taken (of the first parameter group);
    losses are mean cross-entropy (nats); accuracies are fractions in [0, 1].
    ``train_loss`` is measured in eval mode on a fixed subsample of at most
    10,000 training samples.
    """

    step: int
    lr: float
    train_loss: float
    test_loss: float
    top1: float
    top5: float


@dataclass(frozen=True)
class TrialResult:
    """The outcome of :func:`lrscope.engine.run_trial`.

    Metrics (Wu, Liu et al. 2019, section III), on the test set; the formulas are in
    :mod:`lrscope.engine.evaluation`:

    - ``top1``, ``top5``: accuracy of the final model, fractions in [0, 1]
      (top-5 means top-min(5, classes); a sample with non-finite logits
      counts as wrong).
    - ``best_top1`` and ``best_iter``: the highest top-1 over the evaluations
      and the step at which it was first reached (LRBench's "#Iterations at
      the highest top-1").
    - ``ac``, ``cd``: mean and population standard deviation of the
      true-class softmax probability over the correctly classified test
      samples of the final model (NaN when none is correct).
    - ``cdac``: population standard deviation across classes of the per-class
      mean of that probability (classes with no correct sample are left out).
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

    @property
    def key(self) -> TrialKey:
        return TrialKey(self.task, self.spec, self.seed, self.steps, self.eval_every)

    def metrics(self) -> dict[str, Any]:
        """The scalar metrics (no curve), as printed by ``lrscope train --json``."""
        data = asdict(self)
        data.pop("curve")
        return data

    def to_dict(self) -> dict[str, Any]:
        data = self.metrics()
        data["curve"] = [asdict(p) for p in self.curve]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialResult:
        fields = dict(data)
        fields["curve"] = tuple(EvalPoint(**p) for p in data.get("curve", ()))
        return cls(**fields)


class FinalEvaluation(Protocol):
    """What :func:`summarize` reads from the final test evaluation (read-only)."""

    @property
    def top1(self) -> float: ...
    @property
    def top5(self) -> float: ...
    @property
    def ac(self) -> float: ...
    @property
    def cd(self) -> float: ...
    @property
    def cdac(self) -> float: ...


def summarize(
    key: TrialKey,
    *,
    n_params: int,
    final: FinalEvaluation,
    curve: Sequence[EvalPoint],
    wall_s: float,
    steps_done: int,
    diverged_at: int | None,
) -> TrialResult:
    """The :class:`TrialResult` of a finished trial: the one place metrics are derived.

    ``best_top1`` / ``best_iter`` come from the evaluation with the highest
    top-1 (the earliest on ties), ``ld`` is that evaluation's test loss minus
    train loss; ``top1``, ``top5``, ``ac``, ``cd`` and ``cdac`` are the final
    model's. Used by the engine and by the batched trainer alike.
    """
    best = max(curve, key=lambda p: (p.top1, -p.step))
    return TrialResult(
        task=key.task,
        spec=key.spec,
        seed=key.seed,
        steps=key.steps,
        eval_every=key.eval_every,
        top1=final.top1,
        top5=final.top5,
        best_top1=best.top1,
        best_iter=best.step,
        ac=final.ac,
        cd=final.cd,
        cdac=final.cdac,
        ld=best.test_loss - best.train_loss,
        n_params=n_params,
        wall_s=wall_s,
        steps_done=steps_done,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
        curve=tuple(curve),
    )
