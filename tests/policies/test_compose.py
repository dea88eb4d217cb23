"""piecewise: each piece sees t - b_i; Smith's Table 2 as one spec; warmups."""

from __future__ import annotations

import pytest

from lrscope.errors import ParameterError
from lrscope.policies import (
    COS,
    FIX,
    linear_ramp,
    onecycle,
    parse,
    piecewise,
    triangular,
    triangular2,
)

from .helpers import close

TABLE2 = (
    "piecewise([triangular2(base_lr=0.001, max_lr=0.005, stepsize=2000), "
    "triangular2(base_lr=0.0001, max_lr=0.0005, stepsize=1000), "
    "triangular2(base_lr=1e-05, max_lr=5e-05, stepsize=500)], boundaries=[16000, 22000])"
)


def test_smith_table2_is_one_spec() -> None:
    policy = parse(TABLE2)
    assert policy.spec == TABLE2
    golden = {
        0: 0.001,
        2000: 0.005,
        6000: 0.001 + 0.004 / 2,
        14000: 0.001 + 0.004 / 8,
        15999: 0.001 + 0.004 / 8 / 2000,
        16000: 0.0001,
        17000: 0.0005,
        19000: 0.0001 + 0.0004 / 2,
        22000: 1e-5,
        22500: 5e-5,
        24500: 1e-5 + 4e-5 / 4,
    }
    for t, expected in golden.items():
        assert policy(t) == close(expected), t
    assert policy.cycle_ends(25000) == [
        4000,
        8000,
        12000,
        16000,
        18000,
        20000,
        22000,
        23000,
        24000,
        25000,
    ]
    assert policy.n_params == 3 + 3 + 3 + 2


def test_warmup_then_cosine() -> None:
    policy = piecewise(
        [linear_ramp(start_lr=0.0, end_lr=0.1, steps=501), COS(k0=0.001, k1=0.1, l=1000)],
        boundaries=[500],
    )
    assert policy(0) == 0.0
    assert policy(250) == close(0.05)
    assert policy(499) == close(0.1 * 499 / 500)
    assert policy(500) == close(0.1)
    assert policy(1500) == close(0.001)
    assert policy.cycle_ends(3000) == [2500]


def test_momentum_comes_from_the_active_piece() -> None:
    policy = piecewise([FIX(k0=0.1), onecycle(max_lr=0.1, total_steps=100)], boundaries=[10])
    assert policy.has_momentum
    assert policy.momentum(5) is None
    assert policy.momentum(10) == close(0.95)
    values = policy.momentum_values(12)
    assert values is not None
    assert values[:10] == [None] * 10


def test_nested_piecewise_round_trips() -> None:
    inner = piecewise([FIX(k0=0.1), FIX(k0=0.2)], boundaries=[5])
    outer = piecewise([inner, triangular(base_lr=0.1, max_lr=0.2, stepsize=3)], boundaries=[20])
    assert parse(outer.spec) == outer
    assert outer(4) == 0.1
    assert outer(5) == 0.2
    assert outer(20) == close(0.1)
    assert outer(23) == close(0.2)


@pytest.mark.parametrize("boundaries", [[], [10, 20], [0], [20, 10]])
def test_boundary_count_and_order_are_checked(boundaries: list[int]) -> None:
    pieces = [FIX(k0=0.1), FIX(k0=0.2)]
    if len(boundaries) == 2 and boundaries[0] < boundaries[1]:
        match = r"'boundaries' parameter of piecewise must be a list of 1 .*one fewer than the 2"
    else:
        match = r"'boundaries' parameter of piecewise"
    with pytest.raises(ParameterError, match=match):
        piecewise(pieces, boundaries=boundaries)


def test_pieces_must_be_policies() -> None:
    with pytest.raises(ParameterError, match="'pieces' parameter of piecewise"):
        piecewise([FIX(k0=0.1), 0.2], boundaries=[5])  # type: ignore[list-item]
    with pytest.raises(ParameterError, match="at least 2 policies"):
        piecewise([FIX(k0=0.1)], boundaries=[])
    assert triangular2(base_lr=0.1, max_lr=0.2, stepsize=3) in {
        triangular2(base_lr=0.1, max_lr=0.2, stepsize=3)
    }
