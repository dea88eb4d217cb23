r"""The LR range test (Smith 2017, section 3.3): train while the lr ramps up, record the loss.

Before step ``t`` (0-based) every parameter group gets the lr of the ramp
(:func:`lrscope.policies.exp_ramp` or :func:`~lrscope.policies.linear_ramp`
from ``start_lr`` at ``t = 0`` to ``end_lr`` at ``t = steps - 1``). The
mini-batch loss :math:`\ell_t` is measured in train mode before the update and
recorded with the debiased exponential average

.. math:: a_t = \beta a_{t-1} + (1 - \beta)\,\ell_t,\quad a_{-1} = 0,\qquad
          s_t = a_t / (1 - \beta^{t+1}).

The test stops after recording step ``t`` when :math:`\ell_t` is not finite, or
when both :math:`s_t > f \min_{u < t} s_u` (``f = diverge_factor``, 4 by
default, as in fastai and torch-lr-finder) and the median of the last
:math:`2w + 1` batch losses exceeds the same :math:`f \min_{u < t} s_u`
(``w`` = 2 % of the steps, :func:`~lrscope.rangetest.reading.sustained_above`);
that step is ``diverged_at``. The second condition keeps a burst of up to
``w`` outlier batches, which the debiased average weighs by about
:math:`1 / (t + 1)` in the first steps, from ending the test at its start.

Optionally, after every ``eval_every`` steps the model is evaluated (eval
mode, no gradients) on a fixed subset of ``eval_samples`` test samples: loss
and top-1 accuracy against lr, Smith's accuracy-versus-lr plot (Smith 2017,
Fig. 3).

Nothing the caller can see changes: model parameters, buffers, gradients,
train/eval modes and the optimizer's state and hyper-parameters are copied
before and put back afterwards, as are the Python, numpy and torch random
generators; also when the test raises or is interrupted (``try/finally``).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from lrscope.engine.checkpoint import capture_rng, restore_rng
from lrscope.engine.data import BatchStream, fixed_subset, set_seed
from lrscope.engine.evaluation import evaluate
from lrscope.errors import ParameterError
from lrscope.rangetest.reading import default_half_width, sustained_above
from lrscope.rangetest.result import RangeEvalPoint, RangeTestResult
from lrscope.rangetest.settings import (
    DEFAULT_DIVERGE_FACTOR,
    DEFAULT_END_LR,
    DEFAULT_EVAL_SAMPLES,
    DEFAULT_SMOOTH,
    DEFAULT_START_LR,
    MAX_DEFAULT_STEPS,
    MIN_DEFAULT_STEPS,
    RangeTestSettings,
    default_steps,
)
from lrscope.rangetest.suggest import suggest
from lrscope.tasks.base import Task
from lrscope.validation import SEED, check

__all__ = [
    "DEFAULT_DIVERGE_FACTOR",
    "DEFAULT_END_LR",
    "DEFAULT_EVAL_SAMPLES",
    "DEFAULT_SMOOTH",
    "DEFAULT_START_LR",
    "MAX_DEFAULT_STEPS",
    "MIN_DEFAULT_STEPS",
    "default_steps",
    "lr_range_test",
    "range_test",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ProgressFn = Callable[[int, int], None]
Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class _Run:
    """The settings of one test with its number of steps resolved."""

    settings: RangeTestSettings
    steps: int

    @property
    def eval_every(self) -> int | None:
        return self.settings.eval_every


@dataclass
class _Curves:
    """What the loop records."""

    lr: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    evals: list[RangeEvalPoint] = field(default_factory=list)
    diverged_at: int | None = None


Evaluator = Callable[[nn.Module], tuple[float, float]]


def _sweep(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    next_batch: Callable[[], Batch],
    run: _Run,
    evaluator: Evaluator | None,
    on_progress: ProgressFn | None,
) -> _Curves:
    """The training loop of the test; records into a :class:`_Curves`."""
    curves = _Curves()
    settings = run.settings
    ramp, beta = settings.ramp(run.steps), settings.smooth
    average, lowest = 0.0, math.inf
    half_width = default_half_width(run.steps)
    model.train()
    for t in range(run.steps):
        lr = ramp(t)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = next_batch()
        loss = loss_fn(model(x), y)
        value = float(loss.item())
        if math.isfinite(value):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        average = beta * average + (1 - beta) * value
        smoothed = average / (1 - beta ** (t + 1))
        curves.lr.append(lr)
        curves.loss.append(value)
        curves.smoothed.append(smoothed)
        limit = settings.diverge_factor * lowest
        if not math.isfinite(value) or (
            smoothed > limit and sustained_above(curves.loss, limit, half_width)
        ):
            curves.diverged_at = t
            break
        lowest = min(lowest, smoothed)
        if evaluator is not None and settings.eval_every and (t + 1) % settings.eval_every == 0:
            test_loss, top1 = evaluator(model)
            curves.evals.append(RangeEvalPoint(t + 1, lr, test_loss, top1))
        if on_progress is not None:
            on_progress(t + 1, run.steps)
    return curves


def _result(
    run: _Run,
    curves: _Curves,
    wall_s: float,
    task: str | None,
    seed: int | None,
) -> RangeTestResult:
    at = curves.diverged_at
    settings = run.settings
    result = RangeTestResult(
        mode=settings.mode,
        start_lr=settings.start_lr,
        end_lr=settings.end_lr,
        steps=run.steps,
        smooth=settings.smooth,
        diverge_factor=settings.diverge_factor,
        lr=tuple(curves.lr),
        loss=tuple(curves.loss),
        smoothed_loss=tuple(curves.smoothed),
        task=task,
        seed=seed,
        eval_every=settings.eval_every,
        eval_samples=settings.eval_samples if settings.eval_every else None,
        evals=tuple(curves.evals),
        diverged_at=at,
        diverged_lr=None if at is None else curves.lr[at],
        wall_s=wall_s,
    )
    return replace(result, suggestions=suggest(result))


def _evaluator(data: Dataset[Any], num_classes: int | None, loss_fn: LossFn) -> Evaluator:
    def run(model: nn.Module) -> tuple[float, float]:
        measured = evaluate(model, data, num_classes, loss_fn)
        return measured.loss, measured.top1

    return run


def range_test(
    task: Task,
    settings: RangeTestSettings | None = None,
    *,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
    **options: object,
) -> RangeTestResult:
    """Run a range test on a fresh model of ``task``; return curves and suggestions.

    Args:
        task: the model factory, data, optimizer factory and loss to test.
        settings: the ramp, smoothing, stopping rule and evaluations
            (:class:`~lrscope.rangetest.RangeTestSettings`; default: its
            defaults, an exponential ramp from 1e-5 to 10 over one epoch
            clipped to 300-500 steps).
        seed: seeds the initial weights and the batch order, as in
            :func:`lrscope.engine.run_trial`.
        on_progress: called as ``on_progress(steps_done, steps)`` after every
            step; an exception it raises stops the test and propagates.
        options: settings by name, replacing those of ``settings``
            (``range_test(task, mode="linear", end_lr=1.0)``); see
            :class:`~lrscope.rangetest.RangeTestSettings` for each one.

    The global random generators are left as they were. The result carries
    :func:`lrscope.rangetest.suggest`'s suggestions.

    Raises:
        ParameterError: an unknown option or a value outside its range
            (the same message ``lrscope find`` prints).
    """
    chosen = RangeTestSettings.from_options(settings, **options)
    seed = check("range_test", "seed", seed, SEED)
    run = _Run(chosen, chosen.steps_for(task.steps_per_epoch))
    rng = capture_rng()
    try:
        started = time.perf_counter()
        set_seed(seed)
        model = task.model()
        optimizer = task.optimizer(model.parameters())
        stream = BatchStream(task.train_data, task.batch_size, seed)
        evaluator = None
        if chosen.eval_every is not None:
            subset = fixed_subset(task.test_data, chosen.eval_samples)
            evaluator = _evaluator(subset, task.num_classes, task.loss)
        curves = _sweep(model, optimizer, task.loss, stream.next, run, evaluator, on_progress)
        wall_s = time.perf_counter() - started
    finally:
        restore_rng(rng)
    return _result(run, curves, wall_s, task.name, seed)


@dataclass
class _Saved:
    """Copies of everything a range test changes on a caller's model and optimizer."""

    model: dict[str, Any]
    optimizer: dict[str, Any]
    grads: list[torch.Tensor | None]
    modes: list[bool]
    rng: dict[str, Any]

    @classmethod
    def take(cls, model: nn.Module, optimizer: torch.optim.Optimizer) -> _Saved:
        return cls(
            model=copy.deepcopy(model.state_dict()),
            optimizer=copy.deepcopy(optimizer.state_dict()),
            grads=[None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
            modes=[m.training for m in model.modules()],
            rng=capture_rng(),
        )

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        model.load_state_dict(self.model)
        optimizer.load_state_dict(self.optimizer)
        for param, grad in zip(model.parameters(), self.grads, strict=True):
            param.grad = grad
        for module, training in zip(model.modules(), self.modes, strict=True):
            module.training = training
        restore_rng(self.rng)


def _endless(loader: Iterable[Any], device: torch.device) -> Callable[[], Batch]:
    """``next_batch()`` over ``loader``, starting it again whenever it runs out."""
    iterator: list[Iterator[Any]] = [iter(loader)]

    def next_batch() -> Batch:
        try:
            x, y = next(iterator[0])
        except StopIteration:
            iterator[0] = iter(loader)
            try:
                x, y = next(iterator[0])
            except StopIteration:
                raise ParameterError(
                    "lr_range_test", "loader", "an iterable that yields batches", loader
                ) from None
        return x.to(device), torch.as_tensor(y).to(device)

    return next_batch


def _length(loader: Iterable[Any]) -> int | None:
    """Batches per pass of ``loader``, when it knows (an iterable-style DataLoader does not)."""
    if not isinstance(loader, Sized):
        return None
    try:
        return len(loader)
    except TypeError:
        return None


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    loader: Iterable[Any],
    settings: RangeTestSettings | None = None,
    *,
    eval_data: Dataset[Any] | None = None,
    num_classes: int | None = None,
    on_progress: ProgressFn | None = None,
    **options: object,
) -> RangeTestResult:
    """Run a range test on the caller's own model, optimizer, loss and data.

    ``loader`` yields ``(inputs, labels)`` batches (a
    :class:`~torch.utils.data.DataLoader` or any iterable; it is started again
    when it runs out; batches are moved to the model's device). Every
    parameter group gets the ramp's lr. ``eval_data`` (a map-style dataset of
    ``(input, label)``) with ``eval_every`` adds the test-subset curve.
    ``settings`` and ``options`` as :func:`range_test`; ``steps`` defaults to
    one pass over ``loader`` when it has a length, clipped to [300, 500].

    Afterwards the model's parameters, buffers, gradients and train/eval
    modes, the optimizer's state and param groups (lr included) and the
    global random generators are exactly as before, also when the test raises
    (e.g. ``KeyboardInterrupt`` from ``on_progress``).

    Raises:
        ParameterError: a bad setting, or ``eval_every`` without ``eval_data``.
    """
    chosen = RangeTestSettings.from_options(settings, **options)
    if chosen.eval_every is not None and eval_data is None:
        raise ParameterError(
            "lr_range_test", "eval_data", "a dataset when eval_every is given", None
        )
    run = _Run(chosen, chosen.steps_for(_length(loader)))
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    saved = _Saved.take(model, optimizer)
    try:
        started = time.perf_counter()
        evaluator = None
        if eval_data is not None and chosen.eval_every is not None:
            subset = fixed_subset(eval_data, chosen.eval_samples)
            evaluator = _evaluator(subset, num_classes, loss_fn)
        next_batch = _endless(loader, device)
        curves = _sweep(model, optimizer, loss_fn, next_batch, run, evaluator, on_progress)
        wall_s = time.perf_counter() - started
    finally:
        saved.restore(model, optimizer)
    return _result(run, curves, wall_s, None, None)
