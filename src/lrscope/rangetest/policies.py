r"""Learning-rate policies built from a range test, for a budget in steps or epochs.

>>> found = lrscope.range_test(task)                                   # doctest: +SKIP
>>> found.onecycle(epochs=30, steps_per_epoch=task.steps_per_epoch)   # doctest: +SKIP
onecycle(max_lr=0.246, total_steps=960)
>>> found.triangular(total_steps=3000, steps_per_epoch=32)             # doctest: +SKIP
triangular(base_lr=0.0373, max_lr=0.164, stepsize=150)

Each function takes a :class:`~lrscope.rangetest.RangeTestResult` (the
methods of the same names on the result delegate here) and returns a
:class:`~lrscope.policies.Policy`; learning rates are rounded to three
significant digits (a range test reads them off a noisy curve; more digits
carry nothing), a derived per-step decay by its complement
(:mod:`lrscope.policies.rounding`). What each reads off the result (``s`` = ``suggested_lr``,
``[lo, hi]`` = ``[min_lr, max_lr]``, ``p`` = ``onecycle_max_lr``, ``T`` =
the budget in steps, ``E`` = steps per epoch):

============  =================================================================
``fixed``     ``FIX(k0=s)``
``onecycle``  ``onecycle(max_lr=p, total_steps=T)`` (Smith and Topin 2017: one
              cycle up to the largest lr that still trains, then far below)
``triangular``, ``triangular2``, ``exp_range``
              ``base_lr=lo, max_lr=hi``, half-cycle ``stepsize`` of 2 to 10
              epochs, ``T`` a whole number of cycles when one fits (Smith 2017,
              section 3.2: training ends at the bottom of a cycle);
              ``exp_range`` with ``gamma = 0.1^(1/T)`` (amplitude x0.1 at ``T``)
``cosine``    ``COS(k0=lo, k1=hi, l)`` with ``T`` an odd number of half-cycles,
              so it ends at ``lo``
``sgdr``      ``sgdr(max_lr=hi, min_lr=lo/10, mult=2, period)``; three periods
              ``P, 2P, 4P`` fill ``T`` (Loshchilov and Hutter 2017)
============  =================================================================

The budget is ``total_steps`` or ``epochs * steps_per_epoch``; the cyclic
policies also need the epoch length (``steps_per_epoch``) or an explicit
``stepsize``. A result without a usable range
(:attr:`~lrscope.rangetest.Suggestions.usable` false) raises
:class:`~lrscope.rangetest.NoUsableRangeError` naming the reason; bad budgets
raise :class:`~lrscope.errors.ParameterError`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lrscope.errors import ParameterError
from lrscope.policies import COS, FIX, SGDR, ExpRange, OneCycle, Triangular, Triangular2
from lrscope.policies.rounding import round_decay, round_sig
from lrscope.rangetest.suggestions import NoUsableRangeError, Suggestions
from lrscope.validation import POSITIVE_FLOAT, Interval, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rangetest.result import RangeTestResult

__all__ = [
    "MAX_EPOCHS_PER_HALF_CYCLE",
    "MIN_EPOCHS_PER_HALF_CYCLE",
    "budget_steps",
    "cosine",
    "exp_range",
    "fixed",
    "half_cycle_steps",
    "onecycle",
    "sgdr",
    "triangular",
    "triangular2",
]

#: Smith (2017, section 3.2): a half-cycle of 2 to 10 epochs works well.
MIN_EPOCHS_PER_HALF_CYCLE = 2
MAX_EPOCHS_PER_HALF_CYCLE = 10

#: ``exp_range`` and ``sgdr`` derivations (see the module table).
EXP_RANGE_AMPLITUDE_AT_END = 0.1
SGDR_FLOOR_FACTOR = 0.1


_AT_LEAST_ONE = Interval(int, 1, None, "left", exact=True)
_TOTAL_STEPS = Interval(int, 2, None, "left", exact=True)


def _found(result: RangeTestResult, what: str) -> Suggestions:
    """The result's suggestions, or :class:`NoUsableRangeError` when it has no usable range."""
    from lrscope.rangetest.suggest import suggest

    found = result.suggestions or suggest(result)
    if not found.usable:
        raise NoUsableRangeError(what, found.reason, result.task)
    return found


