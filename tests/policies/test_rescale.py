"""Carrying a policy over to another task: lrscope.policies.rescale."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError
from lrscope.policies import parse
from lrscope.policies.rescale import rescale

SPECS = [
    "FIX(k0=0.1)",
    "STEP(k0=0.1, gamma=0.5, l=100)",
    "NSTEP(k0=0.1, gamma=0.1, milestones=[300, 500, 600])",
    "EXP(k0=0.1, gamma=0.999)",
    "INV(k0=0.1, gamma=0.001, p=0.75)",
    "POLY(k0=0.1, p=2.0, l=1000, k1=0.001)",
    "TRI(k0=0.01, k1=0.1, l=200)",
    "TRI2(k0=0.01, k1=0.1, l=200)",
    "TRIEXP(k0=0.01, k1=0.1, gamma=0.999, l=200)",
    "SIN(k0=0.01, k1=0.1, l=200)",
    "SINEXP(k0=0.01, k1=0.1, gamma=0.999, l=200)",
    "COS(k0=0.01, k1=0.1, l=200)",
    "onecycle(max_lr=0.5, total_steps=1000)",
    "sgdr(max_lr=0.5, period=100, mult=2, min_lr=0.001)",
    "exp_range(base_lr=0.01, max_lr=0.1, stepsize=200, gamma=0.999)",
    "piecewise([linear_ramp(start_lr=0.0001, end_lr=0.1, steps=100), "
    "COS(k0=0.001, k1=0.1, l=400)], boundaries=[100])",
]


@pytest.mark.parametrize("spec", SPECS)
def test_identity(spec: str) -> None:
    policy = parse(spec)
    assert rescale(policy) == policy


# onecycle places its phase ends at pct * total - 1 (as torch does) and the
# ramps divide by steps - 1: stretched, they match the original only up to
# that one-step offset, an error of O(peak / steps).
INEXACT = {SPECS[12], SPECS[15]}


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize(("lr_factor", "step_factor"), [(2.0, 2.0), (0.5, 3.0), (3.0, 1.0)])
def test_stretched_policy_follows_the_original(
    spec: str, lr_factor: float, step_factor: float
) -> None:
    """eta'(b t) = a eta(t) wherever b t lands on integer steps of both schedules."""
    policy = parse(spec)
    scaled = rescale(policy, lr_factor=lr_factor, step_factor=step_factor)
    b = int(step_factor)
    inexact = spec in INEXACT and b > 1
    tolerance = 0.01 * lr_factor * max(policy.values(1000)) if inexact else 1e-15
    for t in range(0, 1000, 37):
        expected = lr_factor * policy(t)
        assert scaled(b * t) == pytest.approx(expected, rel=1e-9, abs=tolerance), t


def test_milestones_stay_strictly_increasing() -> None:
    policy = parse("NSTEP(k0=0.1, gamma=0.1, milestones=[2, 3, 4])")
    scaled = rescale(policy, step_factor=0.1)
    assert scaled.params["milestones"] == (1, 2, 3)


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.01, 100), b=st.floats(0.05, 20))
def test_rescaled_spec_round_trips(a: float, b: float) -> None:
    for spec in SPECS:
        scaled = rescale(parse(spec), lr_factor=a, step_factor=b)
        assert parse(scaled.spec) == scaled


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_factors_are_named(bad: float) -> None:
    with pytest.raises(ParameterError, match="'lr_factor'"):
        rescale(parse("FIX(k0=0.1)"), lr_factor=bad)
    with pytest.raises(ParameterError, match="'step_factor'"):
        rescale(parse("FIX(k0=0.1)"), step_factor=bad)


def test_significant_digits_round_the_rates_of_decay_by_their_complement() -> None:
    """A per-step gamma near 1 keeps 3 digits of ``1 - gamma``; a per-drop gamma is unchanged."""
    exp = rescale(parse("EXP(k0=0.1, gamma=0.999)"), step_factor=2.083, significant=3)
    assert exp.params["gamma"] == 0.99952  # 0.999 ** (1 / 2.083) = 0.999520...
    assert rescale(parse("EXP(k0=0.1, gamma=0.999)"), step_factor=2.083).params["gamma"] == (
        0.999 ** (1 / 2.083)
    )
    inv = rescale(parse("INV(k0=0.1, gamma=0.001, p=0.5)"), step_factor=3.0, significant=3)
    assert inv.params["gamma"] == 0.000333
    step = rescale(parse("STEP(k0=0.1, gamma=0.5, l=100)"), step_factor=3.0, significant=3)
    assert step.params["gamma"] == 0.5


def test_significant_digits_round_the_learning_rates() -> None:
    policy = parse("sgdr(max_lr=0.0566, period=172, mult=2, min_lr=0.000177)")
    scaled = rescale(policy, lr_factor=1.096816005273138, step_factor=1.5, significant=3)
    assert scaled.spec == "sgdr(max_lr=0.0621, period=258, mult=2, min_lr=0.000194)"
    exact = rescale(policy, lr_factor=1.096816005273138)
    assert exact.params["max_lr"] == 0.0566 * 1.096816005273138
    with pytest.raises(ParameterError, match="'significant'"):
        rescale(policy, significant=0)
