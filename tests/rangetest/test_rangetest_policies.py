"""Policies built from a range test: what each reads off it, budgets, and refusals."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from lrscope.errors import LRScopeError, ParameterError
from lrscope.policies import COS, FIX, SGDR, ExpRange, OneCycle, Triangular, Triangular2
from lrscope.rangetest import NoUsableRangeError, RangeTestResult, suggest
from lrscope.rangetest.policies import budget_steps, half_cycle_steps
from spec_testlib import unrounded

from .curves import LR, STEPS, result_of, sigmoid_curve


def _found(curve: np.ndarray | None = None) -> RangeTestResult:
    result = result_of(LR, sigmoid_curve() if curve is None else curve)
    return replace(result, suggestions=suggest(result))


def _flat() -> RangeTestResult:
    rng = np.random.default_rng(0)
    return _found(2.3 + 0.01 * rng.standard_normal(STEPS))


def r3(value: float) -> float:
    return float(f"{value:.3g}")


def test_fixed_and_suggestion_are_the_suggested_lr() -> None:
    found = _found()
    assert found.suggestions is not None
    assert found.usable
    assert found.suggestion == found.suggestions.suggested_lr.lr
    assert found.fixed() == FIX(k0=r3(found.suggestion))


def test_onecycle_peaks_at_the_one_cycle_peak_for_the_budget() -> None:
    found = _found()
    assert found.suggestions is not None
    peak = r3(found.suggestions.onecycle_max_lr.lr)
    policy = found.onecycle(total_steps=4800)
    assert policy == OneCycle(max_lr=peak, total_steps=4800)
    assert policy(0) == pytest.approx(peak / 25)
    assert max(policy.values(4800)) == pytest.approx(peak)
    assert found.onecycle(epochs=150, steps_per_epoch=32) == policy
    smith = found.onecycle(total_steps=1000, anneal="linear", three_phase=True)
    assert smith.params["anneal"] == "linear"
    assert smith.three_phase


@pytest.mark.parametrize(
    ("name", "cls"),
    [("triangular", Triangular), ("triangular2", Triangular2), ("exp_range", ExpRange)],
)
def test_cyclic_policies_span_the_bounds_and_end_at_the_bottom_of_a_cycle(
    name: str, cls: type[Any]
) -> None:
    found = _found()
    assert found.suggestions is not None
    lo, hi = r3(found.suggestions.min_lr.lr), r3(found.suggestions.max_lr.lr)
    policy = getattr(found, name)(total_steps=4800, steps_per_epoch=32)
    assert isinstance(policy, cls)
    assert (policy.base_lr, policy.max_lr) == (lo, hi)
    assert policy.stepsize == half_cycle_steps(4800, 32) == 150
    assert 4800 % (2 * policy.stepsize) == 0
    assert policy(4800) == pytest.approx(lo)  # the bottom of a cycle
    assert policy(policy.stepsize) > lo
    if name == "exp_range":  # gamma rounded by its complement: 0.1 within a fraction of 1%
        assert policy.gamma**4800 == pytest.approx(0.1, rel=3e-3)
    by_epochs = getattr(found, name)(epochs=150, steps_per_epoch=32)
    assert by_epochs == policy
    assert getattr(found, name)(total_steps=4800, stepsize=77).stepsize == 77


def test_cosine_ends_the_budget_at_min_lr() -> None:
    found = _found()
    assert found.suggestions is not None
    policy = found.cosine(total_steps=3450, steps_per_epoch=23)
    assert isinstance(policy, COS)
    assert (policy.k0, policy.k1) == (
        r3(found.suggestions.min_lr.lr),
        r3(found.suggestions.max_lr.lr),
    )
    assert (3450 // policy.l) % 2 == 1  # an odd number of half cycles
    assert policy(3450) == pytest.approx(policy.k0)
    assert 2 * 23 <= policy.l <= 10 * 23


def test_sgdr_fills_the_budget_with_three_growing_periods() -> None:
    found = _found()
    assert found.suggestions is not None
    policy = found.sgdr(total_steps=7000)
    assert isinstance(policy, SGDR)
    assert policy.max_lr == r3(found.suggestions.max_lr.lr)
    assert policy.min_lr == r3(found.suggestions.min_lr.lr / 10)
    assert (policy.period, policy.mult) == (1000, 2)
    assert policy.cycle_ends(7000) == [1000, 3000, 7000]


def test_half_cycle_steps_golden_values() -> None:
    # 4800 steps of 32: even halves with l in [64, 320] dividing 4800; 150 is nearest sqrt(20) E
    assert half_cycle_steps(4800, 32) == 150
    # no exact divisor in range: the nearest rounded length
    assert half_cycle_steps(1001, 50) == 250
    # odd halves dividing 3450 with l in [46, 230]: 15, 23, 25, 69, 75; 25 halves of 138
    # are nearest sqrt(46 * 230) = 103
    assert half_cycle_steps(3450, 23, odd=True) == 138
    assert half_cycle_steps(1, 10) == 1


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({}, "total_steps"),
        ({"total_steps": 1}, "total_steps"),
        ({"total_steps": 2.5}, "total_steps"),
        ({"total_steps": True}, "total_steps"),
        ({"total_steps": 100, "epochs": 3}, "epochs"),
        ({"epochs": 3}, "steps_per_epoch"),
        ({"epochs": -1, "steps_per_epoch": 10}, "epochs"),
        ({"epochs": 0.01, "steps_per_epoch": 10}, "epochs"),
        ({"epochs": 3, "steps_per_epoch": 0}, "steps_per_epoch"),
    ],
)
def test_bad_budgets_are_named(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ParameterError) as info:
        _found().onecycle(**kwargs)
    assert info.value.name == name
    with pytest.raises(ParameterError):
        budget_steps(
            "x", kwargs.get("total_steps"), kwargs.get("epochs"), kwargs.get("steps_per_epoch")
        )


def test_cyclic_policies_need_the_epoch_length_or_a_stepsize() -> None:
    with pytest.raises(ParameterError, match="steps_per_epoch"):
        _found().triangular(total_steps=1000)
    with pytest.raises(ParameterError, match="stepsize"):
        _found().triangular(total_steps=1000, stepsize=0)


def test_the_bounds_cannot_be_overridden() -> None:
    with pytest.raises(ParameterError, match="max_lr"):
        _found().onecycle(total_steps=100, max_lr=0.5)
    with pytest.raises(ParameterError, match="base_lr"):
        _found().triangular(total_steps=100, stepsize=10, base_lr=0.001)


@pytest.mark.parametrize(
    "build",
    [
        lambda r: r.fixed(),
        lambda r: r.onecycle(total_steps=4800),
        lambda r: r.triangular(total_steps=4800, steps_per_epoch=32),
        lambda r: r.triangular2(total_steps=4800, steps_per_epoch=32),
        lambda r: r.exp_range(total_steps=4800, steps_per_epoch=32),
        lambda r: r.exp_range(total_steps=3000, steps_per_epoch=32),
        lambda r: r.cosine(total_steps=3450, steps_per_epoch=23),
        lambda r: r.sgdr(total_steps=7000),
    ],
)
def test_every_policy_built_from_a_range_test_prints_rounded(build: Any) -> None:
    """Three significant digits for rates, three of the complement for a decay near 1."""
    policy = build(_found())
    assert unrounded(policy) == {}
    assert unrounded(policy.spec) == {}


@pytest.mark.parametrize(
    "build",
    [
        lambda r: r.fixed(),
        lambda r: r.onecycle(total_steps=1000),
        lambda r: r.triangular(total_steps=1000, steps_per_epoch=10),
        lambda r: r.triangular2(total_steps=1000, steps_per_epoch=10),
        lambda r: r.exp_range(total_steps=1000, steps_per_epoch=10),
        lambda r: r.cosine(total_steps=1000, steps_per_epoch=10),
        lambda r: r.sgdr(total_steps=1000),
        lambda r: r.suggestion,
    ],
)
def test_nothing_is_built_from_a_test_without_a_usable_range(build: Any) -> None:
    flat = _flat()
    assert flat.suggestions is not None
    assert not flat.usable
    with pytest.raises(NoUsableRangeError) as info:
        build(flat)
    assert isinstance(info.value, LRScopeError)
    assert "no usable range" in str(info.value)
    assert info.value.reason == flat.suggestions.reason
    assert "never fell clearly" in str(info.value)


def test_a_result_without_attached_suggestions_reads_them() -> None:
    bare = result_of(LR, sigmoid_curve())
    assert bare.suggestions is None
    assert bare.suggestion == suggest(bare).suggested_lr.lr
    assert math.isfinite(bare.onecycle(total_steps=10).max_lr)
