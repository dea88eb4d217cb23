"""``lrscope rank``: stored trials of a task, aggregated per policy and ranked.

``lrscope rank --task T [--metric M] [--tie 0.003] [--min-seeds 2] [--steps N]
[--precision P] [--grad-accum K] [--format table|json|csv] [--json] [--db URL]``
ranks by the one rule of :mod:`lrscope.rank`, the rule of ``lrscope tune``, the report and the demo:
the task's primary metric at the end by default (final top-1 for
classification, final MSE for regression, in its direction), ties within
``--tie`` by the lower std over the seeds (by cost, steps to the best
evaluation, for ``best_<primary>`` and cost-like metrics); ``--metric``
must be one of the task's metrics. A row is one policy at one budget on one
runtime: trials that ran with another precision or gradient accumulation are
never averaged in as more seeds. ``--precision`` and ``--grad-accum`` keep
only the trials of that runtime (an option not given takes the runtime's
default, fp32 and 1, as in ``lrscope tune``, whose ranking they reproduce);
without them the runtime with the most rankable groups is ranked. Groups
measured on fewer than ``--min-seeds`` seeds (a search's one-seed trials),
trials stopped early, other budgets and other runtimes are shown apart,
never ranked. The
ranked rows come first, best first, then the rows shown apart; each has
``spec``, ``steps``, ``eval_every``, ``precision``, ``grad_accum``, ``n``, ``n_diverged``,
``diverged_rate``, ``<metric>_mean`` and ``<metric>_std`` for every LRBench
metric and every metric of the task, ``rank`` (null when shown apart),
``pareto`` and ``apart`` (why it is not ranked, or null). ``--json`` is
``--format json``: a JSON list of rows, NaN as null; with another
``--format`` it is an error (exit 2), not a silent choice. The table reads well at
80 columns (long specs are listed below it). A task the database does not
know (no trials, not registered) is an error (exit 2) that lists the tasks
with trials; so is a ``--steps`` budget at which none of the task's stored
trials ran, when some ran at others (the error lists those budgets), and a
``--precision``/``--grad-accum`` runtime none of them ran on, when some ran
on others (the error lists those runtimes). A known
task with nothing finished to rank (no trials yet, or only running or failed
ones) is not an error: an empty ranking (the table says so, JSON ``[]``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from lrscope.cli._common import (
    DbOpt,
    GradAccumOpt,
    JsonOpt,
    PrecisionOpt,
    TieOpt,
    print_json,
    resolve_db_url,
    runtime_option,
    stdout,
)
from lrscope.errors import LRScopeError, TaskError
from lrscope.metrics import metric_help
from lrscope.rank import DEFAULT_MIN_SEEDS, DEFAULT_TIE
from lrscope.validation import Choice, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.rank import Ranking
    from lrscope.store import Store

__all__ = ["register"]

FORMATS = ("table", "json", "csv")


def register(app: typer.Typer) -> None:
    """Add the ``rank`` command to the ``lrscope`` app."""
    app.command("rank")(rank)


def _ignore(exc: Exception) -> None:
    """Damaged rows are named by the ranking itself; looking a name up skips them quietly."""


def _check_task_known(store: Store, task: str) -> None:
    if any(record.name == task for record in store.tasks(on_unreadable=_ignore)):
        return
    names = sorted({record.task for record in store.trials(on_unreadable=_ignore)})
    if task in names:
        return
    raise TaskError(
        f"no trials of task {task!r} in {store.url}; "
        f"tasks with trials: {', '.join(names) if names else 'none'}"
    )


def _check_budget_stored(store: Store, task: str, steps: int) -> None:
    """A budget none of ``task``'s stored trials ran at, when some ran at others, is an error."""
    budgets = sorted({record.steps for record in store.trials(task, on_unreadable=_ignore)})
    if not budgets or steps in budgets:
        return
    raise TaskError(
        f"no trials of task {task!r} at {steps:,} steps in {store.url}; "
        f"stored budgets: {', '.join(f'{b:,}' for b in budgets)}"
    )


def _check_runtime_stored(store: Store, task: str, runtime: str) -> None:
    """A runtime none of ``task``'s stored trials ran on, when some ran on others, is an error."""
    from lrscope.rank import runtime_label, trial_runtime

    stored = {trial_runtime(r) for r in store.trials(task, on_unreadable=_ignore)}
    if not stored or runtime in stored:
        return
    raise TaskError(
        f"no trials of task {task!r} on runtime {runtime_label(runtime)!r} in {store.url}; "
        f"stored runtimes: {', '.join(sorted(runtime_label(r) for r in stored))} "
        "(--precision and --grad-accum choose one)"
    )


def rank(
    task: Annotated[str, typer.Option("--task", help="The task whose trials to rank.")],
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help=f"Rank by this metric's mean over seeds (default: the task's primary metric, "
            f"top1 for classification, mse for regression): {metric_help()}.",
            show_default=False,
        ),
    ] = None,
    tie: TieOpt = DEFAULT_TIE,
    min_seeds: Annotated[
        int, typer.Option("--min-seeds", help="Fewer seeds than this: shown apart, not ranked.")
    ] = DEFAULT_MIN_SEEDS,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Only the trials with this step budget.")
    ] = None,
    precision: PrecisionOpt = None,
    grad_accum: GradAccumOpt = None,
    output_format: Annotated[
        str | None,
        typer.Option("--format", help="table (the default), json or csv.", show_default=False),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Aggregate a task's stored trials per policy (mean, std over seeds) and rank them."""
    from lrscope.rank import rank as rank_store
    from lrscope.store import Store

    fmt = _output_format(output_format, json_)
    runtime = None
    if precision is not None or grad_accum is not None:
        runtime = runtime_option(None, precision, grad_accum, check_device=False).identity
    with Store.open(resolve_db_url(db), create=False, readonly=True) as store:
        _check_task_known(store, task)
        ranking = rank_store(
            store, task, metric, steps=steps, tie=tie, min_seeds=min_seeds, runtime=runtime
        )
        if not (ranking.rows or ranking.apart):
            if runtime is not None:
                _check_runtime_stored(store, task, runtime)
            if steps is not None:
                _check_budget_stored(store, task, steps)
    if fmt == "json":
        print_json(ranking.to_dicts())
    elif fmt == "csv":
        sys.stdout.write(ranking.to_csv())
    else:
        _render(ranking)


def _output_format(output_format: str | None, json_: bool) -> str:
    """The one format asked for: ``--json`` is ``--format json`` and conflicts with any other."""
    if output_format is None:
        return "json" if json_ else "table"
    chosen: str = check("lrscope rank", "--format", output_format, Choice(FORMATS))
    if json_ and chosen != "json":
        raise LRScopeError(
            f"--json and --format {chosen} conflict (--json is --format json); give one of them"
        )
    return chosen


def _render(ranking: Ranking) -> None:
    from lrscope.rank_table import RankingTable

    if not ranking.rows and not ranking.apart:
        stdout.print(f"no finished trials of {ranking.task} yet")
        return
    stdout.print(RankingTable(ranking))
