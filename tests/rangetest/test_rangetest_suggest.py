"""The suggestion rules on synthetic curves with known answers, and on hostile input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.rangetest import (
    Suggestion,
    Suggestions,
    clr_bounds,
    max_lr,
    min_div_10,
    min_lr,
    onecycle_max_lr,
    read_curve,
    steepest,
    suggest,
    suggested_lr,
    valley,
)
from lrscope.rangetest.suggest import (
    BLOWUP_FRACTION,
    CONSTANT_FRACTION,
    PEAK_FACTOR,
    SUGGESTED_LR_METHOD,
    VALLEY_DEPTH,
    default_half_width,
)

from .curves import CENTER, LR, STEPS, WIDTH, X, result_of, sigmoid_curve

W = default_half_width(STEPS)


def decades(a: float, b: float) -> float:
    return abs(math.log10(a) - math.log10(b))


# --- golden values on a noiseless curve -------------------------------------------
def test_steepest_is_the_centre_of_the_sigmoid() -> None:
    s = steepest(LR, sigmoid_curve())
    assert (s.method, s.fallback) == ("steepest", None)
    assert s.lr == pytest.approx(10**CENTER, rel=0.05)  # x = -2.0, within one step


def test_valley_is_two_thirds_down_the_fall() -> None:
    # the sigmoid has done d of its fall where 1 / (1 + e^u) = 1 - d: u = ln(d / (1 - d))
    s = valley(LR, sigmoid_curve())
    assert (s.method, s.fallback) == ("valley", None)
    u = math.log(VALLEY_DEPTH / (1 - VALLEY_DEPTH))
    assert decades(s.lr, 10 ** (CENTER + WIDTH * u)) < 0.03
    half = valley(LR, sigmoid_curve(), depth=0.5)
    assert decades(half.lr, 10**CENTER) < 0.03


def test_min_div_10_is_a_tenth_of_the_lr_at_the_lowest_robust_loss() -> None:
    y = sigmoid_curve()
    reading = read_curve(LR, y)
    s = min_div_10(LR, y)
    assert s.lr == pytest.approx(reading.curve.lr[reading.minimum] / 10)
    assert decades(s.lr, 0.1) < 0.2  # the minimum sits near lr 1, where the rise starts


def test_max_lr_is_the_depth_weighted_centre_of_the_dip() -> None:
    """On a dip symmetric in log lr the weighted centre is its tip."""
    v_shape = 2.3 - np.clip(2.0 - 2.0 * np.abs(X + 2.0), 0.0, None)  # tip at lr 1e-2
    s = max_lr(LR, v_shape)
    assert (s.method, s.fallback) == ("fall_stops", None)
    assert decades(s.lr, 1e-2) < 0.03


def test_max_lr_is_the_middle_of_a_long_flat_floor() -> None:
    """A fall onto a floor from lr 1e-3 to 1e-1, then a steep rise: the middle is 1e-2."""
    y = np.interp(X, [-5, -4, -3, -1, -0.5, 1], [2.3, 2.3, 0.3, 0.3, 2.3, 6.0])
    s = max_lr(LR, y)
    assert decades(s.lr, 1e-2) < 0.25


def test_suggested_lr_and_peak_are_fixed_multiples_of_max_lr() -> None:
    y = sigmoid_curve()
    reading = read_curve(LR, y, W)
    upper = max_lr(LR, y, half_width=W)
    s = suggested_lr(LR, y, half_width=W)
    assert s.method == SUGGESTED_LR_METHOD == "floor"
    assert s.lr == pytest.approx(CONSTANT_FRACTION * upper.lr)
    peak = onecycle_max_lr(LR, y, half_width=W)
    expected = max(PEAK_FACTOR * upper.lr, BLOWUP_FRACTION * reading.curve.lr[reading.back])
    assert peak.lr == pytest.approx(expected)
    assert peak.method == "floor_peak"


def test_the_peak_follows_where_the_loss_blows_up() -> None:
    """Two curves with the same dip: the one that stays trainable longer gets the higher peak."""
    dip = np.interp(X, [-5, -3, -2, -1.5], [2.3, 2.3, 0.4, 0.3])
    early = np.where(X < -1.5, dip, 0.3 + 8.0 * (X + 1.5))  # back at 2.3 by lr 0.05
    late = np.where(X < -1.5, dip, 0.3 + 1.0 * (X + 1.5))  # back at 2.3 by lr 3
    a, b = onecycle_max_lr(LR, early), onecycle_max_lr(LR, late)
    assert b.lr > 3 * a.lr
    assert b.lr == pytest.approx(BLOWUP_FRACTION * 10 ** (-1.5 + 2.0), rel=0.06)


def test_min_lr_is_the_onset_of_the_fall() -> None:
    y = sigmoid_curve()
    upper = max_lr(LR, y)
    s = min_lr(LR, y, upper)
    # 10 % of the fall is done where 1 + e^u = 1 / 0.9
    expected = 10 ** (CENTER + WIDTH * math.log(1 / 0.9 - 1))
    assert s.method == "loss_onset"
    assert decades(s.lr, expected) < 0.05
    assert clr_bounds(LR, y) == (s, upper)


def test_min_lr_falls_back_to_a_quarter_of_max_lr_without_a_plateau() -> None:
    # the loss falls from the very first step: no plateau to read an onset from
    y = 0.3 + 2.0 * np.exp(-(X + 5) * 2) + 2.0 * np.clip(X, 0, None) ** 2
    s = suggest(result_of(LR, y))
    assert s.usable
    assert s.min_lr.method == "max_lr/4"
    assert s.min_lr.lr == pytest.approx(s.max_lr.lr / 4)
    assert "plateau" in (s.min_lr.fallback or "")


def test_suggest_reads_one_curve_consistently() -> None:
    s = suggest(result_of(LR, sigmoid_curve()))
    y = sigmoid_curve()
    assert s.usable
    assert s.reason is None
    assert s.max_lr == max_lr(LR, y, half_width=W)
    assert s.suggested_lr == suggested_lr(LR, y, half_width=W)
    assert s.onecycle_max_lr == onecycle_max_lr(LR, y, half_width=W, diverged=False)
    assert s.min_lr.lr <= s.suggested_lr.lr <= s.max_lr.lr <= s.onecycle_max_lr.lr
    assert set(s.as_pairs()) == {
        "suggested_lr",
        "min_lr",
        "max_lr",
        "onecycle_max_lr",
        "steepest",
        "valley",
        "min_div_10",
    }


def test_a_fall_still_going_at_the_end_is_flagged_and_the_peak_stays_in_the_range() -> None:
    y = 0.3 + 2.0 / (1 + np.exp((X - 0.9) / 0.2))  # halfway down at lr 8, end lr 10
    s = suggest(result_of(LR, y))
    assert s.usable
    assert "still falling" in (s.max_lr.fallback or "")
    assert s.onecycle_max_lr.lr <= LR[-1]
    assert s.onecycle_max_lr.method == "last_lr"
    assert "raise end_lr" in (s.onecycle_max_lr.fallback or "")


# --- no usable range ---------------------------------------------------------------
def _all_sane(s: Suggestions) -> None:
    for name, value in s.items():
        assert isinstance(value, Suggestion)
        assert math.isfinite(value.lr), name
        assert value.lr > 0, name
    assert s.min_lr.lr <= s.suggested_lr.lr <= s.max_lr.lr


def test_flat_curve_has_no_usable_range_and_every_number_says_why() -> None:
    rng = np.random.default_rng(0)
    y = 2.3 + 0.01 * rng.standard_normal(STEPS)
    s = suggest(result_of(LR, y))
    _all_sane(s)
    assert not s.usable
    assert "never fell clearly" in (s.reason or "")
    for name, value in s.items():
        assert value.fallback, name
    assert s.max_lr.method == "level_end"
    assert s.suggested_lr.method == s.min_lr.method == "max_lr/4"


def test_a_curve_that_rises_from_its_start_keeps_its_bounds_at_the_start() -> None:
    y = 2.3 + 0.5 * (X + 5)  # rises by 0.5 per decade from the first step
    s = suggest(result_of(LR, y))
    _all_sane(s)
    assert not s.usable
    assert "rose from the first step" in (s.reason or "")
    assert s.max_lr.lr < 10 * LR[0]  # where the loss had not yet risen above its start


def test_a_flat_then_exploding_curve_puts_its_bounds_below_the_explosion() -> None:
    """Random labels: level at 2.30, then 10 at lr 10; the bounds stay where it was level."""
    rng = np.random.default_rng(1)
    y = 2.3 + 0.02 * rng.standard_normal(STEPS) + 7.7 * np.clip(X, 0, None) ** 2
    s = suggest(result_of(LR, y))
    _all_sane(s)
    assert not s.usable
    reading = read_curve(LR, y, W)
    assert s.max_lr.index is not None
    assert reading.robust[s.max_lr.index] <= reading.robust[0] + reading.noise
    assert s.max_lr.lr < 1.5  # the loss has risen by 7.7 * 0.18^2 = 0.25 at lr 1.5


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7])
def test_short_curves_have_no_usable_range(n: int) -> None:
    lr = np.logspace(-3, -1, n)
    s = suggest(result_of(lr, np.linspace(2.0, 1.0, n)))
    _all_sane(s)
    assert not s.usable


def test_immediately_diverged_curve() -> None:
    s = suggest(result_of(np.array([1e-5]), np.array([math.nan])))
    _all_sane(s)
    assert not s.usable
    assert "analysable" in (s.reason or "")


def test_diverged_curve_ignores_what_comes_after_the_first_non_finite_loss() -> None:
    y = sigmoid_curve()
    y[260:] = math.inf
    s = suggest(result_of(LR, y))
    _all_sane(s)
    for _, value in s.items():
        assert value.index is None or value.index < 260


# --- noise ------------------------------------------------------------------------
def test_noisy_curve_suggestions_are_stable() -> None:
    """Noise of 5 % of the fall moves suggested_lr and the peak by < 0.15 decades."""
    clean = suggest(result_of(LR, sigmoid_curve()))
    for seed in range(5):
        rng = np.random.default_rng(seed)
        noisy = sigmoid_curve() + 0.1 * rng.standard_normal(STEPS)
        s = suggest(result_of(LR, noisy))
        assert decades(s.suggested_lr.lr, clean.suggested_lr.lr) < 0.15
        assert decades(s.onecycle_max_lr.lr, clean.onecycle_max_lr.lr) < 0.15


any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=150, deadline=None)
@given(
    lr=st.lists(any_float, max_size=60),
    loss=st.lists(any_float, max_size=60),
    smoothed=st.lists(any_float, max_size=60),
)
def test_any_input_gives_finite_positive_ordered_suggestions(
    lr: list[float], loss: list[float], smoothed: list[float]
) -> None:
    n = min(len(lr), len(loss), len(smoothed))
    result = result_of(np.asarray(lr[:n]), np.asarray(loss[:n]), np.asarray(smoothed[:n]))
    _all_sane(suggest(result))


@settings(max_examples=40, deadline=None)
@given(
    start=st.floats(-7, -1),
    span=st.floats(0.5, 8),
    n=st.integers(5, 400),
    slope=st.floats(-3, 3),
)
def test_monotone_curves_give_suggestions_inside_the_range(
    start: float, span: float, n: int, slope: float
) -> None:
    lr = np.logspace(start, start + span, n)
    y = 2.0 + slope * np.linspace(0, 1, n)
    s = suggest(result_of(lr, y))
    _all_sane(s)
    for name in ("max_lr", "onecycle_max_lr", "steepest", "valley"):
        value = getattr(s, name).lr
        assert lr[0] / 10 * (1 - 1e-9) <= value <= lr[-1] * (1 + 1e-9), name


def test_a_peak_set_by_a_test_that_never_blew_up_is_flagged_as_a_lower_bound() -> None:
    y = np.interp(X, [-5, -3, -2, 1], [2.3, 2.3, 0.3, 0.3])  # low from lr 1e-2 to the end
    s = suggest(result_of(LR, y))  # reached end_lr without diverging
    assert s.onecycle_max_lr.lr == pytest.approx(BLOWUP_FRACTION * LR[-1], rel=0.06)
    assert "lower bound" in (s.onecycle_max_lr.fallback or "")
    assert onecycle_max_lr(LR, y, diverged=True).fallback is None
