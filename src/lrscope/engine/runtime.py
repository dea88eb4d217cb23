"""Where and how a trial or a range test computes: device, precision, gradient accumulation.

A :class:`Runtime` is a frozen, validated value built before anything is
trained (the command line builds it from ``--device``, ``--precision`` and
``--grad-accum``), carried to workers as plain data (:meth:`Runtime.to_dict`)
and resolved on the machine that trains (:func:`lrscope.engine.device.resolve`).
Nothing here imports torch.

Precision and accumulation change the numbers a trial produces, so they are
part of its identity (:attr:`Runtime.identity`, the ``runtime`` of a
:class:`~lrscope.engine.result.TrialKey`); the device is not: the same trial
on another device is the same measurement, up to rounding.

>>> Runtime(precision="BF16", grad_accum_steps=4).identity
'bf16,accum=4'
>>> Runtime().identity
''
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from lrscope.validation import COUNT, INVALID, Choice, Constraint, Validated

__all__ = ["DEVICES", "PRECISIONS", "DeviceName", "Runtime"]

PRECISIONS = ("fp32", "bf16", "fp16")
"""fp32: no autocast; bf16 / fp16: :func:`torch.autocast` to bfloat16 / float16
(fp16 with a gradient scaler)."""
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
"""The device names a runtime accepts (``cuda:N``: the N-th CUDA device)."""


@dataclass(frozen=True)
class DeviceName(Constraint):
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (any case; canonical: lower case)."""

    def coerce(self, value: object) -> Any:
        if not isinstance(value, str):
            return INVALID
        name = value.strip().lower()
        if name in ("auto", "cpu", "cuda", "mps"):
            return name
        kind, sep, index = name.partition(":")
        if kind == "cuda" and sep and index.isdigit() and len(index) <= 4:
            return f"cuda:{int(index)}"
        return INVALID

    def describe(self) -> str:
        return "a device among {'auto', 'cpu', 'cuda', 'cuda:N', 'mps'}"


@dataclass(frozen=True, kw_only=True)
class Runtime(Validated):
    """The device, precision and gradient accumulation of a trial or range test.

    Attributes:
        device: ``"auto"`` (CUDA if available, else MPS if available, else
            the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``. The
            model and every batch go there (tensors inside dicts, lists and
            tuples too); asking for a device this machine does not have is a
            :class:`~lrscope.engine.device.DeviceError`.
        precision: ``"fp32"``; ``"bf16"`` (forward passes under
            :func:`torch.autocast` to bfloat16; runs on CPUs too) or
            ``"fp16"`` (autocast to float16 and a :class:`torch.amp.GradScaler`:
            a step whose gradients overflow is skipped by the scaler, which
            lowers its scale; the step still counts, so the policy advances as
            it does with torch's schedulers).
        grad_accum_steps: micro-batches of ``task.batch_size`` per optimizer
            step (>= 1): each micro-batch's loss is divided by this number
            before ``backward``, so the gradient is that of their mean; the
            policy advances once per optimizer step; the step's loss (for
            divergence and the range test's curve) is the micro-batches' mean.

    Raises:
        ParameterError: an unknown device or precision, ``grad_accum_steps`` < 1.
    """

    owner = "the runtime"

    device: Annotated[str, DeviceName()] = "auto"
    precision: Annotated[str, Choice(PRECISIONS)] = "fp32"
    grad_accum_steps: Annotated[int, COUNT] = 1

    @property
    def identity(self) -> str:
        """What of the runtime changes results: ``""`` for fp32 without accumulation,
        else e.g. ``"bf16"``, ``"accum=4"`` or ``"fp16,accum=2"``."""
        parts = [] if self.precision == "fp32" else [self.precision]
        if self.grad_accum_steps > 1:
            parts.append(f"accum={self.grad_accum_steps}")
        return ",".join(parts)

    @classmethod
    def from_identity(cls, identity: str, device: str = "auto") -> Runtime:
        """The runtime whose :attr:`identity` is ``identity`` (on ``device``).

        Raises:
            ParameterError: text that no runtime has as its identity.
        """
        from lrscope.errors import ParameterError

        cls(device=device)  # a bad device is the device's error
        precision, accum = "fp32", 1
        for part in filter(None, identity.split(",")):
            name, sep, value = part.partition("=")
            if sep and name == "accum" and value.isdigit():
                accum = int(value)
            else:
                precision = part
        try:
            runtime = cls(device=device, precision=precision, grad_accum_steps=accum)
        except ParameterError:
            runtime = None
        if runtime is None or runtime.identity != identity:
            allowed = "'' or a runtime's identity, e.g. 'bf16', 'accum=4', 'fp16,accum=2'"
            raise ParameterError(cls.owner_name(), "identity", allowed, identity)
        return runtime

    def optimizer_steps(self, micro_batches: int) -> int:
        """Optimizer steps in ``micro_batches`` micro-batches (an epoch's), rounded up."""
        return -(-micro_batches // self.grad_accum_steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "precision": self.precision,
            "grad_accum_steps": self.grad_accum_steps,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Runtime:
        """The inverse of :meth:`to_dict`; ``None`` is the default runtime."""
        return cls() if data is None else cls(**dict(data))
