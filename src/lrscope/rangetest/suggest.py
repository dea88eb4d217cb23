"""Learning rates read off a range-test curve: pure functions, no torch, no plotting.

Every rule takes the recorded curve (``lr`` and a loss per step) and returns a
:class:`~lrscope.rangetest.result.Suggestion` that names the rule and, when
the rule could not be applied (a flat, short, noisy or immediately diverged
curve), the fallback taken and why. No rule returns NaN, infinity, zero or a
negative number, and none raises on a curve of any shape.

Two smoothings are used, for different jobs:

- the recorded ``smoothed_loss``, a causal debiased exponential moving average
  with :math:`\\beta = 0.98`. ``steepest``, ``valley`` and ``min_div_10`` read
  it, as the fastai and torch-lr-finder rules they follow were designed on it.
- a *centred* moving average of the raw loss (:func:`centered_loss`) for the
  CLR bounds ``min_lr`` and ``max_lr``. Seed 001 reads the bounds by eye off
  the plotted curve, where features sit at the lr that produced them. The
  causal average lags by about :math:`\\beta / (1 - \\beta) = 49` steps, which
  at 300 steps over six decades is about one decade of lr: its minimum comes
  after the point where the raw loss stopped falling, and a ``max_lr`` read
  there trains unstably (on ``mnist1d-cnn`` it lies at 0.3 to 0.6, and a
  one-cycle run peaking at 0.6 diverged). A centred window has no lag.

All slopes are taken against :math:`\\log_{10}` lr, so they are in units of loss
per decade and do not depend on the ramp being linear or exponential.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lrscope.rangetest.result import RangeTestResult, Suggestion, Suggestions

__all__ = [
    "FLAT_DROP_FRACTION",
    "ONSET_FRACTION",
    "STOP_FRACTION",
    "SUGGESTED_LR_METHOD",
    "VALLEY_DEPTH",
    "centered_loss",
    "clr_bounds",
    "max_lr",
    "min_div_10",
    "min_lr",
    "onecycle_max_lr",
    "steepest",
    "suggest",
    "valley",
]

FloatArray = npt.NDArray[np.float64]

#: A curve whose (smoothed) loss never falls by this fraction of its starting
#: level is treated as flat: nothing was learned over the tested range.
FLAT_DROP_FRACTION = 0.01

#: ``min_lr`` is where the loss has done this fraction of its total fall
#: (the fall has clearly started, above the noise of the plateau).
ONSET_FRACTION = 0.1

#: ``max_lr`` is where the loss has come within this fraction of its total
#: fall from its minimum (the fall has stopped).
STOP_FRACTION = 0.03

#: :func:`valley` suggests the point this fraction of the way down the descent.
VALLEY_DEPTH = 2 / 3

#: The rule behind ``suggested_lr`` (see :func:`suggest` for why).
SUGGESTED_LR_METHOD = "valley"


@dataclass(frozen=True)
class _Curve:
    """The analysable prefix of a curve: finite, positive, strictly increasing lr.

    ``x`` is :math:`\\log_{10}` lr, ``y`` the loss read by the rule; ``index``
    maps positions back to steps of the recorded curve.
    """

    lr: FloatArray
    x: FloatArray
    y: FloatArray
    index: npt.NDArray[np.int64]

    @property
    def n(self) -> int:
        return int(self.lr.size)

    def at(
        self, i: int, method: str, fallback: str | None = None, factor: float = 1.0
    ) -> Suggestion:
        return Suggestion(float(self.lr[i] * factor), method, fallback, int(self.index[i]))


def _prepare(lr: Sequence[float], loss: Sequence[float] | FloatArray) -> _Curve:
    """Keep the prefix that can be analysed.

    A non-finite loss ends the prefix (after one, an average is meaningless);
    points whose lr is not finite, not positive or not larger than every lr
    before it are dropped.
    """
    lr_arr = np.asarray(lr, dtype=np.float64)
    y_arr = np.asarray(loss, dtype=np.float64)
    n = min(lr_arr.size, y_arr.size)
    lr_arr, y_arr = lr_arr[:n], y_arr[:n]
    bad = np.flatnonzero(~np.isfinite(y_arr))
    if bad.size:
        lr_arr, y_arr = lr_arr[: bad[0]], y_arr[: bad[0]]
    keep: list[int] = []
    largest = 0.0
    for i, value in enumerate(lr_arr):
        # subnormal rates are noise, and a tenth of one underflows to zero
        if math.isfinite(value) and value > largest and value >= sys.float_info.min:
            keep.append(i)
            largest = float(value)
    index = np.asarray(keep, dtype=np.int64)
    kept_lr = lr_arr[index]
    return _Curve(kept_lr, np.log10(kept_lr), y_arr[index], index)


def _fallback_lr(lr: Sequence[float]) -> float:
    """A positive lr to fall back to when no point can be analysed at all."""
    finite = [v for v in lr if math.isfinite(v) and v >= sys.float_info.min]
    return float(finite[0]) if finite else 1e-3


def _edges(n: int) -> tuple[int, int]:
    """Points skipped at the start and the end for slopes: 10 % and 5 %, at least one."""
    return max(1, n // 10), max(1, n // 20)


def _is_flat(y: FloatArray) -> bool:
    """True when the loss never falls by :data:`FLAT_DROP_FRACTION` of its start level."""
    start = float(y[0])
    drop = start - float(np.min(y))
    return drop <= FLAT_DROP_FRACTION * max(abs(start), 1e-12)


def min_div_10(lr: Sequence[float], smoothed_loss: Sequence[float]) -> Suggestion:
    """The lr at the minimum of the smoothed loss, divided by 10.

    .. math:: \\eta = \\eta_{i^*} / 10, \\quad i^* = \\arg\\min_i s_i

    The minimum marks where larger steps stop paying off; a tenth of it is
    safely on the descending side (fastai's ``minimum`` rule). Fallbacks: a
    flat curve is reported (the rule still applies, but the minimum is noise);
    an empty curve gives the first lr.
    """
    curve = _prepare(lr, smoothed_loss)
    if curve.n == 0:
        return Suggestion(_fallback_lr(lr) / 10, "first_lr/10", "no finite loss recorded")
    i = int(np.argmin(curve.y))
    note = "flat curve: the minimum is noise" if _is_flat(curve.y) else None
    if i == 0 and note is None:
        note = "the loss never fell below its first value"
    return curve.at(i, "min_div_10", note, factor=0.1)


def steepest(lr: Sequence[float], smoothed_loss: Sequence[float]) -> Suggestion:
    """The lr where the smoothed loss falls fastest against :math:`\\log_{10}` lr.

    .. math:: \\eta = \\eta_{i^*}, \\quad
              i^* = \\arg\\min_{k \\le i < n - e} \\frac{\\partial s}{\\partial \\log_{10} \\eta}

    with central differences and the first ``k = n // 10`` and last
    ``e = n // 20`` points skipped (the first averages are over few batches;
    the last are divergence). Falls back to :func:`min_div_10` when the curve
    is shorter than 5 points, flat, or never falls.
    """
    curve = _prepare(lr, smoothed_loss)
    if curve.n < 5:
        return _via_min_div_10(lr, smoothed_loss, "curve shorter than 5 points")
    if _is_flat(curve.y):
        return _via_min_div_10(lr, smoothed_loss, "flat curve")
    start, end = _edges(curve.n)
    slope = np.gradient(curve.y, curve.x)[start : curve.n - end]
    if slope.size == 0 or float(np.min(slope)) >= 0:
        return _via_min_div_10(lr, smoothed_loss, "the loss never falls")
    return curve.at(start + int(np.argmin(slope)), "steepest")


def _longest_descent(y: FloatArray) -> tuple[int, int, int]:
    """Start, end and length of the longest strictly decreasing subsequence of ``y``.

    Dynamic programming, :math:`O(n^2)` comparisons done n at a time with
    numpy: ``length[i] = 1 + max(length[j] : j < i, y[j] > y[i])``.
    """
    n = y.size
    length = np.ones(n, dtype=np.int64)
    previous = np.full(n, -1, dtype=np.int64)
    for i in range(1, n):
        higher = np.flatnonzero(y[:i] > y[i])
        if higher.size:
            j = int(higher[np.argmax(length[higher])])
            length[i] = length[j] + 1
            previous[i] = j
    end = int(np.argmax(length))
    start = end
    while previous[start] >= 0:
        start = int(previous[start])
    return start, end, int(length[end])


def valley(
    lr: Sequence[float], smoothed_loss: Sequence[float], *, depth: float = VALLEY_DEPTH
) -> Suggestion:
    r"""fastai's *valley*: the point two thirds of the way down the longest descent.

    The valley is the longest strictly decreasing subsequence of the smoothed
    loss (not necessarily contiguous, so a noisy stretch still counts as one
    descent), from step ``a`` to step ``b``. The suggestion is the first step
    :math:`a \le i \le b` where the loss has come ``depth`` of the way down it:

    .. math:: s_i \le s_a - d\,(s_a - s_b), \quad d = 2/3

    fastai places its point by step count instead (halfway from ``a`` to
    ``b``). When the test starts far below the useful range, as the default
    1e-5 does, the descent begins inside the long flat plateau, and a point
    placed by step count lands in the plateau (measured on the built-in tasks:
    about 0.002 to 0.003, where nothing is learned yet). Placing it by loss
    skips the plateau, which contributes almost nothing to the depth, and
    lands where the loss falls fast but has not bottomed out. Falls back to
    :func:`min_div_10` when the curve is flat or the descent has fewer than
    3 points.
    """
    curve = _prepare(lr, smoothed_loss)
    if curve.n < 3 or _is_flat(curve.y):
        reason = "curve shorter than 3 points" if curve.n < 3 else "flat curve"
        return _via_min_div_10(lr, smoothed_loss, reason)
    start, end, length = _longest_descent(curve.y)
    if length < 3:
        return _via_min_div_10(lr, smoothed_loss, "no descent of 3 or more points")
    top, bottom = float(curve.y[start]), float(curve.y[end])
    level = top - min(max(depth, 0.0), 1.0) * (top - bottom)
    return curve.at(_first_at_or_below(curve.y, start, end, level), "valley")


def _via_min_div_10(lr: Sequence[float], smoothed_loss: Sequence[float], reason: str) -> Suggestion:
    fallback = min_div_10(lr, smoothed_loss)
    note = reason if fallback.fallback is None else f"{reason}; {fallback.fallback}"
    return Suggestion(fallback.lr, fallback.method, note, fallback.index)


def centered_loss(loss: Sequence[float], half_width: int) -> FloatArray:
    """Centred moving average of the raw loss, :math:`2w + 1` points wide.

    .. math:: c_i = \\frac{1}{|W_i|} \\sum_{j \\in W_i} \\ell_j, \\quad
              W_i = \\{j : |j - i| \\le w, 0 \\le j < n\\}

    The window shrinks at the ends. It has no lag, unlike the recorded
    exponential average. Non-finite values are returned unchanged.
    """
    y = np.asarray(loss, dtype=np.float64)
    w = max(0, int(half_width))
    if y.size == 0 or w == 0:
        return y.copy()
    finite = np.isfinite(y)
    values = np.where(finite, y, 0.0)
    total = np.concatenate(([0.0], np.cumsum(values)))
    count = np.concatenate(([0], np.cumsum(finite)))
    hi = np.minimum(np.arange(y.size) + w + 1, y.size)
    lo = np.maximum(np.arange(y.size) - w, 0)
    denom = np.maximum(count[hi] - count[lo], 1)
    out = (total[hi] - total[lo]) / denom
    return np.where(finite, out, y)


def default_half_width(steps: int) -> int:
    """Half-width of the centred window: 2 % of the planned steps, at least 2."""
    return max(2, round(0.02 * steps))


def _fall(y: FloatArray) -> tuple[int, int]:
    """``(i_top, i_min)``: the minimum of ``y`` and the highest point before it."""
    i_min = int(np.argmin(y))
    return int(np.argmax(y[: i_min + 1])), i_min


def _first_at_or_below(y: FloatArray, start: int, stop: int, level: float) -> int:
    """First index in ``[start, stop]`` where ``y <= level`` (``stop`` satisfies it)."""
    return start + int(np.flatnonzero(y[start : stop + 1] <= level)[0])


@dataclass(frozen=True)
class _Landmarks:
    """Positions on the centred curve: top of the plateau, onset and stop of the fall, minimum."""

    top: int
    onset: int
    stop: int
    minimum: int


def _landmarks(curve: _Curve) -> _Landmarks:
    i_top, i_min = _fall(curve.y)
    c_top, c_min = float(curve.y[i_top]), float(curve.y[i_min])
    depth = c_top - c_min
    onset = _first_at_or_below(curve.y, i_top, i_min, c_top - ONSET_FRACTION * depth)
    stop = _first_at_or_below(curve.y, onset, i_min, c_min + STOP_FRACTION * depth)
    return _Landmarks(i_top, onset, stop, i_min)


def max_lr(lr: Sequence[float], loss: Sequence[float], *, half_width: int) -> Suggestion:
    r"""Seed 001's upper CLR bound: where the fall of the loss stops or reverses.

    Seed 001 (section 3.3) sets ``max_lr`` where the accuracy "slows, becomes
    ragged, or starts to fall". Read on the centred average ``c`` of the loss
    (:func:`centered_loss`, no lag), with :math:`i_{min} = \arg\min_i c_i`,
    :math:`c_{top} = \max_{i \le i_{min}} c_i` and ``f`` =
    :data:`STOP_FRACTION` (0.03), the fall has stopped at the first step
    :math:`i \le i_{min}` where 97 % of it is done:

    .. math:: c_i \le c_{min} + f\,(c_{top} - c_{min})

    A steady fall that turns up sharply (reverses) stops a few steps before
    the minimum; a fall that flattens into a floor (slows) stops where the
    floor begins, not at its lowest point, which the noise moves about.
    Raggedness averages into a higher ``c``. ``f`` is a compromise measured on
    the built-in tasks (10 seeds each): 0 (the minimum itself) sits on the
    noisy floor and varies most; 0.1 stops early on curves that fall in two
    steps; 0.03 varied least (largest / smallest over seeds: 2.9, 1.9, 1.7,
    1.5 on mnist1d-cnn, mnist1d-mlp, digits-lenet, digits-mlp). Its cost: on
    a noisy curve that creeps slowly onto a flat floor the 97 % point moves
    with the noise (a synthetic with noise of 5 % of the fall: median 0.15,
    worst 0.7 decades over 40 draws; 0.08 and 0.44 with ``f = 0.05``).
    Fallbacks: a flat curve gives the largest lr tested (nothing failed), an
    empty curve the first lr; a fall still going at the end is flagged.
    """
    curve = _prepare(lr, centered_loss(loss, half_width))
    if curve.n == 0:
        return Suggestion(_fallback_lr(lr), "first_lr", "no finite loss recorded")
    if _is_flat(curve.y):
        return curve.at(curve.n - 1, "last_lr", "flat curve: no fall to end")
    marks = _landmarks(curve)
    note = None
    if marks.stop == curve.n - 1:
        note = "the loss was still falling at the end of the test: raise end_lr"
    return curve.at(marks.stop, "fall_stops", note)


def min_lr(
    lr: Sequence[float], loss: Sequence[float], upper: Suggestion, *, half_width: int
) -> Suggestion:
    """Seed 001's lower CLR bound: where the loss starts to fall.

    On the centred average ``c`` (as :func:`max_lr`), the top of the plateau
    before the minimum is :math:`c_{top} = \\max_{i \\le i_{min}} c_i`; the fall
    has started at the first step after that top where
    :math:`c_i \\le c_{top} - f (c_{top} - c_{min})`, ``f`` =
    :data:`ONSET_FRACTION`. When no such onset can be read, because the curve
    is flat, the loss falls from the first analysed point (no plateau: the test
    began above the useful range), or the onset is not below ``upper``, seed
    001's rule of thumb applies: ``base_lr = max_lr / 4`` (the optimum is
    within a factor of two of the largest lr that converges; the lower bound
    is a third or a quarter of ``max_lr``).
    """
    curve = _prepare(lr, centered_loss(loss, half_width))
    reason: str | None = None
    if curve.n < 3 or _is_flat(curve.y):
        reason = "curve too short or flat"
    else:
        onset = _landmarks(curve).onset
        if onset <= max(half_width, 1):
            reason = "the loss falls from the start: no plateau before the fall"
        elif curve.lr[onset] >= upper.lr:
            reason = "the onset of the fall is not below max_lr"
        else:
            return curve.at(onset, "loss_onset")
    return Suggestion(upper.lr / 4, "max_lr/4", reason, None)


def clr_bounds(
    lr: Sequence[float], loss: Sequence[float], *, half_width: int
) -> tuple[Suggestion, Suggestion]:
    """``(min_lr, max_lr)`` for triangular CLR policies (seed 001, section 3.3)."""
    upper = max_lr(lr, loss, half_width=half_width)
    return min_lr(lr, loss, upper, half_width=half_width), upper


def onecycle_max_lr(upper: Suggestion) -> Suggestion:
    """Peak of a one-cycle policy: the CLR upper bound ``max_lr``.

    Super-convergence (seed 000, section 2; seed 003, section 4.4) uses one
    cycle whose peak is the largest lr that still trains, read off the range
    test; the short time spent near the peak and the annealing after it keep
    such a peak stable. The upper bound where the loss stops falling is that
    lr, so it is used unchanged.
    """
    return Suggestion(upper.lr, "max_lr", upper.fallback, upper.index)


def _within_bounds(chosen: Suggestion, upper: Suggestion) -> Suggestion:
    """``chosen``, or ``upper`` when it lies above ``upper`` (seed 001: bounds hold the optimum)."""
    if chosen.lr <= upper.lr:
        return chosen
    reason = f"{chosen.method} ({chosen.lr:.3g}) above max_lr: capped at max_lr"
    return Suggestion(upper.lr, "max_lr", reason, upper.index)


def suggest(result: RangeTestResult) -> Suggestions:
    """All suggestions for a range-test result (pure: reads only the curves).

    ``suggested_lr``, the one constant lr to use, is :func:`valley` (the
    :data:`SUGGESTED_LR_METHOD`) capped at ``max_lr``: the rule whose worst
    case moved least from seed to seed. Measured with 10 seeds of the default
    test on ``mnist1d-cnn``, ``mnist1d-mlp``, ``digits-lenet`` and
    ``digits-mlp``, largest / smallest value: valley 1.91, 1.38, 1.32, 1.10
    (capped: 1.91, 1.38, 1.45, 1.45); min_div_10 3.48, 1.26, 1.45, 1.38;
    steepest 3.48, 93, 1.59, 1.66. A depth read off the loss averages over
    the whole descent; ``min_div_10`` sits on the lowest point of a curve
    whose bottom is flat and noisy; ``steepest`` differentiates the noise.

    The cap applies seed 001's reading that a good constant lr lies within
    the CLR bounds. It matters because the valley is read on the causal
    smoothed loss, which lags: where the loss bottoms out quickly, or ends in
    a broad floor, the lagging average is still descending past the point
    where the (lag-free) fall stopped.
    """
    lr, smoothed, raw = result.lr, result.smoothed_loss, result.loss
    width = default_half_width(result.steps)
    lower, upper = clr_bounds(lr, raw, half_width=width)
    rules = {
        "steepest": steepest(lr, smoothed),
        "valley": valley(lr, smoothed),
        "min_div_10": min_div_10(lr, smoothed),
    }
    return Suggestions(
        suggested_lr=_within_bounds(rules[SUGGESTED_LR_METHOD], upper),
        min_lr=lower,
        max_lr=upper,
        onecycle_max_lr=onecycle_max_lr(upper),
        steepest=rules["steepest"],
        valley=rules["valley"],
        min_div_10=rules["min_div_10"],
    )
