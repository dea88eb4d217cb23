r"""Reading a range-test curve: a robust, lag-free loss and the landmarks of its descent.

Every suggestion (:mod:`lrscope.rangetest.suggest`) is read off one
:class:`Reading` of the recorded curve, so the numbers cannot contradict each
other: they are positions on the same descent of the same curve.

The curve read is not the recorded ``smoothed_loss``. That causal exponential
average (:math:`\beta = 0.98`) has two faults for reading positions:

- it *lags* by about :math:`\beta / (1 - \beta) = 49` steps, one decade of lr
  at 300 steps over six decades and 1.5 decades at 200 steps, so every
  feature it shows sits at a larger lr than the one that produced it;
- it *remembers* a spike for about :math:`1 / (1 - \beta)` steps, and its
  debiasing gives the first steps a weight near :math:`1 / (t + 1)`, so one
  hard batch at step 1 (an outlier, a mislabelled or badly augmented batch, a
  warm-up transient) is still decaying 50 steps later, and that decay reads
  as a descent.

:func:`robust_loss` instead takes the running median of the raw batch losses
over a centred window of :math:`2w + 1` steps, then the centred mean of that
over the same window:

.. math:: m_i = \operatorname{median}\{\ell_j : j \in W_i\}, \qquad
          r_i = \frac{1}{|V_i|} \sum_{j \in V_i} m_j

with ``w`` = :func:`default_half_width` (2 % of the planned steps, at least 2).
The median window ``W_i`` keeps its full size at the ends of the curve (it is
shifted inwards, not shrunk), so every median is over :math:`2w + 1` losses
and a burst of up to ``w`` consecutive outliers anywhere, also at the first
step, moves it only to a neighbouring clean loss, never towards the
outliers. The mean window ``V_i`` shrinks at the ends. Both are centred:
``r`` has no lag.

A median also ignores the sparse spikes of a run that has turned unstable;
those show in the rules only once they are frequent enough to raise the
median. What the rules need of the unstable end of the curve is where the
loss is back at its starting level (:attr:`Reading.back`), and there the
median has long risen.

All positions are indices into the analysable prefix of the curve
(:func:`analysable`): the steps before the first non-finite loss, with a
finite, positive lr larger than every lr before it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "CENTROID_POWER",
    "FLOOR_FRACTION",
    "MIN_DROP_FRACTION",
    "MIN_DROP_NOISE",
    "MIN_POINTS",
    "ONSET_FRACTION",
    "Curve",
    "Reading",
    "analysable",
    "centered_loss",
    "default_half_width",
    "read_curve",
    "robust_loss",
    "robust_std",
    "running_median",
    "sustained_above",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: A curve with fewer analysable points than this has no usable range.
MIN_POINTS = 8

#: The fall from the plateau to the floor must be at least this fraction of
#: the plateau level ... (the built-in tasks fall by 23 to 95 %; MNIST-1D with
#: random labels by 0.6 to 1.0 %, learning only how its output is spread)
MIN_DROP_FRACTION = 0.05

#: ... and at least this many standard deviations of the batch-to-batch noise
#: of the loss around the robust curve: small, noisy data with random labels
#: (the tests' tiny blobs) falls by 7 to 10 % of its plateau, but by fewer
#: than 2 noise widths.
MIN_DROP_NOISE = 4.0


def default_half_width(steps: int) -> int:
    """Half-width ``w`` of the centred windows: 2 % of the planned steps, at least 2."""
    return max(2, round(0.02 * steps))


@dataclass(frozen=True)
class Curve:
    """The analysable prefix of a recorded curve.

    ``lr`` is strictly increasing, finite and positive; ``x`` is
    :math:`\\log_{10}` lr; ``loss`` the raw batch losses (all finite);
    ``index`` maps positions back to steps of the recorded curve.
    """

    lr: FloatArray
    x: FloatArray
    loss: FloatArray
    index: IntArray

    @property
    def n(self) -> int:
        return int(self.lr.size)


def analysable(lr: Sequence[float] | FloatArray, loss: Sequence[float] | FloatArray) -> Curve:
    """The prefix of ``(lr, loss)`` that can be read.

    A non-finite loss ends it (the test diverged there; averages over it are
    meaningless); a point whose lr is not finite, is below the smallest
    normal float or is not larger than every lr before it is dropped.
    """
    lr_arr = np.asarray(lr, dtype=np.float64).ravel()
    y_arr = np.asarray(loss, dtype=np.float64).ravel()
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
    kept = lr_arr[index]
    return Curve(kept, np.log10(kept), y_arr[index], index)


def running_median(values: Sequence[float] | FloatArray, half_width: int) -> FloatArray:
    """Median over a window of :math:`2w + 1` points centred on each point.

    Near the ends the window is shifted inwards so that it keeps its size
    (``min(2w + 1, n)`` points); a burst of up to ``w`` outliers is removed
    anywhere. ``values`` must be finite.
    """
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    size = min(2 * max(0, int(half_width)) + 1, n)
    if n == 0 or size <= 1:
        return y.copy()
    windows = np.lib.stride_tricks.sliding_window_view(y, size)
    medians = np.median(windows, axis=1)  # medians[k] is over y[k : k + size]
    start = np.clip(np.arange(n) - size // 2, 0, n - size)
    return np.asarray(medians[start], dtype=np.float64)


def centered_loss(loss: Sequence[float] | FloatArray, half_width: int) -> FloatArray:
    """Centred moving average of the raw loss, :math:`2w + 1` points wide.

    .. math:: c_i = \\frac{1}{|W_i|} \\sum_{j \\in W_i} \\ell_j, \\quad
              W_i = \\{j : |j - i| \\le w, 0 \\le j < n\\}

    The window shrinks at the ends. It has no lag, unlike the recorded
    exponential average. Non-finite values are returned unchanged and left
    out of their neighbours' averages.
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


