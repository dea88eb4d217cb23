r"""Cosine annealing with warm restarts (SGDR; Loshchilov and Hutter 2017).

Restart ``i`` (from 0) lasts :math:`T_i = \mathrm{period} \cdot \mathrm{mult}^i`
steps and starts at step :math:`S_i = \sum_{j<i} T_j`. Within it,
:math:`T_{cur} = t - S_i` and

.. math::

    \eta(t) = \eta_{min} + (\eta_{max} d^i - \eta_{min})
              \frac{1 + \cos(\pi T_{cur} / T_i)}{2}

with ``d = decay``. ``T_cur`` and ``T_i`` are exact integers, as PyTorch's
``CosineAnnealingWarmRestarts`` keeps them when stepped one step at a time; with
``decay=1`` the values equal that scheduler's at every integer step, to the
last bit. (Its ``step(epoch)`` path finds ``i`` with a floating-point
``math.log``, which can land one restart early at exact powers of ``mult``;
the integer search here cannot.)

Reference: I. Loshchilov, F. Hutter, "SGDR: Stochastic Gradient Descent with
Warm Restarts", ICLR 2017.

>>> sgdr(max_lr=0.1, period=10)(10)
0.1
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, ClassVar

from lrscope.policies.base import Policy, check_step
from lrscope.validation import (
    DECAY_GAMMA,
    NONNEGATIVE_FLOAT,
    POSITIVE_FLOAT,
    STEP_SIZE,
    Interval,
    Relation,
)

__all__ = ["SGDR", "sgdr"]


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class SGDR(Policy):
    """Cosine from ``max_lr`` to ``min_lr`` over ``period`` steps, restarting; see the module."""

    name = "sgdr"
    family = "restarts"
    relations: ClassVar[tuple[Relation, ...]] = (Relation("min_lr", "<", "max_lr"),)
    max_lr: Annotated[float, POSITIVE_FLOAT]
    period: Annotated[int, STEP_SIZE]
    mult: Annotated[int, Interval(int, 1, None, "left")] = 1
    min_lr: Annotated[float, NONNEGATIVE_FLOAT] = 0.0
    decay: Annotated[float, DECAY_GAMMA] = 1.0

    def restart(self, t: int) -> tuple[int, int, int]:
        """``(i, T_cur, T_i)``: restart index, steps since it began, its length."""
        if self.mult == 1:
            index, t_cur = divmod(t, self.period)
            return index, t_cur, self.period
        index, start, t_i = 0, 0, self.period
        while t >= start + t_i:
            start += t_i
            t_i *= self.mult
            index += 1
        return index, t - start, t_i

    def _lr(self, t: int) -> float:
        index, t_cur, t_i = self.restart(t)
        peak = self.max_lr if self.decay == 1.0 else self.max_lr * self.decay**index
        return self.min_lr + (peak - self.min_lr) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    def cycle_length(self) -> int | None:
        """``period`` when ``mult == 1``; None when the cycles grow."""
        return self.period if self.mult == 1 else None

    def cycle_ends(self, total_steps: int) -> list[int]:
        """The restart steps ``period, period*(1+mult), ...`` up to ``total_steps``."""
        total = check_step(self.name, "total_steps", total_steps)
        ends, end, t_i = [], self.period, self.period
        while end <= total:
            ends.append(end)
            t_i *= self.mult
            end += t_i
        return ends


sgdr = SGDR
