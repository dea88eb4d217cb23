"""What :func:`lrscope.tune.tune` returns: the ranking, the winner against FIX, the evidence.

:class:`TuneResult` holds the run's trials ranked by the one ranking rule
(:func:`lrscope.rank.rank_trials`: the confirmed policies ranked, the search's
one-seed trials and the ladder's shorter budgets shown apart), the winner
(rank 1) and the FIX baseline as rows of that ranking, the time to accuracy
on the budget ladder and the compute spent. :meth:`TuneResult.summary` is the
peer-style summary that ``lrscope tune``, ``lrscope demo`` and
``benchmarks/peers.py`` print. Nothing here imports torch.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrscope.rank import tie_break_name

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.ladder import TimeToAccuracy
    from lrscope.rangetest.result import Suggestions
    from lrscope.rank import PolicyStats, Ranking
    from lrscope.tune.budget import TuneBudget, TunePlan
    from lrscope.tune.search import SearchPoint
    from lrscope.tune.space import LRBounds

__all__ = ["Compute", "TuneResult", "format_duration"]


def format_duration(seconds: float) -> str:
    """``3 min 12 s`` (``45.2 s`` under a minute)."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


@dataclass(frozen=True)
class Compute:
    """What a tune spent: ``trials`` trained (or found stored), their optimizer ``steps``
    plus the range test's, the sum of their stored wall times ``trial_s`` (a grouped
    trial's is its share of its group) and this call's ``wall_s``."""

    trials: int
    steps: int
    trial_s: float
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "steps": self.steps,
            "trial_s": self.trial_s,
            "wall_s": self.wall_s,
        }

    def sentence(self) -> str:
        return (
            f"{self.trials} trials, {self.steps:,} optimizer steps, "
            f"{format_duration(self.wall_s)} wall time"
        )


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def _row_summary(row: PolicyStats, metric: str, values: Sequence[float]) -> dict[str, Any]:
    mean, std = row.value(metric), row.std.get(metric, math.nan)
    return {
        "spec": row.spec,
        "rank": row.rank,
        "n": row.n,
        "seeds": list(row.seeds),
        f"{metric}_median": _json(_median(values)),
        f"{metric}_mean": _json(mean),
        f"{metric}_std": _json(std),
        "diverged_rate": row.diverged_rate,
    }


