"""How an interpolation samples the line between two weight sets: a frozen, validated value.

Nothing here imports torch, so the command line builds (and checks) the
settings before any model or data is loaded.

>>> InterpolationSettings(points=5, alpha_min=0.0, alpha_max=1.0).alphas()
(0.0, 0.25, 0.5, 0.75, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from lrscope.validation import (
    COUNT,
    FINITE_FLOAT,
    Bool,
    Interval,
    ListOf,
    Relation,
    Validated,
)

__all__ = [
    "ALPHAS",
    "DEFAULT_ALPHA_MAX",
    "DEFAULT_ALPHA_MIN",
    "DEFAULT_POINTS",
    "DEFAULT_TRAIN_SAMPLES",
    "POINTS",
    "InterpolationSettings",
    "alpha_grid",
]

DEFAULT_POINTS = 29
DEFAULT_ALPHA_MIN = -0.2
DEFAULT_ALPHA_MAX = 1.2
DEFAULT_TRAIN_SAMPLES = 10_000
"""The engine's training subsample (``lrscope.engine.trial.TRAIN_EVAL_SAMPLES``)."""
POINTS = Interval(int, 2, 100_000)
"""Evenly spaced coefficients: at least the two ends, at most a number one can evaluate."""
ALPHAS = ListOf(FINITE_FLOAT)
"""Explicit coefficients: any finite reals, evaluated in the order given."""


def alpha_grid(
    points: int = DEFAULT_POINTS,
    start: float = DEFAULT_ALPHA_MIN,
    stop: float = DEFAULT_ALPHA_MAX,
) -> tuple[float, ...]:
    """``points`` evenly spaced coefficients from ``start`` to ``stop``, plus 0 and 1.

    Values are rounded to 12 decimals, so ``alpha_grid(29)`` (step 0.05) holds
    exactly ``0.0`` and ``1.0``; when the grid misses either end it is added,
    so the two saved networks are always among the points.

    Raises:
        ParameterError: ``points`` outside [2, 100000], a non-finite bound, or
            ``stop <= start``.
    """
    settings = InterpolationSettings(points=points, alpha_min=start, alpha_max=stop)
    return settings.alphas()


@dataclass(frozen=True, kw_only=True)
class InterpolationSettings(Validated):
    r"""Which networks :func:`lrscope.landscape.interpolate` evaluates, and on what.

    Attributes:
        points: evenly spaced coefficients :math:`\alpha` from ``alpha_min`` to
            ``alpha_max`` (0 and 1, the saved networks, are always added).
        alpha_min, alpha_max: the range of :math:`\alpha`, finite,
            ``alpha_min < alpha_max``; values outside [0, 1] extrapolate
            beyond the saved networks.
        recompute_bn: re-estimate BatchNorm running statistics on the training
            subsample for every point instead of interpolating them.
        train_samples: size of the fixed training subsample (the engine's
            ``ld`` subsample), also the data of the BatchNorm re-estimation.

    Raises:
        ParameterError: a value outside its range, or ``alpha_max <= alpha_min``.
    """

    owner = "the interpolation"
    relations = (Relation("alpha_max", ">", "alpha_min"),)

    points: Annotated[int, POINTS] = DEFAULT_POINTS
    alpha_min: Annotated[float, FINITE_FLOAT] = DEFAULT_ALPHA_MIN
    alpha_max: Annotated[float, FINITE_FLOAT] = DEFAULT_ALPHA_MAX
    recompute_bn: Annotated[bool, Bool()] = False
    train_samples: Annotated[int, COUNT] = DEFAULT_TRAIN_SAMPLES

    def alphas(self) -> tuple[float, ...]:
        """The coefficients in increasing order (see :func:`alpha_grid`)."""
        start, stop, points = self.alpha_min, self.alpha_max, self.points
        step = (stop - start) / (points - 1)
        grid = {round(start + i * step, 12) + 0.0 for i in range(points)}
        grid.update((0.0, 1.0))
        return tuple(sorted(grid))
