r"""Composition: a schedule made of pieces, each starting at its own ``t = 0``.

``piecewise([p_0, ..., p_n], boundaries=[b_1 < ... < b_n])`` is

.. math::

    \eta(t) = p_0(t) \;(t < b_1), \qquad p_i(t - b_i) \;(b_i \le t < b_{i+1}),
    \qquad p_n(t - b_n) \;(t \ge b_n)

with exactly one fewer boundary than pieces. A warmup is a ``linear_ramp``
first; Smith's Table 2 (three triangular2 stages at 0, 16000 and 22000) is::

    piecewise([triangular2(base_lr=0.001, max_lr=0.005, stepsize=2000),
               triangular2(base_lr=0.0001, max_lr=0.0005, stepsize=1000),
               triangular2(base_lr=1e-05, max_lr=5e-05, stepsize=500)],
              boundaries=[16000, 22000])

Momentum comes from the active piece: None where it does not cycle momentum.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence
from typing import Annotated, ClassVar

from lrscope.errors import ParameterError
from lrscope.policies.base import Policy, PolicyList, check_step
from lrscope.validation import IntList

__all__ = ["Piecewise", "piecewise"]


@dataclasses.dataclass(frozen=True, repr=False)
class Piecewise(Policy):
    """Pieces joined at boundaries; piece ``i`` sees ``t - b_i``. See the module docstring."""

    name = "piecewise"
    family = "composite"
    positional: ClassVar[tuple[str, ...]] = ("pieces",)
    # Typed as what construction takes (the documented lists, or tuples); stored as tuples.
    pieces: Annotated[Sequence[Policy], PolicyList(min_length=2)]
    boundaries: Annotated[Sequence[int], IntList(low=1)]

    def _check(self) -> None:
        expected = len(self.pieces) - 1
        if len(self.boundaries) != expected:
            allowed = (
                f"a list of {expected} strictly increasing ints in the range [1, inf) "
                f"(one fewer than the {len(self.pieces)} pieces)"
            )
            raise ParameterError(self.name, "boundaries", allowed, list(self.boundaries))

    def locate(self, t: int) -> tuple[int, int]:
        """``(i, t - b_i)``: the active piece at step ``t`` and its local step."""
        step = check_step(self.name, "t", t)
        index = bisect.bisect_right(self.boundaries, step)
        start = self.boundaries[index - 1] if index else 0
        return index, step - start

    def _lr(self, t: int) -> float:
        index, local = self.locate(t)
        return self.pieces[index](local)

    def _momentum(self, t: int) -> float | None:
        index, local = self.locate(t)
        return self.pieces[index].momentum(local)

    @property
    def has_momentum(self) -> bool:
        """True if any piece cycles momentum."""
        return any(piece.has_momentum for piece in self.pieces)

    def cycle_ends(self, total_steps: int) -> list[int]:
        """Each piece's cycle ends, shifted to its start and cut at the next boundary."""
        total = check_step(self.name, "total_steps", total_steps)
        starts = (0, *self.boundaries)
        stops = (*self.boundaries, total)
        ends: list[int] = []
        for piece, start, stop in zip(self.pieces, starts, stops, strict=True):
            limit = min(stop, total) - start
            if limit > 0:
                ends.extend(start + end for end in piece.cycle_ends(limit))
        return ends


piecewise = Piecewise
