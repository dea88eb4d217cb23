r"""The LR range test (Smith 2017, section 3.3): train while the lr ramps up, record the loss.

Before step ``t`` (0-based) every parameter group gets the lr of the ramp
(:func:`lrscope.policies.exp_ramp` or :func:`~lrscope.policies.linear_ramp`
from ``start_lr`` at ``t = 0`` to ``end_lr`` at ``t = steps - 1``). The
mini-batch loss :math:`\ell_t` is measured in train mode before the update and
recorded with the debiased exponential average

.. math:: a_t = \beta a_{t-1} + (1 - \beta)\,\ell_t,\quad a_{-1} = 0,\qquad
          s_t = a_t / (1 - \beta^{t+1}).

With gradient accumulation (``Runtime(grad_accum_steps=N)``) a step takes
``N`` micro-batches and :math:`\ell_t` is their mean loss; the ramp advances
once per optimizer step. Batches of any structure are moved to the device
(the runtime's for a task, the model's own for :func:`lr_range_test`) and
forward passes run under the runtime's autocast (bf16, fp16 with a gradient
scaler).

The test stops after recording step ``t`` when :math:`\ell_t` is not finite, or
its lr has no representable update (it, or Adam's bias-corrected step size,
is above the largest value of the parameters' dtype,
:func:`lrscope.engine.device.lr_ceiling`; the update is not applied), or
when both :math:`s_t > f \min_{u < t} s_u` (``f = diverge_factor``, 4 by
default, as in fastai and torch-lr-finder) and the median of the last
:math:`2w + 1` batch losses exceeds the same :math:`f \min_{u < t} s_u`
(``w`` = 2 % of the steps, :func:`~lrscope.rangetest.reading.sustained_above`);
that step is ``diverged_at``. The second condition keeps a burst of up to
``w`` outlier batches, which the debiased average weighs by about
:math:`1 / (t + 1)` in the first steps, from ending the test at its start.

Optionally, after every ``eval_every`` steps the model is evaluated (eval
mode, no gradients) on a fixed subset of ``eval_samples`` test samples: the
task's loss (the true validation loss: targets are never cast) and, for
classification, top-1 accuracy against lr, Smith's accuracy-versus-lr plot
(Smith 2017, Fig. 3).

Nothing the caller can see changes: model parameters, buffers (persistent
or not), gradients, train/eval modes, the optimizer's state and
hyper-parameters and what counts its steps (a
:class:`~lrscope.torch.PolicyScheduler`'s counter, torch's
``optimizer.step()``-ran flag) are copied before and put back afterwards, as
are the Python, numpy and torch random generators; also when the test raises
or is interrupted (``try/finally``). :mod:`lrscope.rangetest.restore` lists
what exactly.
"""

from __future__ import annotations

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
from lrscope.engine.device import (
    Compute,
    accumulate,
    compute_on,
    lr_ceiling,
    resolve,
    step_lr,
)
from lrscope.engine.evaluation import evaluate
from lrscope.engine.runtime import Runtime
from lrscope.errors import ParameterError
from lrscope.metrics import LOSS_SCORING
from lrscope.rangetest.reading import default_half_width, sustained_above
from lrscope.rangetest.restore import Saved
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
from lrscope.tasks.batches import BatchSteps, EvalStep, LossFn, SplitFn, TrainingStep
from lrscope.tasks.scoring import Scorer, make_scorer
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

