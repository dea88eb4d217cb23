"""Ramps: golden values at both ends, holding end_lr afterwards."""

from __future__ import annotations

from lrscope.policies import exp_ramp, linear_ramp

from .helpers import close


def test_linear_ramp() -> None:
    policy = linear_ramp(start_lr=0.0, end_lr=0.1, steps=11)
    assert policy(0) == 0.0
    assert policy(5) == close(0.05)
    assert policy(10) == close(0.1)
    assert policy(11) == close(0.1)
    assert policy(1000) == close(0.1)
    assert policy.family == "ramp"


def test_linear_ramp_down() -> None:
    policy = linear_ramp(start_lr=0.1, end_lr=0.0, steps=3)
    assert policy.values(4) == [0.1, close(0.05), 0.0, 0.0]


def test_exp_ramp() -> None:
    policy = exp_ramp(start_lr=1e-5, end_lr=10.0, steps=7)
    for t in range(7):
        assert policy(t) == close(1e-5 * 10.0**t)
    assert policy(100) == close(10.0)
    assert policy.n_params == 3
