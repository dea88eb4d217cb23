"""How a range test or a sweep runs: frozen values, validated at construction.

Nothing here imports torch, so the command line builds these values (and
reports a bad option) before any data is loaded.

- :class:`RangeTestSettings`: the ramp, smoothing, stopping rule and optional
  evaluations of :func:`lrscope.rangetest.range_test` and
  :func:`~lrscope.rangetest.lr_range_test` (Smith 2017, section 3.3).
- :class:`MomentumSweepSettings`, :class:`WeightDecaySettings`: the candidates,
  peak learning rate, length and seeds of the short one-cycle runs of
  :func:`~lrscope.rangetest.momentum_sweep` and
  :func:`~lrscope.rangetest.weight_decay_search` (Smith 2018, section 4; as
  Mohsin, Ma and Fu apply it).

>>> RangeTestSettings(mode="linear", end_lr=1.0).steps_for(120)
300
>>> RangeTestSettings(mode="cubic")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
lrscope.errors.ParameterError: The 'mode' parameter of the range test must be a str among ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from lrscope.policies import Policy, exp_ramp, linear_ramp
from lrscope.validation import (
    COUNT,
    POSITIVE_FLOAT,
    SEED,
    Choice,
    Interval,
    ListOf,
    OrNone,
    Relation,
    Validated,
)

__all__ = [
    "COARSE_WEIGHT_DECAYS",
    "DEFAULT_DIVERGE_FACTOR",
    "DEFAULT_END_LR",
    "DEFAULT_EVAL_SAMPLES",
    "DEFAULT_MOMENTA",
    "DEFAULT_SMOOTH",
    "DEFAULT_START_LR",
    "FINE_FACTOR",
    "MAX_DEFAULT_STEPS",
    "MIN_DEFAULT_STEPS",
    "MomentumSweepSettings",
    "RangeTestSettings",
    "SweepSettings",
    "WeightDecaySettings",
    "default_steps",
    "default_sweep_steps",
]

DEFAULT_START_LR = 1e-5
DEFAULT_END_LR = 10.0
DEFAULT_SMOOTH = 0.98
DEFAULT_DIVERGE_FACTOR = 4.0
DEFAULT_EVAL_SAMPLES = 1000
MIN_DEFAULT_STEPS = 300
MAX_DEFAULT_STEPS = 500
MIN_STEPS = 5
"""The shortest range test: a smoothed curve and a descent need a few points."""

DEFAULT_MOMENTA: tuple[float, ...] = (0.8, 0.85, 0.9, 0.95, 0.99)
COARSE_WEIGHT_DECAYS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
FINE_FACTOR = 3.0
MIN_SWEEP_STEPS = 10
"""The shortest sweep run: a one-cycle schedule needs room to rise and fall."""


def default_steps(steps_per_epoch: int | None) -> int:
    """Steps of a range test when none are given: one epoch, clipped to [300, 500].

    Six decades (1e-5 to 10) need about 50 steps per decade to resolve the
    descent of the loss, so at least 300 steps; a data set whose epoch is
    longer gets one epoch (each batch seen once at most), up to 500 steps, past
    which the test costs more without reading the curve better.
    """
    if steps_per_epoch is None:
        return MIN_DEFAULT_STEPS
    return min(max(steps_per_epoch, MIN_DEFAULT_STEPS), MAX_DEFAULT_STEPS)


def default_sweep_steps(steps_per_epoch: int) -> int:
    """Steps of each short sweep run: 10 epochs, clipped to [300, 1000].

    Long enough for the one-cycle run to end near convergence on small tasks
    (so the test loss reflects the candidate, not the noise of a half-trained
    model), short enough that a sweep of 5 to 8 runs stays a fraction of a
    full training.
    """
    return min(max(10 * steps_per_epoch, 300), 1000)


@dataclass(frozen=True, kw_only=True)
class RangeTestSettings(Validated):
    r"""The parameters of one LR range test (Smith 2017, section 3.3).

    Attributes:
        mode: ``"exp"`` (geometric ramp, equal steps per decade) or
            ``"linear"`` (Smith 2017's original form).
        start_lr, end_lr: the lr of the first and the last step,
            ``0 < start_lr < end_lr``.
        steps: optimizer steps (>= 5); ``None``: :func:`default_steps` of the
            epoch length (one epoch clipped to [300, 500]).
        smooth: :math:`\beta` of the debiased smoothed loss, in [0, 1).
        diverge_factor: the test stops once the smoothed loss exceeds this
            multiple (> 1) of its minimum (4, as fastai and torch-lr-finder).
        eval_every: evaluate on a fixed test subset after every this many
            steps; ``None``: never. Each evaluation costs about a third of a
            training step per batch of test samples, so ``eval_every >= 10``
            keeps it well under the cost of the training steps.
        eval_samples: size of that subset (the same samples for every seed).

    Raises:
        ParameterError: any value outside its range, or ``end_lr <= start_lr``.
    """

    owner = "the range test"
    relations = (Relation("end_lr", ">", "start_lr"),)

    mode: Annotated[str, Choice(("exp", "linear"))] = "exp"
    start_lr: Annotated[float, POSITIVE_FLOAT] = DEFAULT_START_LR
    end_lr: Annotated[float, POSITIVE_FLOAT] = DEFAULT_END_LR
    steps: Annotated[int | None, OrNone(Interval(int, MIN_STEPS, None, "left"))] = None
    smooth: Annotated[float, Interval(float, 0, 1, "left")] = DEFAULT_SMOOTH
    diverge_factor: Annotated[float, Interval(float, 1, None, "neither")] = DEFAULT_DIVERGE_FACTOR
    eval_every: Annotated[int | None, OrNone(COUNT)] = None
    eval_samples: Annotated[int, COUNT] = DEFAULT_EVAL_SAMPLES

    def steps_for(self, steps_per_epoch: int | None) -> int:
        """``steps``, or the default for an epoch of ``steps_per_epoch`` batches (None: unknown)."""
        return default_steps(steps_per_epoch) if self.steps is None else self.steps

    def ramp(self, steps: int) -> Policy:
        """The lr schedule of a test of ``steps`` steps: ``exp_ramp`` or ``linear_ramp``."""
        factory = exp_ramp if self.mode == "exp" else linear_ramp
        return factory(start_lr=self.start_lr, end_lr=self.end_lr, steps=steps)


@dataclass(frozen=True, kw_only=True)
class SweepSettings(Validated):
    """What every short run of a momentum sweep or a weight-decay search shares.

    Attributes:
        lr: peak lr of the one-cycle runs; ``None``: a range test's
            ``onecycle_max_lr`` (run with the first seed).
        steps: optimizer steps per run (>= 10); ``None``:
            :func:`default_sweep_steps` of the epoch length.
        seeds: one run per seed and candidate (distinct seeds); rows report means.
    """

    owner = "the sweep"

    lr: Annotated[float | None, OrNone(POSITIVE_FLOAT)] = None
    steps: Annotated[int | None, OrNone(Interval(int, MIN_SWEEP_STEPS, None, "left"))] = None
    seeds: Annotated[tuple[int, ...], ListOf(SEED, order="distinct")] = (0,)

    def steps_for(self, steps_per_epoch: int) -> int:
        """``steps``, or the default for an epoch of ``steps_per_epoch`` batches."""
        return default_sweep_steps(steps_per_epoch) if self.steps is None else self.steps


@dataclass(frozen=True, kw_only=True)
class MomentumSweepSettings(SweepSettings):
    """A momentum sweep: ``momenta`` are the candidates, each held constant in [0, 1)."""

    owner = "the momentum sweep"

    momenta: Annotated[tuple[float, ...], ListOf(Interval(float, 0, 1, "left"))] = DEFAULT_MOMENTA


@dataclass(frozen=True, kw_only=True)
class WeightDecaySettings(SweepSettings):
    """A weight-decay search: decades ``coarse`` first, then the 1-3-10 neighbours.

    ``fine_factor`` (in (1, 10); default 3) places the fine candidates at
    ``best * fine_factor / 10`` and ``best * fine_factor``.
    """

    owner = "the weight-decay search"

    coarse: Annotated[tuple[float, ...], ListOf(Interval(float, 0, 1, "left"))] = (
        COARSE_WEIGHT_DECAYS
    )
    fine_factor: Annotated[float, Interval(float, 1, 10, "neither")] = FINE_FACTOR
