r"""The LR range test (seed 001, section 3.3): train while the lr ramps up, record the loss.

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
and top-1 accuracy against lr, Smith's accuracy-versus-lr plot (seed 001,
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
from lrscope.policies import Policy, exp_ramp, linear_ramp
from lrscope.rangetest.reading import default_half_width, sustained_above
from lrscope.rangetest.result import RangeEvalPoint, RangeTestResult
from lrscope.rangetest.suggest import suggest
from lrscope.tasks.base import Task

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

DEFAULT_START_LR = 1e-5
DEFAULT_END_LR = 10.0
DEFAULT_SMOOTH = 0.98
DEFAULT_DIVERGE_FACTOR = 4.0
DEFAULT_EVAL_SAMPLES = 1000
MIN_DEFAULT_STEPS = 300
MAX_DEFAULT_STEPS = 500

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ProgressFn = Callable[[int, int], None]
Batch = tuple[torch.Tensor, torch.Tensor]


def default_steps(steps_per_epoch: int | None) -> int:
    """Steps of a range test when none are given: one epoch, clipped to [300, 500].

    Six decades (1e-5 to 10) need about 50 steps per decade to resolve the
    descent of the loss, so at least 300 steps; a data set whose epoch is
    longer gets one epoch (each batch seen once at most), up to 500 steps, past
    which the test costs more without reading the curve better.
    """
    if steps_per_epoch is None:
        return MIN_DEFAULT_STEPS
    return min(max(steps_per_epoch, MIN_DEFAULT_STEPS), MAX_DEFAULT_STEPS)


@dataclass(frozen=True)
class _Settings:
    """Validated parameters of one range test."""

    mode: str
    start_lr: float
    end_lr: float
    steps: int
    smooth: float
    diverge_factor: float
    eval_every: int | None
    eval_samples: int

    def ramp(self) -> Policy:
        factory = exp_ramp if self.mode == "exp" else linear_ramp
        params: dict[str, Any] = {
            "start_lr": self.start_lr,
            "end_lr": self.end_lr,
            "steps": self.steps,
        }
        return factory(**params)


def _check(owner: str, name: str, ok: bool, allowed: str, value: object) -> None:
    if not ok:
        raise ParameterError(owner, name, allowed, value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(
    owner: str,
    *,
    mode: str,
    start_lr: float,
    end_lr: float,
    steps: int,
    smooth: float,
    diverge_factor: float,
    eval_every: int | None,
    eval_samples: int,
) -> _Settings:
    _check(owner, "mode", mode in ("exp", "linear"), "one of 'exp', 'linear'", mode)
    _check(owner, "start_lr", start_lr > 0 and math.isfinite(start_lr), "a float > 0", start_lr)
    _check(
        owner, "end_lr", math.isfinite(end_lr) and end_lr > start_lr, "a float > start_lr", end_lr
    )
    _check(owner, "steps", _is_int(steps) and steps >= 5, "an int in the range [5, inf)", steps)
    _check(owner, "smooth", 0 <= smooth < 1, "a float in the range [0, 1)", smooth)
    _check(owner, "diverge_factor", diverge_factor > 1, "a float > 1", diverge_factor)
    _check(
        owner,
        "eval_every",
        eval_every is None or (_is_int(eval_every) and eval_every >= 1),
        "None or an int in the range [1, inf)",
        eval_every,
    )
    _check(
        owner,
        "eval_samples",
        _is_int(eval_samples) and eval_samples >= 1,
        "an int in the range [1, inf)",
        eval_samples,
    )
    return _Settings(
        mode, start_lr, end_lr, steps, smooth, diverge_factor, eval_every, eval_samples
    )


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
    settings: _Settings,
    evaluator: Evaluator | None,
    on_progress: ProgressFn | None,
) -> _Curves:
    """The training loop of the test; records into a :class:`_Curves`."""
    curves = _Curves()
    ramp, beta = settings.ramp(), settings.smooth
    average, lowest = 0.0, math.inf
    half_width = default_half_width(settings.steps)
    model.train()
    for t in range(settings.steps):
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
            on_progress(t + 1, settings.steps)
    return curves


def _result(
    settings: _Settings,
    curves: _Curves,
    wall_s: float,
    task: str | None,
    seed: int | None,
) -> RangeTestResult:
    at = curves.diverged_at
    result = RangeTestResult(
        mode=settings.mode,
        start_lr=settings.start_lr,
        end_lr=settings.end_lr,
        steps=settings.steps,
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
    *,
    mode: str = "exp",
    start_lr: float = DEFAULT_START_LR,
    end_lr: float = DEFAULT_END_LR,
    steps: int | None = None,
    seed: int = 0,
    eval_every: int | None = None,
    eval_samples: int = DEFAULT_EVAL_SAMPLES,
    smooth: float = DEFAULT_SMOOTH,
    diverge_factor: float = DEFAULT_DIVERGE_FACTOR,
    on_progress: ProgressFn | None = None,
) -> RangeTestResult:
    """Run a range test on a fresh model of ``task``; return curves and suggestions.

    Args:
        task: the model factory, data, optimizer factory and loss to test.
        mode: ``"exp"`` (geometric ramp, equal steps per decade) or ``"linear"``
            (seed 001's original form).
        start_lr, end_lr: the lr of the first and the last step, ``0 < start_lr < end_lr``.
        steps: optimizer steps (>= 5); default :func:`default_steps` of the
            task's steps per epoch (300 to 500).
        seed: seeds the initial weights and the batch order, as in
            :func:`lrscope.engine.run_trial`.
        eval_every: evaluate on the test subset after every this many steps
            (default: never). Each evaluation costs about a third of a training
            step per batch of test samples, so ``eval_every >= 10`` keeps it
            well under the cost of the training steps.
        eval_samples: size of the fixed test subset (the same samples for every
            seed: :func:`lrscope.engine.fixed_subset`).
        smooth: :math:`\\beta` of the smoothed loss, in [0, 1).
        diverge_factor: stop once the smoothed loss exceeds this multiple of its minimum.
        on_progress: called as ``on_progress(steps_done, steps)`` after every
            step; an exception it raises stops the test and propagates.

    The global random generators are left as they were. The result carries
    :func:`lrscope.rangetest.suggest`'s suggestions.

    Raises:
        ParameterError: a parameter outside its allowed range.
    """
    settings = _validate(
        f"range_test on {task.name}",
        mode=mode,
        start_lr=start_lr,
        end_lr=end_lr,
        steps=default_steps(task.steps_per_epoch) if steps is None else steps,
        smooth=smooth,
        diverge_factor=diverge_factor,
        eval_every=eval_every,
        eval_samples=eval_samples,
    )
    rng = capture_rng()
    try:
        started = time.perf_counter()
        set_seed(seed)
        model = task.model()
        optimizer = task.optimizer(model.parameters())
        stream = BatchStream(task.train_data, task.batch_size, seed)
        evaluator = None
        if settings.eval_every is not None:
            subset = fixed_subset(task.test_data, settings.eval_samples)
            evaluator = _evaluator(subset, task.num_classes, task.loss)
        curves = _sweep(model, optimizer, task.loss, stream.next, settings, evaluator, on_progress)
        wall_s = time.perf_counter() - started
    finally:
        restore_rng(rng)
    return _result(settings, curves, wall_s, task.name, seed)


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
    *,
    mode: str = "exp",
    start_lr: float = DEFAULT_START_LR,
    end_lr: float = DEFAULT_END_LR,
    steps: int | None = None,
    eval_data: Dataset[Any] | None = None,
    num_classes: int | None = None,
    eval_every: int | None = None,
    eval_samples: int = DEFAULT_EVAL_SAMPLES,
    smooth: float = DEFAULT_SMOOTH,
    diverge_factor: float = DEFAULT_DIVERGE_FACTOR,
    on_progress: ProgressFn | None = None,
) -> RangeTestResult:
    """Run a range test on the caller's own model, optimizer, loss and data.

    ``loader`` yields ``(inputs, labels)`` batches (a
    :class:`~torch.utils.data.DataLoader` or any iterable; it is started again
    when it runs out; batches are moved to the model's device). Every
    parameter group gets the ramp's lr. ``eval_data`` (a map-style dataset of
    ``(input, label)``) with ``eval_every`` adds the test-subset curve. Other
    arguments as :func:`range_test`; ``steps`` defaults to one pass over
    ``loader`` when it has a length, clipped to [300, 500].

    Afterwards the model's parameters, buffers, gradients and train/eval
    modes, the optimizer's state and param groups (lr included) and the
    global random generators are exactly as before, also when the test raises
    (e.g. ``KeyboardInterrupt`` from ``on_progress``).
    """
    length = _length(loader)
    settings = _validate(
        "lr_range_test",
        mode=mode,
        start_lr=start_lr,
        end_lr=end_lr,
        steps=default_steps(length) if steps is None else steps,
        smooth=smooth,
        diverge_factor=diverge_factor,
        eval_every=eval_every,
        eval_samples=eval_samples,
    )
    if eval_every is not None and eval_data is None:
        raise ParameterError(
            "lr_range_test", "eval_data", "a dataset when eval_every is given", None
        )
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    saved = _Saved.take(model, optimizer)
    try:
        started = time.perf_counter()
        evaluator = None
        if eval_data is not None and settings.eval_every is not None:
            evaluator = _evaluator(fixed_subset(eval_data, eval_samples), num_classes, loss_fn)
        next_batch = _endless(loader, device)
        curves = _sweep(model, optimizer, loss_fn, next_batch, settings, evaluator, on_progress)
        wall_s = time.perf_counter() - started
    finally:
        saved.restore(model, optimizer)
    return _result(settings, curves, wall_s, None, None)
