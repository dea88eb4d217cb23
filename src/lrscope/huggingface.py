"""Hugging Face glue: range tests, lrscope policies in a ``Trainer``, HF schedules as policies.

To find the learning rates that train a model, :func:`range_test` runs
lrscope's range test (Smith 2017, section 3.3) on a ``Trainer`` as it is
built: its model, the optimizer it would create, its training batches (dicts
with ``labels``, collated by its data collator) and, from its arguments,
bf16 / fp16 and gradient accumulation; the loss is the one the model returns
(:func:`model_loss`). Model and optimizer are restored afterwards::

    trainer = Trainer(model=model, args=args, train_dataset=data)
    found = lrscope.huggingface.range_test(trainer, steps=300)
    found.suggestions.max_lr.lr

For a model and a loader of your own, :func:`model_loss` is the training step
of :func:`lrscope.lr_range_test`: ``lr_range_test(model, optimizer,
loader=loader, training_step=model_loss)``.

To train with any lrscope policy, hand the ``Trainer`` an optimizer and a
:class:`~lrscope.torch.PolicyScheduler` for it; the Trainer steps the scheduler
once per optimizer step (also under gradient accumulation), saves its
``state_dict`` in checkpoints and restores it on ``resume_from_checkpoint``::

    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    scheduler = PolicyScheduler(optimizer, "wsd(max_lr=0.0003, total_steps=2000, "
                                           "warmup_steps=100, decay_steps=400)")
    Trainer(model=model, args=args, train_dataset=data, optimizers=(optimizer, scheduler))

The other way round, :func:`policy_from_training_args` (or
:func:`policy_from_hf` for ``transformers.get_scheduler``'s arguments) gives the
lrscope policy equal to the schedule the Trainer would build itself, so it can
be plotted, benchmarked against other policies and stored like any other.

Nothing here imports ``transformers`` (or torch, but for the range test):
the arguments are read by name. Install the framework with
``pip install ".[hf]"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lrscope.errors import ParameterError
from lrscope.policies import (
    FIX,
    Policy,
    inverse_sqrt,
    linear_decay,
    linear_ramp,
    poly_decay,
    warmup_cosine,
    wsd,
)
from lrscope.policies.rounding import round_sig
from lrscope.validation import STEP_SIZE, Interval, OrNone, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.runtime import Runtime
    from lrscope.rangetest import RangeTestResult, RangeTestSettings

__all__ = [
    "HF_SCHEDULES",
    "model_loss",
    "policy_from_hf",
    "policy_from_training_args",
    "range_test",
    "runtime_from_training_args",
]

_OWNER = "policy_from_hf"
_WSD_SHAPES = {"linear": "linear", "cosine": "cos", "1-sqrt": "sqrt"}
_STABLE = OrNone(Interval(int, 0, None, "left"))
_Builder = Callable[[float, int, int | None, dict[str, Any]], Policy]


def _total(total: int | None, name: str) -> int:
    if total is None:
        raise ParameterError(
            _OWNER, "num_training_steps", f"an int >= 1 (the {name!r} schedule has an end)", None
        )
    return total


def _half_cosine(kwargs: dict[str, Any]) -> None:
    cycles = kwargs.pop("num_cycles", 0.5)
    if cycles != 0.5:
        raise ParameterError(
            _OWNER,
            "num_cycles",
            "0.5 (one half cosine from the peak to the floor; for restarts use lrscope's sgdr)",
            cycles,
        )


def _cosine(lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]) -> Policy:
    _half_cosine(kwargs)
    return warmup_cosine(max_lr=lr, total_steps=_total(total, "cosine"), warmup_steps=warmup)


def _scaled(lr: float, ratio: Any) -> float:
    """``ratio * lr`` as a spec prints it: without float noise (``0.1 * 3e-4`` is
    ``3e-05``, not ``2.9999999999999997e-05``), 12 significant digits, so within 1e-12
    of Hugging Face's own product (the schedules stay equal; more rounding would not)."""
    return round_sig(float(ratio) * lr, 12)


def _cosine_min_lr(lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]) -> Policy:
    _half_cosine(kwargs)
    min_lr, rate = kwargs.pop("min_lr", None), kwargs.pop("min_lr_rate", None)
    if (min_lr is None) == (rate is None):
        raise ParameterError(
            _OWNER, "scheduler_specific_kwargs", "a dict with one of min_lr, min_lr_rate", kwargs
        )
    floor = float(min_lr) if min_lr is not None else _scaled(lr, rate)
    return warmup_cosine(
        max_lr=lr,
        total_steps=_total(total, "cosine_with_min_lr"),
        warmup_steps=warmup,
        min_lr=floor,
    )


