"""What a tune may spend (:class:`TuneBudget`) and the plan it is sized into (:class:`TunePlan`).

A budget bounds the *whole* run: the range test, the search, the
confirmation of the finalists and the time-to-accuracy ladder. It is given
in any of three units, alone or together:

- ``steps``: optimizer steps per trial (the budget every searched and
  confirmed policy trains for);
- ``trials``: how many points the search samples (the range test's centres
  included);
- ``minutes``: wall time of the whole run. What ``steps`` and ``trials``
  leave open is sized to fit (:func:`size_plan`): first the steps per trial,
  up to ``max_epochs`` epochs (more only overfits small training sets), then
  more search rounds with the time left, in whole rounds.

A minutes budget is sized from a measurement: one round of short timing
trials on the executor the run uses (:data:`TIMING_EPOCHS`, stored like every
trial) gives the seconds per optimizer step and per evaluation, as the search
will train them (in groups, on the workers). Because the plan is a function
of stored numbers only (the budget, the stored range test's and timing
trials' wall times, the task's epoch length and the executor's workers), a
resumed tune sizes exactly the plan of the run it resumes.

Nothing here imports torch or Optuna.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from lrscope.errors import ParameterError
from lrscope.ladder import ladder_steps
from lrscope.tune.space import MIN_STEPS
from lrscope.validation import COUNT, POSITIVE_FLOAT, Interval, OrNone, Validated

__all__ = [
    "DEFAULT_MAX_EPOCHS",
    "DEFAULT_ROUND_SIZE",
    "DEFAULT_SEARCH_TRIALS",
    "EVALS_PER_TRIAL",
    "MAX_SEARCH_TRIALS",
    "SAFETY",
    "StepCost",
    "TuneBudget",
    "TunePlan",
    "size_plan",
    "timing_steps",
]

DEFAULT_MAX_EPOCHS = 150
"""Cap of a minutes-sized trial, in epochs.

More is not better on small training sets: on ``mnist1d-cnn`` (4,000
samples) the best policies' final top-1 over 8 seeds is 0.961 to 0.966 at
150 epochs and 0.955 after 530 (the models overfit once annealed), while
every extra epoch costs time."""
DEFAULT_SEARCH_TRIALS = 48
"""Points searched when the budget names neither ``trials`` nor ``minutes``: three rounds."""
MAX_SEARCH_TRIALS = 10_000
"""The most points a budget may ask the search for."""
MAX_SIZED_ROUNDS = 4
"""A minutes budget sizes at most this many search rounds (then the trials are long enough
and more one-seed trials mostly find lucky seeds)."""
DEFAULT_ROUND_SIZE = 16
"""Points asked of the sampler at once, before any of them is told (one round)."""
EVALS_PER_TRIAL = 10
"""Evaluations of a confirmation trial (its curve in the report, its best_iter).

