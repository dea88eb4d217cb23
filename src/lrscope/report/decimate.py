"""Thin dense curves before drawing them, so the page stays small.

A plot a thousand pixels wide cannot show more than about a thousand distinct
x positions; drawing 64,000 points per line only makes the SVG heavy. Two
strategies, both pure Python and both keeping the first and last point:

- :func:`minmax_indices` keeps, in every bucket of consecutive points, the
  lowest and the highest one, so peaks (a cyclic policy's maxima, a loss
  spike) survive.
- :func:`stride_indices` keeps every ``k``-th point, for smooth curves that
  share their x values (mean and min-max band of a top-1 curve).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["minmax_indices", "pick", "stride_indices"]

T = TypeVar("T")


def stride_indices(n: int, max_points: int) -> list[int]:
    """Indices ``0, k, 2k, ..., n-1`` with ``k = ceil(n / max_points)``.

    All of ``range(n)`` when ``n <= max_points``; the last index is always kept.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be >= 2, got {max_points}")
    if n <= max_points:
        return list(range(n))
    k = math.ceil(n / (max_points - 1))
    indices = list(range(0, n, k))
    if indices[-1] != n - 1:
        indices.append(n - 1)
    return indices


def minmax_indices(values: Sequence[float], max_points: int) -> list[int]:
    """Indices of at most about ``max_points`` points keeping each bucket's extremes.

    The ``n`` points are cut into ``ceil(max_points / 2)`` buckets of
    consecutive points; from each bucket the index of the smallest and of the
    largest finite value are kept, in increasing order. Non-finite values are
    ignored (a bucket of only non-finite values keeps its first index).
    """
    n = len(values)
    if max_points < 4:
        raise ValueError(f"max_points must be >= 4, got {max_points}")
    if n <= max_points:
        return list(range(n))
    buckets = max_points // 2 - 1
    size = math.ceil(n / buckets)
    keep = {0, n - 1}
    for start in range(0, n, size):
        stop = min(start + size, n)
        finite = [i for i in range(start, stop) if math.isfinite(values[i])]
        if not finite:
            keep.add(start)
            continue
        keep.add(min(finite, key=values.__getitem__))
        keep.add(max(finite, key=values.__getitem__))
    return sorted(keep)


def pick(seq: Sequence[T], indices: Sequence[int]) -> tuple[T, ...]:
    """``tuple(seq[i] for i in indices)``."""
    return tuple(seq[i] for i in indices)
