"""K trials of one task in lockstep, in one stacked model: :func:`run_batched`.

Each member is a trial ``(policy, seed, steps, eval_every)`` exactly as
:func:`lrscope.engine.run_trial` would run it:

- initial weights: ``set_seed(seed)`` then ``task.model()``, member by member;
- data: its own :class:`~lrscope.engine.data.BatchStream` seeded by ``seed``
  (the K batches are gathered into one ``(K B, ...)`` batch, member-major);
- before step ``t``: lr ``policy(t)`` and, when the policy cycles momentum,
  momentum ``policy.momentum(t)``, applied by :class:`~lrscope.batched.sgd.StackedSGD`;
- divergence (the engine's rule, :func:`lrscope.engine.trial.diverges`): the
  loss of step ``t`` is not finite, or above 10 times the member's first loss
  (when that is positive), or its lr is not finite or above float32's largest
  value (no representable update). The member
  then stops with ``diverged_at = t``, its update of step ``t`` not applied;
  its weights leave the stack and the other members go on untouched;
- evaluation after every ``eval_every`` steps and at the end, by
  :func:`lrscope.engine.evaluate` with the task's scorer on a model holding
  the member's own (unstacked) weights, so every metric of the task (LRBench's,
  regression's, the task's own) is computed exactly as the engine does.

Batched trials run on the CPU in float32, one micro-batch per step, on
batches of ``(inputs, targets)`` tensors read the default way;
:func:`task_batching_problem` says why a task or runtime does not qualify
(a training step, a custom batch function, bf16, gradient accumulation, a
GPU, ...), and the executors then run those trials one by one.

A member that is done (or diverged) leaves the stack, so the stack shrinks
as members with smaller budgets finish. The first batch is also run through
each member's unbatched model; a loss that differs by more than 1e-4
(relative) raises :class:`BatchingError` before any update, so a model whose
``forward`` mixes the samples of a batch is never trained batched.

Side by side: with ``T = torch.get_num_threads()`` above 1 and at least 4
members, the members are split into ``L = min(T, K // 2)`` lanes of
consecutive members (at least 2 each, sizes differing by at most one), each
stacked and trained in its own thread, with torch set to ``T // L`` threads
meanwhile (restored afterwards). The lanes never wait for each other, where
torch's own threads meet at a barrier inside every operation: on a 2-core
machine shared with other work (load average 7), 16 members of
``mnist1d-cnn`` for 200 steps took 13 s of wall time and 4.5 s of CPU as two
lanes, 97 s and 38 s (mostly spinning) as one stack on two torch threads.
A member's arithmetic does not depend on the other members of its stack, so
with one thread per lane its result is the one-thread result whatever the
lanes.

``wall_s`` of a member is its share of the group's time: the seconds from the
start of training until the member's result was final, divided by the number
of members.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as fn
from torch.utils.data import Dataset, TensorDataset

from lrscope.batched.conv import follow_gradient_layouts
from lrscope.batched.model import batching_problem, stack_model
from lrscope.batched.sgd import SGDGroup, StackedSGD, sgd_groups
from lrscope.engine import checkpoint as ckpt
from lrscope.engine.data import BatchStream, as_tensors, fixed_subset, set_seed, tensor_columns
from lrscope.engine.device import Compute, lr_ceiling, resolve
from lrscope.engine.evaluation import Evaluation, evaluate
from lrscope.engine.result import EvalPoint, TrialKey, TrialResult, summarize
from lrscope.engine.runtime import Runtime
from lrscope.engine.trial import TRAIN_EVAL_SAMPLES, diverges, eval_point
from lrscope.errors import LRScopeError, ParameterError
from lrscope.policies import Policy, parse
from lrscope.tasks.base import Task, default_loss
from lrscope.validation import SEED, STEP_SIZE, OrNone, check

__all__ = [
    "PROBE_RTOL",
    "BatchingError",
    "Member",
    "run_batched",
    "runtime_batching_problem",
    "task_batching_problem",
]

log = logging.getLogger(__name__)
_OWNER = "run_batched"

PROBE_RTOL = 1e-4
"""Largest relative difference allowed between batched and unbatched first losses."""

ProgressFn = Callable[[int, int], None]


class BatchingError(LRScopeError, ValueError):
    """A task whose model or optimizer cannot be trained batched (the message says why)."""


@dataclass(frozen=True)
class Member:
    """One trial of a batched group (the arguments of :func:`lrscope.engine.run_trial`).

    ``eval_every`` None means one epoch (``task.steps_per_epoch``), as in the engine.
    """

    policy: Policy | str
    seed: int = 0
    steps: int = 1000
    eval_every: int | None = None


def runtime_batching_problem(runtime: Runtime | None) -> str | None:
    """Why trials under ``runtime`` cannot be trained batched (a sentence), or None.

    Batched trials are exact in float32 on the CPU, one micro-batch per step.
    """
    if runtime is None:
        return None
    if runtime.precision != "fp32":
        return f"precision {runtime.precision} (batched trials run in fp32)"
    if runtime.grad_accum_steps != 1:
        return f"gradient accumulation over {runtime.grad_accum_steps} micro-batches"
    if runtime.device not in ("auto", "cpu"):
        return f"device {runtime.device!r} (batched trials run on the CPU)"
    if runtime.device == "auto" and resolve(runtime).device.type != "cpu":
        return "device 'auto' resolves to an accelerator here (batched trials run on the CPU)"
    return None


def _data_problem(task: Task) -> str | None:
    """Why the task's batches are not ``(inputs, targets)`` tensors read the default way."""
    steps = task.batch_steps
    for name in ("training_step", "eval_step", "split"):
        if getattr(steps, name) is not None:
            shown = "batch" if name == "split" else name
            return f"the task has its own {shown} function"
    columns = tensor_columns(task.train_data)
    if columns is not None:
        return None if len(columns) == 2 else f"its TensorDataset holds {len(columns)} tensors"
    sample = task.train_data[0]
    if not (isinstance(sample, (tuple, list)) and len(sample) == 2):
        return f"its samples are {type(sample).__name__}, not (input, target) pairs"
    if not isinstance(sample[0], torch.Tensor):
        return f"its inputs are {type(sample[0]).__name__}, not tensors"
    return None


