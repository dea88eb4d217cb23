"""The suggestion rules on synthetic curves with known answers, and on hostile input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.rangetest import (
    RangeTestResult,
    Suggestion,
    max_lr,
    min_div_10,
    min_lr,
    steepest,
    suggest,
    valley,
)
from lrscope.rangetest.suggest import (
    ONSET_FRACTION,
    STOP_FRACTION,
    SUGGESTED_LR_METHOD,
    centered_loss,
    default_half_width,
)

STEPS = 301
LR = np.logspace(-5, 1, STEPS)  # 50 points per decade: x = -5, -4.98, ..., 1
X = np.log10(LR)
HIGH, LOW, CENTER, WIDTH = 2.3, 0.3, -2.0, 0.2


def sigmoid_curve() -> np.ndarray:
    """Plateau at 2.3, sigmoid fall centred at lr 1e-2 down to 0.3, quadratic rise after lr 1."""
    fall = LOW + (HIGH - LOW) / (1 + np.exp((X - CENTER) / WIDTH))
    return fall + 2.0 * np.clip(X, 0, None) ** 2


def ema(values: np.ndarray, beta: float = 0.98) -> np.ndarray:
    out, average = [], 0.0
    for i, v in enumerate(values):
        average = beta * average + (1 - beta) * v
        out.append(average / (1 - beta ** (i + 1)))
    return np.asarray(out)


def result_of(
    lr: np.ndarray, loss: np.ndarray, smoothed: np.ndarray | None = None
) -> RangeTestResult:
    sm = ema(loss) if smoothed is None else smoothed
    return RangeTestResult(
        mode="exp",
        start_lr=float(lr[0]) if len(lr) else 1e-5,
        end_lr=float(lr[-1]) if len(lr) else 10.0,
        steps=max(len(lr), 5),
        smooth=0.98,
        diverge_factor=4.0,
        lr=tuple(float(v) for v in lr),
        loss=tuple(float(v) for v in loss),
        smoothed_loss=tuple(float(v) for v in sm),
    )


def decades(a: float, b: float) -> float:
    return abs(math.log10(a) - math.log10(b))


# --- golden values on a noiseless curve ---------------------------------------
def test_steepest_is_the_centre_of_the_sigmoid() -> None:
    s = steepest(LR, sigmoid_curve())
    assert s.method == "steepest"
    assert s.fallback is None
    assert s.index == 150  # x = -2.0 exactly
    assert s.lr == pytest.approx(1e-2)


def test_min_div_10_is_a_tenth_of_the_lr_at_the_minimum() -> None:
    y = sigmoid_curve()
    s = min_div_10(LR, y)
    assert s.index == int(np.argmin(y))
    assert s.lr == pytest.approx(LR[np.argmin(y)] / 10)
    assert decades(s.lr, 0.1) < 0.05  # the minimum sits at lr 1 (where the rise starts)


def test_max_lr_is_where_the_fall_stops_on_a_flat_floor() -> None:
    s = max_lr(LR, sigmoid_curve(), half_width=default_half_width(STEPS))
    assert s.method == "fall_stops"
    # the sigmoid has done 1 - STOP_FRACTION of its fall where e^u = 1 / f - 1
    u = math.log(1 / STOP_FRACTION - 1)
    assert decades(s.lr, 10 ** (CENTER + WIDTH * u)) < 0.05


def test_max_lr_is_just_before_the_minimum_where_the_fall_reverses() -> None:
    v_shape = 1.0 + np.abs(X + 1.0)  # falls by 4 until lr 0.1 (step 200), rises right after
    s = max_lr(LR, v_shape, half_width=default_half_width(STEPS))
    # 1 - f of the fall is done at 1 + |x + 1| = 1 + 4 f: 4 f / 0.02 steps before step 200
    expected = 200 - round(4 * STOP_FRACTION / 0.02)
    width = default_half_width(STEPS)
    assert s.index is not None
    # the centred window blunts the tip (raising its minimum) by up to its half-width
    assert expected - width <= s.index <= expected


def test_min_lr_is_the_onset_of_the_fall() -> None:
    y = sigmoid_curve()
    upper = max_lr(LR, y, half_width=6)
    s = min_lr(LR, y, upper, half_width=6)
    # the sigmoid has done ONSET_FRACTION of its fall where 1 + e^u = 1 / (1 - f)
    u = math.log(1 / (1 - ONSET_FRACTION) - 1)
    expected = 10 ** (CENTER + WIDTH * u)
    assert s.method == "loss_onset"
    assert decades(s.lr, expected) < 0.05


def test_valley_is_two_thirds_down_the_longest_descent() -> None:
    # rising prefix (0.5 -> 0.6), strict descent 2.0 -> 0.1 over steps 100..200, then rising
    y = np.concatenate(
        [np.linspace(0.5, 0.6, 100), np.linspace(2.0, 0.1, 101), np.linspace(0.2, 3, 100)]
    )
    s = valley(LR, y)
    assert s.method == "valley"
    # 2.0 - 1.9 k / 100 <= 2.0 - (2/3) 1.9  <=>  k >= 66.7
    assert s.index == 167
    assert valley(LR, y, depth=0.5).index == 150


def test_valley_skips_a_long_noisy_plateau() -> None:
    """The descent may start inside the plateau; a depth read off the loss skips it."""
    rng = np.random.default_rng(1)
    y = ema(sigmoid_curve() + 0.05 * rng.standard_normal(STEPS))
    s = valley(LR, y)
    i_min = int(np.argmin(y))
    assert s.index is not None
    assert 150 <= s.index <= i_min  # past the middle of the sigmoid, not past the bottom
    assert y[s.index] < y[0] - 0.5 * (y[0] - y[i_min])


def test_suggest_ties_the_numbers_together() -> None:
    result = result_of(LR, sigmoid_curve())
    s = suggest(result)
    assert SUGGESTED_LR_METHOD == "valley"
    chosen = getattr(s, SUGGESTED_LR_METHOD)
    if chosen.lr <= s.max_lr.lr:
        assert s.suggested_lr == chosen
    else:
        assert (s.suggested_lr.lr, s.suggested_lr.method) == (s.max_lr.lr, "max_lr")
    assert s.onecycle_max_lr.lr == s.max_lr.lr
    assert s.min_lr.lr < s.max_lr.lr
    pairs = s.as_pairs()
    assert pairs["suggested_lr"] == (s.suggested_lr.lr, s.suggested_lr.method)
    assert set(pairs) == {
        "suggested_lr",
        "min_lr",
        "max_lr",
        "onecycle_max_lr",
        "steepest",
        "valley",
        "min_div_10",
    }


def test_suggested_lr_is_capped_at_max_lr() -> None:
    # the loss bottoms out abruptly at lr 1e-2 and stays flat: the lagging average
    # keeps descending after the fall stopped, which moves the valley past max_lr
    y = np.where(X < -2, 2.3 - 2.0 * (X + 4).clip(0) / 2, 0.3)
    s = suggest(result_of(LR, y))
    assert s.valley.lr > s.max_lr.lr
    assert s.suggested_lr.lr == s.max_lr.lr
    assert s.suggested_lr.method == "max_lr"
    assert "capped" in (s.suggested_lr.fallback or "")


def test_min_lr_falls_back_to_a_quarter_of_max_lr_without_a_plateau() -> None:
    # the loss falls from the very first step: no plateau to read an onset from
    y = 0.3 + 2.0 * np.exp(-(X + 5) * 2) + 2.0 * np.clip(X, 0, None) ** 2
    s = suggest(result_of(LR, y))
    assert s.min_lr.method == "max_lr/4"
    assert s.min_lr.lr == pytest.approx(s.max_lr.lr / 4)
    assert "plateau" in (s.min_lr.fallback or "")


# --- the centred average -------------------------------------------------------
def test_centered_loss_golden_values() -> None:
    out = centered_loss([1.0, 2.0, 3.0, 4.0, 10.0], half_width=1)
    assert out.tolist() == pytest.approx([1.5, 2.0, 3.0, 17 / 3, 7.0])
    assert centered_loss([1.0, 2.0], 0).tolist() == [1.0, 2.0]


def test_centered_loss_has_no_lag() -> None:
    bump = np.maximum(0.0, 10.0 - np.abs(np.arange(101) - 50.0))  # a peak at step 50
    out = centered_loss(bump, 5)
    assert int(np.argmax(out)) == 50
    assert out[40:61].tolist() == pytest.approx(out[40:61][::-1].tolist())  # symmetric
    ema_peak = int(np.argmax(ema(bump, beta=0.9)))
    assert ema_peak > 50  # what the causal average does instead


# --- flat, short, diverged curves ---------------------------------------------
def _all_sane(s: object) -> None:
    for name in s.__dataclass_fields__:  # type: ignore[attr-defined]
        value = getattr(s, name)
        assert isinstance(value, Suggestion)
        assert math.isfinite(value.lr)
        assert value.lr > 0, name


def test_flat_curve_gives_sane_fallbacks_and_says_so() -> None:
    rng = np.random.default_rng(0)
    y = 2.3 + 0.001 * rng.standard_normal(STEPS)
    s = suggest(result_of(LR, y))
    _all_sane(s)
    assert s.steepest.fallback is not None
    assert "flat" in s.steepest.fallback
    assert s.valley.fallback is not None
    assert "flat" in s.valley.fallback
    assert s.max_lr.method == "last_lr"
    assert s.max_lr.lr == pytest.approx(LR[-1])
    assert s.min_lr.method == "max_lr/4"


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_short_curves_do_not_crash(n: int) -> None:
    lr = np.logspace(-3, -1, n)
    s = suggest(result_of(lr, np.linspace(2.0, 1.0, n)))
    _all_sane(s)


def test_immediately_diverged_curve() -> None:
    s = suggest(result_of(np.array([1e-5]), np.array([math.nan])))
    _all_sane(s)
    assert "no finite loss recorded" in (s.suggested_lr.fallback or "")


def test_diverged_curve_ignores_what_comes_after_the_first_non_finite_loss() -> None:
    y = sigmoid_curve()
    y[260:] = math.inf
    s = suggest(result_of(LR, y))
    _all_sane(s)
    assert s.max_lr.index is not None
    assert s.max_lr.index < 260


def test_noisy_curve_suggestions_are_stable() -> None:
    """Noise of 5 % of the fall moves suggested_lr by < 0.3 and max_lr by < 0.5 decades.

    max_lr wanders more: on a flat floor the point where 97 % of the fall is
    done lies where the curve approaches the floor slowly, so the noise of the
    average moves it (median 0.15, worst 0.7 decades over 40 draws).
    """
    clean = suggest(result_of(LR, sigmoid_curve()))
    moves = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        noisy = sigmoid_curve() + 0.1 * rng.standard_normal(STEPS)
        s = suggest(result_of(LR, noisy))
        assert decades(s.suggested_lr.lr, clean.suggested_lr.lr) < 0.3
        moves.append(decades(s.max_lr.lr, clean.max_lr.lr))
    assert max(moves) < 0.5
    assert float(np.median(moves)) < 0.25


any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=150, deadline=None)
@given(
    lr=st.lists(any_float, max_size=60),
    loss=st.lists(any_float, max_size=60),
    smoothed=st.lists(any_float, max_size=60),
)
def test_any_input_gives_finite_positive_suggestions(
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
    for name in ("max_lr", "steepest", "valley"):
        value = getattr(s, name).lr
        assert lr[0] / 10 * (1 - 1e-9) <= value <= lr[-1] * (1 + 1e-9), name
