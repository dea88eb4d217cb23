"""Time to accuracy on a budget ladder: how short a budget the winner needs to match FIX.

Smith 2017 compares how many iterations a cyclical policy needs to reach the
accuracy a fixed learning rate reaches (25k against 70k on CIFAR-10).
Reading that off one full-length run (the step where a curve first crosses
FIX's best) penalises exactly the schedules the papers praise: an annealing
schedule reaches its best only at its end, whatever its length. So the
winner and FIX are trained again at shorter budgets, each policy rebuilt for
its budget (the same shape in fewer steps), on the confirmation seeds:

- rungs: :data:`LADDER_FRACTIONS` of the budget (1/16, 1/8, 1/4, 1/2,
  :func:`ladder_steps`) and the full budget (the confirmation trials);
- at each rung, the median over the seeds of the final value of the ranking
  metric (a diverged trial counts as the worst value);
- the target: FIX's best median over the ladder;
- each policy's time to accuracy: the smallest rung whose median reaches the
  target (``None``: none does); the ratio is the winner's over FIX's.

On small tasks FIX saturates early (on ``mnist1d-cnn`` FIX's medians at 1200,
1600 and 4800 steps were 0.915, 0.955, 0.956), so the ratio is reported, not
a criterion.

:func:`lrscope.tune.tune` trains the ladder and computes it with
:func:`time_to_accuracy`; :func:`stored_ladder` finds the same ladder in a
store's trials (the report shows it): the ranking's rank 1 and its FIX row,
each with the trials of its policy (the same name) at shorter budgets on the
same seeds, evaluated once at the end. Nothing here imports torch.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrscope.metrics import Metric

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rank import PolicyStats, Ranking, TrialLike

__all__ = [
    "LADDER_FRACTIONS",
    "Rung",
    "TimeToAccuracy",
    "format_value",
    "ladder_steps",
    "stored_ladder",
    "time_to_accuracy",
]

LADDER_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2)
"""The shorter rungs of the ladder, as shares of the budget (the full budget is the last)."""
MIN_RUNG_STEPS = 8
"""The shortest rung, in optimizer steps (every policy family needs a few steps)."""


def ladder_steps(steps: int) -> tuple[int, ...]:
    """The ladder's shorter budgets for trials of ``steps`` steps (distinct, increasing).

    ``round(steps * f)`` for each of :data:`LADDER_FRACTIONS`, at least
    :data:`MIN_RUNG_STEPS`, below ``steps``.
    """
    rungs = sorted({max(round(steps * f), MIN_RUNG_STEPS) for f in LADDER_FRACTIONS})
    return tuple(r for r in rungs if r < steps)


@dataclass(frozen=True)
class Rung:
    """One budget of the ladder: the medians of the winner and of FIX (NaN: not trained)."""

    steps: int
    winner: float
    baseline: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "winner_median": _json(self.winner),
            "baseline_median": _json(self.baseline),
        }


@dataclass(frozen=True)
class TimeToAccuracy:
    """The ladder's answer: FIX's best median ``target``, the smallest budget where each
    median reaches it (``winner_steps`` None: never), ``ratio = winner_steps /
    baseline_steps`` and every ``rung``."""

    metric: str
    target: float
    winner_steps: int | None
    baseline_steps: int | None
    ratio: float | None
    rungs: tuple[Rung, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "target": _json(self.target),
            "winner_steps": self.winner_steps,
            "baseline_steps": self.baseline_steps,
            "ratio": self.ratio,
            "rungs": [rung.to_dict() for rung in self.rungs],
        }

    def sentence(self) -> str:
        """One line: ``FIX's best median top1 0.9560: reached by the winner at 1,200 steps, by
        FIX at 4,800: ratio 0.25``."""
        if self.baseline_steps is None:
            return "FIX has no finite median on the ladder"
        win = "never" if self.winner_steps is None else f"at {self.winner_steps:,} steps"
        ratio = "" if self.ratio is None else f": ratio {self.ratio:.2f}"
        return (
            f"FIX's best median {self.metric} {format_value(self.target)}: reached by the "
            f"winner {win}, by FIX at {self.baseline_steps:,}{ratio}"
        )


def format_value(value: float) -> str:
    """A metric value for a sentence: four decimals (``0.9560``, ``0.0123``), or four
    significant digits when that would hide it (``1.234e-05``, ``1.235e+04``)."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4f}"
    return f"{value:.4g}"