def robust_loss(loss: Sequence[float] | FloatArray, half_width: int) -> FloatArray:
    """The curve every rule reads: centred mean of the running median (see the module)."""
    return centered_loss(running_median(loss, half_width), half_width)


def robust_std(residuals: FloatArray) -> float:
    """Standard deviation from the median absolute deviation (1.4826 MAD; 0.0 when empty)."""
    if residuals.size == 0:
        return 0.0
    centre = float(np.median(residuals))
    return 1.4826 * float(np.median(np.abs(residuals - centre)))


def sustained_above(losses: Sequence[float], threshold: float, half_width: int) -> bool:
    """True when the median of the last :math:`2w + 1` losses exceeds ``threshold``.

    The range test's divergence check (:func:`lrscope.rangetest.range_test`):
    a burst of up to ``w`` outliers cannot trip it, a loss that has really
    grown does within about ``w`` steps. False while fewer than
    :math:`2w + 1` losses are recorded.
    """
    size = 2 * max(0, int(half_width)) + 1
    if len(losses) < size:
        return False
    recent = sorted(losses[-size:])
    return recent[size // 2] > threshold


#: ``onset``: where the robust loss has done this fraction of its fall.
ONSET_FRACTION = 0.1

#: The floor is where the robust loss is within this fraction of the depth
#: of its minimum (see :class:`Reading`).
FLOOR_FRACTION = 0.3

#: The dip's centre weighs each step by the cube of how far its robust loss
#: is below the plateau (see :class:`Reading`).
CENTROID_POWER = 3.0


@dataclass(frozen=True)
class Reading:
    r"""One reading of a range-test curve, shared by every rule.

    With ``r`` the robust loss (:func:`robust_loss`) of the analysable curve
    and :math:`x_i = \log_{10} \eta_i`, as indices into it:

    - ``minimum``: :math:`m = \arg\min_i r_i`; ``floor`` :math:`F = r_m`;
    - ``top``: :math:`T = \arg\max_{i \le m} r_i`, the top of the plateau
      before the fall;
    - ``plateau``: the level ``P`` the loss falls from, the median of the raw
      losses up to where ``r`` has first done :data:`ONSET_FRACTION` of its
      fall from :math:`r_T` (a median: a hard batch or a noisy maximum does not
      raise it); ``depth`` :math:`D = P - F`;
    - ``onset``: the last step before the first one after ``T`` with
      :math:`r_i \le P - 0.1 D` (where the fall has started; its loss is
      above that of every step of the floor);
    - ``steepest``: where ``r`` falls fastest against ``x`` in ``[T, m]``;
    - ``floor_start``, ``floor_end``: the run of steps around ``m`` with
      :math:`r_i \le F + q D` (``q`` = :data:`FLOOR_FRACTION`): the *floor*,
      where the fall has stopped and the loss has not yet risen again;
    - ``back``: the first step after ``m`` where ``r`` is back at ``P``
      (training has failed outright; the last step when that never happens);
    - ``centre``: the middle of the dip, the step nearest
      :math:`\bar x = \sum_i x_i w_i / \sum_i w_i`, :math:`w_i = (P - r_i)_+^3`
      over ``[T, back]``, moved into the floor when it falls outside. Weighing
      every step of the dip, deepest most, makes it move far less with the
      noise than any single crossing of a level (over 10 seeds of each
      built-in task, largest / smallest: 1.7, 1.3, 1.2, 1.2 against 2.1, 1.2,
      1.3, 1.2 for the middle of the floor).

    ``noise`` is the standard deviation of the raw loss around ``r`` up to
    ``m`` (:func:`robust_std`), the batch-to-batch noise.

    ``usable`` is False when the curve cannot give a range: fewer than
    :data:`MIN_POINTS` analysable steps, or a fall ``D`` smaller than
    :data:`MIN_DROP_FRACTION` of ``P`` or than :data:`MIN_DROP_NOISE` noise
    widths (a curve that stays level, or rises from its first point).
    ``reason`` then says which and what to change, and only ``level_end`` is
    read: the last step before ``r`` first rises more than ``noise`` above
    its starting level :math:`r_0`; up to there the loss is at most its plateau.
    """

    curve: Curve
    half_width: int
    robust: FloatArray
    usable: bool
    reason: str | None
    level_end: int = 0
    noise: float = 0.0
    top: int = 0
    onset: int = 0
    steepest: int = 0
    minimum: int = 0
    floor_start: int = 0
    floor_end: int = 0
    back: int = 0
    centre: int = 0
    plateau: float = math.nan
    floor: float = math.nan

    @property
    def depth(self) -> float:
        return self.plateau - self.floor

    @property
    def still_falling(self) -> bool:
        """True when the lowest robust loss is at the last analysed step (raise ``end_lr``)."""
        return self.usable and self.minimum == self.curve.n - 1


def _first_at_or_below(y: FloatArray, start: int, stop: int, level: float) -> int:
    """First index in ``[start, stop]`` where ``y <= level`` (``stop`` must satisfy it)."""
    return start + int(np.flatnonzero(y[start : stop + 1] <= level)[0])


def _floor_stretch(r: FloatArray, minimum: int, level: float) -> tuple[int, int]:
    """The run of steps around ``minimum`` with ``r <= level``."""
    start = minimum
    while start > 0 and r[start - 1] <= level:
        start -= 1
    end = minimum
    while end + 1 < r.size and r[end + 1] <= level:
        end += 1
    return start, end


def _back(r: FloatArray, minimum: int, plateau: float) -> int:
    above = np.flatnonzero(r[minimum:] >= plateau)
    return minimum + int(above[0]) if above.size else int(r.size) - 1


def _level_end(r: FloatArray, noise: float) -> int:
    above = np.flatnonzero(r > r[0] + noise)
    return int(above[0]) - 1 if above.size else int(r.size) - 1


def _centre(
    curve: Curve, r: FloatArray, span: tuple[int, int], floor: tuple[int, int], plateau: float
) -> int:
    top, back = span
    weights = np.clip(plateau - r[top : back + 1], 0.0, None) ** CENTROID_POWER
    total = float(np.sum(weights))
    middle = float(np.sum(weights * curve.x[top : back + 1]) / total) if total > 0 else curve.x[top]
    start, end = floor
    middle = min(max(middle, float(curve.x[start])), float(curve.x[end]))
    return start + int(np.argmin(np.abs(curve.x[start : end + 1] - middle)))


def _too_short(curve: Curve, w: int) -> Reading:
    reason = (
        f"only {curve.n} analysable step(s) (finite loss, increasing lr); at least "
        f"{MIN_POINTS} are needed: run more steps, or lower end_lr if it diverged at once"
    )
    return Reading(curve, w, robust_loss(curve.loss, w), False, reason)


def _unusable(
    curve: Curve, w: int, r: FloatArray, plateau: float, floor: float, noise: float
) -> Reading:
    depth = plateau - floor
    if int(np.argmin(r)) <= 2 * w or depth <= 0:
        reason = (
            f"the loss rose from the first step (lr {curve.lr[0]:.3g}): start_lr is already "
            "too large, or the model is already trained; lower start_lr"
        )
    else:
        short = (
            f"{MIN_DROP_NOISE:g} noise widths ({MIN_DROP_NOISE * noise:.3g})"
            if depth >= MIN_DROP_FRACTION * abs(plateau)
            else f"{MIN_DROP_FRACTION:.0%} of it"
        )
        reason = (
            f"the loss never fell clearly: by {depth:.3g} from its plateau {plateau:.4g} "
            f"({depth / max(abs(plateau), 1e-12):.1%}), less than {short}; nothing in lr "
            f"{curve.lr[0]:.3g} to {curve.lr[-1]:.3g} trains it further (is it trained "
            "already? else check the labels and the loss, or widen the lr range)"
        )
    return Reading(curve, w, r, False, reason, level_end=_level_end(r, noise), noise=noise)


def read_curve(
    lr: Sequence[float] | FloatArray,
    loss: Sequence[float] | FloatArray,
    half_width: int | None = None,
) -> Reading:
    """Read ``(lr, loss)`` (the raw batch losses); ``half_width`` defaults to 2 % of its length."""
    curve = analysable(lr, loss)
    w = default_half_width(len(loss)) if half_width is None else max(1, int(half_width))
    if curve.n < MIN_POINTS:
        return _too_short(curve, w)
    r = robust_loss(curve.loss, w)
    minimum = int(np.argmin(r))
    top = int(np.argmax(r[: minimum + 1]))
    floor = float(r[minimum])
    first = _first_at_or_below(r, top, minimum, r[top] - ONSET_FRACTION * (r[top] - floor))
    plateau = min(float(np.median(curve.loss[: first + 1])), float(r[top]))
    depth = plateau - floor
    span = max(minimum, 2 * w) + 1
    noise = robust_std(curve.loss[:span] - r[:span])
    if not depth >= max(MIN_DROP_FRACTION * abs(plateau), MIN_DROP_NOISE * noise, 1e-12):
        return _unusable(curve, w, r, plateau, floor, noise)
    # the last step before the fall passes 10 %: its loss is above every step of the floor
    onset = max(top, _first_at_or_below(r, top, minimum, plateau - ONSET_FRACTION * depth) - 1)
    stretch = _floor_stretch(r, minimum, floor + FLOOR_FRACTION * depth)
    back = _back(r, minimum, plateau)
    slope = np.gradient(r, curve.x)
    return Reading(
        curve,
        w,
        r,
        True,
        None,
        level_end=_level_end(r, noise),
        noise=noise,
        top=top,
        onset=onset,
        steepest=top + int(np.argmin(slope[top : minimum + 1])),
        minimum=minimum,
        floor_start=stretch[0],
        floor_end=stretch[1],
        back=back,
        centre=_centre(curve, r, (top, back), stretch, plateau),
        plateau=plateau,
        floor=floor,
    )
