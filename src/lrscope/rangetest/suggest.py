r"""Learning rates read off a range-test curve: pure functions, no torch, no plotting.

Every rule reads the same :class:`~lrscope.rangetest.reading.Reading` of the
raw batch losses: the robust, lag-free loss ``r`` (running median, then
centred mean; :func:`~lrscope.rangetest.reading.robust_loss`) and the
landmarks of its one dip: the plateau's ``top`` and level ``P``, the
``onset`` of the fall, the *floor* (where the fall has stopped and the loss
has not yet risen again), the dip's depth-weighted ``centre``, and ``back``,
where the loss is back at ``P`` (training failed outright). Reading one curve
once is what keeps the numbers consistent: always

.. math:: \text{min\_lr} \le \text{suggested\_lr} \le \text{max\_lr},

and for a usable test the band ``[min_lr, max_lr]`` runs from the fall's
onset to the dip's centre, which lies on the floor: the robust loss is lower
at ``max_lr`` than at ``min_lr`` and the band never reaches where the loss
rises again.

Why not the recorded ``smoothed_loss``, on which fastai and torch-lr-finder
read their rules? It lags by about 49 steps and remembers a spike for as
long (:mod:`lrscope.rangetest.reading`): an outlier batch at step 1 moved
``suggested_lr`` by three decades, and in a test of 200 steps the lag put the
cyclic band where the raw loss was already spiking. Rules read on ``r`` are
robust to bursts of up to ``w`` outliers anywhere (``w`` = 2 % of the steps)
and sit at the lr that produced the feature.

The numbers (:math:`\eta_i` is the lr of step ``i``; ``c`` the centre, ``m``
the minimum, ``T`` the top):

==================  ================================================  ==============
suggestion          value                                             ``method``
==================  ================================================  ==============
``max_lr``          :math:`\eta_c`                                    ``fall_stops``
``suggested_lr``    :math:`k_f\,\eta_c`, :data:`CONSTANT_FRACTION`    ``floor``
``onecycle_max_lr`` :math:`\max(k_p\,\eta_c,\ k_b\,\eta_{back})`,     ``floor_peak``
                    :data:`PEAK_FACTOR`, :data:`BLOWUP_FRACTION`
``min_lr``          :math:`\eta_{onset}` (10 % of the fall done)      ``loss_onset``
``steepest``        steepest fall of ``r`` in ``[T, m]``              ``steepest``
``valley``          first step in ``[T, m]`` 2/3 of the way down      ``valley``
``min_div_10``      :math:`\eta_m / 10`                               ``min_div_10``
==================  ================================================  ==============

The three constants say where, relative to the dip, training for a full
budget did best. They were measured, not derived: one-cycle (PyTorch's
``OneCycleLR`` form) and FIX trained for 150 epochs on ``mnist1d-cnn``,
``digits-lenet`` and ``digits-mlp`` on log grids of peaks and rates (trial
seeds 0-5), read against range tests of seeds 0-9; ``benchmarks/suggestions.py``
judges them on seeds (100-104) the measurement never used. Where the median
final top-1 was within half a point of its best (centre = the median over
the 10 range tests):

- constant rates: 0.43-1.2 times the centre on ``digits-lenet`` (1.7 times
  failed), 0.5-2.8 on ``digits-mlp``, and on ``mnist1d-cnn`` only near 0.8
  (0.6-1.05 within a point; 1.1 times lost 2.7 points): ``k_f = 0.8``;
- one-cycle peaks: 1.2-2.0 times the centre on ``mnist1d-cnn`` (2.8 times
  failed), 0.6-1.9 on ``digits-lenet`` (2.1 times failed), 1.4-5.7 on
  ``digits-mlp``, whose dip is wide and whose floor is long: 0.15-0.59 times
  the lr where its loss was back at the plateau. Hence ``k_p = 1.5`` and
  ``k_b = 0.25``, the larger of the two taken: Smith and Topin (2017) peak
  at the largest lr that still trains, and a test whose loss stays low far
  beyond its dip's centre shows a larger one.

Fallbacks, each recorded in the suggestion's ``fallback`` (the rule named in
``method`` is the one that produced the number):

- ``min_lr`` is ``max_lr / 4`` (``max_lr/4``; Smith 2017, section 3.3: the
  lower bound is a third or a quarter of the upper one) when the onset is
  not below ``suggested_lr`` or the loss falls from the first step (no
  plateau: the test began inside the useful range).
- ``max_lr`` notes a fall still going at the end of the test; a peak beyond
  the largest lr tested is that lr (``last_lr``); a peak set by the blow-up
  of a test that ended at ``end_lr`` before the loss blew up notes that it
  is a lower bound. Each says: raise ``end_lr``.
- A test with no usable range (:attr:`Reading.usable` false: too short, or
  a loss that never fell clearly) still gets finite, ordered numbers, all at
  or below the last step before the loss rose above its starting level
  (``level_end``), with ``min_lr = suggested_lr = max_lr / 4`` and the peak
  at ``max_lr``; every one records why, ``Suggestions.usable`` is false and
  ``Suggestions.reason`` says what to change.

No rule returns NaN, infinity, zero or a negative number, and none raises on
a curve of any shape. All slopes are against :math:`\log_{10}` lr, so nothing
depends on the ramp being exponential or linear.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from lrscope.rangetest.reading import (
    FLOOR_FRACTION,
    ONSET_FRACTION,
    FloatArray,
    Reading,
    centered_loss,
    default_half_width,
    read_curve,
    robust_loss,
)
from lrscope.rangetest.suggestions import Suggestion, Suggestions

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rangetest.result import RangeTestResult

__all__ = [
    "BLOWUP_FRACTION",
    "CONSTANT_FRACTION",
    "FLOOR_FRACTION",
    "ONSET_FRACTION",
    "PEAK_FACTOR",
    "SUGGESTED_LR_METHOD",
    "VALLEY_DEPTH",
    "centered_loss",
    "clr_bounds",
    "default_half_width",
    "max_lr",
    "min_div_10",
    "min_lr",
    "onecycle_max_lr",
    "robust_loss",
    "steepest",
    "suggest",
    "suggested_lr",
    "valley",
]

#: ``suggested_lr`` is this fraction of ``max_lr``, the dip's centre: a
#: constant rate is held for the whole run, so it stays below the centre.
CONSTANT_FRACTION = 0.8

#: The one-cycle peak is at least this multiple of ``max_lr`` ...
PEAK_FACTOR = 1.5

#: ... and at least this fraction of the lr where the loss is back at its plateau.
BLOWUP_FRACTION = 0.25

#: :func:`valley` suggests the point this fraction of the way down the fall.
VALLEY_DEPTH = 2 / 3

#: The rule behind ``suggested_lr``.
SUGGESTED_LR_METHOD = "floor"

#: An lr or loss curve as the rules take it: floats in step order, or a float64 array.
CurveLike = Sequence[float] | FloatArray


def _fallback_lr(lr: CurveLike) -> float:
    """A positive lr to fall back to when no point can be analysed at all."""
    finite = [float(v) for v in lr if math.isfinite(v) and v >= sys.float_info.min]
    return finite[0] if finite else 1e-3


def _at(
    reading: Reading, i: int, method: str, fallback: str | None = None, factor: float = 1.0
) -> Suggestion:
    curve = reading.curve
    return Suggestion(float(curve.lr[i] * factor), method, fallback, int(curve.index[i]))


def _nearest(reading: Reading, lr: float) -> int:
    """The recorded step whose lr is nearest ``lr`` in :math:`\\log_{10}`."""
    return int(np.argmin(np.abs(reading.curve.x - math.log10(lr))))


def _scaled(reading: Reading, lr: float, method: str, fallback: str | None = None) -> Suggestion:
    """A suggestion at ``lr``, indexed at the nearest recorded step."""
    index = int(reading.curve.index[_nearest(reading, lr)])
    return Suggestion(lr, method, fallback, index)


def _read(lr: CurveLike, loss: CurveLike, half_width: int | None) -> Reading:
    return read_curve(lr, loss, half_width)


# --- the rules, each on one reading --------------------------------------------------
def _min_div_10(reading: Reading, lr: CurveLike) -> Suggestion:
    if reading.curve.n == 0:
        return Suggestion(_fallback_lr(lr) / 10, "first_lr/10", "no finite loss recorded")
    note = None if reading.usable else f"no usable range: the minimum is noise ({reading.reason})"
    i = int(np.argmin(reading.robust))
    return _at(reading, i, "min_div_10", note, factor=0.1)


def _via_min_div_10(reading: Reading, lr: CurveLike, why: str) -> Suggestion:
    fallback = _min_div_10(reading, lr)
    note = why if fallback.fallback is None else f"{why}; {fallback.fallback}"
    return Suggestion(fallback.lr, fallback.method, note, fallback.index)


def _steepest(reading: Reading, lr: CurveLike) -> Suggestion:
    if not reading.usable:
        return _via_min_div_10(reading, lr, "the loss never falls")
    return _at(reading, reading.steepest, "steepest")


def _valley(reading: Reading, lr: CurveLike, depth: float) -> Suggestion:
    if not reading.usable:
        return _via_min_div_10(reading, lr, "the loss never falls")
    level = reading.plateau - min(max(depth, 0.0), 1.0) * reading.depth
    below = np.flatnonzero(reading.robust[reading.top : reading.minimum + 1] <= level)
    return _at(reading, reading.top + int(below[0]), "valley")


def _level_end(reading: Reading, lr: CurveLike) -> Suggestion:
    """For a test without a usable range: the last step whose loss is at most its start."""
    why = f"no usable range: {reading.reason}"
    if reading.curve.n == 0:
        return Suggestion(_fallback_lr(lr), "first_lr", why)
    return _at(reading, reading.level_end, "level_end", why)


def _max_lr(reading: Reading, lr: CurveLike) -> Suggestion:
    if not reading.usable:
        return _level_end(reading, lr)
    note = None
    if reading.still_falling:
        note = "the loss was still falling at the end of the test: raise end_lr"
    return _at(reading, reading.centre, "fall_stops", note)


def _suggested(reading: Reading, upper: Suggestion) -> Suggestion:
    if not reading.usable:
        return Suggestion(upper.lr / 4, "max_lr/4", upper.fallback, upper.index)
    return _scaled(reading, CONSTANT_FRACTION * upper.lr, SUGGESTED_LR_METHOD)


def _min_lr(reading: Reading, upper: Suggestion, constant: Suggestion) -> Suggestion:
    if not reading.usable:
        return Suggestion(upper.lr / 4, "max_lr/4", upper.fallback, None)
    onset = reading.onset
    if onset <= 2 * reading.half_width:  # within the first median window
        reason = "the loss falls from the start: no plateau before the fall"
    elif reading.curve.lr[onset] > constant.lr:
        reason = "the onset of the fall is not below suggested_lr"
    else:
        return _at(reading, onset, "loss_onset")
    return Suggestion(upper.lr / 4, "max_lr/4", reason, None)


def _peak(reading: Reading, upper: Suggestion, diverged: bool | None) -> Suggestion:
    if not reading.usable:
        return Suggestion(upper.lr, "max_lr", upper.fallback, upper.index)
    blowup = BLOWUP_FRACTION * float(reading.curve.lr[reading.back])
    peak = max(blowup, PEAK_FACTOR * upper.lr)
    if peak > float(reading.curve.lr[-1]):
        why = "capped at the largest lr tested (the loss never blew up): raise end_lr"
        return _at(reading, reading.curve.n - 1, "last_lr", why)
    note = None
    never_failed = reading.robust[reading.back] < reading.plateau and diverged is False
    if blowup >= PEAK_FACTOR * upper.lr and never_failed:
        note = "the test ended before the loss blew up: a lower bound; raise end_lr"
    return _scaled(reading, peak, "floor_peak", note)


# --- the public rule functions ----------------------------------------------------
def min_div_10(lr: CurveLike, loss: CurveLike, *, half_width: int | None = None) -> Suggestion:
    """The lr at the minimum of the robust loss, divided by 10 (fastai's ``minimum`` rule).

    .. math:: \\eta = \\eta_{m} / 10, \\quad m = \\arg\\min_i r_i

    ``loss`` is the raw batch loss; ``half_width`` defaults to 2 % of its
    length. A test without a usable range is reported (the minimum is then
    noise); an empty curve gives the first lr / 10.
    """
    return _min_div_10(_read(lr, loss, half_width), lr)


def steepest(lr: CurveLike, loss: CurveLike, *, half_width: int | None = None) -> Suggestion:
    """The lr where the robust loss falls fastest against :math:`\\log_{10}` lr.

    .. math:: \\eta = \\eta_{i^*}, \\quad
              i^* = \\arg\\min_{T \\le i \\le m} \\frac{\\partial r}{\\partial \\log_{10} \\eta}

    with central differences, between the plateau's top ``T`` and the
    minimum ``m`` (torch-lr-finder's rule, read on the lag-free curve). Falls
    back to :func:`min_div_10` without a usable range.
    """
    return _steepest(_read(lr, loss, half_width), lr)


def valley(
    lr: CurveLike,
    loss: CurveLike,
    *,
    depth: float = VALLEY_DEPTH,
    half_width: int | None = None,
) -> Suggestion:
    """fastai's *valley*: the first point ``depth`` (2/3) of the way down the fall.

    .. math:: \\eta = \\eta_{i^*}, \\quad i^* = \\min\\{i \\ge T : r_i \\le P - d\\,(P - F)\\}

    with ``P`` the plateau level at ``T`` and ``F`` the floor. fastai places
    the point by step count on its lagging average; placing it by loss on the
    lag-free curve skips the long flat plateau of a test that starts far
    below the useful range. Falls back to :func:`min_div_10` without a usable range.
    """
    return _valley(_read(lr, loss, half_width), lr, depth)


def max_lr(lr: CurveLike, loss: CurveLike, *, half_width: int | None = None) -> Suggestion:
    """The upper CLR bound (Smith 2017, section 3.3): the centre of the dip.

    Smith sets it where the accuracy "slows, becomes ragged, or starts to
    fall": on the loss, where the fall has stopped, on the floor before the
    loss rises again. The dip's depth-weighted centre
    (:attr:`~lrscope.rangetest.reading.Reading.centre`, moved onto the floor
    when it falls outside) is read rather than a level crossing: it weighs
    every step of the dip, so the noise moves it least (largest / smallest
    over 10 seeds of the built-in tasks: 1.7, 1.3, 1.2, 1.2 on
    ``mnist1d-cnn``, ``mnist1d-mlp``, ``digits-lenet``, ``digits-mlp``).
    ``loss`` is the raw batch loss; ``half_width`` defaults to 2 % of its
    length. Without a usable range: ``level_end`` (see the module).
    """
    return _max_lr(_read(lr, loss, half_width), lr)


def suggested_lr(lr: CurveLike, loss: CurveLike, *, half_width: int | None = None) -> Suggestion:
    """The one constant lr: :data:`CONSTANT_FRACTION` of :func:`max_lr` (rule ``floor``)."""
    reading = _read(lr, loss, half_width)
    return _suggested(reading, _max_lr(reading, lr))


def min_lr(
    lr: CurveLike, loss: CurveLike, upper: Suggestion, *, half_width: int | None = None
) -> Suggestion:
    """The lower CLR bound: where the robust loss has done :data:`ONSET_FRACTION` of its fall.

    Falls back to ``upper.lr / 4`` (Smith 2017: ``base_lr`` is a third or a
    quarter of ``max_lr``) when the loss falls from the start or the onset
    is not below ``CONSTANT_FRACTION * upper.lr`` (the constant rate).
    """
    reading = _read(lr, loss, half_width)
    return _min_lr(reading, upper, _suggested(reading, upper))


def clr_bounds(
    lr: CurveLike, loss: CurveLike, *, half_width: int | None = None
) -> tuple[Suggestion, Suggestion]:
    """``(min_lr, max_lr)`` for triangular CLR policies (Smith 2017, section 3.3)."""
    reading = _read(lr, loss, half_width)
    upper = _max_lr(reading, lr)
    return _min_lr(reading, upper, _suggested(reading, upper)), upper


def onecycle_max_lr(
    lr: CurveLike,
    loss: CurveLike,
    *,
    half_width: int | None = None,
    diverged: bool | None = None,
) -> Suggestion:
    r"""Peak of a one-cycle policy: the largest lr that still trains.

    .. math:: \eta_{peak} = \min(\max(k_p\,\eta_c,\ k_b\,\eta_{back}),\ \eta_{n-1})

    Super-convergence (Smith and Topin 2017) uses one cycle whose peak is the
    largest lr that still trains: the short time spent near the peak and the
    annealing after it keep a peak stable that would not be as a constant
    rate. ``k_p`` = :data:`PEAK_FACTOR` times the dip's centre ``max_lr``,
    or ``k_b`` = :data:`BLOWUP_FRACTION` of the lr where the loss is back at
    its plateau when that is larger (a dip that stays low long); never past
    the largest lr tested (``last_lr``). When the blow-up term sets the
    peak and ``diverged`` is False (the test reached ``end_lr`` with the loss
    still below its plateau), the peak is a lower bound, and says so.
    """
    reading = _read(lr, loss, half_width)
    return _peak(reading, _max_lr(reading, lr), diverged)


def suggest(result: RangeTestResult) -> Suggestions:
    """All suggestions for a range-test result (pure: reads only ``lr`` and the raw ``loss``).

    The window half-width is 2 % of the test's planned steps
    (:func:`~lrscope.rangetest.reading.default_half_width`).
    """
    lr = result.lr
    reading = read_curve(lr, result.loss, default_half_width(result.steps))
    upper = _max_lr(reading, lr)
    constant = _suggested(reading, upper)
    return Suggestions(
        suggested_lr=constant,
        min_lr=_min_lr(reading, upper, constant),
        max_lr=upper,
        onecycle_max_lr=_peak(reading, upper, result.diverged),
        steepest=_steepest(reading, lr),
        valley=_valley(reading, lr, VALLEY_DEPTH),
        min_div_10=_min_div_10(reading, lr),
        usable=reading.usable,
        reason=reading.reason,
    )