def task_batching_problem(task: Task, runtime: Runtime | None = None) -> str | None:
    """Why ``task`` (under ``runtime``) cannot be trained batched (a sentence), or None.

    Builds one model and optimizer to look at them; the global RNGs are restored.
    """
    problem = runtime_batching_problem(runtime) or _data_problem(task)
    if problem is not None:
        return problem
    rng = ckpt.capture_rng()
    try:
        model = task.model()
        problem = batching_problem(model)
        if problem is None:
            names = {id(p): n for n, p in model.named_parameters()}
            groups = sgd_groups(task.optimizer(model.parameters()), names)
            problem = groups if isinstance(groups, str) else None
    finally:
        ckpt.restore_rng(rng)
    return problem


def _contiguous(grad: torch.Tensor) -> torch.Tensor:
    return grad.contiguous()


@dataclass
class _Trial:
    """One member's trial while the group runs."""

    policy: Policy
    seed: int
    steps: int
    eval_every: int
    model: nn.Module
    step: int = 0
    first_loss: float | None = None
    diverged_at: int | None = None
    curve: list[EvalPoint] = field(default_factory=list)
    last_eval: Evaluation | None = None
    wall_s: float = 0.0

    def evaluates(self, done: int) -> bool:
        return done % self.eval_every == 0 or done == self.steps


class _Sampler:
    """The members' training batches, gathered member-major into one batch."""

    def __init__(self, data: Dataset[Any], batch_size: int, seeds: Sequence[int]) -> None:
        self.tensors = as_tensors(data)
        if self.tensors is not None:
            size = self.tensors[0].shape[0]
            index = torch.arange(size)
            source: Dataset[Any] = TensorDataset(index, index)
        else:
            source = data
        self.streams = [BatchStream(source, batch_size, seed) for seed in seeds]

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [stream.next() for stream in self.streams]
        if self.tensors is not None:
            index = torch.cat([p[0] for p in parts])
            return self.tensors[0].index_select(0, index), self.tensors[1].index_select(0, index)
        return (
            torch.cat([torch.as_tensor(p[0]) for p in parts]),
            torch.cat([torch.as_tensor(p[1]) for p in parts]),
        )

    def keep(self, rows: list[int]) -> None:
        self.streams = [self.streams[r] for r in rows]


