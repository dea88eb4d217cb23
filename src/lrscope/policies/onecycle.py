r"""The one-cycle policy (super-convergence: Smith and Topin 2017/2019;
Smith 2018; the fastai one-cycle write-up; Mohsin, Ma and Fu).

``onecycle`` reproduces PyTorch's ``OneCycleLR`` closed form operation for
operation, learning rate and momentum. With :math:`\eta_0 = \eta_{max} / d`
(``div_factor``) and :math:`\eta_{min} = \eta_0 / d_f` (``final_div_factor``),
``T = total_steps`` and ``p = pct_start``, the phases end at the (float) steps

* two phases: :math:`e_1 = pT - 1`, :math:`e_2 = T - 1`;
  :math:`\eta_0 \to \eta_{max} \to \eta_{min}`, momentum
  :math:`m_{max} \to m_{base} \to m_{max}`;
* three phases: :math:`e_1 = pT - 1`, :math:`e_2 = 2pT - 2`, :math:`e_3 = T - 1`;
  :math:`\eta_0 \to \eta_{max} \to \eta_0 \to \eta_{min}`, momentum
  :math:`m_{max} \to m_{base} \to m_{max} \to m_{max}`.

In the phase :math:`(s, e]` holding ``t`` (the first phase starts at 0 and
includes it), with :math:`q = (t - s) / (e - s)`, a value goes from ``a`` to
``b`` as :math:`b + (a - b)/2 \cdot (\cos(\pi q) + 1)` (``anneal=cos``) or
:math:`(b - a) q + a` (``anneal=linear``). Learning rates are in the
optimizer's units, steps are optimizer steps.

For ``t >= total_steps`` the policy holds its final value (that of step
``total_steps - 1``), so a scheduler stepped past the end never crashes a run
(PyTorch raises there).

Presets: ``onecycle_fastai`` (fastai's ``fit_one_cycle``: cos, pct_start 0.25,
div 25, final lr ``max_lr / 1e5``, i.e. final_div_factor 4000) and
``onecycle_smith`` (Smith's 1cycle: linear, three phases, pct_start 0.45, div
10, so up and down take 45 % each and the last 10 % anneal far below the start;
momentum 0.95 -> 0.85 -> 0.95). Both accept every onecycle parameter and only
change the defaults; their specs omit what equals those defaults.

References: L. N. Smith, N. Topin, "Super-Convergence" (2017); L. N. Smith,
"A disciplined approach to neural network hyper-parameters" (2018).

>>> p = onecycle(max_lr=0.8, total_steps=5000, anneal="linear", three_phase=True)
>>> p(0), p(1499), p.momentum(1499)
(0.032, 0.8, 0.85)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Annotated, ClassVar, NamedTuple

from lrscope.errors import ParameterError
from lrscope.policies.base import Policy
from lrscope.validation import MOMENTUM, POSITIVE_FLOAT, STEP_SIZE, Bool, Choice, Interval, Relation

__all__ = [
    "OneCycle",
    "OneCycleFastai",
    "OneCycleSmith",
    "onecycle",
    "onecycle_fastai",
    "onecycle_smith",
]

UNIT_INTERVAL = Interval(float, 0, 1, "both")
ANNEAL = Choice(("cos", "linear"))


class _Phase(NamedTuple):
    end_step: float
    start_lr: float
    end_lr: float
    start_momentum: float
    end_momentum: float


def anneal_cos(start: float, end: float, pct: float) -> float:
    """Cosine from ``start`` (pct 0) to ``end`` (pct 1), as OneCycleLR computes it."""
    cos_out = math.cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out


def anneal_linear(start: float, end: float, pct: float) -> float:
    """Straight line from ``start`` (pct 0) to ``end`` (pct 1), as OneCycleLR computes it."""
    return (end - start) * pct + start


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class OneCycle(Policy):
    """One cycle up to ``max_lr`` and down far below the start; see the module docstring."""

    name = "onecycle"
    family = "onecycle"
    relations: ClassVar[tuple[Relation, ...]] = (Relation("max_momentum", ">=", "base_momentum"),)
    max_lr: Annotated[float, POSITIVE_FLOAT]
    total_steps: Annotated[int, STEP_SIZE]
    pct_start: Annotated[float, UNIT_INTERVAL] = 0.3
    div_factor: Annotated[float, POSITIVE_FLOAT] = 25.0
    final_div_factor: Annotated[float, POSITIVE_FLOAT] = 1e4
    anneal: Annotated[str, ANNEAL] = "cos"
    three_phase: Annotated[bool, Bool()] = False
    base_momentum: Annotated[float, MOMENTUM] = 0.85
    max_momentum: Annotated[float, MOMENTUM] = 0.95
    cycle_momentum: Annotated[bool, Bool()] = True

    def _check(self) -> None:
        # OneCycleLR divides by the first phase's length pT - 1 at t = 0.
        if float(self.pct_start * self.total_steps) - 1 == 0:
            allowed = (
                f"a float in the range [0, 1] with pct_start * total_steps != 1 "
                f"(total_steps={self.total_steps})"
            )
            raise ParameterError(self.name, "pct_start", allowed, self.pct_start)

    @functools.cached_property
    def _phases(self) -> tuple[_Phase, ...]:
        initial_lr = self.max_lr / self.div_factor
        min_lr = initial_lr / self.final_div_factor
        hi_m, lo_m = self.max_momentum, self.base_momentum
        first_end = float(self.pct_start * self.total_steps) - 1
        last_end = float(self.total_steps - 1)
        if self.three_phase:
            return (
                _Phase(first_end, initial_lr, self.max_lr, hi_m, lo_m),
                _Phase(float(2 * self.pct_start * self.total_steps) - 2,
                       self.max_lr, initial_lr, lo_m, hi_m),
                _Phase(last_end, initial_lr, min_lr, hi_m, hi_m),
            )  # fmt: skip
        return (
            _Phase(first_end, initial_lr, self.max_lr, hi_m, lo_m),
            _Phase(last_end, self.max_lr, min_lr, lo_m, hi_m),
        )

    def _locate(self, t: int) -> tuple[_Phase, float]:
        """The phase holding ``t`` (clamped to ``total_steps - 1``) and ``q`` within it."""
        step = min(t, self.total_steps - 1)
        start_step = 0.0
        phases = self._phases
        for i, phase in enumerate(phases):
            if step <= phase.end_step or i == len(phases) - 1:
                return phase, (step - start_step) / (phase.end_step - start_step)
            start_step = phase.end_step
        raise AssertionError("unreachable: the last phase always matches")

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal == "cos":
            return anneal_cos(start, end, pct)
        return anneal_linear(start, end, pct)

    def _lr(self, t: int) -> float:
        phase, pct = self._locate(t)
        return self._anneal(phase.start_lr, phase.end_lr, pct)

    def _momentum(self, t: int) -> float | None:
        phase, pct = self._locate(t)
        return self._anneal(phase.start_momentum, phase.end_momentum, pct)

    @property
    def has_momentum(self) -> bool:
        """True when ``cycle_momentum`` is set (the default)."""
        return self.cycle_momentum

    def cycle_length(self) -> int | None:
        """The one cycle: ``total_steps``."""
        return self.total_steps

    def cycle_ends(self, total_steps: int) -> list[int]:
        """``[self.total_steps]`` if it fits in ``total_steps``; the cycle does not repeat."""
        whole = super().cycle_ends(total_steps)
        return whole[:1]


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class OneCycleFastai(OneCycle):
    """fastai's ``fit_one_cycle`` defaults: cos, pct_start 0.25, div 25, final lr max_lr/1e5."""

    name = "onecycle_fastai"
    pct_start: Annotated[float, UNIT_INTERVAL] = 0.25
    final_div_factor: Annotated[float, POSITIVE_FLOAT] = 4000.0


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class OneCycleSmith(OneCycle):
    """Smith's 1cycle: linear, three phases (45 %, 45 %, 10 %), lr from max_lr/10."""

    name = "onecycle_smith"
    pct_start: Annotated[float, UNIT_INTERVAL] = 0.45
    div_factor: Annotated[float, POSITIVE_FLOAT] = 10.0
    anneal: Annotated[str, ANNEAL] = "linear"
    three_phase: Annotated[bool, Bool()] = True


onecycle = OneCycle
onecycle_fastai = OneCycleFastai
onecycle_smith = OneCycleSmith
