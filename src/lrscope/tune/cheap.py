"""One cheap trial of the tuning pipeline: stored, resumable, prunable by Optuna."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from lrscope.engine.result import EvalPoint, TrialKey, TrialResult

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.runtime import Runtime
    from lrscope.policies import Policy
    from lrscope.store import Store
    from lrscope.tasks import Task

__all__ = ["PrunerTrial", "run_cheap_trial"]


class PrunerTrial(Protocol):
    """What a cheap trial needs of an Optuna trial: report a value, ask whether to stop."""

    def report(self, value: float, step: int) -> None: ...
    def should_prune(self) -> bool: ...


def _stored(store: Store, key: TrialKey) -> TrialResult | None:
    for record in store.trials(key.task, spec=key.spec):
        if record.key == key and record.finished:
            return record.to_result()
    return None


def run_cheap_trial(
    task: Task,
    store: Store,
    policy: Policy,
    steps: int,
    seed: int,
    eval_every: int,
    trial: PrunerTrial,
    runtime: Runtime | None = None,
) -> tuple[TrialResult, bool]:
    """Train ``policy`` for ``steps`` steps, reporting the primary metric to the Optuna ``trial``.

    Each evaluation reports ``(value, step)``, the task's primary metric signed
    so that higher is better (top-1 as is, MSE negated); when the pruner says
    so the trial stops there. The outcome is stored (status ``pruned`` when
    it stopped early); a trial already stored is read back instead of re-run.
    Returns ``(result, pruned)``.
    """
    from lrscope.engine import Runtime, run_trial

    chosen = runtime if runtime is not None else Runtime()
    key = TrialKey(task.name, policy.spec, seed, steps, eval_every, chosen.identity)
    sign = task.scoring.primary_metric.sign()
    trial_id = store.start_trial(key)
    if trial_id is None:
        stored = _stored(store, key)
        if stored is not None:
            return stored, stored.steps_done < stored.steps and not stored.diverged

    def on_eval(point: EvalPoint) -> bool:
        trial.report(sign * point.primary, point.step)
        return bool(point.step < steps and trial.should_prune())

    try:
        result = run_trial(
            task,
            policy,
            steps=steps,
            seed=seed,
            eval_every=eval_every,
            on_eval=on_eval,
            runtime=chosen,
        )
    except BaseException as exc:
        if trial_id is not None:
            store.fail_trial(trial_id, exc)
        raise
    if trial_id is not None:
        store.finish_trial(trial_id, result)
    return result, result.steps_done < steps and not result.diverged