def _linear(lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]) -> Policy:
    return linear_decay(max_lr=lr, total_steps=_total(total, "linear"), warmup_steps=warmup)


def _polynomial(lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]) -> Policy:
    return poly_decay(
        max_lr=lr,
        total_steps=_total(total, "polynomial"),
        warmup_steps=warmup,
        min_lr=kwargs.pop("lr_end", 1e-7),
        power=kwargs.pop("power", 1.0),
    )


def _inverse_sqrt(lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]) -> Policy:
    timescale = kwargs.pop("timescale", None)
    if timescale is None:  # Hugging Face's default: the warmup, or 10,000 steps without one
        timescale = 0 if warmup else 10_000
    return inverse_sqrt(max_lr=lr, warmup_steps=warmup, timescale=timescale)


def _wsd(lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]) -> Policy:
    _half_cosine(kwargs)
    decay = check(_OWNER, "num_decay_steps", kwargs.pop("num_decay_steps", None), STEP_SIZE)
    stable = check(_OWNER, "num_stable_steps", kwargs.pop("num_stable_steps", None), _STABLE)
    # As in Hugging Face, the stable phase's length wins over num_training_steps.
    length = _total(total, "warmup_stable_decay") if stable is None else warmup + stable + decay
    shapes = {}
    for key in ("warmup_type", "decay_type"):
        given = kwargs.pop(key, "linear" if key == "warmup_type" else "cosine")
        if given not in _WSD_SHAPES:
            raise ParameterError(_OWNER, key, "one of 'linear', 'cosine', '1-sqrt'", given)
        shapes[key] = _WSD_SHAPES[given]
    floor = _scaled(lr, kwargs.pop("min_lr_ratio", 0.0))
    return wsd(
        max_lr=lr,
        total_steps=length,
        warmup_steps=warmup,
        decay_steps=decay,
        min_lr=floor,
        warmup_start_lr=floor,  # Hugging Face warms up from the floor
        warmup_shape=shapes["warmup_type"],
        decay_shape=shapes["decay_type"],
    )


def _constant(lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]) -> Policy:
    return FIX(k0=lr)


def _constant_with_warmup(
    lr: float, warmup: int, total: int | None, kwargs: dict[str, Any]
) -> Policy:
    if warmup == 0:
        return FIX(k0=lr)
    return linear_ramp(start_lr=0.0, end_lr=lr, steps=warmup + 1)  # t / W, then lr


HF_SCHEDULES: Mapping[str, _Builder] = {
    "linear": _linear,
    "cosine": _cosine,
    "cosine_with_min_lr": _cosine_min_lr,
    "polynomial": _polynomial,
    "inverse_sqrt": _inverse_sqrt,
    "warmup_stable_decay": _wsd,
    "constant": _constant,
    "constant_with_warmup": _constant_with_warmup,
}
"""The ``transformers.get_scheduler`` names with an lrscope equivalent.

The others have none: ``cosine_with_restarts`` restarts without a warmup per
cycle (lrscope's ``sgdr`` restarts without warmup at all),
``cosine_warmup_with_min_lr`` is ``cosine_with_min_lr`` shifted by one step,
``reduce_lr_on_plateau`` and ``greedy`` follow the loss, not the step.
"""


def policy_from_hf(
    name: str,
    *,
    learning_rate: float,
    num_warmup_steps: int = 0,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: Mapping[str, Any] | None = None,
) -> Policy:
    """The lrscope policy equal to ``transformers.get_scheduler(name, ...)`` step for step.

    ``learning_rate`` is the optimizer's lr (Hugging Face's schedules scale
    it); the other arguments are ``get_scheduler``'s. The cosine schedules
    hold their floor after ``num_training_steps`` where Hugging Face's climb
    again (see :mod:`lrscope.policies.warmup`).

    >>> policy_from_hf("cosine", learning_rate=3e-4, num_warmup_steps=100,
    ...                num_training_steps=1000).spec
    'warmup_cosine(max_lr=0.0003, total_steps=1000, warmup_steps=100)'

    Raises:
        ParameterError: a name without an lrscope equivalent (the message lists
            those with one), an unknown or unsupported keyword argument, or
            values the policy does not allow (e.g. a warmup as long as the run).
    """
    key = str(getattr(name, "value", name))
    build = HF_SCHEDULES.get(key)
    if build is None:
        names = ", ".join(repr(n) for n in HF_SCHEDULES)
        raise ParameterError(_OWNER, "name", f"a schedule name among {{{names}}}", name)
    kwargs = dict(scheduler_specific_kwargs or {})
    policy = build(learning_rate, num_warmup_steps, num_training_steps, kwargs)
    if kwargs:
        raise ParameterError(
            _OWNER,
            "scheduler_specific_kwargs",
            f"a dict of keyword arguments the {key!r} schedule takes "
            f"(it takes none named {', '.join(sorted(kwargs))})",
            dict(scheduler_specific_kwargs or {}),
        )
    return policy


