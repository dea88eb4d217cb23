"""``lrscope demo``: the main job, end to end, on the built-in default task.

Tunes ``mnist1d-cnn`` within a wall-time budget (:func:`lrscope.tune.tune`:
range test, a search over every policy family around it, confirmation of the
finalists and FIX on fresh seeds, the ranking, time to accuracy on a budget
ladder), stores everything in ``OUT/lrscope.db``, draws the range test and
the winning policies, writes the HTML report and returns the peer-style
summary: the winner against the FIX baseline (rank, median, mean and spread
over the confirmation seeds, from the same ranking as ``lrscope rank`` and
the report), the time-to-accuracy ratio, the compute spent, and the Python
that uses the winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrscope.rank import left_out
from lrscope.tune.pipeline import DEFAULT_EXECUTION

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.bench import Execution
    from lrscope.tune import TuneResult
    from lrscope.tune.pipeline import EventFn

__all__ = [
    "DEFAULT_MINUTES",
    "DEFAULT_TASK",
    "DemoResult",
    "run_demo",
    "usage_snippet",
]

DEFAULT_TASK = "mnist1d-cnn"
DEFAULT_MINUTES = 4.0
"""The whole tune's budget: with the report the demo ends within 5 minutes on 2 cores.

The plan is sized from timing trials to :data:`lrscope.tune.budget.SAFETY` of
this; on a quiet 2-core machine the trials reach the epoch cap
(:data:`lrscope.tune.budget.DEFAULT_MAX_EPOCHS`) with time to spare, so the
demo ends sooner and gives the same plan on every such machine."""


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
        """The tune's peer-style summary (:meth:`TuneResult.summary`) with the files written."""
        return {
            **self.tune.summary(),
            "winner_spec": self.tune.winner_spec,
            "report": str(self.report),
            "db": self.db_url,
            "plots": [str(p) for p in self.plots],
            "python": usage_snippet(self.tune.winner_spec),
            "wall_s": self.tune.compute.wall_s,
        }


def run_demo(
    out_dir: str | Path = ".",
    *,
    minutes: float = DEFAULT_MINUTES,
    task: str = DEFAULT_TASK,
    execution: Execution = DEFAULT_EXECUTION,
    on_event: EventFn | None = None,
) -> DemoResult:
    """Tune ``task`` into ``out_dir/lrscope.db``, then plot and report; see the module docstring.

    ``execution`` says how the trials run (default: worker processes, in
    groups where the model can be batched; see :func:`lrscope.tune.tune`).
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
        result = tune(task, store, minutes=minutes, execution=execution, on_event=on_event)
        range_tests = store.range_tests(result.task, on_unreadable=left_out("the plots"))
        plots = []
        if range_tests:
            rt = RangeTestResult.from_dict(range_tests[-1].result)
            plots.append(plot_range_test(rt, out / "range_test.png"))
        specs = dict.fromkeys([result.winner_spec, result.baseline_spec])
        policies_png = out / "policies.png"
        draw_policies([parse(s) for s in specs], policies_png, result.steps)
        plots.append(policies_png)
        report = write_report(store, out / "report.html", title="lrscope demo report")
    return DemoResult(out, db_url, report, tuple(plots), result)
