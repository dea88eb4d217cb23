"""What a tune confirms, and how the winner is chosen.

The search trains every point on one seed. One seed says little (on
MNIST-1D the final top-1 of one policy varies by about 0.005 from seed to
seed) and the best of fifty one-seed results is flattered by luck, so no
winner is chosen from them. Instead the best point of each of the
:data:`DEFAULT_FINALISTS` best families (:func:`finalists`) is trained again
on seeds the search did not use, together with the FIX baseline, and the
winner comes from those confirmed trials only: it is rank 1 of
:func:`lrscope.rank.rank_trials`, the one ranking rule of lrscope (LRBench's:
the best mean of the ranking metric, ties within ``tie`` broken by cost; Wu,
Liu et al. 2019). ``lrscope
rank``, the report and the demo summary rank the same trials with the same
function, so they agree on the winner, on FIX's rank and on its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from lrscope.rank import DEFAULT_TIE
from lrscope.validation import COUNT, NONNEGATIVE_FLOAT, Interval, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.metrics import Metric
    from lrscope.tune.search import SearchPoint

__all__ = [
    "DEFAULT_CONFIRM_SEEDS",
    "DEFAULT_FINALISTS",
    "DEFAULT_TIE",
    "MIN_CONFIRM_SEEDS",
    "MIN_FINALISTS",
    "check_tie",
    "finalists",
]

DEFAULT_FINALISTS = 4
"""Policies of the search confirmed (with FIX, five policies: one group of 15 trials on
three seeds)."""
MIN_FINALISTS = 3
DEFAULT_CONFIRM_SEEDS = 3
"""Seeds of the confirmation; the search's seed is not one of them."""
MIN_CONFIRM_SEEDS = 3
FINALISTS = Interval(int, MIN_FINALISTS, None, "left")
CONFIRM_SEEDS = Interval(int, MIN_CONFIRM_SEEDS, 1000)


def check_tie(tie: float, owner: str = "tune") -> float:
    """``tie`` if it is a finite float >= 0, else a :class:`~lrscope.errors.ParameterError`."""
    value: float = check(owner, "tie", tie, NONNEGATIVE_FLOAT)
    return value


def finalists(
    points: Iterable[SearchPoint], count: int, metric: Metric, exclude: Sequence[str] = ()
) -> list[SearchPoint]:
    """The best point of each of the ``count`` best families of the search, best first.

    One point per family: the search's points of one family differ by less
    than one seed's noise, and confirming four variants of the family that
    was luckiest on the search seed would test one idea four times;
    confirming the best of different families tests different schedules. Only
    points that trained to the end without diverging count; the order is the
    final value in the metric's direction, ties by ask order (the earlier
    point first). Specs in ``exclude`` (the FIX baseline, confirmed anyway)
    are left out; when fewer families trained, the next best points of any
    family fill the list.
    """
    count = check("finalists", "count", count, COUNT)
    ranked = [
        p
        for p in sorted(
            (p for p in points if p.outcome.status == "done" and math.isfinite(p.outcome.value)),
            key=lambda p: (-metric.sign() * p.outcome.value, p.number),
        )
        if p.spec not in exclude
    ]
    chosen: list[SearchPoint] = []
    families: set[str] = set()
    for point in ranked:  # the best of each family first
        if point.family not in families:
            families.add(point.family)
            chosen.append(point)
    specs = {p.spec for p in chosen}
    for point in ranked:  # then, if families ran out, the next best points
        if len(chosen) >= count:
            break
        if point.spec not in specs:
            specs.add(point.spec)
            chosen.append(point)
    return sorted(chosen[:count], key=ranked.index)