Grouped trials train together but evaluate one by one (the test set and a
training subsample), so an evaluation costs about fifty grouped steps on
``mnist1d-cnn``: thirty of them would add a third to the confirmation of
4,800-step trials, ten add a tenth."""
SAFETY = 0.85
"""Share of a minutes budget the plan is sized to use (the rest is margin)."""
MIN_EPOCHS = 4
"""The shortest trial a minutes budget sizes, in epochs."""
TIMING_EPOCHS = (2, 6)
"""Epochs of the two rounds of timing trials of a minutes budget."""


@dataclass(frozen=True)
class TuneBudget(Validated):
    """How much a tune may spend; see the module docstring. At least one of
    ``steps``, ``minutes`` and ``trials``.

    ``max_epochs`` caps a trial sized from ``minutes`` (``None``: no cap); an
    explicit ``steps`` is never capped. With ``trials`` only, trials train
    ``max_epochs`` epochs (:data:`DEFAULT_MAX_EPOCHS` when it is None).

    Raises:
        ParameterError: a value out of range, or no budget at all.
    """

    owner = "the tune budget"

    steps: Annotated[int | None, OrNone(Interval(int, MIN_STEPS, None, "left"))] = None
    minutes: Annotated[float | None, OrNone(POSITIVE_FLOAT)] = None
    trials: Annotated[int | None, OrNone(Interval(int, 1, MAX_SEARCH_TRIALS))] = None
    max_epochs: Annotated[int | None, OrNone(COUNT)] = DEFAULT_MAX_EPOCHS

    def _check(self) -> None:
        if self.steps is None and self.minutes is None and self.trials is None:
            allowed = (
                f"an int in the range [{MIN_STEPS}, inf) when neither minutes nor trials is given"
            )
            raise ParameterError(self.owner_name(), "steps", allowed, None)

    def describe(self) -> str:
        """``4800 steps per trial, 48 trials, 5 minutes`` (what was given)."""
        parts = []
        if self.steps is not None:
            parts.append(f"{self.steps:,} steps per trial")
        if self.trials is not None:
            parts.append(f"{self.trials} search trials")
        if self.minutes is not None:
            parts.append(f"{self.minutes:g} minutes")
        return ", ".join(parts)


@dataclass(frozen=True)
class StepCost:
    """Measured cost of training on this machine, as the run trains: ``step_s`` seconds
    per optimizer step and ``eval_s`` per evaluation (set-up counted in), each a
    trial's share of the wall time when the workers train in parallel."""

    step_s: float
    eval_s: float

    def trial_s(self, steps: int, evals: int) -> float:
        return steps * self.step_s + evals * self.eval_s

    @classmethod
    def from_timing(
        cls, short_s: Sequence[float], long_s: Sequence[float], steps: tuple[int, int], workers: int
    ) -> StepCost:
        """The cost from two rounds of timing trials of ``steps = (short, long)`` steps.

        ``short_s`` and ``long_s`` are the trials' stored wall times (a
        grouped trial's is its share of its group's time); ``workers`` train
        in parallel. The difference between the rounds is the steps; the rest
        is one evaluation and the set-up.
        """
        short = statistics.fmean(short_s) / workers
        long = statistics.fmean(long_s) / workers
        step_s = max(long - short, 0.0) / (steps[1] - steps[0])
        if step_s <= 0.0:  # noise: charge everything to the steps
            step_s = long / steps[1]
        return cls(step_s=step_s, eval_s=max(short - steps[0] * step_s, 0.0))


def timing_steps(steps_per_epoch: int) -> tuple[int, int]:
    """Steps of the two rounds of timing trials: :data:`TIMING_EPOCHS` epochs (16, 48 at least)."""
    short = max(TIMING_EPOCHS[0] * steps_per_epoch, 16)
    long = max(TIMING_EPOCHS[1] * steps_per_epoch, 3 * short)
    return short, long


@dataclass(frozen=True)
class TunePlan:
    """What a tune runs, sized from its budget (see :func:`size_plan`).

    ``steps`` per trial; ``search_trials`` points sampled in rounds of
    ``round_size`` on ``search_seed``; the best ``finalists`` and the FIX
    baseline confirmed on ``confirm_seeds`` with an evaluation every
    ``eval_every`` steps; the ladder's shorter budgets ``ladder``. ``estimate_s``
    is the sized wall time of the search, confirmation and ladder (None when
    nothing was timed); ``note`` says how the plan was sized.
    """

    steps: int
    eval_every: int
    search_trials: int
    round_size: int
    finalists: int
    search_seed: int
    confirm_seeds: tuple[int, ...]
    ladder: tuple[int, ...]
    estimate_s: float | None = None
    note: str = ""

    @property
    def confirm_trials(self) -> int:
        return (self.finalists + 1) * len(self.confirm_seeds)

    @property
    def ladder_trials(self) -> int:
        """Trials of the ladder's shorter rungs (winner and FIX; the full rung is confirmed)."""
        return 2 * len(self.confirm_seeds) * len(self.ladder)

    @property
    def trials(self) -> int:
        """Every trial the plan trains at most (search, confirmation, ladder)."""
        return self.search_trials + self.confirm_trials + self.ladder_trials

    @property
    def trial_steps(self) -> int:
        """Optimizer steps of those trials."""
        ladder = 2 * len(self.confirm_seeds) * sum(self.ladder)
        return (self.search_trials + self.confirm_trials) * self.steps + ladder

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["confirm_seeds"] = list(self.confirm_seeds)
        data["ladder"] = list(self.ladder)
        data["trials"] = self.trials
        data["trial_steps"] = self.trial_steps
        return data


