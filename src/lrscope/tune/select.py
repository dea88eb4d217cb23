"""Choosing the winner of a tuning run: utility first, then cost (Wu, Liu et al. 2019).

LRBench ranks LR policies by utility (the accuracy of the trained model) and
prefers, among equally good ones, the one with the lowest cost ("SIN2 as the
winner for the highest accuracy with the lowest cost"). :func:`pick_winner`
does exactly that with the full trials of :func:`lrscope.tune.tune`:

1. utility: the ranking metric's mean over seeds (the task's primary metric
   at the end: final test top-1 for classification, MSE for regression, by
   default). Policies within ``tie`` of the best mean are *tied*: on a small
   test set such differences are noise. On MNIST-1D (1,000 test samples) the
   final top-1 of one policy varies by about 0.005 from seed to seed, so a
   3-seed mean has a standard error of about 0.003: :data:`DEFAULT_TIE`.
2. cost: among the tied, the policy whose seed-mean curve of the primary
   metric first reaches the best value of the FIX baseline's seed-mean curve
   wins (:func:`time_to_accuracy`, Smith 2017's comparison of 25k against 70k
   iterations); a policy that never reaches it comes after every one that does,
   and remaining ties keep the utility order. "Best" and "reach" follow the
   primary metric's direction (the highest top-1, the lowest MSE).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from lrscope.errors import ParameterError
from lrscope.metrics import CLASSIFICATION_SCORING, Metric, Scoring
from lrscope.validation import NONNEGATIVE_FLOAT, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rank import PolicyStats

__all__ = [
    "DEFAULT_TIE",
    "CurvePoint",
    "TimeToAccuracy",
    "TrialCurve",
    "Winner",
    "check_tie",
    "mean_curve",
    "pick_winner",
    "time_to_accuracy",
]

DEFAULT_TIE = 0.003
"""Metric differences up to this count as ties (in the metric's units)."""


class CurvePoint(Protocol):
    """One evaluation of a trial: the step and the task's primary metric there."""

    @property
    def step(self) -> int: ...
    @property
    def primary(self) -> float: ...


class TrialCurve(Protocol):
    """A trial's evaluation curve (an engine ``TrialResult`` has one)."""

    @property
    def curve(self) -> Sequence[CurvePoint]: ...


@dataclass(frozen=True)
class TimeToAccuracy:
    """Steps each seed-mean curve needs to reach ``target`` (FIX's best ``metric``).

    ``ratio = winner_steps / baseline_steps``; ``None`` where the winner never
    reaches the target.
    """

    target: float
    winner_steps: int | None
    baseline_steps: int
    ratio: float | None
    metric: str = "top1"


def mean_curve(results: Sequence[TrialCurve]) -> list[tuple[int, float]]:
    """``(step, mean primary metric over the trials evaluated at that step)``, by step.

    Only steps every trial evaluated count (a diverged trial's curve ends early,
    so the mean covers its steps only).
    """
    if not results:
        return []
    common = set.intersection(*({p.step for p in r.curve} for r in results))
    by_step: dict[int, list[float]] = {}
    for r in results:
        for p in r.curve:
            if p.step in common:
                by_step.setdefault(p.step, []).append(p.primary)
    return [(step, statistics.fmean(v)) for step, v in sorted(by_step.items())]


def time_to_accuracy(
    winner: Sequence[TrialCurve],
    baseline: Sequence[TrialCurve],
    metric: Metric = CLASSIFICATION_SCORING.primary_metric,
) -> TimeToAccuracy | None:
    """Steps to reach the best ``metric`` of the baseline's seed-mean curve, winner vs baseline.

    ``metric`` is the task's primary metric (the curves' ``primary``): its
    direction says what "best" and "reach" mean.
    """
    base_curve = [(step, v) for step, v in mean_curve(baseline) if not math.isnan(v)]
    win_curve = mean_curve(winner)
    if not base_curve or not win_curve:
        return None
    target = base_curve[0][1]
    for _, value in base_curve:
        if metric.better(value, target):
            target = value

    def reaches(value: float) -> bool:
        return not math.isnan(value) and not metric.better(target, value)

    base_steps = next(step for step, v in base_curve if reaches(v))
    win_steps = next((step for step, v in win_curve if reaches(v)), None)
    ratio = None if win_steps is None or base_steps == 0 else win_steps / base_steps
    return TimeToAccuracy(target, win_steps, base_steps, ratio, metric.name)


def check_tie(tie: float, owner: str = "tune") -> float:
    """``tie`` if it is a finite float >= 0, else a :class:`ParameterError`."""
    value: float = check(owner, "tie", tie, NONNEGATIVE_FLOAT)
    return value


@dataclass(frozen=True)
class Winner:
    """The chosen ranking row, the rows tied with the best, and why it won.

    ``reach[spec]`` is each row's time to FIX's best primary metric (``None``: no curve).
    """

    row: PolicyStats
    tied: tuple[str, ...]
    reach: dict[str, TimeToAccuracy | None]
    reason: str

    @property
    def steps_to_target(self) -> dict[str, int | None]:
        """Steps each spec's seed-mean curve needs to reach FIX's best (``None``: never)."""
        return {spec: None if t is None else t.winner_steps for spec, t in self.reach.items()}


def pick_winner(
    rows: Sequence[PolicyStats],
    results: Mapping[str, Sequence[TrialCurve]],
    baseline_spec: str,
    metric: str,
    tie: float = DEFAULT_TIE,
    scoring: Scoring = CLASSIFICATION_SCORING,
) -> Winner:
    """The winner among ranking ``rows`` (best first, as :func:`lrscope.rank.rank_trials`
    orders them), with ``results[spec]`` the full trials of each row.

    See the module docstring for the rule. ``scoring`` is the task's (its
    primary metric draws the curves). ``steps_to_target`` maps every spec to
    the steps its seed-mean curve needs to reach FIX's best value (``None``:
    never, or no curve).

    Raises:
        ParameterError: no rows, a ``metric`` the task does not rank by or a
            negative ``tie``.
    """
    chosen_metric = scoring.get(metric, owner="pick_winner")
    tie = check_tie(tie, "pick_winner")
    if not rows:
        raise ParameterError("pick_winner", "rows", "a non-empty ranking", list(rows))
    baseline = results.get(baseline_spec, ())
    primary = scoring.primary_metric
    reach = {
        row.spec: time_to_accuracy(results.get(row.spec, ()), baseline, primary) for row in rows
    }
    steps_to = {spec: None if t is None else t.winner_steps for spec, t in reach.items()}
    best = rows[0]
    best_value = best.value(chosen_metric.name)
    if math.isnan(best_value) or tie == 0:
        return Winner(best, (best.spec,), reach, f"best {metric}")
    sign = chosen_metric.sign()
    tied = [
        row
        for row in rows
        if sign * (best_value - row.value(chosen_metric.name)) <= tie + 1e-12
        and row.diverged_rate <= best.diverged_rate
    ]
    order = {row.spec: i for i, row in enumerate(rows)}

    def cost(row: PolicyStats) -> tuple[float, int]:
        steps = steps_to[row.spec]
        return (math.inf if steps is None else float(steps), order[row.spec])

    chosen = min(tied, key=cost)
    names = tuple(row.spec for row in tied)
    target = f"FIX's best {primary.name}"
    if len(tied) == 1:
        reason = f"best {metric}"
    elif chosen.spec == best.spec:
        reason = f"best {metric}, and first to {target} among {len(tied)} tied"
    else:
        reason = (
            f"{metric} within {tie:g} of the best (a tie), and first to {target} "
            f"among {len(tied)} tied"
        )
    return Winner(chosen, names, reach, reason)
