r"""The search space of :func:`lrscope.tune.tune`: every policy family around the range test.

One range test (Smith 2017, section 3.3) gives four learning rates: ``s``
the suggested constant rate, ``[lo, hi]`` the cyclical bounds and ``p`` the
one-cycle peak (:class:`LRBounds`). They are the *centre* of the search: each
family's parameters are factors and shapes around them, for a budget of ``T``
optimizer steps and epochs of ``E`` steps. The families are LRBench's 13
functions (Wu, Liu et al. 2019, Table I), one-cycle (Smith and Topin
2017/2019; the fastai write-up), SGDR (Loshchilov and Hutter 2017) and
warmup + cosine (the schedule of most transformer recipes):

=============  ==========================================================  =========
family         policy built from the sampled parameters                    samples
=============  ==========================================================  =========
FIX            ``k0 = s*a``                                                a
STEP           ``k0 = s*a``; ``d`` drops by ``gamma = e^(1/d)``,           a, e, d
               ``l = ceil(T/(d+1))``
NSTEP          ``k0 = s*a``; two drops by ``gamma = sqrt(e)`` at           a, e, f1, f2
               ``f1*T`` and ``(f1 + (1-f1)*f2)*T``
EXP            ``k0 = s*a``, ``gamma = e^(1/T)``                           a, e
INV            ``k0 = s*a``, ``p = q``, ``gamma = (e^(-1/q) - 1)/T``       a, e, q
POLY           ``k0 = s*a``, ``p = q``, ``l = T``, ``k1 = e*k0``           a, e, q
TRI, TRI2,     ``k1 = hi*b``, ``k0 = k1/r``, ``l = T/(2n)``: ``n`` whole   b, r, n
SIN, SIN2      cycles, ending at a cycle's bottom (Smith 2017, 3.2)
TRIEXP,        as TRI; the amplitude decays by ``gamma = g^(1/T)``         b, r, n, g
SINEXP
COS            as TRI with ``l = T/(2n-1)``: it ends at ``k0``             b, r, n
onecycle       ``max_lr = p*c``, ``total_steps = T``, ``pct_start = w``    c, w
sgdr           ``max_lr = hi*b``, ``min_lr = max_lr/f``, ``mult = m``,     b, f, m, k
               ``k`` periods ``P, mP, ...`` filling ``T``
warmup_cosine  ``max_lr = p*c``, ``total_steps = T``,                      c, u
               ``warmup_steps = u*T``, ``min_lr = 0``
=============  ==========================================================  =========

The samples, each the parameter of that letter:

=========================  ==================  ======================================
parameter                  range               centre
=========================  ==================  ======================================
``decay.lr`` a             [1/4, 4], log       1 (the suggested rate)
``decay.end`` e            [1e-4, 0.3], log    0.01 (two orders lower at the end)
``STEP.drops`` d           1 .. 4              2
``NSTEP.first`` f1         [0.3, 0.8]          0.5
``NSTEP.second`` f2        [0.2, 0.8]          0.5 (drops at T/2 and 3T/4)
``INV.power`` q            [0.5, 4], log       2
``POLY.power`` q           [0.5, 4], log       1 (linear)
``cyclic.top`` b           [1/3, 3], log       1 (``hi``)
``cyclic.ratio`` r         [1.5, 100], log     ``hi/lo``
``cyclic.cycles`` n        1 .. T/(4E), log    the range test's half-cycle: 2 to 10
                                               epochs (Smith 2017), near sqrt(20)
``cyclic.amp_end`` g       [0.01, 1], log      0.1
``anneal.peak`` c          [1/4, 3], log       1 (the one-cycle peak)
``onecycle.pct_start`` w   [0.1, 0.5]          0.3 (PyTorch's OneCycleLR)
``sgdr.floor`` f           [3, 1000], log      ``hi / (lo/10)``
``sgdr.mult`` m            1 or 2              2
``sgdr.periods`` k         1 .. 6              3 (``P, 2P, 4P``)
``warmup.share`` u         [0.01, 0.3], log    0.05
=========================  ==================  ======================================

Parameters of the same meaning are shared between families (one
``decay.lr`` for FIX, STEP, ... POLY; one ``cyclic.top`` for the cyclic
functions and SGDR), so a sampler learns, say, that the suggested rate is
too low for every decaying schedule at once. The centre of each family is
the one candidate the range test alone would give (:meth:`SearchSpace.centre`).

Every learning rate and shape parameter of a built policy is rounded to 3
significant digits, and a per-step decay factor ``gamma`` near 1 by its
complement (``0.999040...`` becomes ``0.99904``), so specs stay readable and
two samples that differ beyond that precision are one trial. Building the
same sample for a shorter budget (:meth:`SearchSpace.build` with ``steps``)
scales the schedule: the same number of cycles, drops and phases in fewer
steps (the time-to-accuracy ladder trains the winner this way).

Pure: no torch, no Optuna; the same inputs give the same policies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from lrscope.errors import ParameterError
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
    WarmupCosine,
)
from lrscope.policies.rounding import round_decay, round_sig
from lrscope.rangetest.policies import MIN_EPOCHS_PER_HALF_CYCLE, half_cycle_steps
from lrscope.validation import COUNT, POSITIVE_FLOAT, Interval, Relation, Validated, check

__all__ = [
    "FAMILIES",
    "MIN_STEPS",
    "Dim",
    "LRBounds",
    "Proposal",
    "SearchSpace",
    "Suggester",
    "round_decay",
    "round_sig",
]

MIN_STEPS = 8
"""The shortest budget a policy is built for (every family needs a few steps)."""


Value = float | int


@dataclass(frozen=True)
class LRBounds(Validated):
    """The numbers a range test gives the search (all learning rates, > 0).

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
        return cls(**{name: round_sig(value) for name, value in lrs.items()})


