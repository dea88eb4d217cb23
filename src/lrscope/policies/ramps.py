r"""Learning-rate ramps, as used by the range test and for warmups.

``linear_ramp``: :math:`\eta(t) = a + (b - a)\, t / (n - 1)`;
``exp_ramp``: :math:`\eta(t) = a\, (b / a)^{t / (n - 1)}`, with ``a = start_lr``,
``b = end_lr`` and ``n = steps`` (``t = 0`` gives ``start_lr``, ``t = n - 1``
gives ``end_lr``). For ``t >= steps`` the ramp holds ``end_lr`` instead of
extrapolating. A warmup is ``piecewise([linear_ramp(...), ...])``.

>>> linear_ramp(start_lr=0.0, end_lr=0.1, steps=11)(5)
0.05
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from lrscope.policies.base import Policy
from lrscope.validation import NONNEGATIVE_FLOAT, POSITIVE_FLOAT, Interval

__all__ = ["ExpRamp", "LinearRamp", "exp_ramp", "linear_ramp"]

RAMP_STEPS = Interval(int, 2, None, "left")


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class LinearRamp(Policy):
    """Straight line from ``start_lr`` (t=0) to ``end_lr`` (t=steps-1), then ``end_lr``."""

    name = "linear_ramp"
    family = "ramp"
    start_lr: Annotated[float, NONNEGATIVE_FLOAT]
    end_lr: Annotated[float, NONNEGATIVE_FLOAT]
    steps: Annotated[int, RAMP_STEPS]

    def _lr(self, t: int) -> float:
        if t >= self.steps - 1:
            return self.end_lr
        return self.start_lr + (self.end_lr - self.start_lr) * t / (self.steps - 1)


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class ExpRamp(Policy):
    """Geometric from ``start_lr`` (t=0) to ``end_lr`` (t=steps-1), then ``end_lr``."""

    name = "exp_ramp"
    family = "ramp"
    start_lr: Annotated[float, POSITIVE_FLOAT]
    end_lr: Annotated[float, POSITIVE_FLOAT]
    steps: Annotated[int, RAMP_STEPS]

    def _lr(self, t: int) -> float:
        if t >= self.steps - 1:
            return self.end_lr
        return float(self.start_lr * (self.end_lr / self.start_lr) ** (t / (self.steps - 1)))


linear_ramp = LinearRamp
exp_ramp = ExpRamp