def _json(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _median(values: Sequence[float], metric: Metric) -> float:
    """Median over seeds; a non-finite value (a diverged trial) counts as the worst."""
    worst = -math.inf if metric.higher_is_better else math.inf
    if not values:
        return math.nan
    return statistics.median(v if math.isfinite(v) else worst for v in values)


def _reach(medians: Mapping[int, float], target: float, metric: Metric) -> int | None:
    for steps in sorted(medians):
        value = medians[steps]
        if math.isfinite(value) and metric.sign() * (value - target) >= -1e-12:
            return steps
    return None


def time_to_accuracy(
    winner: Mapping[int, Sequence[float]],
    baseline: Mapping[int, Sequence[float]],
    metric: Metric,
) -> TimeToAccuracy:
    """The ladder's time to accuracy from each rung's final values over the seeds.

    ``winner[steps]`` and ``baseline[steps]`` are the final metric values of
    the seeds at that budget (NaN for a diverged trial).
    """
    win = {steps: _median(values, metric) for steps, values in winner.items()}
    base = {steps: _median(values, metric) for steps, values in baseline.items()}
    finite = [v for v in base.values() if math.isfinite(v)]
    rungs = tuple(
        Rung(steps, win.get(steps, math.nan), base.get(steps, math.nan))
        for steps in sorted({*win, *base})
    )
    if not finite:
        return TimeToAccuracy(metric.name, math.nan, None, None, None, rungs)
    target = max(finite) if metric.higher_is_better else min(finite)
    base_steps = _reach(base, target, metric)
    win_steps = _reach(win, target, metric)
    ratio = None if win_steps is None or not base_steps else win_steps / base_steps
    return TimeToAccuracy(metric.name, target, win_steps, base_steps, ratio, rungs)


def _name(spec: str) -> str:
    return spec.split("(", 1)[0].strip()


def _final(record: TrialLike, metric: str) -> float:
    from lrscope.rank import trial_value

    if getattr(record, "status", "done") != "done" or record.diverged:
        return math.nan
    return trial_value(record, metric)


def _rungs(row: PolicyStats, trials: Sequence[TrialLike], metric: str) -> dict[int, list[float]]:
    """``row``'s final values at its budget and at every shorter rung of its ladder.

    A rung (:func:`ladder_steps` of ``row``'s budget) counts when exactly one
    spec of ``row``'s policy (its name) was trained there on every one of
    ``row``'s seeds, evaluated once at the end (``eval_every == steps``), on
    ``row``'s runtime; otherwise it is left out.
    """
    from lrscope.rank import trial_runtime

    seeds = sorted(row.seeds)
    full = [t for t in trials if row.holds(t)]
    rungs = {row.steps: [_final(t, metric) for t in sorted(full, key=lambda t: t.seed)]}
    budgets = set(ladder_steps(row.steps))
    shorter: dict[int, dict[str, dict[int, TrialLike]]] = {}
    for t in trials:
        if (
            t.steps in budgets
            and getattr(t, "eval_every", None) == t.steps
            and t.seed in seeds
            and trial_runtime(t) == row.runtime
            and _name(t.spec) == _name(row.spec)
            and getattr(t, "status", "done") in ("done", "diverged")
        ):
            shorter.setdefault(t.steps, {}).setdefault(t.spec, {})[t.seed] = t
    for steps, specs in shorter.items():
        complete = [by_seed for by_seed in specs.values() if sorted(by_seed) == seeds]
        if len(complete) == 1:
            rungs[steps] = [_final(complete[0][s], metric) for s in seeds]
    return rungs


def stored_ladder(trials: Iterable[TrialLike], ranking: Ranking) -> TimeToAccuracy | None:
    """The budget ladder of ``ranking``'s winner (rank 1) and its FIX row in ``trials``.

    None when the ranking has no rank 1 or not exactly one ranked FIX row, or
    when FIX has no shorter budget stored (no ladder was trained).
    """
    if not ranking.rows:
        return None
    fixes = [row for row in ranking.rows if _name(row.spec) == "FIX"]
    if len(fixes) != 1:
        return None
    records = list(trials)
    metric = ranking.scoring.get(ranking.metric, owner="the budget ladder")
    baseline = _rungs(fixes[0], records, metric.name)
    if len(baseline) < 2:
        return None
    winner = ranking.rows[0]
    rungs = baseline if winner.spec == fixes[0].spec else _rungs(winner, records, metric.name)
    return time_to_accuracy(rungs, baseline, metric)