def budget_steps(
    owner: str,
    total_steps: int | None,
    epochs: int | float | None,
    steps_per_epoch: int | None,
) -> int:
    """The budget in optimizer steps: ``total_steps``, or ``round(epochs * steps_per_epoch)``.

    Raises:
        ParameterError: neither or both forms given, or a value out of range
            (``total_steps >= 2``; ``epochs > 0``; ``steps_per_epoch >= 1``).
    """
    if steps_per_epoch is not None:
        steps_per_epoch = check(owner, "steps_per_epoch", steps_per_epoch, _AT_LEAST_ONE)
    if total_steps is not None:
        if epochs is not None:
            raise ParameterError(owner, "epochs", "None when total_steps is given", epochs)
        return int(check(owner, "total_steps", total_steps, _TOTAL_STEPS))
    if epochs is None:
        raise ParameterError(
            owner, "total_steps", "an int >= 2 (or epochs= with steps_per_epoch=)", None
        )
    epochs = check(owner, "epochs", epochs, POSITIVE_FLOAT)
    if steps_per_epoch is None:
        raise ParameterError(owner, "steps_per_epoch", "an int >= 1 when epochs is given", None)
    steps = round(epochs * steps_per_epoch)
    if steps < 2:
        raise ParameterError(owner, "epochs", "enough epochs for 2 or more steps", epochs)
    return steps


def half_cycle_steps(total_steps: int, steps_per_epoch: int, *, odd: bool = False) -> int:
    """Half-cycle length (steps) of a cyclic policy for a budget of ``total_steps``.

    The budget holds ``h = 2n`` half-cycles (``2n - 1`` when ``odd``, for a
    cosine that ends at its minimum). Among the ``h`` that divide the budget
    exactly with a half-cycle of 2 to 10 epochs, the one closest to the
    geometric middle of that range (:math:`\\sqrt{20}` epochs) is taken, so
    the budget ends exactly at the bottom of a cycle; when none divides it,
    the closest ``round(total_steps / h)``. At least one cycle.
    """
    low = MIN_EPOCHS_PER_HALF_CYCLE * steps_per_epoch
    high = MAX_EPOCHS_PER_HALF_CYCLE * steps_per_epoch
    target = math.sqrt(low * high)
    exact: list[tuple[float, int]] = []
    near: list[tuple[float, int]] = []
    n = 1
    while (halves := 2 * n - 1 if odd else 2 * n) <= total_steps:
        length = max(round(total_steps / halves), 1)
        score = abs(math.log(length / target))
        near.append((score, length))
        if total_steps % halves == 0 and low <= length <= high:
            exact.append((score, length))
        if length < low:
            break
        n += 1
    if not near:  # a budget of 1 step: one half-cycle
        return max(total_steps, 1)
    return min(exact or near)[1]


def _stepsize(
    owner: str,
    total: int,
    steps_per_epoch: int | None,
    stepsize: int | None,
    *,
    odd: bool = False,
) -> int:
    if stepsize is not None:
        return int(check(owner, "stepsize", stepsize, _AT_LEAST_ONE))
    if steps_per_epoch is None:
        raise ParameterError(
            owner, "steps_per_epoch", "an int >= 1 (it sets the half-cycle), or give stepsize", None
        )
    return half_cycle_steps(total, steps_per_epoch, odd=odd)


def _bounds(found: Suggestions) -> tuple[float, float]:
    return round_sig(found.min_lr.lr), round_sig(found.max_lr.lr)