def _json(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class TuneResult:
    """What a tune found, and the evidence (see the module docstring).

    ``ranking`` ranks this run's trials (:class:`~lrscope.rank.Ranking`: the
    confirmed policies in ``rows``, everything else in ``apart``);
    ``winner_values`` and ``baseline_values`` are the final metric values of
    the winner and of FIX on the confirmation seeds, in seed order;
    ``primary_metric`` is the task's (what ranks by default, and the best
    value of which picks each trial's best evaluation); ``runtime`` the
    identity of the runtime every trial ran on (``""``: fp32, no
    accumulation).
    """

    task: str
    metric: str
    budget: TuneBudget
    plan: TunePlan
    bounds: LRBounds
    suggestions: Suggestions
    search: tuple[SearchPoint, ...]
    finalists: tuple[str, ...]
    baseline_spec: str
    ranking: Ranking
    winner_values: tuple[float, ...]
    baseline_values: tuple[float, ...]
    time_to_accuracy: TimeToAccuracy
    compute: Compute
    execution: str
    sampler: str
    stages_s: Mapping[str, float] = field(default_factory=dict)
    ungrouped_reason: str | None = None
    primary_metric: str = "top1"
    runtime: str = ""

    @property
    def winner(self) -> PolicyStats:
        """Rank 1 of the confirmed trials."""
        return self.ranking.rows[0]

    @property
    def baseline(self) -> PolicyStats:
        """FIX's row of the same ranking."""
        row = self.ranking.row(self.baseline_spec)
        if row is None:  # pragma: no cover - tune raises before returning without it
            raise LookupError(f"{self.baseline_spec} is not ranked")
        return row

    @property
    def winner_spec(self) -> str:
        return self.winner.spec

    @property
    def steps(self) -> int:
        return self.plan.steps

    @property
    def tie(self) -> float:
        return self.ranking.tie

    @property
    def winner_reason(self) -> str:
        """Why rank 1 won: the best mean, or a tie broken by :func:`lrscope.rank.tie_break`."""
        chosen = self.ranking.scoring.get(self.metric, owner="tune")
        n = len(self.plan.confirm_seeds)
        values = [r.value(self.metric) for r in self.ranking.rows]
        best = max(values, key=lambda v: chosen.sign() * v if math.isfinite(v) else -math.inf)
        if len(self.ranking.rows) == 1 or self.winner.value(self.metric) == best:
            return f"best mean {self.metric} over {n} confirmation seeds"
        if tie_break_name(chosen.name) == "cost":
            why = "the lowest cost (steps to its best evaluation)"
        else:
            why = "the most robust (lowest std over the seeds)"
        return f"{self.metric} within {self.tie:g} of the best (a tie), and {why} among the tied"

    def summary(self) -> dict[str, Any]:
        """The peer-style summary: winner and FIX (rank, median, mean, std over the
        confirmation seeds), time to accuracy, compute spent."""
        tta = self.time_to_accuracy
        return {
            "task": self.task,
            "metric": self.metric,
            "steps": self.plan.steps,
            "seeds": list(self.plan.confirm_seeds),
            "winner": _row_summary(self.winner, self.metric, self.winner_values),
            "winner_reason": self.winner_reason,
            "baseline": _row_summary(self.baseline, self.metric, self.baseline_values),
            "time_to_accuracy": tta.to_dict(),
            "time_to_accuracy_ratio": tta.ratio,
            "compute": self.compute.to_dict(),
        }

    def summary_lines(self, width: int = 80) -> list[str]:
        """The summary as lines of at most ``width`` characters (specs on lines of their own)."""
        s = self.summary()
        metric = self.metric
        seeds = ", ".join(str(x) for x in self.plan.confirm_seeds)
        lines = [
            f"{self.task}: {self.plan.steps:,} steps per trial, final {metric} over seeds {seeds}",
            f"  {'':<8}{'rank':<6}{'median':<10}{'mean ± std':<20}diverged",
        ]
        for label, key in (("winner", "winner"), ("FIX", "baseline")):
            row = s[key]
            median, mean, std = (row[f"{metric}_{x}"] for x in ("median", "mean", "std"))
            spread = _mean_std(mean, std)
            lines.append(
                f"  {label:<8}{'#' + str(row['rank']):<6}{_num(median):<10}{spread:<20}"
                f"{row['diverged_rate']:.0%}"
            )
            lines.append(f"          {row['spec']}")
        for text in (
            f"chosen for: {s['winner_reason']}",
            f"{'time to accuracy' if metric == 'top1' else 'time to target'}: "
            f"{self.time_to_accuracy.sentence()}",
            f"compute: {self.compute.sentence()}",
        ):
            lines += textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="    ")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Everything, as JSON data (``lrscope tune --json``)."""
        return {
            "task": self.task,
            "metric": self.metric,
            "primary_metric": self.primary_metric,
            "runtime": self.runtime,
            "budget": {
                "steps": self.budget.steps,
                "minutes": self.budget.minutes,
                "trials": self.budget.trials,
                "max_epochs": self.budget.max_epochs,
            },
            "plan": self.plan.to_dict(),
            "steps": self.plan.steps,
            "bounds": {
                "suggested_lr": self.bounds.suggested_lr,
                "min_lr": self.bounds.min_lr,
                "max_lr": self.bounds.max_lr,
                "peak_lr": self.bounds.peak_lr,
            },
            "suggestions": self.suggestions.to_dict(),
            "sampler": self.sampler,
            "search": [p.to_dict() for p in self.search],
            "finalists": list(self.finalists),
            "baseline_spec": self.baseline_spec,
            "winner_spec": self.winner_spec,
            "winner": self.winner.to_dict(),
            "baseline": self.baseline.to_dict(),
            "ranking": [row.to_dict() for row in self.ranking.rows],
            "apart": [row.to_dict() for row in self.ranking.apart],
            "tie": self.tie,
            "summary": self.summary(),
            "execution": self.execution,
            "ungrouped_reason": self.ungrouped_reason,
            "wall_s": self.compute.wall_s,
            "stages_s": dict(self.stages_s),
        }


def _mean_std(mean: float | None, std: float | None) -> str:
    """``mean ± std`` with the same number of decimals in both (the mean's, as
    :func:`lrscope.ladder.format_value` writes it: ``0.0149 ± 0.0009``); in
    scientific notation both share the mean's digits too (``1.234e-05 ± 9.100e-07``)."""
    if mean is None or std is None or not math.isfinite(mean) or not math.isfinite(std):
        return f"{_num(mean)} ± {_num(std)}"
    if mean == 0 or 1e-3 <= abs(mean) < 1e4:
        return f"{mean:.4f} ± {std:.4f}"
    return f"{mean:.3e} ± {std:.3e}"


def _num(value: float | None) -> str:
    from lrscope.ladder import format_value

    return "-" if value is None else format_value(value)
