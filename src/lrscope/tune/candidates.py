"""Candidate policies derived from one range test: the LRBench evaluator's first stage.

Smith 2017 (section 3.3) reads two numbers off one range test: the learning
rate where the loss starts to fall (``min_lr``) and where the fall stops
(``max_lr``). LRBench (Wu, Liu et al. 2019) compares 13 LR functions;
super-convergence (Smith and Topin 2017/2019), the fastai write-up and
SGDR (Loshchilov and Hutter 2017) add one-cycle and warm restarts.
:func:`candidate_policies` turns those numbers, the epoch length and the step
budget ``T`` into one policy per family:

=========  ===============================================================
family     derived parameters (``s`` = suggested lr, ``[lo, hi]`` = bounds)
=========  ===============================================================
FIX        ``k0 = s``
STEP       ``k0 = s``, ``gamma = 0.1``, ``l = ceil(T / 3)``: two drops, ends at ``s / 100``
NSTEP      ``k0 = s``, ``gamma = 0.1``, milestones at ``T/2`` and ``3T/4``: ends at ``s / 100``
EXP        ``k0 = s``, ``gamma = 0.01^(1/T)``: ``s / 100`` at ``t = T``
INV        ``k0 = s``, ``p = 2``, ``gamma = 9 / T``: ``(1 + 9)^-2 = s / 100`` at ``t = T``
POLY       ``k0 = s``, ``p = 1``, ``l = T``, ``k1 = s / 100``: linear to ``s / 100``
TRI*, SIN* ``k0 = lo``, ``k1 = hi``, ``l`` = 2..10 epochs with ``T = 2 l n``: every
           cycle complete, training ends at the bottom of a cycle (Smith 2017, 3.2)
*EXP       as above with ``gamma = 0.1^(1/T)`` (amplitude x0.1 by the end)
COS        ``k0 = lo``, ``k1 = hi``, ``T = (2n - 1) l``: ends at ``lo``
onecycle   ``max_lr`` = the range test's one-cycle peak, ``total_steps = T``
sgdr       ``max_lr = hi``, ``min_lr = lo / 10``, ``mult = 2``, three periods fill ``T``
=========  ===============================================================

"Orders lower by the end of the budget" is two orders (x0.01) for every
decaying policy, so they are comparable with each other. Everything here is
pure: the same inputs give the same candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from lrscope.policies import (
    COS,
    EXP,
    FIX,
    INV,
    NSTEP,
    POLY,
    SGDR,
    SIN,
    SIN2,
    SINEXP,
    STEP,
    TRI,
    TRI2,
    TRIEXP,
    OneCycle,
    Policy,
)
from lrscope.validation import COUNT, POSITIVE_FLOAT, Interval, Relation, Validated, check

__all__ = ["MIN_STEPS", "LRBounds", "candidate_policies", "cycle_step_size"]

MIN_STEPS = 8
"""The shortest budget the candidates are derived for (every family needs a few steps)."""

DECAY_ORDERS = 2
"""Decaying policies end ``10**DECAY_ORDERS`` below where they start."""
MIN_EPOCHS_PER_HALF_CYCLE = 2
MAX_EPOCHS_PER_HALF_CYCLE = 10


@dataclass(frozen=True)
class LRBounds(Validated):
    """The numbers a range test gives the candidates (all learning rates, > 0).

    ``suggested_lr`` is the constant rate; ``min_lr < max_lr`` the cyclic
    bounds; ``peak_lr`` the one-cycle maximum.
    """

    relations = (Relation("max_lr", ">", "min_lr"),)

    suggested_lr: Annotated[float, POSITIVE_FLOAT]
    min_lr: Annotated[float, POSITIVE_FLOAT]
    max_lr: Annotated[float, POSITIVE_FLOAT]
    peak_lr: Annotated[float, POSITIVE_FLOAT]

    @classmethod
    def rounded(cls, **lrs: float) -> LRBounds:
        """Bounds with every rate rounded to 3 significant digits.

        A range test reads rates off a noisy curve; more digits carry no
        information and make specs hard to read.
        """
        return cls(**{name: float(f"{value:.3g}") for name, value in lrs.items()})


def cycle_step_size(steps: int, steps_per_epoch: int, odd: bool = False) -> int:
    """Half-cycle length ``l`` (steps) for a cyclic policy over ``steps`` steps.

    Smith 2017 (section 3.2) finds step sizes of 2 to 10 epochs work well and
    recommends stopping training at the end of a cycle. The budget holds
    ``h = 2n`` half cycles (``h = 2n - 1`` when ``odd``: COS ends a budget at
    its minimum after an odd number of half cycles). Among the ``h`` that
    divide ``steps`` exactly and give ``l`` within [2, 10] epochs we take the
    ``l`` closest to the geometric middle of that range (``sqrt(20)`` epochs),
    so the budget ends exactly at the bottom of a cycle; when no ``h`` divides
    it, the closest ``l = round(steps / h)`` (the budget then ends within
    ``h / 2`` steps of a cycle's bottom). Always at least one cycle.
    """
    steps = check("cycle_step_size", "steps", steps, Interval(int, 2, None, "left"))
    steps_per_epoch = check("cycle_step_size", "steps_per_epoch", steps_per_epoch, COUNT)
    low = MIN_EPOCHS_PER_HALF_CYCLE * steps_per_epoch
    high = MAX_EPOCHS_PER_HALF_CYCLE * steps_per_epoch
    target = math.sqrt(low * high)
    exact: list[tuple[float, int]] = []
    approx: list[tuple[float, int]] = []
    n = 1
    while True:
        halves = 2 * n - 1 if odd else 2 * n
        if halves > steps:
            break
        length = max(round(steps / halves), 1)
        score = abs(math.log(length / target))
        approx.append((score, length))
        if steps % halves == 0 and low <= length <= high:
            exact.append((score, length))
        if length < low:
            break
        n += 1
    return min(exact or approx)[1]


def _decays(s: float, steps: int) -> dict[str, Policy]:
    low = 10.0**-DECAY_ORDERS
    third = max(math.ceil(steps / 3), 1)
    half, three_quarters = max(steps // 2, 1), max((3 * steps) // 4, 2)
    if three_quarters <= half:
        three_quarters = half + 1
    return {
        "FIX": FIX(k0=s),
        "STEP": STEP(k0=s, gamma=0.1, l=third),
        "NSTEP": NSTEP(k0=s, gamma=0.1, milestones=(half, three_quarters)),
        "EXP": EXP(k0=s, gamma=low ** (1.0 / steps)),
        "INV": INV(k0=s, gamma=(10.0 ** (DECAY_ORDERS / 2) - 1.0) / steps, p=2.0),
        "POLY": POLY(k0=s, p=1.0, l=steps, k1=float(f"{s * low:.3g}")),
    }


def _cyclics(lo: float, hi: float, steps: int, steps_per_epoch: int) -> dict[str, Policy]:
    l_even = cycle_step_size(steps, steps_per_epoch)
    l_odd = cycle_step_size(steps, steps_per_epoch, odd=True)
    gamma = 0.1 ** (1.0 / steps)
    return {
        "TRI": TRI(k0=lo, k1=hi, l=l_even),
        "TRI2": TRI2(k0=lo, k1=hi, l=l_even),
        "TRIEXP": TRIEXP(k0=lo, k1=hi, gamma=gamma, l=l_even),
        "SIN": SIN(k0=lo, k1=hi, l=l_even),
        "SIN2": SIN2(k0=lo, k1=hi, l=l_even),
        "SINEXP": SINEXP(k0=lo, k1=hi, gamma=gamma, l=l_even),
        "COS": COS(k0=lo, k1=hi, l=l_odd),
    }


def candidate_policies(bounds: LRBounds, steps: int, steps_per_epoch: int) -> dict[str, Policy]:
    """One candidate per family for a budget of ``steps`` optimizer steps.

    Returns ``{family name: policy}`` in a fixed order: the 13 LRBench
    functions, then ``onecycle`` and ``sgdr`` (see the module docstring for
    every derivation).
    """
    steps = check("candidate_policies", "steps", steps, Interval(int, MIN_STEPS, None, "left"))
    steps_per_epoch = check("candidate_policies", "steps_per_epoch", steps_per_epoch, COUNT)
    out = _decays(bounds.suggested_lr, steps)
    out.update(_cyclics(bounds.min_lr, bounds.max_lr, steps, steps_per_epoch))
    out["onecycle"] = OneCycle(max_lr=bounds.peak_lr, total_steps=steps)
    period = math.ceil(steps / 7)  # periods P, 2P, 4P: the third ends at 7P >= T
    min_lr = float(f"{bounds.min_lr / 10:.3g}")
    out["sgdr"] = SGDR(max_lr=bounds.max_lr, period=period, mult=2, min_lr=min_lr)
    return out
