"""Candidate policies derived from a range test (lrscope.tune.candidates)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.errors import ParameterError
from lrscope.policies import parse
from lrscope.tune.candidates import (
    MAX_EPOCHS_PER_HALF_CYCLE,
    MIN_EPOCHS_PER_HALF_CYCLE,
    LRBounds,
    candidate_policies,
    cycle_step_size,
)

LRBENCH = [
    "FIX",
    "STEP",
    "NSTEP",
    "EXP",
    "INV",
    "POLY",
    "TRI",
    "TRI2",
    "TRIEXP",
    "SIN",
    "SIN2",
    "SINEXP",
    "COS",
]
BOUNDS = LRBounds(suggested_lr=0.1, min_lr=0.02, max_lr=0.5, peak_lr=0.6)


def test_one_candidate_per_family_in_lrbench_order() -> None:
    candidates = candidate_policies(BOUNDS, 3000, 32)
    assert list(candidates) == [*LRBENCH, "onecycle", "sgdr"]
    for name, policy in candidates.items():
        assert parse(policy.spec) == policy
        if name in LRBENCH:
            assert policy.name == name


def test_decaying_policies_start_at_the_suggestion_and_end_two_orders_lower() -> None:
    steps = 3000
    candidates = candidate_policies(BOUNDS, steps, 32)
    for name in ("STEP", "NSTEP", "EXP", "INV", "POLY"):
        policy = candidates[name]
        assert policy(0) == pytest.approx(0.1, rel=1e-12), name
        assert policy(steps - 1) == pytest.approx(0.001, rel=0.05), name
    assert candidates["FIX"](steps - 1) == 0.1


def test_cyclic_policies_span_the_bounds_and_end_near_the_bottom() -> None:
    steps = 3000
    candidates = candidate_policies(BOUNDS, steps, 32)
    for name in ("TRI", "TRI2", "SIN", "SIN2", "COS"):
        values = candidates[name].values(steps)
        assert min(values) == pytest.approx(0.02, rel=1e-9), name
        assert max(values) == pytest.approx(0.5, rel=1e-3), name
        # the budget ends in the last few percent of a cycle, near k0
        assert values[-1] - 0.02 < 0.1 * (0.5 - 0.02), name
    assert candidates["onecycle"].params["max_lr"] == 0.6
    assert candidates["onecycle"].params["total_steps"] == steps


def test_sgdr_third_period_covers_the_budget() -> None:
    steps = 3000
    sgdr = candidate_policies(BOUNDS, steps, 32)["sgdr"]
    period = sgdr.params["period"]
    assert 7 * period >= steps > 3 * period
    assert sgdr(steps - 1) < 0.05 * 0.5


@settings(max_examples=60, deadline=None)
@given(steps=st.integers(8, 200_000), spe=st.integers(1, 2000), odd=st.booleans())
def test_cycle_step_size_prefers_2_to_10_epochs(steps: int, spe: int, odd: bool) -> None:
    size = cycle_step_size(steps, spe, odd=odd)
    assert 1 <= size <= steps
    halves = steps / size
    if steps >= 2 * MAX_EPOCHS_PER_HALF_CYCLE * spe:
        assert MIN_EPOCHS_PER_HALF_CYCLE * spe * 0.5 <= size <= MAX_EPOCHS_PER_HALF_CYCLE * spe
    assert halves >= 1 - 1e-9


def test_bad_bounds_and_budgets_are_named() -> None:
    with pytest.raises(ParameterError, match="'max_lr'"):
        LRBounds(suggested_lr=0.1, min_lr=0.5, max_lr=0.2, peak_lr=0.3)
    with pytest.raises(ParameterError, match="'suggested_lr'"):
        LRBounds(suggested_lr=math.nan, min_lr=0.1, max_lr=0.2, peak_lr=0.3)
    with pytest.raises(ParameterError, match="'steps'"):
        candidate_policies(BOUNDS, 4, 32)