def _evals(steps: int) -> int:
    every = max(steps // EVALS_PER_TRIAL, 1)
    return math.ceil(steps / every)


def _seconds(cost: StepCost, steps: int, search: int, finalists: int, seeds: int) -> float:
    """Sized wall time of the search, confirmation and ladder at ``steps`` per trial."""
    confirm = (finalists + 1) * seeds * cost.trial_s(steps, _evals(steps))
    ladder = 2 * seeds * sum(cost.trial_s(b, 1) for b in ladder_steps(steps))
    return search * cost.trial_s(steps, 1) + confirm + ladder


@dataclass(frozen=True)
class _Shape:
    steps_per_epoch: int
    round_size: int
    finalists: int
    seeds: int


def _fit_steps(
    shape: _Shape, cost: StepCost, seconds: float, search: int, max_epochs: int | None
) -> int:
    """The most whole epochs per trial (at most ``max_epochs``) that fit ``seconds``."""
    epoch = shape.steps_per_epoch
    high = 100_000 if max_epochs is None else max_epochs
    low = min(MIN_EPOCHS, high)
    floor = max(low * epoch, MIN_STEPS)
    if _seconds(cost, floor, search, shape.finalists, shape.seeds) > seconds:
        return floor
    while low < high:  # the time grows with the epochs: bisect
        mid = (low + high + 1) // 2
        if _seconds(cost, mid * epoch, search, shape.finalists, shape.seeds) <= seconds:
            low = mid
        else:
            high = mid - 1
    return max(low * epoch, floor)


def _fit_search(shape: _Shape, cost: StepCost, seconds: float, steps: int, most: int) -> int:
    """The most whole rounds of points (at most ``most`` points) that fit ``seconds``."""
    size = shape.round_size
    best = 0
    for rounds in range(1, math.ceil(most / size) + 1):
        points = min(rounds * size, most)
        if _seconds(cost, steps, points, shape.finalists, shape.seeds) > seconds:
            break
        best = points
    return best or min(size, most)


def size_plan(
    budget: TuneBudget,
    *,
    steps_per_epoch: int,
    round_size: int = DEFAULT_ROUND_SIZE,
    finalists: int,
    search_seed: int,
    confirm_seeds: tuple[int, ...],
    cost: StepCost | None = None,
    spent_s: float = 0.0,
) -> TunePlan:
    """The plan of ``budget`` (see the module docstring).

    ``cost`` (needed when ``minutes`` leaves something open) is the measured
    :class:`StepCost`; ``spent_s`` the stored seconds already spent (range
    test, timing trials), taken off the minutes. Pure: the same arguments
    give the same plan.

    Raises:
        ParameterError: a minutes budget to size without a ``cost``.
    """
    shape = _Shape(steps_per_epoch, round_size, finalists, len(confirm_seeds))
    timed = budget.minutes is not None and (budget.steps is None or budget.trials is None)
    if timed and cost is None:
        raise ParameterError("size_plan", "cost", "a StepCost to size a minutes budget", cost)
    seconds = 0.0 if budget.minutes is None else SAFETY * budget.minutes * 60.0 - spent_s
    steps, trials, note = budget.steps, budget.trials, "as given"
    if timed and cost is not None:
        sized_least = trials or 2 * round_size
        if steps is None:
            steps = _fit_steps(shape, cost, seconds, sized_least, budget.max_epochs)
            note = f"steps sized to {budget.minutes:g} minutes"
        if trials is None:
            most = MAX_SIZED_ROUNDS * round_size
            trials = _fit_search(shape, cost, seconds, steps, most)
            note = f"steps and search sized to {budget.minutes:g} minutes"
    if steps is None:
        steps = (budget.max_epochs or DEFAULT_MAX_EPOCHS) * steps_per_epoch
    if trials is None:
        trials = DEFAULT_SEARCH_TRIALS
    estimate = (
        None if cost is None else _seconds(cost, steps, trials, finalists, len(confirm_seeds))
    )
    return TunePlan(
        steps=steps,
        eval_every=max(steps // EVALS_PER_TRIAL, 1),
        search_trials=trials,
        round_size=min(round_size, trials),
        finalists=finalists,
        search_seed=search_seed,
        confirm_seeds=confirm_seeds,
        ladder=ladder_steps(steps),
        estimate_s=estimate,
        note=note,
    )