def _no_override(owner: str, options: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in options:
            raise ParameterError(
                owner, name, "left out: it comes from the range test and the budget", options[name]
            )


def fixed(result: RangeTestResult) -> FIX:
    """``FIX(k0=suggested_lr)``: the one constant rate to train at."""
    return FIX(k0=round_sig(_found(result, "FIX").suggested_lr.lr))


def onecycle(
    result: RangeTestResult,
    total_steps: int | None = None,
    *,
    epochs: int | float | None = None,
    steps_per_epoch: int | None = None,
    **options: Any,
) -> OneCycle:
    """``onecycle(max_lr=onecycle_max_lr, total_steps=T)``; ``options`` go to :class:`OneCycle`.

    E.g. ``anneal="linear", three_phase=True`` for Smith's own schedule. The
    defaults are PyTorch's ``OneCycleLR``'s (``pct_start=0.3``,
    ``div_factor=25``, momentum 0.95 -> 0.85 -> 0.95).
    """
    owner = "RangeTestResult.onecycle"
    _no_override(owner, options, ("max_lr", "total_steps"))
    found = _found(result, "a one-cycle policy")
    total = budget_steps(owner, total_steps, epochs, steps_per_epoch)
    return OneCycle(max_lr=round_sig(found.onecycle_max_lr.lr), total_steps=total, **options)


def _clr(
    cls: type[Triangular] | type[Triangular2] | type[ExpRange],
    result: RangeTestResult,
    total_steps: int | None,
    epochs: int | float | None,
    steps_per_epoch: int | None,
    stepsize: int | None,
    options: dict[str, Any],
) -> tuple[float, float, int, int, dict[str, Any]]:
    owner = f"RangeTestResult.{cls.name}"
    _no_override(owner, options, ("base_lr", "max_lr"))
    found = _found(result, f"a {cls.name} policy")
    total = budget_steps(owner, total_steps, epochs, steps_per_epoch)
    lo, hi = _bounds(found)
    return lo, hi, total, _stepsize(owner, total, steps_per_epoch, stepsize), options


def triangular(
    result: RangeTestResult,
    total_steps: int | None = None,
    *,
    epochs: int | float | None = None,
    steps_per_epoch: int | None = None,
    stepsize: int | None = None,
    **options: Any,
) -> Triangular:
    """Smith's ``triangular`` between ``min_lr`` and ``max_lr`` (see the module table)."""
    lo, hi, _, size, opts = _clr(
        Triangular, result, total_steps, epochs, steps_per_epoch, stepsize, options
    )
    return Triangular(base_lr=lo, max_lr=hi, stepsize=size, **opts)


def triangular2(
    result: RangeTestResult,
    total_steps: int | None = None,
    *,
    epochs: int | float | None = None,
    steps_per_epoch: int | None = None,
    stepsize: int | None = None,
    **options: Any,
) -> Triangular2:
    """Smith's ``triangular2`` (amplitude halved every cycle) between the bounds."""
    lo, hi, _, size, opts = _clr(
        Triangular2, result, total_steps, epochs, steps_per_epoch, stepsize, options
    )
    return Triangular2(base_lr=lo, max_lr=hi, stepsize=size, **opts)


def exp_range(
    result: RangeTestResult,
    total_steps: int | None = None,
    *,
    epochs: int | float | None = None,
    steps_per_epoch: int | None = None,
    stepsize: int | None = None,
    gamma: float | None = None,
    **options: Any,
) -> ExpRange:
    """Smith's ``exp_range`` between the bounds; ``gamma`` defaults to ``0.1^(1/T)``.

    The default ``gamma`` is rounded by its complement to three significant
    digits (:func:`~lrscope.policies.rounding.round_decay`: ``0.999233`` for
    ``T = 3000``), so the amplitude at ``T`` is 0.1 to within a fraction of a
    percent and the spec stays readable; a given ``gamma`` is kept as given.
    """
    lo, hi, total, size, opts = _clr(
        ExpRange, result, total_steps, epochs, steps_per_epoch, stepsize, options
    )
    decay = round_decay(EXP_RANGE_AMPLITUDE_AT_END ** (1.0 / total)) if gamma is None else gamma
    return ExpRange(base_lr=lo, max_lr=hi, stepsize=size, gamma=decay, **opts)


def cosine(
    result: RangeTestResult,
    total_steps: int | None = None,
    *,
    epochs: int | float | None = None,
    steps_per_epoch: int | None = None,
    stepsize: int | None = None,
) -> COS:
    """LRBench's ``COS(k0=min_lr, k1=max_lr, l)``: cosine cycles ending the budget at ``min_lr``."""
    owner = "RangeTestResult.cosine"
    found = _found(result, "a COS policy")
    total = budget_steps(owner, total_steps, epochs, steps_per_epoch)
    lo, hi = _bounds(found)
    return COS(k0=lo, k1=hi, l=_stepsize(owner, total, steps_per_epoch, stepsize, odd=True))


def sgdr(
    result: RangeTestResult,
    total_steps: int | None = None,
    *,
    epochs: int | float | None = None,
    steps_per_epoch: int | None = None,
) -> SGDR:
    """Warm restarts from ``max_lr`` to ``min_lr / 10``; periods ``P, 2P, 4P`` fill the budget."""
    owner = "RangeTestResult.sgdr"
    found = _found(result, "an sgdr policy")
    total = budget_steps(owner, total_steps, epochs, steps_per_epoch)
    lo, hi = _bounds(found)
    period = max(math.ceil(total / 7), 1)  # P + 2P + 4P = 7P >= T
    return SGDR(max_lr=hi, period=period, mult=2, min_lr=round_sig(lo * SGDR_FLOOR_FACTOR))
