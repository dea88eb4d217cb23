"""What tune confirms: the best point of each of the best families, FIX left to its own place."""

from __future__ import annotations

import math

import pytest

from lrscope.errors import ParameterError
from lrscope.metrics import get_metric
from lrscope.tune.search import Outcome, SearchPoint
from lrscope.tune.select import check_tie, finalists
from lrscope.tune.space import Proposal

TOP1 = get_metric("top1")


def point(number: int, family: str, value: float, status: str = "done") -> SearchPoint:
    spec = f"{family}(x={number})"
    return SearchPoint(number, 0, Proposal(family, {}), spec, Outcome(status, value), value)


POINTS = [
    point(0, "COS", 0.973),  # the luckiest family on the search seed, three times over
    point(1, "COS", 0.965),
    point(2, "COS", 0.964),
    point(3, "TRI", 0.962),
    point(4, "SIN", 0.961),
    point(5, "NSTEP", 0.961),
    point(6, "FIX", 0.990),  # the baseline: confirmed anyway
    point(7, "EXP", 0.999, status="diverged"),
    point(8, "INV", math.nan, status="failed"),
]


def test_one_point_per_family_the_best_families_first() -> None:
    chosen = finalists(POINTS, 4, TOP1, exclude=["FIX(x=6)"])
    assert [p.spec for p in chosen] == ["COS(x=0)", "TRI(x=3)", "SIN(x=4)", "NSTEP(x=5)"]


def test_ties_go_to_the_earlier_point_and_families_that_ran_out_are_filled() -> None:
    chosen = finalists(POINTS[:4], 4, TOP1)
    assert [p.spec for p in chosen] == ["COS(x=0)", "COS(x=1)", "COS(x=2)", "TRI(x=3)"]
    tied = [point(0, "A", 0.9), point(1, "B", 0.9)]
    assert [p.spec for p in finalists(tied, 1, TOP1)] == ["A(x=0)"]


def test_diverged_and_failed_points_are_never_finalists() -> None:
    chosen = finalists(POINTS, 10, TOP1)
    assert {p.family for p in chosen} == {"COS", "TRI", "SIN", "NSTEP", "FIX"}


def test_lower_is_better_metrics_pick_the_smallest() -> None:
    loss = get_metric("ld")
    chosen = finalists([point(0, "A", 0.3), point(1, "B", 0.1)], 1, loss)
    assert [p.family for p in chosen] == ["B"]


def test_bad_counts_and_ties_are_named() -> None:
    with pytest.raises(ParameterError, match="'count' parameter of finalists"):
        finalists(POINTS, 0, TOP1)
    for bad in (-0.1, math.nan, math.inf, "0.1"):
        with pytest.raises(ParameterError, match="'tie'"):
            check_tie(bad)  # type: ignore[arg-type]
    assert check_tie(0) == 0.0
