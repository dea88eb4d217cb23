r"""The 13 learning-rate functions of LRBench (Wu, Liu et al. 2019, Table I).

Notation (docs/policies.md): the amplitude is :math:`k_1 - k_0`;
:math:`x = t \bmod 2l`; :math:`\mathrm{tri}(t) = x / l` if :math:`x \le l`
else :math:`2 - x / l` (0 at a cycle start, 1 at its peak);
:math:`c(t) = \lfloor t / 2l \rfloor` is the index of the current cycle.
``t`` is the optimizer step (``t >= 0``); learning rates are in the optimizer's
units; ``l`` (an int number of steps) is half a cycle for the cyclic functions
and the decay interval for STEP and POLY.

Reference: Wu, Liu et al., "Demystifying Learning Rate Policies for High
Accuracy Training of Deep Neural Networks" (LRBench), Table I.

>>> TRI2(k0=0.001, k1=0.006, l=2000)(2000)
0.006
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Annotated, ClassVar

from lrscope.policies.base import Policy
from lrscope.validation import (
    DECAY_GAMMA,
    NONNEGATIVE_FLOAT,
    POSITIVE_FLOAT,
    STEP_SIZE,
    IntList,
    Relation,
)

__all__ = [
    "COS",
    "EXP",
    "FIX",
    "INV",
    "NSTEP",
    "POLY",
    "SIN",
    "SIN2",
    "SINEXP",
    "STEP",
    "TRI",
    "TRI2",
    "TRIEXP",
]


def tri(t: int, half_steps: int) -> float:
    r"""Triangle wave with :math:`l` = ``half_steps``, :math:`x = t \bmod 2l`.

    :math:`x / l` if :math:`x \le l` else :math:`2 - x / l`: 0 at a cycle start, 1 at its peak.
    """
    x = t % (2 * half_steps)
    return x / half_steps if x <= half_steps else 2 - x / half_steps


def abs_sin(t: int, half_steps: int) -> float:
    r""":math:`|\sin(\pi t / 2l)|`, :math:`l` = ``half_steps``: 0 at multiples of ``2l``."""
    return abs(math.sin(math.pi * t / (2 * half_steps)))


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class FIX(Policy):
    r"""Fixed learning rate: :math:`\eta(t) = k_0`. #Param 1."""

    name = "FIX"
    family = "fixed"
    k0: Annotated[float, POSITIVE_FLOAT]

    def _lr(self, t: int) -> float:
        return self.k0


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class STEP(Policy):
    r"""Step decay: :math:`\eta(t) = k_0 \gamma^{\lfloor t / l \rfloor}`. #Param 3."""

    name = "STEP"
    family = "decay"
    k0: Annotated[float, POSITIVE_FLOAT]
    gamma: Annotated[float, DECAY_GAMMA]
    l: Annotated[int, STEP_SIZE]  # noqa: E741  (LRBench\'s name)

    def _lr(self, t: int) -> float:
        return self.k0 * self.gamma ** (t // self.l)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class NSTEP(Policy):
    r"""Multi-step decay: :math:`\eta(t) = k_0 \gamma^{|\{i : t \ge l_i\}|}`. #Param 2+n.

    ``milestones`` are the strictly increasing steps :math:`l_1 < \dots < l_n`.
    """

    name = "NSTEP"
    family = "decay"
    k0: Annotated[float, POSITIVE_FLOAT]
    gamma: Annotated[float, DECAY_GAMMA]
    milestones: Annotated[Sequence[int], IntList(low=1)]  # a list or tuple; stored as a tuple

    def _lr(self, t: int) -> float:
        passed = sum(1 for milestone in self.milestones if t >= milestone)
        return self.k0 * self.gamma**passed


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class EXP(Policy):
    r"""Exponential decay: :math:`\eta(t) = k_0 \gamma^t`. #Param 2."""

    name = "EXP"
    family = "decay"
    k0: Annotated[float, POSITIVE_FLOAT]
    gamma: Annotated[float, DECAY_GAMMA]

    def _lr(self, t: int) -> float:
        return self.k0 * self.gamma**t


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class INV(Policy):
    r"""Inverse-time decay: :math:`\eta(t) = k_0 (1 + \gamma t)^{-p}`. #Param 3."""

    name = "INV"
    family = "decay"
    k0: Annotated[float, POSITIVE_FLOAT]
    gamma: Annotated[float, POSITIVE_FLOAT]
    p: Annotated[float, POSITIVE_FLOAT]

    def _lr(self, t: int) -> float:
        return float(self.k0 * (1 + self.gamma * t) ** (-self.p))


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class POLY(Policy):
    r"""Polynomial decay to ``k1`` over ``l`` steps, then constant ``k1``.

    .. math:: \eta(t) = (k_0 - k_1)(1 - t/l)^p + k_1 \quad (t < l), \qquad k_1 \quad (t \ge l)

    #Param 3, or 4 when ``k1`` (default 0) is given.
    """

    name = "POLY"
    family = "decay"
    relations: ClassVar[tuple[Relation, ...]] = (Relation("k1", "<", "k0"),)
    k0: Annotated[float, POSITIVE_FLOAT]
    p: Annotated[float, POSITIVE_FLOAT]
    l: Annotated[int, STEP_SIZE]  # noqa: E741  (LRBench\'s name)
    k1: Annotated[float, NONNEGATIVE_FLOAT] = 0.0

    def _lr(self, t: int) -> float:
        if t >= self.l:
            return self.k1
        return float((self.k0 - self.k1) * (1 - t / self.l) ** self.p + self.k1)


class _CyclesOf2l:
    """Mixin: a cycle is ``2l`` steps."""

    l: int  # noqa: E741  (LRBench\'s name)

    def cycle_length(self) -> int | None:
        """``2l`` steps."""
        return 2 * self.l


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class _Cyclic(_CyclesOf2l, Policy):
    """Shared parameters of the cyclic functions: ``k0 < k1``, half-cycle ``l``."""

    family = "cyclic"
    relations: ClassVar[tuple[Relation, ...]] = (Relation("k1", ">", "k0"),)
    k0: Annotated[float, POSITIVE_FLOAT]
    k1: Annotated[float, POSITIVE_FLOAT]
    l: Annotated[int, STEP_SIZE]  # noqa: E741  (LRBench\'s name)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class _CyclicExp(_CyclesOf2l, Policy):
    """Cyclic functions whose amplitude decays as ``gamma**t`` (parameters k0, k1, gamma, l)."""

    family = "cyclic"
    relations: ClassVar[tuple[Relation, ...]] = (Relation("k1", ">", "k0"),)
    k0: Annotated[float, POSITIVE_FLOAT]
    k1: Annotated[float, POSITIVE_FLOAT]
    gamma: Annotated[float, DECAY_GAMMA]
    l: Annotated[int, STEP_SIZE]  # noqa: E741  (LRBench\'s name)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class TRI(_Cyclic):
    r"""Triangular cycles: :math:`\eta(t) = k_0 + (k_1 - k_0)\,\mathrm{tri}(t)`. #Param 3."""

    name = "TRI"

    def _lr(self, t: int) -> float:
        return self.k0 + (self.k1 - self.k0) * tri(t, self.l)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class TRI2(_Cyclic):
    r"""Triangular cycles, amplitude halved each cycle. #Param 3.

    .. math:: \eta(t) = k_0 + (k_1 - k_0)\,\mathrm{tri}(t) / 2^{c(t)}
    """

    name = "TRI2"

    def _lr(self, t: int) -> float:
        return self.k0 + math.ldexp((self.k1 - self.k0) * tri(t, self.l), -(t // (2 * self.l)))


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class TRIEXP(_CyclicExp):
    r"""Triangular cycles damped by :math:`\gamma^t`. #Param 4.

    .. math:: \eta(t) = k_0 + (k_1 - k_0)\,\mathrm{tri}(t)\,\gamma^t
    """

    name = "TRIEXP"

    def _lr(self, t: int) -> float:
        return self.k0 + (self.k1 - self.k0) * tri(t, self.l) * self.gamma**t


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class SIN(_Cyclic):
    r"""Sine cycles: :math:`\eta(t) = k_0 + (k_1 - k_0)\,|\sin(\pi t / 2l)|`. #Param 3."""

    name = "SIN"

    def _lr(self, t: int) -> float:
        return self.k0 + (self.k1 - self.k0) * abs_sin(t, self.l)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class SIN2(_Cyclic):
    r"""Sine cycles, amplitude halved each cycle. #Param 3.

    .. math:: \eta(t) = k_0 + (k_1 - k_0)\,|\sin(\pi t / 2l)| / 2^{c(t)}
    """

    name = "SIN2"

    def _lr(self, t: int) -> float:
        return self.k0 + math.ldexp((self.k1 - self.k0) * abs_sin(t, self.l), -(t // (2 * self.l)))


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class SINEXP(_CyclicExp):
    r"""Sine cycles damped by :math:`\gamma^t`. #Param 4.

    .. math:: \eta(t) = k_0 + (k_1 - k_0)\,|\sin(\pi t / 2l)|\,\gamma^t
    """

    name = "SINEXP"

    def _lr(self, t: int) -> float:
        return self.k0 + (self.k1 - self.k0) * abs_sin(t, self.l) * self.gamma**t


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class COS(_Cyclic):
    r"""Cosine cycles starting at ``k1``: reaches ``k0`` at ``t = l``, ``k1`` again at ``2l``.

    .. math:: \eta(t) = k_0 + (k_1 - k_0)\,(1 + \cos(\pi t / l)) / 2

    #Param 3.
    """

    name = "COS"

    def _lr(self, t: int) -> float:
        return self.k0 + (self.k1 - self.k0) * (1 + math.cos(math.pi * t / self.l)) / 2