def policy_from_training_args(args: Any, num_training_steps: int) -> Policy:
    """The policy a ``transformers.Trainer`` with ``args`` schedules over ``num_training_steps``.

    Reads ``args.lr_scheduler_type``, ``args.learning_rate``,
    ``args.get_warmup_steps(num_training_steps)`` (``warmup_steps``, or the
    ``warmup_ratio`` share rounded up) and ``args.lr_scheduler_kwargs``, as
    ``Trainer.create_scheduler`` does. ``num_training_steps`` is the Trainer's
    number of optimizer steps (``max_steps``, or epochs times optimizer steps
    per epoch). Raises :class:`~lrscope.errors.ParameterError` as
    :func:`policy_from_hf` does.
    """
    kwargs = args.lr_scheduler_kwargs
    if isinstance(kwargs, str):
        kwargs = json.loads(kwargs) if kwargs.strip() else {}
    return policy_from_hf(
        args.lr_scheduler_type,
        learning_rate=args.learning_rate,
        num_warmup_steps=args.get_warmup_steps(num_training_steps),
        num_training_steps=num_training_steps,
        scheduler_specific_kwargs=kwargs,
    )


def model_loss(model: Any, batch: Mapping[str, Any]) -> Any:
    """The loss a Hugging Face model computes itself: ``model(**batch).loss``.

    Raises:
        ParameterError: the model returned no loss (the batch has no ``labels``).
    """
    output = model(**batch)
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if loss is None:
        raise ParameterError(
            "model_loss",
            "batch",
            "a dict batch with 'labels', so that the model returns its loss",
            sorted(map(str, batch)),
        )
    return loss


def runtime_from_training_args(args: Any) -> Runtime:
    """The runtime of ``TrainingArguments``: ``bf16`` / ``fp16`` and gradient accumulation.

    The device stays where the Trainer put the model (``device="auto"``).
    """
    from lrscope.engine.runtime import Runtime

    precision = "bf16" if getattr(args, "bf16", False) else "fp32"
    precision = "fp16" if getattr(args, "fp16", False) else precision
    accumulation = int(getattr(args, "gradient_accumulation_steps", 1) or 1)
    return Runtime(precision=precision, grad_accum_steps=accumulation)


def range_test(
    trainer: Any,
    settings: RangeTestSettings | None = None,
    *,
    runtime: Runtime | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    **options: object,
) -> RangeTestResult:
    """lrscope's LR range test on a ``transformers.Trainer`` before it trains.

    Uses ``trainer.model``, the optimizer ``trainer.create_optimizer()``
    gives (the one passed as ``optimizers=`` if any; ``trainer.optimizer`` is
    left as it was), the batches of ``trainer.get_train_dataloader()`` and
    the loss the model returns (:func:`model_loss`). ``runtime`` defaults to
    :func:`runtime_from_training_args` (bf16 / fp16, gradient accumulation).
    ``settings`` and ``options`` as :func:`lrscope.rangetest.range_test`
    (``steps=300``, ``end_lr=1.0``, ...); the default number of steps is one
    epoch of optimizer steps clipped to [300, 500].

    The model's weights, buffers (non-persistent ones too), gradients and
    modes and the optimizer's state and learning rates are as they were
    before; so are the global random generators. The scheduler passed as
    ``optimizers=(optimizer, scheduler)`` does not see the test's optimizer
    steps, so ``trainer.train()`` afterwards runs as without the test
    (:mod:`lrscope.rangetest.restore`).

    Raises:
        ParameterError: batches without ``labels``, or a bad setting.
    """
    from lrscope.rangetest import RangeTestSettings, lr_range_test

    chosen = RangeTestSettings.from_options(settings, **options)
    previous = trainer.optimizer
    try:
        optimizer = trainer.create_optimizer()
    finally:
        trainer.optimizer = previous
    return lr_range_test(
        trainer.model,
        optimizer,
        loader=trainer.get_train_dataloader(),
        settings=chosen,
        training_step=model_loss,
        runtime=runtime if runtime is not None else runtime_from_training_args(trainer.args),
        on_progress=on_progress,
    )
