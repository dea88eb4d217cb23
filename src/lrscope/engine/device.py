"""A :class:`~lrscope.engine.runtime.Runtime` resolved on this machine: device, autocast, scaler.

:func:`resolve` turns the runtime into a :class:`Compute`: the torch device
(``auto`` picks CUDA, else MPS, else the CPU; a device this machine lacks is a
:class:`DeviceError` with one clear sentence), the autocast context of its
precision and, for fp16, a :class:`torch.amp.GradScaler`. The training loops
of the engine and the range test take one optimizer step with
:func:`accumulate` and :meth:`Compute.step`, so gradient accumulation,
autocast and loss scaling behave the same everywhere. :func:`lr_ceiling` is
the largest lr any of them can apply to a model's parameters.

The CUDA-only parts are the few named functions below (:func:`cuda_available`,
:func:`_check_cuda`); everything else runs, and is tested, on the CPU.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lrscope.engine.runtime import Runtime
from lrscope.errors import LRScopeError
from lrscope.tasks.batches import BatchSteps, move_to

__all__ = [
    "Compute",
    "DeviceError",
    "accumulate",
    "compute_on",
    "cuda_available",
    "device_of",
    "evaluating",
    "lr_ceiling",
    "resolve",
    "step_lr",
]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceError(LRScopeError, ValueError):
    """A device this machine (or this build of torch) does not have."""


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False on CPU-only builds)."""
    return bool(torch.cuda.is_available())


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _check_cuda(name: str) -> torch.device:
    """``torch.device(name)`` for ``cuda`` / ``cuda:N``, or a DeviceError saying why not."""
    if not cuda_available():
        raise DeviceError(
            f"device {name!r} was asked for, but torch {torch.__version__} sees no CUDA "
            "device on this machine; use --device cpu (or auto)"
        )
    device = torch.device(name)
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise DeviceError(
            f"device {name!r} was asked for, but this machine has {count} CUDA device(s)"
        )
    return device


def device_of(name: str) -> torch.device:
    """The torch device of a runtime's device name (see :class:`Runtime`)."""
    if name == "auto":
        if cuda_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name.startswith("cuda"):
        return _check_cuda(name)
    if name == "mps" and not _mps_available():
        raise DeviceError(
            "device 'mps' was asked for, but torch sees no Apple GPU (MPS) on this machine; "
            "use --device cpu (or auto)"
        )
    return torch.device(name)


@dataclass
class Compute:
    """A runtime resolved on this machine (built by :func:`resolve`).

    ``scaler`` is the fp16 gradient scaler (None otherwise); its state
    belongs in a checkpoint (:meth:`state_dict`).
    """

    runtime: Runtime
    device: torch.device
    scaler: torch.amp.GradScaler | None = None

    @property
    def grad_accum_steps(self) -> int:
        return self.runtime.grad_accum_steps

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """:func:`torch.autocast` to the runtime's precision on its device (fp32: nothing)."""
        dtype = _DTYPES.get(self.runtime.precision)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the scaler under fp16."""
        scaled = loss if self.scaler is None else self.scaler.scale(loss)
        scaled.backward()

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """``optimizer.step()`` (through the scaler under fp16); False when the scaler skipped it.

        The scaler skips the update of a step whose scaled gradients hold an
        infinity or NaN, and lowers its scale for the next one.
        """
        if self.scaler is None:
            optimizer.step()
            return True
        before = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        return not self.scaler.get_scale() < before

    def move(self, batch: Any) -> Any:
        """``batch`` on this device (see :func:`lrscope.tasks.batches.move_to`)."""
        return move_to(batch, self.device)

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state (empty without one): what a checkpoint must carry."""
        return {} if self.scaler is None else dict(self.scaler.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def resolve(runtime: Runtime | None = None) -> Compute:
    """The :class:`Compute` of ``runtime`` (default: :class:`Runtime` ``()``) on this machine.

    Raises:
        DeviceError: the device does not exist here (``cuda`` on a machine
            without CUDA, ``cuda:3`` with two GPUs, ``mps`` off Apple silicon).
    """
    chosen = runtime if runtime is not None else Runtime()
    return compute_on(chosen, device_of(chosen.device))


def compute_on(runtime: Runtime, device: torch.device) -> Compute:
    """``runtime``'s precision and accumulation on ``device`` (where a caller's model is)."""
    scaler = torch.amp.GradScaler(device.type) if runtime.precision == "fp16" else None
    return Compute(runtime, device, scaler)


def accumulate(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    steps: BatchSteps,
    next_batch: Callable[[], Any],
    compute: Compute,
) -> float:
    """Forward and backward one optimizer step's micro-batches; their mean loss.

    Clears the gradients, then for each of ``compute.grad_accum_steps``
    micro-batches (drawn with ``next_batch``, moved to the device) computes
    the loss under autocast and back-propagates ``loss / n``. A micro-batch
    whose loss is not finite stops it there, without its backward, and its
    loss is returned: the caller does not step. The optimizer is not stepped
    here (:meth:`Compute.step` does).
    """
    optimizer.zero_grad(set_to_none=True)
    n = compute.grad_accum_steps
    total = 0.0
    for _ in range(n):
        batch = compute.move(next_batch())
        with compute.autocast():
            loss = steps.training_loss(model, batch)
        value = float(loss.item())
        if not math.isfinite(value):
            return value
        compute.backward(loss if n == 1 else loss / n)
        total += value
    return total if n == 1 else total / n


def lr_ceiling(params: Iterable[torch.Tensor]) -> float:
    """The largest lr an update of ``params`` can carry: the least ``finfo(dtype).max``.

    Over the floating-point dtypes of ``params`` (``math.inf`` when there is
    none). An optimizer turns ``-lr`` into a scalar of the parameters' dtype,
    so a larger (or a non-finite) lr has no representable update: torch's SGD
    raises an overflow error and a stacked update writes infinities. The
    training loops treat a step whose lr is not ``<= lr_ceiling(params)`` as
    diverged at that step, with its update not applied (a NaN lr fails that
    comparison too).
    """
    return min(
        (float(torch.finfo(p.dtype).max) for p in params if p.dtype.is_floating_point),
        default=math.inf,
    )


def step_lr(optimizer: torch.optim.Optimizer) -> float:
    """The largest lr-derived scalar of ``optimizer``'s next step (compare it to the ceiling).

    A group's lr, divided by ``1 - beta1`` in a group with Adam-style
    ``betas``: Adam, AdamW and Adamax scale their step by ``lr / (1 - beta1**t)``
    (Kingma and Ba 2015 bias correction), at most ``lr / (1 - beta1)`` at
    ``t = 1``, so an lr within that factor of the ceiling overflows too. NaN
    when a group's lr is NaN.
    """
    largest = 0.0
    for group in optimizer.param_groups:
        lr = float(group["lr"])
        betas = group.get("betas")
        if betas is not None and 0 <= float(betas[0]) < 1:
            lr /= 1 - float(betas[0])
        if math.isnan(lr):
            return math.nan
        largest = max(largest, lr)
    return largest


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode under :func:`torch.no_grad`; its mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)
