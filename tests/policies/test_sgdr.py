"""SGDR: golden values at restarts, growing periods, peak decay."""

from __future__ import annotations

import math

from lrscope.policies import sgdr

from .helpers import close


def test_constant_period_golden() -> None:
    policy = sgdr(max_lr=0.1, period=10, min_lr=0.001)
    assert policy(0) == close(0.1)
    assert policy(5) == close(0.001 + 0.099 / 2)
    assert policy(10) == close(0.1)
    assert policy(25) == close(0.001 + 0.099 / 2)
    assert policy.cycle_length() == 10
    assert policy.cycle_ends(35) == [10, 20, 30]


def test_growing_periods() -> None:
    policy = sgdr(max_lr=0.1, period=10, mult=2)
    # restarts at 10, 30, 70; the second period lasts 20 steps.
    assert policy(9) == close(0.05 * (1 + math.cos(math.pi * 0.9)))
    assert policy(10) == close(0.1)
    assert policy(20) == close(0.05)
    assert policy(30) == close(0.1)
    assert policy(50) == close(0.05)
    assert policy(70) == close(0.1)
    assert policy.cycle_length() is None
    assert policy.cycle_ends(100) == [10, 30, 70]
    assert policy.cycle_ends(70) == [10, 30, 70]


def test_decay_scales_each_restart_peak() -> None:
    policy = sgdr(max_lr=0.1, period=10, mult=2, decay=0.5)
    assert policy(0) == close(0.1)
    assert policy(10) == close(0.05)
    assert policy(30) == close(0.025)
    assert policy(50) == close(0.0125)
    assert policy.spec == "sgdr(max_lr=0.1, period=10, mult=2, decay=0.5)"
    assert policy.n_params == 4


def test_exact_powers_of_mult_restart_on_time() -> None:
    # 111 = 1 + 10 + 100: PyTorch's math.log epoch path lands one restart early here.
    policy = sgdr(max_lr=0.1, period=1, mult=10, min_lr=0.001)
    assert policy.restart(111) == (3, 0, 1000)
    assert policy(111) == close(0.1)
    assert policy.restart(110) == (2, 99, 100)
