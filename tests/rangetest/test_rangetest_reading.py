"""The robust curve and its landmarks: golden values, edge windows, outlier bursts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrscope.rangetest.reading import (
    FLOOR_FRACTION,
    MIN_POINTS,
    ONSET_FRACTION,
    analysable,
    centered_loss,
    default_half_width,
    read_curve,
    robust_loss,
    robust_std,
    running_median,
    sustained_above,
)

from .curves import LR, STEPS, X, ema, sigmoid_curve


# --- primitives -------------------------------------------------------------------
def test_running_median_golden_values_and_shifted_edge_windows() -> None:
    y = [5.0, 1.0, 2.0, 9.0, 3.0, 4.0, 0.0]
    # windows of 3: at the ends shifted inwards, [5, 1, 2] and [4, 0, 3] ...
    assert running_median(y, 1).tolist() == [2.0, 2.0, 2.0, 3.0, 4.0, 3.0, 3.0]
    assert running_median(y, 0).tolist() == y
    assert running_median([], 3).tolist() == []
    assert running_median([1.0, 7.0], 5).tolist() == [4.0, 4.0]  # one window of both points


def test_centered_loss_golden_values() -> None:
    out = centered_loss([1.0, 2.0, 3.0, 4.0, 10.0], half_width=1)
    assert out.tolist() == pytest.approx([1.5, 2.0, 3.0, 17 / 3, 7.0])
    assert centered_loss([1.0, 2.0], 0).tolist() == [1.0, 2.0]


def test_centered_loss_has_no_lag() -> None:
    bump = np.maximum(0.0, 10.0 - np.abs(np.arange(101) - 50.0))  # a peak at step 50
    out = centered_loss(bump, 5)
    assert int(np.argmax(out)) == 50
    assert out[40:61].tolist() == pytest.approx(out[40:61][::-1].tolist())  # symmetric
    assert int(np.argmax(robust_loss(bump, 5))) == 50
    assert int(np.argmax(ema(bump, beta=0.9))) > 50  # what the causal average does instead


@pytest.mark.parametrize("start", [0, 1, 150, 296])
@pytest.mark.parametrize("length", [1, 3, 6])
def test_a_burst_of_up_to_w_outliers_leaves_the_robust_loss_almost_unchanged(
    start: int, length: int
) -> None:
    """Anywhere, also at the first step; the EMA is pulled up for ~50 steps instead."""
    w = default_half_width(STEPS)
    assert length <= w
    rng = np.random.default_rng(3)
    clean = sigmoid_curve() + 0.02 * rng.standard_normal(STEPS)
    hostile = clean.copy()
    hostile[start : start + length] *= 30.0
    before = robust_loss(clean, w)
    moved = np.abs(robust_loss(hostile, w) - before)
    # the median of a window with k outliers is the clean window's order
    # statistic k/2 places higher: on a slope a shift by at most k steps,
    # on the plateau about the noise, and never anywhere near the outliers
    padded = np.pad(before, length, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * length + 1)
    allowed = np.max(np.abs(windows - before[:, None]), axis=1) + 5 * 0.02  # 5 noise widths
    assert np.all(moved <= allowed)
    if start == 1:
        assert float(np.max(np.abs(ema(hostile) - ema(clean)))) > 5.0


def test_analysable_prefix_drops_bad_lr_and_stops_at_the_first_non_finite_loss() -> None:
    curve = analysable(
        [1e-3, 0.0, 2e-3, 2e-3, math.inf, 3e-3, 4e-3, 5e-3], [1, 1, 2, 2, 2, 3, math.nan, 5]
    )
    assert curve.lr.tolist() == [1e-3, 2e-3, 3e-3]
    assert curve.index.tolist() == [0, 2, 5]
    assert curve.loss.tolist() == [1.0, 2.0, 3.0]


def test_robust_std_of_gaussian_noise() -> None:
    rng = np.random.default_rng(0)
    assert robust_std(0.5 * rng.standard_normal(20_000)) == pytest.approx(0.5, rel=0.03)
    assert robust_std(np.array([])) == 0.0


def test_sustained_above_needs_a_majority_of_the_window() -> None:
    losses = [1.0] * 10 + [100.0] * 3
    assert not sustained_above(losses, 4.0, 3)  # 3 of the last 7
    assert sustained_above([*losses, 100.0], 4.0, 3)  # 4 of the last 7
    assert not sustained_above([100.0] * 6, 4.0, 3)  # fewer than 7 recorded


# --- landmarks ----------------------------------------------------------------------
def test_landmarks_of_the_noiseless_sigmoid() -> None:
    """Plateau 2.3 falling to 0.3 around lr 1e-2 (scale 0.2 decades), rising after lr 1."""
    reading = read_curve(LR, sigmoid_curve(), default_half_width(STEPS))
    assert reading.usable
    assert reading.reason is None
    lr = reading.curve.lr
    # onset: 10 % of the fall, where 1 + e^u = 1 / (1 - f), u = (x + 2) / 0.2
    u = math.log(1 / (1 - ONSET_FRACTION) - 1)
    assert abs(math.log10(lr[reading.onset]) - (-2 + 0.2 * u)) < 0.05
    assert abs(math.log10(lr[reading.steepest]) + 2) < 0.03
    # the floor starts where the sigmoid is within q of the depth of its bottom
    u = math.log(1 / FLOOR_FRACTION - 1)
    assert abs(math.log10(lr[reading.floor_start]) - (-2 + 0.2 * u)) < 0.05
    # and ends where the rise 2 x^2 reaches q of the depth 2.0: x = sqrt(q)
    assert abs(math.log10(lr[reading.floor_end]) - math.sqrt(FLOOR_FRACTION)) < 0.05
    middle = (X[reading.floor_start] + X[reading.floor_end]) / 2
    assert abs(X[reading.centre] - middle) <= 0.02 / 2 + 1e-12
    assert reading.top < reading.onset < reading.steepest < reading.floor_start
    assert reading.floor_start <= reading.minimum <= reading.floor_end
    assert reading.plateau == pytest.approx(2.3, abs=1e-3)
    assert reading.floor == pytest.approx(0.3, abs=1e-3)


def test_too_short_a_curve_has_no_usable_range() -> None:
    reading = read_curve(LR[: MIN_POINTS - 1], sigmoid_curve()[: MIN_POINTS - 1])
    assert not reading.usable
    assert reading.reason is not None
    assert "analysable" in reading.reason


def test_a_flat_curve_has_no_usable_range_and_says_how_little_it_fell() -> None:
    rng = np.random.default_rng(0)
    reading = read_curve(LR, 2.3 + 0.01 * rng.standard_normal(STEPS))
    assert not reading.usable
    assert reading.reason is not None
    assert "never fell clearly" in reading.reason


def test_a_curve_rising_from_its_first_point_says_so() -> None:
    reading = read_curve(LR, 0.2 + np.clip(X + 5, 0, None) ** 2)
    assert not reading.usable
    assert reading.reason is not None
    assert "rose from the first step" in reading.reason
    assert "lower start_lr" in reading.reason


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=80),
    w=st.integers(0, 10),
)
def test_running_median_stays_within_the_window_values(values: list[float], w: int) -> None:
    y = np.asarray(values)
    out = running_median(y, w)
    size = min(2 * w + 1, y.size)
    for i, value in enumerate(out):
        lo = min(max(i - size // 2, 0), y.size - size)
        window = y[lo : lo + size]
        assert window.min() <= value <= window.max()