def _checked(members: Sequence[Member]) -> list[Member]:
    """``members`` with their numbers checked as :func:`lrscope.engine.run_trial` checks them."""
    if not members:
        raise ParameterError(_OWNER, "members", "a non-empty sequence of Member", [])
    return [
        dataclasses.replace(
            member,
            steps=check(_OWNER, "steps", member.steps, STEP_SIZE),
            seed=check(_OWNER, "seed", member.seed, SEED),
            eval_every=check(_OWNER, "eval_every", member.eval_every, OrNone(STEP_SIZE)),
        )
        for member in members
    ]


def _build(task: Task, members: Sequence[Member]) -> tuple[list[_Trial], list[SGDGroup]]:
    problem = task_batching_problem(task)
    if problem is not None:
        raise BatchingError(f"task {task.name!r} cannot be batched: {problem}")
    trials: list[_Trial] = []
    groups: list[SGDGroup] | str = []
    for member in members:
        policy = parse(member.policy) if isinstance(member.policy, str) else member.policy
        set_seed(member.seed)
        model = task.model()
        model.train()
        if not trials:
            names = {id(p): n for n, p in model.named_parameters()}
            groups = sgd_groups(task.optimizer(model.parameters()), names)
        every = member.eval_every or task.steps_per_epoch
        trials.append(_Trial(policy, member.seed, member.steps, every, model))
    assert not isinstance(groups, str)  # checked by task_batching_problem
    return trials, groups


class _Group:
    """The stacked state of the members still training."""

    def __init__(self, task: Task, trials: list[_Trial], groups: list[SGDGroup]) -> None:
        self.task = task
        self.rows = list(trials)  # row r of every stacked tensor belongs to rows[r]
        models = [trial.model for trial in trials]
        self.params: dict[str, torch.Tensor] = {
            name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
            .clone()
            .requires_grad_()
            for name, _ in models[0].named_parameters()
        }
        self.model = stack_model(models[0], self.params)
        self.optimizer = StackedSGD(groups)
        self.lr_ceiling = lr_ceiling(self.params.values())
        self.sampler = _Sampler(task.train_data, task.batch_size, [t.seed for t in trials])
        self.train_subset = fixed_subset(task.train_data, TRAIN_EVAL_SAMPLES)
        self.compute: Compute = resolve(Runtime(device="cpu"))

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The task's loss (always set for the tasks that batch: no training step)."""
        return self.task.batch_steps.batch_loss(outputs, targets)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's mean loss on its part of the batch, shape ``(K,)``."""
        logits = self.model(x)
        count = len(self.rows)
        if self.task.loss is default_loss and logits.dim() == 2 and not y.is_floating_point():
            # Classes on dim 1 of (K, C, B): torch's log-softmax over a last dimension
            # as short as a class count is some 20 times slower than over a middle one.
            by_member = logits.view(count, -1, logits.shape[1]).transpose(1, 2)
            if logits.requires_grad:
                # The gradient comes back through the transposed view: row-major for
                # K > 1 but column-major for K = 1, and the layers' GEMMs round
                # differently on the two; one layout keeps a member's arithmetic
                # independent of how many members share its stack.
                logits.register_hook(_contiguous)
            return fn.cross_entropy(by_member, y.view(count, -1), reduction="none").mean(1)
        if self.task.loss is default_loss:
            per_sample = fn.cross_entropy(logits, y, reduction="none")
            return per_sample.view(count, -1).mean(1)
        logit_parts = logits.view(count, -1, *logits.shape[1:]).unbind(0)
        label_parts = y.view(count, -1, *y.shape[1:]).unbind(0)
        pairs = zip(logit_parts, label_parts, strict=True)
        return torch.stack([self.loss(a, b) for a, b in pairs])

    @torch.no_grad()
    def probe(self, x: torch.Tensor, y: torch.Tensor, values: list[float]) -> None:
        """Raise :class:`BatchingError` unless each member's unbatched loss agrees."""
        xs, ys = x.chunk(len(self.rows)), y.chunk(len(self.rows))
        for trial, xk, yk, batched in zip(self.rows, xs, ys, values, strict=True):
            alone = float(self.loss(trial.model(xk), yk))
            both_bad = not math.isfinite(batched) and not math.isfinite(alone)
            if not both_bad and not math.isclose(batched, alone, rel_tol=PROBE_RTOL, abs_tol=1e-6):
                raise BatchingError(
                    f"task {self.task.name!r} cannot be batched: the first loss of seed "
                    f"{trial.seed} is {batched!r} batched but {alone!r} alone (the model's "
                    "forward probably mixes the samples of a batch)"
                )

    @torch.no_grad()
    def unstack(self, row: int) -> None:
        """Write row ``row`` of the stacked weights into its member's own model."""
        for name, param in self.rows[row].model.named_parameters():
            param.copy_(self.params[name][row])

    def keep(self, rows: list[int]) -> None:
        """Keep only the members at ``rows`` (their weights leave the stack otherwise)."""
        if not rows:
            self.rows = []
            return
        index = torch.tensor(rows, dtype=torch.long)
        for name, param in list(self.params.items()):
            kept = param.detach().index_select(0, index).requires_grad_()
            if param.grad is not None:
                kept.grad = param.grad.index_select(0, index)
            self.params[name] = kept
        self.optimizer.keep(index)
        self.sampler.keep(rows)
        self.rows = [self.rows[r] for r in rows]