ProgressFn = Callable[[int, int], None]


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
    steps: BatchSteps,
    next_batch: Callable[[], Any],
    run: _Run,
    evaluator: Evaluator | None,
    on_progress: ProgressFn | None,
    compute: Compute,
) -> _Curves:
    """The training loop of the test; records into a :class:`_Curves`."""
    curves = _Curves()
    settings = run.settings
    ramp, beta = settings.ramp(run.steps), settings.smooth
    average, lowest = 0.0, math.inf
    half_width = default_half_width(run.steps)
    ceiling = lr_ceiling(p for group in optimizer.param_groups for p in group["params"])
    model.train()
    for t in range(run.steps):
        lr = ramp(t)
        for group in optimizer.param_groups:
            group["lr"] = lr
        value = accumulate(model, optimizer, steps, next_batch, compute)
        applicable = step_lr(optimizer) <= ceiling  # else no representable update: diverged
        if math.isfinite(value) and applicable:
            compute.step(optimizer)
        average = beta * average + (1 - beta) * value
        smoothed = average / (1 - beta ** (t + 1))
        curves.lr.append(lr)
        curves.loss.append(value)
        curves.smoothed.append(smoothed)
        limit = settings.diverge_factor * lowest
        if not (math.isfinite(value) and applicable) or (
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


def _evaluator(data: Dataset[Any], scorer: Scorer, compute: Compute) -> Evaluator:
    """``evaluate(model) -> (test loss, top-1)``; top-1 is NaN unless the task classifies."""

    def run(model: nn.Module) -> tuple[float, float]:
        measured = evaluate(model, data, scorer, compute=compute)
        return measured.loss, measured.top1

    return run


def range_test(
    task: Task,
    settings: RangeTestSettings | None = None,
    *,
    seed: int = 0,
    on_progress: ProgressFn | None = None,
    runtime: Runtime | None = None,
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
        runtime: device, precision and gradient accumulation
            (:class:`~lrscope.engine.Runtime`; default ``Runtime()``). The
            default number of steps is one epoch of optimizer steps, so fewer
            under accumulation.
        options: settings by name, replacing those of ``settings``
            (``range_test(task, mode="linear", end_lr=1.0)``); see
            :class:`~lrscope.rangetest.RangeTestSettings` for each one.

    The global random generators are left as they were. The result carries
    :func:`lrscope.rangetest.suggest`'s suggestions.

    Raises:
        ParameterError: an unknown option or a value outside its range
            (the same message ``lrscope find`` prints).
        DeviceError: the runtime's device does not exist on this machine.
    """
    chosen = RangeTestSettings.from_options(settings, **options)
    seed = check("range_test", "seed", seed, SEED)
    compute = resolve(runtime)
    run = _Run(chosen, chosen.steps_for(compute.runtime.optimizer_steps(task.steps_per_epoch)))
    rng = capture_rng()
    try:
        started = time.perf_counter()
        set_seed(seed)
        model = task.model().to(compute.device)
        optimizer = task.optimizer(model.parameters())
        stream = BatchStream(task.train_data, task.batch_size, seed)
        evaluator = None
        if chosen.eval_every is not None:
            subset = fixed_subset(task.test_data, chosen.eval_samples)
            evaluator = _evaluator(subset, task.scorer, compute)
        steps = task.batch_steps
        curves = _sweep(model, optimizer, steps, stream.next, run, evaluator, on_progress, compute)
        wall_s = time.perf_counter() - started
    finally:
        restore_rng(rng)
    return _result(run, curves, wall_s, task.name, seed)


_REITERABLE = (
    "an iterable that yields its batches again on every pass (a DataLoader, a list of "
    "batches, an object whose __iter__ starts a new pass), or an endless iterator"
)


def _endless(loader: Iterable[Any]) -> Callable[[], Any]:
    """``next_batch()`` over ``loader``, starting it again whenever it runs out.

    Raises:
        ParameterError: ``loader`` yields no batch at all, or one pass of it
            ran out and the next yields nothing (a generator or other
            one-shot iterator, which cannot start a second pass).
    """
    iterator: list[Iterator[Any]] = [iter(loader)]
    per_pass = [0]  # batches of the pass under way

    def next_batch() -> Any:
        try:
            batch = next(iterator[0])
        except StopIteration:
            last, per_pass[0] = per_pass[0], 0
            iterator[0] = iter(loader)
            try:
                batch = next(iterator[0])
            except StopIteration:
                raise _exhausted(loader, last) from None
        per_pass[0] += 1
        return batch

    return next_batch


def _exhausted(loader: Iterable[Any], yielded: int) -> ParameterError:
    """Why ``loader`` gave no next batch, ``yielded`` batches in its last pass: it is
    empty, or it cannot be iterated again."""
    if yielded == 0:
        return ParameterError("lr_range_test", "loader", "an iterable that yields batches", loader)
    name = type(loader).__name__
    if iter(loader) is loader:  # a generator, map(), iter(list): its __iter__ returns itself
        why = f"the {name} given is a one-shot iterator: it yielded {yielded} batches and "
        why += "cannot start a second pass"
    else:
        why = f"the {name} given yielded {yielded} batches in a pass and none in the next"
    return ParameterError(
        "lr_range_test",
        "loader",
        f"{_REITERABLE}; the range test needs more batches than one pass, and {why}",
        loader,
    )


def _length(loader: Iterable[Any]) -> int | None:
    """Batches per pass of ``loader``, when it knows (an iterable-style DataLoader does not)."""
    if not isinstance(loader, Sized):
        return None
    try:
        return len(loader)
    except TypeError:
        return None


def _model_compute(model: nn.Module, runtime: Runtime | None) -> Compute:
    """The runtime on the model's own device; a ParameterError if it names another one."""
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    chosen = runtime if runtime is not None else Runtime()
    if chosen.device != "auto":
        wanted = torch.device(chosen.device)
        if wanted.type != device.type or (wanted.index is not None and wanted != device):
            raise ParameterError(
                "lr_range_test",
                "runtime",
                f"a runtime on the model's device ({device}) or device='auto'; "
                "lr_range_test trains your model where it is (move it with model.to(...))",
                chosen.device,
            )
    return compute_on(chosen, device)


def _user_scorer(
    loss_fn: LossFn | None,
    batch: SplitFn | None,
    training_step: TrainingStep | None,
    eval_step: EvalStep | None,
    num_classes: int | None,
) -> Scorer:
    if loss_fn is None and training_step is None:
        raise ParameterError(
            "lr_range_test",
            "loss_fn",
            "a loss function loss(outputs, targets), or a training_step(model, batch) -> loss",
            None,
        )
    steps = BatchSteps(loss_fn, batch, training_step, eval_step)
    if num_classes is not None:
        return make_scorer(steps, num_classes=num_classes, owner="lr_range_test")
    return Scorer(steps, (), LOSS_SCORING)


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn | None = None,
    loader: Iterable[Any] | None = None,
    settings: RangeTestSettings | None = None,
    *,
    eval_data: Dataset[Any] | None = None,
    num_classes: int | None = None,
    batch: SplitFn | None = None,
    training_step: TrainingStep | None = None,
    eval_step: EvalStep | None = None,
    runtime: Runtime | None = None,
    on_progress: ProgressFn | None = None,
    **options: object,
) -> RangeTestResult:
    """Run a range test on the caller's own model, optimizer, loss and data.

    ``loader`` yields batches (a :class:`~torch.utils.data.DataLoader` or any
    iterable; it is started again when it runs out, so a generator, which
    cannot start again, serves only a test no longer than it, unless it is
    endless; every tensor in a batch
    is moved to the model's device, however nested). A batch is read as
    :mod:`lrscope.tasks.batches` says: ``(inputs..., target)`` or a dict with
    ``labels`` by default, ``batch(batch) -> (inputs, targets)`` when given;
    the loss is ``loss_fn(outputs, targets)``, or ``training_step(model,
    batch) -> loss`` in place of both (Hugging Face style: the model computes
    its own loss). Every parameter group gets the ramp's lr.

    ``eval_data`` (a map-style dataset of the same kind of samples) with
    ``eval_every`` adds the test-subset curve: the loss (``loss_fn`` on the
    outputs, or the ``training_step``'s, averaged over the samples;
    ``eval_step(model, batch) -> (outputs, targets)`` gives the outputs of a
    task with a training step) and, with ``num_classes``, top-1 accuracy.
    ``runtime`` sets the precision and gradient accumulation
    (:class:`~lrscope.engine.Runtime`; the model stays on its own device).
    ``settings`` and ``options`` as :func:`range_test`; ``steps`` defaults to
    one pass over ``loader`` when it has a length (in optimizer steps),
    clipped to [300, 500].

    Afterwards the model's parameters, buffers (non-persistent ones too),
    gradients and train/eval modes, the optimizer's state and param groups
    (lr included), the step counts of schedulers built on it beforehand (a
    :class:`~lrscope.torch.PolicyScheduler` or one of torch's own does not
    see the test's optimizer steps) and the global random generators are
    exactly as before, also when the test raises (e.g. ``KeyboardInterrupt``
    from ``on_progress``); see :mod:`lrscope.rangetest.restore`.

    Raises:
        ParameterError: a bad setting, neither ``loss_fn`` nor
            ``training_step``, no ``loader``, one that yields no batch or
            cannot start a second pass when it needs one (a generator that
            runs out), ``eval_every`` without
            ``eval_data``, a runtime on another device than the model's.
    """
    chosen = RangeTestSettings.from_options(settings, **options)
    scorer = _user_scorer(loss_fn, batch, training_step, eval_step, num_classes)
    if loader is None:
        raise ParameterError("lr_range_test", "loader", "an iterable that yields batches", None)
    if chosen.eval_every is not None and eval_data is None:
        raise ParameterError(
            "lr_range_test", "eval_data", "a dataset when eval_every is given", None
        )
    compute = _model_compute(model, runtime)
    length = _length(loader)
    epoch = None if length is None else compute.runtime.optimizer_steps(length)
    run = _Run(chosen, chosen.steps_for(epoch))
    saved = Saved.take(model, optimizer)
    try:
        started = time.perf_counter()
        evaluator = None
        if eval_data is not None and chosen.eval_every is not None:
            subset = fixed_subset(eval_data, chosen.eval_samples)
            evaluator = _evaluator(subset, scorer, compute)
        next_batch = _endless(loader)
        curves = _sweep(
            model, optimizer, scorer.steps, next_batch, run, evaluator, on_progress, compute
        )
        wall_s = time.perf_counter() - started
    finally:
        saved.restore(model, optimizer)
    return _result(run, curves, wall_s, None, None)
