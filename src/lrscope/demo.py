"""``lrscope demo``: the main job, end to end, on the built-in default task.

Tunes ``mnist1d-cnn`` within a wall-time budget (range test, every policy
family, pruned cheap trials, full trials over three seeds, ranking), stores
everything in ``OUT/lrscope.db``, draws the range test and the winning
policies, writes the HTML report and returns a summary: the winner, its
metrics against the FIX baseline, and the Python that uses it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrscope.tune.pipeline import DEFAULT_EXECUTION

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.bench import Execution
    from lrscope.tune import TuneResult
    from lrscope.tune.pipeline import EventFn

__all__ = [
    "DEFAULT_MINUTES",
    "DEFAULT_SURVIVORS",
    "DEFAULT_TASK",
    "DemoResult",
    "run_demo",
    "usage_snippet",
]

DEFAULT_TASK = "mnist1d-cnn"
DEFAULT_MINUTES = 7.0
"""Tuning budget; with the report the demo ends well within 10 minutes on 2 cores.

On 2 cores ``mnist1d-cnn`` reaches the 150-epoch cap of a full trial
(:data:`lrscope.tune.pipeline.DEFAULT_MAX_EPOCHS`) with minutes to spare, so the
demo ends sooner than this."""
DEFAULT_SURVIVORS = 5
"""Candidates promoted to full trials: two more than ``tune``'s default, as the
capped budget leaves time for them and a wider final comparison picks better."""


def usage_snippet(spec: str) -> str:
    """The three lines of Python that train with ``spec``."""
    return (
        "from lrscope.torch import PolicyScheduler\n"
        f'scheduler = PolicyScheduler(optimizer, "{spec}")\n'
        "scheduler.step()  # after every optimizer.step()"
    )


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its files, and what it found."""

    out_dir: Path
    db_url: str
    report: Path
    plots: tuple[Path, ...]
    tune: TuneResult

    def summary(self) -> dict[str, Any]:
        t = self.tune
        tta = t.time_to_accuracy
        return {
            "task": t.task,
            "winner": t.winner_spec,
            "winner_reason": t.winner_reason,
            "winner_best_top1_mean": t.winner["best_top1_mean"],
            "winner_top1_median": statistics.median(t.winner_top1) if t.winner_top1 else None,
            "baseline": t.baseline_spec,
            "baseline_top1_mean": t.baseline["top1_mean"],
            "baseline_best_top1_mean": t.baseline["best_top1_mean"],
            "time_to_accuracy_ratio": None if tta is None else tta.ratio,
            "report": str(self.report),
            "db": self.db_url,
            "plots": [str(p) for p in self.plots],
            "python": usage_snippet(t.winner_spec),
            "wall_s": t.wall_s,
        }


def run_demo(
    out_dir: str | Path = ".",
    *,
    minutes: float = DEFAULT_MINUTES,
    task: str = DEFAULT_TASK,
    survivors: int = DEFAULT_SURVIVORS,
    execution: Execution = DEFAULT_EXECUTION,
    on_event: EventFn | None = None,
) -> DemoResult:
    """Tune ``task`` into ``out_dir/lrscope.db``, then plot and report; see the module docstring.

    ``execution`` says how the full trials run (default: worker processes,
    in groups where the model can be batched; see :func:`lrscope.tune.tune`).
    """
    from lrscope.policies import parse
    from lrscope.policies.plot import draw_policies
    from lrscope.rangetest import plot_range_test
    from lrscope.rangetest.result import RangeTestResult
    from lrscope.report import write_report
    from lrscope.store import Store
    from lrscope.tune import tune

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{(out / 'lrscope.db').resolve()}"
    with Store.open(db_url) as store:
        result = tune(
            task,
            store,
            minutes=minutes,
            survivors=survivors,
            execution=execution,
            on_event=on_event,
        )
        range_tests = store.range_tests(result.task)
        plots = []
        if range_tests:
            rt = RangeTestResult.from_dict(range_tests[-1].result)
            plots.append(plot_range_test(rt, out / "range_test.png"))
        specs = [result.winner_spec, result.baseline_spec]
        policies_png = out / "policies.png"
        draw_policies([parse(s) for s in specs], policies_png, result.steps)
        plots.append(policies_png)
        report = write_report(
            store, out / "report.html", metric="top1", title="lrscope demo report"
        )
    return DemoResult(out, db_url, report, tuple(plots), result)
