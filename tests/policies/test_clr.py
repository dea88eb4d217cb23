"""Smith's CLR names: golden values, momentum cycling, agreement with LRBench's functions."""

from __future__ import annotations

import pytest

from lrscope.policies import TRI, TRI2, TRIEXP, decay, exp_range, triangular, triangular2

from .helpers import close


def test_triangular_golden_and_equal_to_tri() -> None:
    policy = triangular(base_lr=0.001, max_lr=0.006, stepsize=2000)
    golden = {0: 0.001, 1000: 0.0035, 2000: 0.006, 3000: 0.0035, 4000: 0.001, 6000: 0.006}
    for t, expected in golden.items():
        assert policy(t) == close(expected)
    lrbench = TRI(k0=0.001, k1=0.006, l=2000)
    for t in range(0, 12001, 7):
        assert policy(t) == close(lrbench(t))


def test_triangular2_halves_each_cycle_like_tri2() -> None:
    policy = triangular2(base_lr=0.001, max_lr=0.006, stepsize=500)
    assert policy(500) == close(0.006)
    assert policy(1500) == close(0.001 + 0.005 / 2)
    assert policy(2500) == close(0.001 + 0.005 / 4)
    assert policy(2000) == close(0.001)
    lrbench = TRI2(k0=0.001, k1=0.006, l=500)
    for t in range(0, 6001, 3):
        assert policy(t) == close(lrbench(t))


def test_exp_range_is_triexp_on_the_total_iteration() -> None:
    policy = exp_range(base_lr=0.001, max_lr=0.006, stepsize=10, gamma=0.9)
    assert policy(10) == close(0.001 + 0.005 * 0.9**10)
    assert policy(30) == close(0.001 + 0.005 * 0.9**30)
    lrbench = TRIEXP(k0=0.001, k1=0.006, gamma=0.9, l=10)
    for t in range(200):
        assert policy(t) == close(lrbench(t))


@pytest.mark.parametrize("cls", [triangular, triangular2])
def test_momentum_moves_opposite_to_lr(cls: type) -> None:
    policy = cls(base_lr=0.001, max_lr=0.006, stepsize=100, cycle_momentum=True)
    assert policy.has_momentum
    assert policy.momentum(0) == close(0.9)
    assert policy.momentum(50) == close(0.85)
    assert policy.momentum(100) == close(0.8)
    assert policy.momentum(200) == close(0.9)
    if cls is triangular2:
        assert policy.momentum(300) == close(0.9 - 0.1 / 2)
    else:
        assert policy.momentum(300) == close(0.8)


def test_exp_range_momentum_and_custom_bounds() -> None:
    policy = exp_range(
        base_lr=0.001,
        max_lr=0.006,
        stepsize=10,
        gamma=0.9,
        cycle_momentum=True,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    assert policy.momentum(10) == close(0.95 - 0.1 * 0.9**10)
    assert policy.spec == (
        "exp_range(base_lr=0.001, max_lr=0.006, stepsize=10, gamma=0.9, "
        "cycle_momentum=true, base_momentum=0.85, max_momentum=0.95)"
    )


def test_without_cycle_momentum_there_is_no_momentum() -> None:
    policy = triangular(base_lr=0.001, max_lr=0.006, stepsize=100)
    assert not policy.has_momentum
    assert policy.momentum(10) is None
    assert policy.momentum_values(5) is None
    assert policy.n_params == 3


def test_decay_golden() -> None:
    policy = decay(base_lr=0.001, max_lr=0.007, stepsize=4000)
    golden = {0: 0.007, 1000: 0.0055, 2000: 0.004, 3999: 0.007 - 0.006 * 3999 / 4000}
    golden |= {4000: 0.001, 10**6: 0.001}
    for t, expected in golden.items():
        assert policy(t) == close(expected)
    assert policy.cycle_length() is None
    assert policy.family == "decay"


def test_cycle_ends_of_clr() -> None:
    policy = triangular2(base_lr=0.001, max_lr=0.006, stepsize=2000)
    assert policy.cycle_length() == 4000
    assert policy.cycle_ends(16000) == [4000, 8000, 12000, 16000]