def _evaluate(group: _Group, trial: _Trial) -> None:
    """The engine's evaluation of a member whose model holds its current weights."""
    task = group.task
    test = evaluate(trial.model, task.test_data, task.scorer, compute=group.compute)
    trial.last_eval = test
    if trial.curve and trial.curve[-1].step == trial.step:
        return
    train = evaluate(
        trial.model, group.train_subset, task.scorer, compute=group.compute, with_metrics=False
    )
    lr = trial.policy(max(trial.step - 1, 0))
    trial.curve.append(eval_point(trial.step, lr, train, test, task.scoring.primary))


def _result(task: Task, trial: _Trial) -> TrialResult:
    final = trial.last_eval
    if final is None:  # pragma: no cover - every member is evaluated before it leaves
        raise RuntimeError("member left the group without an evaluation")
    key = TrialKey(task.name, trial.policy.spec, trial.seed, trial.steps, trial.eval_every)
    return summarize(
        key,
        n_params=trial.policy.n_params,
        final=final,
        curve=trial.curve,
        wall_s=trial.wall_s,
        steps_done=trial.step,
        diverged_at=trial.diverged_at,
        scoring=task.scoring,
    )


def _diverged(trial: _Trial, value: float, lr: float, ceiling: float) -> bool:
    if trial.first_loss is None:
        trial.first_loss = value
    return diverges(value, trial.first_loss, lr, ceiling)


def _step(group: _Group, t: int) -> list[_Trial]:
    """Lockstep step ``t``; the members that diverged, out of the stack, weights unstacked."""
    rows = group.rows
    lrs = [trial.policy(t) for trial in rows]
    momenta = [trial.policy.momentum(t) if trial.policy.has_momentum else None for trial in rows]
    x, y = group.sampler.next()
    losses = group.losses(x, y)
    values = losses.tolist()
    if t == 0:
        group.probe(x, y, values)
    ceiling = group.lr_ceiling
    bad = [
        r
        for r, (trial, v, lr) in enumerate(zip(rows, values, lrs, strict=True))
        if _diverged(trial, v, lr, ceiling)
    ]
    good = [r for r in range(len(rows)) if r not in bad]
    if good:
        kept = losses.index_select(0, torch.tensor(good)) if bad else losses
        # On the first step, watch which convolution outputs come back in another layout.
        unwatch = follow_gradient_layouts(kept) if t == 0 else None
        kept.sum().backward()
        if unwatch is not None:
            unwatch()
    left = [rows[r] for r in bad]
    for r in bad:
        rows[r].diverged_at = t
        group.unstack(r)
    if bad:
        group.keep(good)
    if good:
        group.optimizer.step(group.params, [lrs[r] for r in good], [momenta[r] for r in good])
    for param in group.params.values():
        param.grad = None
    return left


