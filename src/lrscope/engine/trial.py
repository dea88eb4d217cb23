"""One trial: train a task's model under a learning-rate policy, measure its metrics.

The loop drives the optimizer directly from the policy: before step ``t``
(0-based) every parameter group gets ``lr = policy(t)`` and, when the policy
cycles momentum, ``momentum = policy.momentum(t)`` (SGD, RMSprop) or
``betas = (policy.momentum(t), beta2)`` (Adam family).

A step is one optimizer update: under gradient accumulation
(``Runtime(grad_accum_steps=N)``) it takes ``N`` micro-batches of
``task.batch_size``, each back-propagated with its loss divided by ``N``;
its loss is their mean (:func:`lrscope.engine.device.accumulate`). The model
and every batch are on the runtime's device, forward passes under its
autocast (bf16 / fp16), fp16 updates through a gradient scaler (a skipped
update still counts as a step).

Divergence (:func:`diverges`): the training loss of step ``t`` is checked
before the update; if it is not finite, or larger than 10 times the loss of
step 0 (the second rule only applies when that first loss is positive), or
the lr of step ``t`` has no representable update (it, or Adam's
bias-corrected step size, :func:`~lrscope.engine.device.step_lr`, is not finite
or above the largest value of the parameters' dtype,
:func:`~lrscope.engine.device.lr_ceiling`),
the trial stops with
``diverged=True``, ``diverged_at = t`` and ``steps_done = t`` (the bad update
is not applied). The model is then evaluated once more and the result returned;
divergence never raises.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lrscope.engine import checkpoint as ckpt
from lrscope.engine.data import BatchStream, fixed_subset, set_seed
from lrscope.engine.device import accumulate, lr_ceiling, resolve, step_lr
from lrscope.engine.evaluation import Evaluation, evaluate
from lrscope.engine.result import EvalPoint, TrialKey, TrialResult, summarize
from lrscope.engine.runtime import Runtime
from lrscope.errors import ParameterError
from lrscope.policies import Policy, parse
from lrscope.tasks.base import Task
from lrscope.validation import SEED, STEP_SIZE, Bool, OrNone, check

__all__ = [
    "DIVERGENCE_FACTOR",
    "MAX_SNAPSHOTS",
    "TRAIN_EVAL_SAMPLES",
    "diverges",
    "eval_point",
    "run_trial",
]

_OWNER = "run_trial"

DIVERGENCE_FACTOR = 10.0
TRAIN_EVAL_SAMPLES = 10_000


def diverges(loss: float, first_loss: float, lr: float, ceiling: float) -> bool:
    """Whether a step with training ``loss`` and ``lr`` diverged (the engines' one rule).

    True when ``loss`` is not finite, or above ``DIVERGENCE_FACTOR`` times a
    positive ``first_loss`` (the loss of step 0), or ``lr`` (the step's lr,
    :func:`~lrscope.engine.device.step_lr` of an optimizer) is not ``<=
    ceiling`` (:func:`~lrscope.engine.device.lr_ceiling` of the parameters:
    an infinite, NaN or too large lr, whose update cannot be represented).
    """
    if not math.isfinite(loss) or not lr <= ceiling:
        return True
    return first_loss > 0 and loss > DIVERGENCE_FACTOR * first_loss


ProgressFn = Callable[[int, int], None]
EvalFn = Callable[[EvalPoint], "bool | None"]


@dataclass
class _State:
    """What changes during a trial, besides model and optimizer."""

    step: int = 0
    first_loss: float | None = None
    elapsed_s: float = 0.0
    curve: list[EvalPoint] = field(default_factory=list)
    diverged_at: int | None = None
    last_eval: Evaluation | None = None


@dataclass(frozen=True)
class _Plan:
    """Which steps evaluate, snapshot and checkpoint (all counted in steps done)."""

    steps: int
    eval_every: int
    checkpoint_every: int | None
    snapshot_steps: frozenset[int]

    def evaluates(self, done: int) -> bool:
        return done % self.eval_every == 0 or done == self.steps

    def checkpoints(self, done: int) -> bool:
        every = self.checkpoint_every
        return every is not None and done % every == 0 and done < self.steps


def _apply_policy(optimizer: torch.optim.Optimizer, policy: Policy, t: int) -> float:
    lr = policy(t)
    momentum = policy.momentum(t) if policy.has_momentum else None
    for group in optimizer.param_groups:
        group["lr"] = lr
        if momentum is not None:
            if "betas" in group:
                group["betas"] = (momentum, group["betas"][1])
            elif "momentum" in group:
                group["momentum"] = momentum
    return lr


MAX_SNAPSHOTS = 10_000
"""The most weight snapshots one trial writes (each is a file of the model's size)."""


def _check_snapshot_count(
    policy: Policy, steps: int, snapshot_every: int | None, every_cycle: bool
) -> None:
    """Refuse snapshot settings that would write more than :data:`MAX_SNAPSHOTS` files."""
    counts: list[tuple[str, object, int]] = []
    if snapshot_every is not None:
        counts.append(("snapshot_every", snapshot_every, steps // snapshot_every))
    cycle = policy.cycle_length() if every_cycle else None
    if cycle:
        counts.append(("snapshot_every_cycle", every_cycle, steps // cycle))
    for name, value, count in counts:
        if count > MAX_SNAPSHOTS:
            allowed = f"a setting that writes at most {MAX_SNAPSHOTS:,} snapshots ({count:,} here)"
            raise ParameterError(_OWNER, name, allowed, value)


def _make_plan(
    policy: Policy,
    steps: int,
    eval_every: int,
    checkpoint_every: int | None,
    snapshot_every: int | None,
    snapshot_every_cycle: bool,
) -> _Plan:
    snaps: set[int] = set()
    if snapshot_every is not None:
        snaps.update(range(snapshot_every, steps + 1, snapshot_every))
    if snapshot_every_cycle:
        snaps.update(s for s in policy.cycle_ends(steps) if 0 < s <= steps)
    return _Plan(steps, eval_every, checkpoint_every, frozenset(snaps))


class _Trial:
    """The mutable parts of one run of :func:`run_trial`."""

    def __init__(
        self, task: Task, policy: Policy, seed: int, steps: int, eval_every: int, runtime: Runtime
    ) -> None:
        self.on_eval: EvalFn | None = None
        self.task, self.policy, self.seed = task, policy, seed
        self.steps, self.eval_every, self.runtime = steps, eval_every, runtime
        self.compute = resolve(runtime)
        set_seed(seed)
        self.model: nn.Module = task.model().to(self.compute.device)
        self.model.train()
        self.optimizer = task.optimizer(self.model.parameters())
        self.lr_ceiling = lr_ceiling(p for g in self.optimizer.param_groups for p in g["params"])
        self.stream = BatchStream(task.train_data, task.batch_size, seed)
        self.train_subset = fixed_subset(task.train_data, TRAIN_EVAL_SAMPLES)
        self.state = _State()

    @property
    def key(self) -> TrialKey:
        return TrialKey(
            self.task.name,
            self.policy.spec,
            self.seed,
            self.steps,
            self.eval_every,
            self.runtime.identity,
        )

    # -- checkpoints --------------------------------------------------------
    def key_dict(self) -> dict[str, Any]:
        return asdict(self.key)

    def save(self, path: Path, elapsed_s: float) -> None:
        ckpt.save_atomic(
            {
                "format": ckpt.CHECKPOINT_FORMAT,
                "key": self.key_dict(),
                "step": self.state.step,
                "first_loss": self.state.first_loss,
                "elapsed_s": elapsed_s,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.compute.state_dict(),
                "rng": ckpt.capture_rng(),
                "data": self.stream.state_dict(),
                "curve": [asdict(p) for p in self.state.curve],
            },
            path,
        )

    def resume(self, path: Path) -> None:
        data = ckpt.load_checkpoint(path)
        stored = {"runtime": "", **data["key"]}
        if stored != self.key_dict():
            raise ckpt.CheckpointError(
                f"checkpoint {str(path)!r} belongs to trial {stored}, "
                f"not to {self.key_dict()}; delete it or pass another path"
            )
        with ckpt.restoring(path, "model weights"):
            self.model.load_state_dict(data["model"])
        with ckpt.restoring(path, "optimizer state"):
            self.optimizer.load_state_dict(data["optimizer"])
        with ckpt.restoring(path, "gradient scaler state"):
            self.compute.load_state_dict(data.get("scaler", {}))
        with ckpt.restoring(path, "data position, random states or progress"):
            self.stream.load_state_dict(data["data"])
            ckpt.restore_rng(data["rng"])
            self.state.step = int(data["step"])
            if not 0 <= self.state.step <= self.steps:
                raise ValueError(f"step {self.state.step} is outside 0 .. {self.steps}")
            self.state.first_loss = data["first_loss"]
            self.state.elapsed_s = float(data["elapsed_s"])
            self.state.curve = [EvalPoint.from_dict(p) for p in data["curve"]]

    # -- evaluation ---------------------------------------------------------
    def evaluate_now(self) -> bool:
        """Evaluate on the test set and the train subsample; extend the curve.

        After resuming, the checkpoint's last point may already be at this
        step: then only the final test evaluation is recomputed. Returns True
        when ``on_eval`` asks to stop.
        """
        task, state = self.task, self.state
        test = evaluate(self.model, task.test_data, task.scorer, compute=self.compute)
        state.last_eval = test
        if state.curve and state.curve[-1].step == state.step:
            return False
        train = evaluate(
            self.model, self.train_subset, task.scorer, compute=self.compute, with_metrics=False
        )
        lr = self.policy(max(state.step - 1, 0))
        point = eval_point(state.step, lr, train, test, task.scoring.primary)
        state.curve.append(point)
        return bool(self.on_eval(point)) if self.on_eval is not None else False

    # -- training -----------------------------------------------------------
    def train_step(self, t: int) -> bool:
        """One optimizer step; False (and no update) when the loss diverged."""
        _apply_policy(self.optimizer, self.policy, t)
        steps = self.task.batch_steps
        value = accumulate(self.model, self.optimizer, steps, self.stream.next, self.compute)
        first = self.state.first_loss
        if first is None:
            first = self.state.first_loss = value
        if diverges(value, first, step_lr(self.optimizer), self.lr_ceiling):
            self.state.diverged_at = t
            return False
        self.compute.step(self.optimizer)
        return True

    def result(self, wall_s: float) -> TrialResult:
        state = self.state
        final = state.last_eval
        if final is None:  # pragma: no cover - the loop always evaluates at the end
            raise RuntimeError("trial ended without an evaluation")
        return summarize(
            self.key,
            n_params=self.policy.n_params,
            final=final,
            curve=state.curve,
            wall_s=wall_s,
            steps_done=state.step,
            diverged_at=state.diverged_at,
            scoring=self.task.scoring,
        )


def eval_point(
    step: int, lr: float, train: Evaluation, test: Evaluation, primary: str
) -> EvalPoint:
    """The curve point of an evaluation after ``step`` steps (the engine's and the batched's)."""
    return EvalPoint(step, lr, train.loss, test.loss, test.top1, test.top5, test.value(primary))


def run_trial(
    task: Task,
    policy: Policy | str,
    *,
    steps: int,
    seed: int = 0,
    eval_every: int | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    snapshot_dir: str | Path | None = None,
    snapshot_every: int | None = None,
    snapshot_every_cycle: bool = False,
    on_progress: ProgressFn | None = None,
    save_weights: str | Path | None = None,
    on_eval: EvalFn | None = None,
    runtime: Runtime | None = None,
) -> TrialResult:
    """Train ``task`` for ``steps`` optimizer steps under ``policy``; return curves and metrics.

    Args:
        task: what to train (model factory, data, optimizer, loss, batch size).
        policy: a :class:`~lrscope.policies.Policy` or its spec string.
        steps: optimizer steps to take (>= 1).
        seed: seeds weight initialisation (``random``, numpy and torch are
            seeded before ``task.model()`` is called) and the data order.
        eval_every: evaluate after every ``eval_every`` steps (default: one
            epoch, ``task.steps_per_epoch`` optimizer steps, fewer under
            gradient accumulation) and always after the last step.
        checkpoint: a file to resume from when it exists, and to write every
            ``checkpoint_every`` steps (default: every evaluation; ignored
            without ``checkpoint``). A resumed
            trial ends with exactly the metrics and curve of an uninterrupted
            one; the file stays in place when the trial is done.
        snapshot_dir, snapshot_every, snapshot_every_cycle: save the model's
            ``state_dict`` as ``snapshot_dir/step_000600.pt`` after every
            ``snapshot_every`` steps and/or at every end of a policy cycle
            (``policy.cycle_ends(steps)``).
        on_progress: called as ``on_progress(steps_done, steps)`` after every
            step; an exception it raises stops the trial and propagates.
        save_weights: write the final ``state_dict`` to this file.
        on_eval: called with every new :class:`EvalPoint`; when it returns
            True the trial stops after that evaluation (``steps_done <
            steps``, not diverged; its metrics are those of that evaluation).
            This is how the tuner prunes.
        runtime: device, precision and gradient accumulation
            (:class:`~lrscope.engine.Runtime`; default: ``Runtime()``, fp32
            without accumulation on CUDA if there is one, else the CPU).
            Checkpoints hold the CUDA generators' states too when CUDA is used.

    Returns:
        The :class:`~lrscope.engine.result.TrialResult` (metrics documented there).
        Divergence ends the trial early with ``diverged=True``; it never raises.

    Raises:
        ParameterError: a non-positive ``steps``, ``eval_every``,
            ``checkpoint_every`` or ``snapshot_every``, a seed outside
            [0, 2**32 - 1], snapshot options without ``snapshot_dir``, or
            more than :data:`MAX_SNAPSHOTS` snapshots.
        CheckpointError: ``checkpoint`` is unreadable or from another trial.
        DeviceError: the runtime's device does not exist on this machine.
    """
    pol = parse(policy) if isinstance(policy, str) else policy
    chosen = runtime if runtime is not None else Runtime()
    steps = check(_OWNER, "steps", steps, STEP_SIZE)
    seed = check(_OWNER, "seed", seed, SEED)
    eval_every = check(_OWNER, "eval_every", eval_every, OrNone(STEP_SIZE))
    checkpoint_every = check(_OWNER, "checkpoint_every", checkpoint_every, OrNone(STEP_SIZE))
    snapshot_every = check(_OWNER, "snapshot_every", snapshot_every, OrNone(STEP_SIZE))
    snapshot_every_cycle = check(_OWNER, "snapshot_every_cycle", snapshot_every_cycle, Bool())
    if (snapshot_every is not None or snapshot_every_cycle) and snapshot_dir is None:
        raise ParameterError(
            _OWNER, "snapshot_dir", "a directory when snapshots are requested", None
        )
    _check_snapshot_count(pol, steps, snapshot_every, snapshot_every_cycle)
    every = eval_every or chosen.optimizer_steps(task.steps_per_epoch)
    if checkpoint is not None and checkpoint_every is None:
        checkpoint_every = every
    plan = _make_plan(pol, steps, every, checkpoint_every, snapshot_every, snapshot_every_cycle)
    trial = _Trial(task, pol, seed, steps, every, chosen)
    trial.on_eval = on_eval
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if ckpt_path is not None and ckpt_path.exists():
        trial.resume(ckpt_path)
    started = time.perf_counter()
    _loop(trial, plan, ckpt_path, snapshot_dir, on_progress, started)
    state = trial.state
    if state.last_eval is None or state.curve[-1].step != state.step:
        trial.evaluate_now()
    if save_weights is not None:
        ckpt.save_atomic(trial.model.state_dict(), save_weights)
    return trial.result(state.elapsed_s + time.perf_counter() - started)


def _loop(
    trial: _Trial,
    plan: _Plan,
    ckpt_path: Path | None,
    snapshot_dir: str | Path | None,
    on_progress: ProgressFn | None,
    started: float,
) -> None:
    state = trial.state
    for t in range(state.step, plan.steps):
        if not trial.train_step(t):
            return
        done = state.step = t + 1
        if plan.evaluates(done) and trial.evaluate_now():
            return
        if snapshot_dir is not None and done in plan.snapshot_steps:
            ckpt.save_snapshot(trial.model, snapshot_dir, done)
        if ckpt_path is not None and plan.checkpoints(done):
            trial.save(ckpt_path, state.elapsed_s + time.perf_counter() - started)
        if on_progress is not None:
            on_progress(done, plan.steps)
