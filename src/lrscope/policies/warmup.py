r"""Warmup-then-decay schedules: the usual way to train transformers and LLMs.

Every policy here starts with a warmup of ``warmup_steps`` optimizer steps
from ``warmup_start_lr`` (default 0) up to ``max_lr``, then decays:

- ``warmup_cosine``: a half cosine down to ``min_lr`` (Hugging Face
  ``get_scheduler`` names ``cosine`` and ``cosine_with_min_lr``);
- ``linear_decay``: a straight line down to ``min_lr`` (``linear``);
- ``poly_decay``: a polynomial of degree ``power`` down to ``min_lr``
  (``polynomial``);
- ``wsd``: warmup-stable-decay, ``max_lr`` held until a short final decay
  (``warmup_stable_decay``);
- ``inverse_sqrt``: one over the square root of the step, without an end
  (``inverse_sqrt``; Noam).

**The step convention.** ``t`` counts optimizer steps from 0; ``policy(t)`` is
the learning rate of the update ``t`` (what a
:class:`~lrscope.torch.PolicyScheduler` sets after ``t`` calls of ``step()``,
and what Hugging Face's ``LambdaLR`` schedules give at ``last_epoch == t``).
With :math:`\eta_s` = ``warmup_start_lr``, :math:`\eta_{max}` = ``max_lr``,
``W = warmup_steps`` and ``T = total_steps``, the warmup is

.. math::

    \eta(t) = \eta_s + (\eta_{max} - \eta_s)\, t / W \qquad (0 \le t < W)

so ``t = 0`` trains at :math:`\eta_s` (0 by default, as in Hugging Face: the
first update then changes nothing) and ``t = W`` is the first step at
``max_lr``. The decay occupies the steps ``W <= t <= T`` and reaches ``min_lr``
at ``t = T``; **for t >= total_steps the policy holds min_lr**, so a run that
takes a few steps more than planned never sees the rate climb back. (Hugging
Face's and PyTorch's cosine schedules are periodic there and rise again;
timm's ``CosineLRScheduler`` holds its floor, as here.) Learning rates are in
the optimizer's units.

References: P. Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet
in 1 Hour" (2017), linear warmup; I. Loshchilov, F. Hutter, "SGDR" (2017),
cosine annealing; J. Devlin et al., "BERT" (2019), linear warmup and linear
(polynomial, power 1) decay; A. Vaswani et al., "Attention Is All You Need"
(2017), inverse square root; S. Hu et al., "MiniCPM" (2024), warmup-stable-decay;
A. Hägele et al., "Scaling Laws and Compute-Optimal Training Beyond Fixed
Training Durations" (2024), WSD with the 1-sqrt cooldown.

>>> p = warmup_cosine(max_lr=0.001, total_steps=1000, warmup_steps=100, min_lr=1e-05)
>>> p(0), p(50), p(100), p(1000), p(5000)
(0.0, 0.0005, 0.001, 1e-05, 1e-05)
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable
from typing import Annotated, ClassVar

from lrscope.errors import ParameterError
from lrscope.policies.base import Policy
from lrscope.validation import (
    NONNEGATIVE_FLOAT,
    POSITIVE_FLOAT,
    STEP_SIZE,
    Choice,
    Interval,
    Relation,
)

__all__ = [
    "WSD",
    "InverseSqrt",
    "LinearDecay",
    "PolyDecay",
    "WarmupCosine",
    "inverse_sqrt",
    "linear_decay",
    "poly_decay",
    "warmup_cosine",
    "warmup_lr",
    "wsd",
]

STEPS_OR_NONE = Interval(int, 0, None, "left")
"""A number of optimizer steps >= 0 (a warmup that may be absent)."""
SHAPE = Choice(("linear", "cos", "sqrt"))
"""The shape of a WSD warmup or decay phase."""

_BELOW_PEAK = (
    Relation("min_lr", "<", "max_lr"),
    Relation("warmup_start_lr", "<=", "max_lr"),
)


def warmup_lr(start_lr: float, max_lr: float, t: int, warmup_steps: int) -> float:
    r"""The linear warmup :math:`\eta_s + (\eta_{max} - \eta_s)\, t / W` at step ``t < W``."""
    return start_lr + (max_lr - start_lr) * (t / warmup_steps)


def _decayed(min_lr: float, max_lr: float, left: float) -> float:
    """``min_lr + (max_lr - min_lr) * left``, exactly ``max_lr`` where nothing has decayed yet."""
    return max_lr if left == 1.0 else min_lr + (max_lr - min_lr) * left


def _cos_down(k: int, n: int) -> float:
    r""":math:`(1 + \cos(\pi k / n)) / 2`: 1 at ``k = 0``, 0 at ``k = n``."""
    return 0.5 * (1.0 + math.cos(math.pi * (k / n)))


# Phase shapes of WSD: fraction of the way from the low to the high rate,
# given k of n steps into the phase (Hugging Face's "linear", "cosine", "1-sqrt").
_WARMUP_SHAPES: dict[str, Callable[[int, int], float]] = {
    "linear": lambda k, n: k / n,
    "cos": lambda k, n: 1.0 - _cos_down(k, n),
    "sqrt": lambda k, n: 1.0 - math.sqrt((n - k) / n),
}
_DECAY_SHAPES: dict[str, Callable[[int, int], float]] = {
    "linear": lambda k, n: (n - k) / n,
    "cos": _cos_down,
    "sqrt": lambda k, n: 1.0 - math.sqrt(k / n),
}


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class _WarmupDecay(Policy):
    """Warmup to ``max_lr`` over ``warmup_steps``, a decay to ``min_lr`` ending at ``total_steps``.

    Subclasses give :meth:`_decay`, the fraction of ``max_lr - min_lr`` left
    ``k`` steps into a decay of ``n`` steps (1 at ``k = 0``, 0 at ``k = n``).
    """

    family = "decay"
    relations: ClassVar[tuple[Relation, ...]] = _BELOW_PEAK
    max_lr: Annotated[float, POSITIVE_FLOAT]
    total_steps: Annotated[int, STEP_SIZE]
    warmup_steps: Annotated[int, STEPS_OR_NONE] = 0
    min_lr: Annotated[float, NONNEGATIVE_FLOAT] = 0.0
    warmup_start_lr: Annotated[float, NONNEGATIVE_FLOAT] = 0.0

    def _check(self) -> None:
        if self.warmup_steps >= self.total_steps:
            raise ParameterError(
                self.name,
                "warmup_steps",
                f"an int in the range [0, {self.total_steps}) "
                f"(less than total_steps={self.total_steps})",
                self.warmup_steps,
            )

    @abc.abstractmethod
    def _decay(self, k: int, n: int) -> float:
        """Fraction of ``max_lr - min_lr`` left ``k`` of ``n`` steps into the decay."""

    def _lr(self, t: int) -> float:
        if t < self.warmup_steps:
            return warmup_lr(self.warmup_start_lr, self.max_lr, t, self.warmup_steps)
        if t >= self.total_steps:
            return self.min_lr
        left = self._decay(t - self.warmup_steps, self.total_steps - self.warmup_steps)
        return _decayed(self.min_lr, self.max_lr, left)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class WarmupCosine(_WarmupDecay):
    r"""Linear warmup, then a half cosine from ``max_lr`` down to ``min_lr`` at ``total_steps``.

    .. math::

        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\,
                  \frac{1 + \cos(\pi (t - W) / (T - W))}{2} \qquad (W \le t \le T)

    after the warmup of the module docstring, and :math:`\eta_{min}` for
    ``t >= T``. Equals Hugging Face's ``get_cosine_schedule_with_warmup``
    (``min_lr=0``) and ``get_cosine_with_min_lr_schedule_with_warmup``
    (``min_lr``) with ``warmup_start_lr=0`` for every ``t <= T``, and
    PyTorch's ``SequentialLR`` of ``LinearLR`` and ``CosineAnnealingLR`` when
    ``warmup_start_lr > 0``. This is the usual "warmup + cosine"; ``COS`` is
    LRBench's *cyclic* cosine, which rises again after each minimum.
    """

    name = "warmup_cosine"

    def _decay(self, k: int, n: int) -> float:
        return _cos_down(k, n)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class LinearDecay(_WarmupDecay):
    r"""Linear warmup, then a straight line from ``max_lr`` down to ``min_lr`` at ``total_steps``.

    .. math::

        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\, \frac{T - t}{T - W}
        \qquad (W \le t \le T)

    and :math:`\eta_{min}` for ``t >= T``. Equals Hugging Face's
    ``get_linear_schedule_with_warmup`` (``min_lr=0``, ``warmup_start_lr=0``;
    BERT's schedule) and PyTorch's ``SequentialLR`` of two ``LinearLR``.
    """

    name = "linear_decay"

    def _decay(self, k: int, n: int) -> float:
        return (n - k) / n


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class PolyDecay(_WarmupDecay):
    r"""Linear warmup, then a polynomial decay from ``max_lr`` to ``min_lr`` at ``total_steps``.

    .. math::

        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})
                  \left(\frac{T - t}{T - W}\right)^{power} \qquad (W \le t \le T)

    and :math:`\eta_{min}` for ``t >= T``; ``power=1`` is ``linear_decay``.
    Equals Hugging Face's ``get_polynomial_decay_schedule_with_warmup``
    (``lr_end = min_lr``; its default ``lr_end`` is 1e-7, here 0) and, with
    ``min_lr=0``, PyTorch's ``SequentialLR`` of ``LinearLR`` and ``PolynomialLR``.
    LRBench's ``POLY`` is the same decay without a warmup.
    """

    name = "poly_decay"
    power: Annotated[float, POSITIVE_FLOAT] = 1.0

    def _decay(self, k: int, n: int) -> float:
        return float(((n - k) / n) ** self.power)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class WSD(_WarmupDecay):
    r"""Warmup-stable-decay: warmup, ``max_lr`` held, then a decay over the last ``decay_steps``.

    With ``D = decay_steps`` the phases are the warmup (``t < W``), the stable
    phase (``W <= t < T - D``, at ``max_lr``) and the decay
    (``T - D <= t <= T``, ``k = t - (T - D)`` steps in); ``min_lr`` from ``T`` on:

    .. math::

        \eta(t) = \eta_s + (\eta_{max} - \eta_s)\, w(t / W), \qquad
        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\, d(k / D)

    with the shapes ``warmup_shape`` :math:`w(p)` = :math:`p` (``linear``),
    :math:`(1 - \cos \pi p) / 2` (``cos``), :math:`1 - \sqrt{1 - p}` (``sqrt``)
    and ``decay_shape`` :math:`d(p)` = :math:`1 - p` (``linear``),
    :math:`(1 + \cos \pi p) / 2` (``cos``), :math:`1 - \sqrt{p}` (``sqrt``, the
    "1-sqrt" cooldown of Hägele et al. 2024). Equals Hugging Face's
    ``get_wsd_schedule`` (``warmup_type``/``decay_type`` ``linear``, ``cosine``,
    ``1-sqrt``; ``min_lr_ratio = min_lr / max_lr``) with
    ``warmup_start_lr = min_lr``, since Hugging Face warms up from ``min_lr``.
    A checkpoint from the stable phase can be decayed at any later point,
    which is what makes WSD popular for LLM pre-training (Hu et al. 2024).
    """

    name = "wsd"
    decay_steps: Annotated[int, STEP_SIZE]
    warmup_shape: Annotated[str, SHAPE] = "linear"
    decay_shape: Annotated[str, SHAPE] = "cos"

    def _check(self) -> None:
        super()._check()
        room = self.total_steps - self.warmup_steps
        if self.decay_steps > room:
            raise ParameterError(
                self.name,
                "decay_steps",
                f"an int in the range [1, {room}] (at most total_steps - warmup_steps "
                f"= {self.total_steps} - {self.warmup_steps})",
                self.decay_steps,
            )

    @property
    def decay_start(self) -> int:
        """The first step of the decay phase, ``total_steps - decay_steps``."""
        return self.total_steps - self.decay_steps

    def _decay(self, k: int, n: int) -> float:
        return _DECAY_SHAPES[self.decay_shape](k, n)

    def _lr(self, t: int) -> float:
        if t < self.warmup_steps:
            rise = _WARMUP_SHAPES[self.warmup_shape](t, self.warmup_steps)
            return self.warmup_start_lr + (self.max_lr - self.warmup_start_lr) * rise
        if t < self.decay_start:
            return self.max_lr
        if t >= self.total_steps:
            return self.min_lr
        left = self._decay(t - self.decay_start, self.decay_steps)
        return _decayed(self.min_lr, self.max_lr, left)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class InverseSqrt(Policy):
    r"""Linear warmup, then a decay as one over the square root of the step (Noam); no end.

    With :math:`\tau` = ``timescale`` (0, the default, means ``warmup_steps``):

    .. math::

        \eta(t) = \eta_{max} \Big/ \sqrt{(t - W + \tau) / \tau} \qquad (t \ge W)

    after the warmup of the module docstring. With :math:`\tau = W` this is
    :math:`\eta_{max} \sqrt{W / t}`: Vaswani et al.'s (2017) schedule
    :math:`d^{-1/2} \min(t^{-1/2}, t W^{-3/2})` with
    :math:`\eta_{max} = (d W)^{-1/2}` and step number ``t``. Equals Hugging
    Face's ``get_inverse_sqrt_schedule`` (``timescale`` as there; its default
    is ``num_warmup_steps``, or 10,000 without a warmup, which must be given
    here). The rate keeps falling for as long as training runs: the policy
    has no ``total_steps``.
    """

    name = "inverse_sqrt"
    family = "decay"
    relations: ClassVar[tuple[Relation, ...]] = (Relation("warmup_start_lr", "<=", "max_lr"),)
    max_lr: Annotated[float, POSITIVE_FLOAT]
    warmup_steps: Annotated[int, STEPS_OR_NONE]
    timescale: Annotated[int, STEPS_OR_NONE] = 0
    warmup_start_lr: Annotated[float, NONNEGATIVE_FLOAT] = 0.0

    def _check(self) -> None:
        if self.warmup_steps == 0 and self.timescale == 0:
            raise ParameterError(
                self.name,
                "timescale",
                "an int in the range [1, inf) when warmup_steps is 0 "
                "(timescale=0 means timescale=warmup_steps)",
                self.timescale,
            )

    @property
    def tau(self) -> int:
        """The timescale in effect: ``timescale``, or ``warmup_steps`` when it is 0."""
        return self.timescale or self.warmup_steps

    def _lr(self, t: int) -> float:
        if t < self.warmup_steps:
            return warmup_lr(self.warmup_start_lr, self.max_lr, t, self.warmup_steps)
        tau = self.tau
        return self.max_lr / math.sqrt((t - self.warmup_steps + tau) / tau)


warmup_cosine = WarmupCosine
linear_decay = LinearDecay
poly_decay = PolyDecay
wsd = WSD
inverse_sqrt = InverseSqrt