class _Progress:
    """The lanes' shared clock: progress reports, members' wall times, a stop flag.

    ``on_progress(step, horizon)`` is called once per step, in order, when
    every lane still training has finished it (lanes that are done no longer
    hold it back; when all are done, up to the furthest step any lane took).
    """

    def __init__(self, lanes: int, trials: int, horizon: int, callback: ProgressFn | None) -> None:
        self.started = time.perf_counter()
        self.trials, self.horizon, self.callback = trials, horizon, callback
        self.done = [0] * lanes
        self.active = set(range(lanes))
        self.reported = 0
        self.lock = threading.Lock()
        self.failed = False  # set when a lane raised: the others stop at their next step

    def share(self) -> float:
        """A member's share of the time so far: seconds since the start / members."""
        return (time.perf_counter() - self.started) / self.trials

    def advance(self, lane: int, done: int, finished: bool) -> None:
        with self.lock:
            self.done[lane] = done
            if finished:
                self.active.discard(lane)
            low = min(self.done[i] for i in self.active) if self.active else max(self.done)
            while self.reported < low:
                self.reported += 1
                if self.callback is not None:
                    self.callback(self.reported, self.horizon)


def _train(group: _Group, progress: _Progress, lane: int) -> None:
    """Train one lane's stack until all its members are done (or another lane failed)."""
    horizon = max(trial.steps for trial in group.rows)
    for t in range(horizon):
        if progress.failed:
            return
        for trial in _step(group, t):
            trial.step = t
            if trial.last_eval is None or trial.curve[-1].step != t:
                _evaluate(group, trial)
            trial.wall_s = progress.share()
        done, finished = t + 1, []
        for row, trial in enumerate(group.rows):
            trial.step = done
            if trial.evaluates(done):
                group.unstack(row)
                _evaluate(group, trial)
            if done == trial.steps:
                finished.append(row)
                trial.wall_s = progress.share()
        if finished:
            group.keep([r for r in range(len(group.rows)) if r not in finished])
        progress.advance(lane, done, finished=not group.rows)
        if not group.rows:
            return


MIN_LANE = 2
"""Fewest members per lane: a lane of one member would lose what stacking gains."""


def _lanes(trials: list[_Trial], threads: int) -> list[list[_Trial]]:
    """``trials`` in up to ``threads`` consecutive runs (of at least MIN_LANE members, sizes
    differing by at most one)."""
    count = max(1, min(threads, len(trials) // MIN_LANE))
    size, extra = divmod(len(trials), count)
    bounds = [i * size + min(i, extra) for i in range(count + 1)]
    return [trials[a:b] for a, b in itertools.pairwise(bounds)]


def _train_side_by_side(
    task: Task, lanes: list[list[_Trial]], groups: list[SGDGroup], progress: _Progress
) -> None:
    """Each lane in its own thread (this one runs the first); torch's threads shared out."""
    stacks = [_Group(task, lane, groups) for lane in lanes]
    errors: list[BaseException] = []

    def work(lane: int) -> None:
        try:
            _train(stacks[lane], progress, lane)
        except BaseException as exc:  # re-raised by the calling thread below
            progress.failed = True
            errors.append(exc)

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // len(stacks)))
    try:
        workers = [
            threading.Thread(target=work, args=(lane,), name=f"lrscope-batched-lane-{lane}")
            for lane in range(1, len(stacks))
        ]
        for worker in workers:
            worker.start()
        work(0)
        for worker in workers:
            worker.join()
    finally:
        torch.set_num_threads(threads)
    if errors:
        raise errors[0]


def run_batched(
    task: Task, members: Sequence[Member], *, on_progress: ProgressFn | None = None
) -> list[TrialResult]:
    """Train the ``members`` of ``task`` in lockstep; one result per member, in order.

    Each result has the metrics :func:`lrscope.engine.run_trial` gives for the
    same ``(task, policy, seed, steps, eval_every)``, up to floating-point
    summation order (see :mod:`lrscope.batched`). With ``T =
    torch.get_num_threads()`` above 1 the members are trained in ``T`` lanes
    side by side (see the module docstring). ``on_progress(step, steps)`` is
    called once per step every lane has taken (``steps``: the largest budget),
    from whichever thread finished it last.

    Raises:
        BatchingError: the task's model or optimizer cannot be batched (the
            message says why; run the trials with ``run_trial`` instead).
        ParameterError: no members, or a non-positive ``steps`` / ``eval_every``.
    """
    members = _checked(members)
    trials, groups = _build(task, members)
    lanes = _lanes(trials, torch.get_num_threads())
    horizon = max(trial.steps for trial in trials)
    progress = _Progress(len(lanes), len(trials), horizon, on_progress)
    if len(lanes) == 1:
        _train(_Group(task, trials, groups), progress, 0)
    else:
        _train_side_by_side(task, lanes, groups, progress)
    return [_result(task, trial) for trial in trials]
