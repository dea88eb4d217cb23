r"""Smith's cyclical learning rates by their original names (Smith 2017, section 3.1).

``triangular``, ``triangular2`` and ``exp_range`` are LRBench's TRI, TRI2 and
TRIEXP with Smith's parameter names, computed with the closed form of PyTorch's
``CyclicLR`` (symmetric cycles, ``step_size_up = stepsize``) operation for
operation, so they equal it to the last bit:

.. math::

    c = \lfloor 1 + t / 2s \rfloor, \quad x = 1 + t / 2s - c, \quad
    u = x / 0.5 \text{ if } x \le 0.5 \text{ else } (x - 1) / (0.5 - 1)

    \eta(t) = \eta_{base} + (\eta_{max} - \eta_{base})\,u\,f

with :math:`f = 1` (triangular), :math:`f = 1 / 2^{c-1}` (triangular2) or
:math:`f = \gamma^t` (exp_range), ``s = stepsize`` in steps. With
``cycle_momentum=true`` the momentum moves opposite to the learning rate:
:math:`m(t) = m_{max} - (m_{max} - m_{base})\,u\,f` (defaults 0.8 and 0.9, as
in PyTorch). ``decay`` falls linearly from ``max_lr`` to ``base_lr`` over
``stepsize`` steps, then stays at ``base_lr``.

Reference: L. N. Smith, "Cyclical Learning Rates for Training Neural
Networks", WACV 2017.

>>> triangular(base_lr=0.001, max_lr=0.006, stepsize=2000)(1000)
0.0035
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, ClassVar

from lrscope.policies.base import Policy
from lrscope.validation import (
    DECAY_GAMMA,
    MOMENTUM,
    POSITIVE_FLOAT,
    STEP_SIZE,
    Bool,
    Relation,
)

__all__ = [
    "Decay",
    "ExpRange",
    "Triangular",
    "Triangular2",
    "decay",
    "exp_range",
    "triangular",
    "triangular2",
]


_CLR_RELATIONS = (
    Relation("max_lr", ">", "base_lr"),
    Relation("max_momentum", ">=", "base_momentum"),
)


class _CyclicLR(Policy):
    """The CyclicLR closed form; subclasses give the amplitude factor ``f``."""

    family = "cyclic"
    relations: ClassVar[tuple[Relation, ...]] = _CLR_RELATIONS
    base_lr: float
    max_lr: float
    stepsize: int
    cycle_momentum: bool
    base_momentum: float
    max_momentum: float

    def _factor(self, cycle: int, t: int) -> float:
        return 1.0

    def _scale(self, t: int) -> tuple[float, float]:
        """``(u, f)``: position in the triangle (0..1) and amplitude factor, as CyclicLR."""
        size_up = float(self.stepsize)
        total_size = size_up + size_up
        step_ratio = size_up / total_size
        cycle = math.floor(1 + t / total_size)
        x = 1.0 + t / total_size - cycle
        scale = x / step_ratio if x <= step_ratio else (x - 1) / (step_ratio - 1)
        return scale, self._factor(cycle, t)

    def _lr(self, t: int) -> float:
        scale, factor = self._scale(t)
        return self.base_lr + (self.max_lr - self.base_lr) * scale * factor

    def _momentum(self, t: int) -> float | None:
        scale, factor = self._scale(t)
        return self.max_momentum - (self.max_momentum - self.base_momentum) * scale * factor

    @property
    def has_momentum(self) -> bool:
        """True when ``cycle_momentum`` is set."""
        return self.cycle_momentum

    def cycle_length(self) -> int | None:
        """``2 * stepsize`` steps."""
        return 2 * self.stepsize


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Triangular(_CyclicLR):
    """Smith's ``triangular``: TRI(k0=base_lr, k1=max_lr, l=stepsize), as CyclicLR."""

    name = "triangular"
    base_lr: Annotated[float, POSITIVE_FLOAT]
    max_lr: Annotated[float, POSITIVE_FLOAT]
    stepsize: Annotated[int, STEP_SIZE]
    cycle_momentum: Annotated[bool, Bool()] = False
    base_momentum: Annotated[float, MOMENTUM] = 0.8
    max_momentum: Annotated[float, MOMENTUM] = 0.9


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Triangular2(_CyclicLR):
    """Smith's ``triangular2``: the amplitude halves each cycle (``f = 1/2**(c-1)``)."""

    name = "triangular2"
    base_lr: Annotated[float, POSITIVE_FLOAT]
    max_lr: Annotated[float, POSITIVE_FLOAT]
    stepsize: Annotated[int, STEP_SIZE]
    cycle_momentum: Annotated[bool, Bool()] = False
    base_momentum: Annotated[float, MOMENTUM] = 0.8
    max_momentum: Annotated[float, MOMENTUM] = 0.9

    def _factor(self, cycle: int, t: int) -> float:
        # 1 / 2.0**(cycle - 1) as in CyclicLR, exact, without overflow after 1024 cycles.
        return math.ldexp(1.0, 1 - cycle)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class ExpRange(_CyclicLR):
    """Smith's ``exp_range``: the amplitude decays as ``gamma**t`` (t = total step)."""

    name = "exp_range"
    base_lr: Annotated[float, POSITIVE_FLOAT]
    max_lr: Annotated[float, POSITIVE_FLOAT]
    stepsize: Annotated[int, STEP_SIZE]
    gamma: Annotated[float, DECAY_GAMMA]
    cycle_momentum: Annotated[bool, Bool()] = False
    base_momentum: Annotated[float, MOMENTUM] = 0.8
    max_momentum: Annotated[float, MOMENTUM] = 0.9

    def _factor(self, cycle: int, t: int) -> float:
        return float(self.gamma**t)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Decay(Policy):
    r"""Smith's ``decay``: linear from ``max_lr`` at t=0 to ``base_lr`` at t=stepsize, then flat.

    .. math:: \eta(t) = \eta_{max} + (\eta_{base} - \eta_{max})\, t / s \quad (t < s),
              \qquad \eta_{base} \quad (t \ge s)
    """

    name = "decay"
    family = "decay"
    relations: ClassVar[tuple[Relation, ...]] = (Relation("max_lr", ">", "base_lr"),)
    base_lr: Annotated[float, POSITIVE_FLOAT]
    max_lr: Annotated[float, POSITIVE_FLOAT]
    stepsize: Annotated[int, STEP_SIZE]

    def _lr(self, t: int) -> float:
        if t >= self.stepsize:
            return self.base_lr
        return self.max_lr + (self.base_lr - self.max_lr) * t / self.stepsize


triangular = Triangular
triangular2 = Triangular2
exp_range = ExpRange
decay = Decay