@dataclass(frozen=True)
class Dim:
    """One searched parameter: a float or int range (``log``: sampled log-uniformly)."""

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False


class Suggester(Protocol):
    """What the space needs of a sampler's trial (``optuna.Trial`` has these)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...
    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...
    def suggest_categorical(self, name: str, choices: list[str]) -> str: ...


@dataclass(frozen=True)
class Proposal:
    """A point of the space: a family and its parameters (shared names, see the module)."""

    family: str
    params: Mapping[str, Value] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"family": self.family, "params": dict(self.params)}


_DECAYS = ("FIX", "STEP", "NSTEP", "EXP", "INV", "POLY")
_CYCLIC = ("TRI", "TRI2", "TRIEXP", "SIN", "SIN2", "SINEXP", "COS")
FAMILIES: tuple[str, ...] = (*_DECAYS, *_CYCLIC, "onecycle", "sgdr", "warmup_cosine")
"""The families searched, in the order their centres are tried."""

_FAMILY_DIMS: dict[str, tuple[str, ...]] = {
    "FIX": ("decay.lr",),
    "STEP": ("decay.lr", "decay.end", "STEP.drops"),
    "NSTEP": ("decay.lr", "decay.end", "NSTEP.first", "NSTEP.second"),
    "EXP": ("decay.lr", "decay.end"),
    "INV": ("decay.lr", "decay.end", "INV.power"),
    "POLY": ("decay.lr", "decay.end", "POLY.power"),
    **dict.fromkeys(_CYCLIC, ("cyclic.top", "cyclic.ratio", "cyclic.cycles")),
    "TRIEXP": ("cyclic.top", "cyclic.ratio", "cyclic.cycles", "cyclic.amp_end"),
    "SINEXP": ("cyclic.top", "cyclic.ratio", "cyclic.cycles", "cyclic.amp_end"),
    "onecycle": ("anneal.peak", "onecycle.pct_start"),
    "sgdr": ("cyclic.top", "sgdr.floor", "sgdr.mult", "sgdr.periods"),
    "warmup_cosine": ("anneal.peak", "warmup.share"),
}


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def centre_cycles(steps: int, steps_per_epoch: int, odd: bool = False) -> int:
    """Whole cycles in ``steps`` at the range test's own half-cycle length.

    :func:`lrscope.rangetest.policies.half_cycle_steps`: 2 to 10 epochs
    (Smith 2017, section 3.2), nearest their geometric middle, dividing the
    budget when it can; ``odd`` for COS, which ends after an odd number of
    half-cycles. At least one cycle.
    """
    halves = max(round(steps / half_cycle_steps(steps, steps_per_epoch, odd=odd)), 1)
    return max(1, (halves + 1) // 2 if odd else halves // 2)


@dataclass(frozen=True)
class SearchSpace:
    """The space for ``bounds`` (the range test's), a budget of ``steps`` per trial
    and epochs of ``steps_per_epoch`` steps; see the module docstring.

    Raises:
        ParameterError: ``steps`` below :data:`MIN_STEPS`, ``steps_per_epoch`` < 1,
            ``families`` empty or naming an unknown family.
    """

    bounds: LRBounds
    steps: int
    steps_per_epoch: int
    families: tuple[str, ...] = FAMILIES

    def __post_init__(self) -> None:
        owner = "the tune search space"
        check(owner, "steps", self.steps, Interval(int, MIN_STEPS, None, "left"))
        check(owner, "steps_per_epoch", self.steps_per_epoch, COUNT)
        if not isinstance(self.bounds, LRBounds):
            raise ParameterError(owner, "bounds", "an LRBounds", self.bounds)
        unknown = [f for f in self.families if f not in FAMILIES]
        if not self.families or unknown or len(set(self.families)) != len(self.families):
            allowed = f"a non-empty list of distinct families among {', '.join(FAMILIES)}"
            raise ParameterError(owner, "families", allowed, self.families)

    # --- the dimensions ---------------------------------------------------------

    @property
    def max_cycles(self) -> int:
        """Most whole cycles in the budget with half-cycles of 2 epochs or more."""
        return max(1, self.steps // (2 * MIN_EPOCHS_PER_HALF_CYCLE * self.steps_per_epoch))

    def dims(self) -> dict[str, Dim]:
        """Every parameter of the space by name (see the module's table)."""
        return {
            d.name: d
            for d in (
                Dim("decay.lr", 0.25, 4.0, log=True),
                Dim("decay.end", 1e-4, 0.3, log=True),
                Dim("STEP.drops", 1, 4, integer=True),
                Dim("NSTEP.first", 0.3, 0.8),
                Dim("NSTEP.second", 0.2, 0.8),
                Dim("INV.power", 0.5, 4.0, log=True),
                Dim("POLY.power", 0.5, 4.0, log=True),
                Dim("cyclic.top", 1 / 3, 3.0, log=True),
                Dim("cyclic.ratio", 1.5, 100.0, log=True),
                Dim("cyclic.cycles", 1, self.max_cycles, log=True, integer=True),
                Dim("cyclic.amp_end", 0.01, 1.0, log=True),
                Dim("anneal.peak", 0.25, 3.0, log=True),
                Dim("onecycle.pct_start", 0.1, 0.5),
                Dim("sgdr.floor", 3.0, 1000.0, log=True),
                Dim("sgdr.mult", 1, 2, integer=True),
                Dim("sgdr.periods", 1, 6, integer=True),
                Dim("warmup.share", 0.01, 0.3, log=True),
            )
        }

    def centre(self, family: str) -> Proposal:
        """The family's point at the centre: the range test's own candidate."""
        b = self.bounds
        cycles = centre_cycles(self.steps, self.steps_per_epoch, odd=family == "COS")
        values: dict[str, Value] = {
            "decay.lr": 1.0,
            "decay.end": 0.01,
            "STEP.drops": 2,
            "NSTEP.first": 0.5,
            "NSTEP.second": 0.5,
            "INV.power": 2.0,
            "POLY.power": 1.0,
            "cyclic.top": 1.0,
            "cyclic.ratio": _clamp(b.max_lr / b.min_lr, 1.5, 100.0),
            "cyclic.cycles": min(cycles, self.max_cycles),
            "cyclic.amp_end": 0.1,
            "anneal.peak": 1.0,
            "onecycle.pct_start": 0.3,
            "sgdr.floor": _clamp(10.0 * b.max_lr / b.min_lr, 3.0, 1000.0),
            "sgdr.mult": 2,
            "sgdr.periods": 3,
            "warmup.share": 0.05,
        }
        self._family(family)
        return Proposal(family, {name: values[name] for name in _FAMILY_DIMS[family]})

    def suggest(self, trial: Suggester) -> Proposal:
        """Ask ``trial`` for a family and its parameters (names as in :meth:`dims`)."""
        family = trial.suggest_categorical("family", list(self.families))
        dims = self.dims()
        params: dict[str, Value] = {}
        for name in _FAMILY_DIMS[family]:
            dim = dims[name]
            if dim.integer:
                params[name] = trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)
            else:
                params[name] = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
        return Proposal(family, params)

    def family_params(self, family: str) -> tuple[str, ...]:
        """The parameter names of ``family``."""
        self._family(family)
        return _FAMILY_DIMS[family]

    # --- building policies ------------------------------------------------------

    def build(self, proposal: Proposal, steps: int | None = None) -> Policy:
        """The policy of ``proposal`` for ``steps`` optimizer steps (default: the space's).

        Raises:
            ParameterError: an unknown family, a missing parameter, or ``steps``
                below :data:`MIN_STEPS`.
        """
        budget = self.steps if steps is None else steps
        check("the tune search space", "steps", budget, Interval(int, MIN_STEPS, None, "left"))
        builder = self._family(proposal.family)
        missing = [n for n in _FAMILY_DIMS[proposal.family] if n not in proposal.params]
        if missing:
            raise ParameterError(
                "the tune search space",
                "params",
                f"values for {', '.join(_FAMILY_DIMS[proposal.family])}",
                dict(proposal.params),
            )
        return builder(self, proposal.params, budget)

    def _family(self, family: str) -> Callable[[SearchSpace, Mapping[str, Value], int], Policy]:
        if family not in _BUILDERS:
            raise ParameterError("the tune search space", "family", f"one of {FAMILIES}", family)
        return _BUILDERS[family]


# --- the builders, one per kind ------------------------------------------------------


def _k0(space: SearchSpace, p: Mapping[str, Value]) -> float:
    return round_sig(space.bounds.suggested_lr * float(p["decay.lr"]))


def _fix(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    return FIX(k0=_k0(space, p))


def _step(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    drops = int(p["STEP.drops"])
    gamma = round_sig(float(p["decay.end"]) ** (1.0 / drops))
    return STEP(k0=_k0(space, p), gamma=min(gamma, 1.0), l=max(math.ceil(steps / (drops + 1)), 1))


def _nstep(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    first = float(p["NSTEP.first"])
    second = first + (1.0 - first) * float(p["NSTEP.second"])
    m1 = min(max(round(first * steps), 1), steps - 2)
    m2 = min(max(round(second * steps), m1 + 1), steps - 1)
    gamma = round_sig(math.sqrt(float(p["decay.end"])))
    return NSTEP(k0=_k0(space, p), gamma=min(gamma, 1.0), milestones=(m1, m2))


def _exp(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    gamma = round_decay(float(p["decay.end"]) ** (1.0 / steps))
    return EXP(k0=_k0(space, p), gamma=min(gamma, 1.0))


def _inv(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    power = round_sig(float(p["INV.power"]))
    gamma = round_sig((float(p["decay.end"]) ** (-1.0 / power) - 1.0) / steps)
    return INV(k0=_k0(space, p), gamma=gamma, p=power)


def _poly(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    k0 = _k0(space, p)
    return POLY(
        k0=k0,
        p=round_sig(float(p["POLY.power"])),
        l=steps,
        k1=round_sig(k0 * float(p["decay.end"])),
    )


def _cyclic_bounds(space: SearchSpace, p: Mapping[str, Value]) -> tuple[float, float]:
    k1 = round_sig(space.bounds.max_lr * float(p["cyclic.top"]))
    k0 = round_sig(k1 / float(p["cyclic.ratio"]))
    return (k0 if k0 < k1 else round_sig(k1 / 2)), k1


def _half_cycle(p: Mapping[str, Value], steps: int, *, odd: bool = False) -> int:
    cycles = int(p["cyclic.cycles"])
    halves = 2 * cycles - 1 if odd else 2 * cycles
    return max(round(steps / halves), 1)


def _cyclic(cls: type[TRI] | type[TRI2] | type[SIN] | type[SIN2]) -> Callable[..., Policy]:
    def build(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
        k0, k1 = _cyclic_bounds(space, p)
        return cls(k0=k0, k1=k1, l=_half_cycle(p, steps))

    return build


def _cyclic_exp(cls: type[TRIEXP] | type[SINEXP]) -> Callable[..., Policy]:
    def build(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
        k0, k1 = _cyclic_bounds(space, p)
        gamma = round_decay(float(p["cyclic.amp_end"]) ** (1.0 / steps))
        return cls(k0=k0, k1=k1, gamma=min(gamma, 1.0), l=_half_cycle(p, steps))

    return build


def _cos(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    k0, k1 = _cyclic_bounds(space, p)
    return COS(k0=k0, k1=k1, l=_half_cycle(p, steps, odd=True))


def _onecycle(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    return OneCycle(
        max_lr=round_sig(space.bounds.peak_lr * float(p["anneal.peak"])),
        total_steps=steps,
        pct_start=round_sig(float(p["onecycle.pct_start"])),
    )


def _sgdr(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    top = round_sig(space.bounds.max_lr * float(p["cyclic.top"]))
    mult, periods = int(p["sgdr.mult"]), int(p["sgdr.periods"])
    period = max(math.ceil(steps / sum(mult**i for i in range(periods))), 1)
    floor = round_sig(top / float(p["sgdr.floor"]))
    return SGDR(max_lr=top, period=period, mult=mult, min_lr=floor)


def _warmup_cosine(space: SearchSpace, p: Mapping[str, Value], steps: int) -> Policy:
    warmup = min(max(round(float(p["warmup.share"]) * steps), 1), steps - 1)
    return WarmupCosine(
        max_lr=round_sig(space.bounds.peak_lr * float(p["anneal.peak"])),
        total_steps=steps,
        warmup_steps=warmup,
    )


_BUILDERS: dict[str, Callable[[SearchSpace, Mapping[str, Value], int], Policy]] = {
    "FIX": _fix,
    "STEP": _step,
    "NSTEP": _nstep,
    "EXP": _exp,
    "INV": _inv,
    "POLY": _poly,
    "TRI": _cyclic(TRI),
    "TRI2": _cyclic(TRI2),
    "TRIEXP": _cyclic_exp(TRIEXP),
    "SIN": _cyclic(SIN),
    "SIN2": _cyclic(SIN2),
    "SINEXP": _cyclic_exp(SINEXP),
    "COS": _cos,
    "onecycle": _onecycle,
    "sgdr": _sgdr,
    "warmup_cosine": _warmup_cosine,
}
