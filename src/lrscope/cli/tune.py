"""``lrscope tune`` and ``lrscope recommend``: automatic tuning and advice from history.

``lrscope tune --task T (--steps N | --minutes M) [--seeds 3] [--survivors 3]
[--tie 0.003] [--max-epochs 150] [--executor process] [--workers N]
[--batch-trials K|auto] [--ray-address A] [--ray-timeout S] [--data-dir D]
[--db URL] [--json]`` runs :func:`lrscope.tune.tune` and prints the ranking
and the winner. Full trials run in groups sized to the work (``auto``) unless
``--batch-trials`` says otherwise; a model that cannot be batched runs one
trial at a time, and the reason is printed.
``lrscope recommend --task T [--top 3] [--no-range-test] [--db URL] [--json]``
prints :func:`lrscope.recommend.recommend`'s policies with their evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lrscope.cli._common import (
    DbOpt,
    DeviceOpt,
    GradAccumOpt,
    JsonOpt,
    PrecisionOpt,
    QuietOpt,
    ThreadsOpt,
    emit,
    interrupt_note,
    resolve_db_url,
    runtime_option,
    set_torch_threads,
    stage_progress,
    stdout,
    task_failures,
)
from lrscope.cli._execution import (
    DEFAULT_RAY_TIMEOUT_S,
    ExecutorOpt,
    GroupedBatchTrialsOpt,
    RayAddressOpt,
    RayTimeoutOpt,
    WorkersOpt,
    build_execution,
    prepare_process,
)
from lrscope.metrics import metric_help
from lrscope.tune.pipeline import DEFAULT_MAX_EPOCHS
from lrscope.tune.select import DEFAULT_TIE
from lrscope.validation import COUNT, Interval, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.cli._common import StageEvents
    from lrscope.recommend import RecommendResult
    from lrscope.tune import TuneResult

__all__ = ["register", "render_tune", "stopped_tuning"]

TaskOpt = Annotated[
    str, typer.Option("--task", help="Built-in name, module:function or file.py:function.")
]
_MAX_EPOCHS = Interval(int, 0, None, "left")
"""``--max-epochs``: 0 stands for ``max_epochs=None`` (no cap)."""

DataDirOpt = Annotated[
    str | None, typer.Option("--data-dir", help="Directory of on-disk datasets (CIFAR-10, MNIST).")
]


def register(app: typer.Typer) -> None:
    """Add ``tune`` and ``recommend`` to the ``lrscope`` app."""
    app.command("tune")(tune)
    app.command("recommend")(recommend)


def stopped_tuning(command: str, events: StageEvents) -> str:
    """What an interrupted tune (or demo) says: the stage it was in, and what is stored."""
    stage = f" during the {events.stage} stage" if events.stage else ""
    return (
        f"{command} stopped{stage}; the range test and the trials finished so far are "
        "stored, and running the same command again reuses them"
    )


def render_tune(result: TuneResult) -> None:
    """Human summary of a tuning run: ranking table, winner against FIX, time to accuracy."""
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"{result.task}: full trials, {result.steps} steps, seeds {list(result.seeds)}"
    )
    primary = result.primary_metric
    best = f"best_{primary}"
    headers = ("#", "policy", f"{primary} (final)", f"best {primary}", "steps to FIX best")
    for header in (*headers, "diverged"):
        table.add_column(header)
    for row in result.ranking:
        reached = result.steps_to_fix_best.get(row.spec)
        table.add_row(
            str(row.rank),
            Text(("* " if row.spec == result.winner_spec else "") + row.spec),
            f"{row.value(primary):.4g} ± {row.std.get(primary, float('nan')):.2g}",
            f"{row.value(best):.4g}",
            "never" if reached is None else str(reached),
            f"{row.diverged_rate:.0%}",
        )
    stdout.print(table)
    why = f" ({result.winner_reason})" if result.winner_reason else ""
    stdout.print(f"winner: [bold]{result.winner_spec}[/bold]{why}", highlight=False)
    stdout.print(
        f"baseline {result.baseline_spec}: best {primary} {result.baseline_stats.value(best):.4g}",
        highlight=False,
    )
    tta = result.time_to_accuracy
    if tta is not None:
        winner_steps = "never" if tta.winner_steps is None else f"{tta.winner_steps} steps"
        ratio = "" if tta.ratio is None else f" (ratio {tta.ratio:.2f})"
        stdout.print(
            f"to reach FIX's best {tta.metric} {tta.target:.4g}: winner {winner_steps}, "
            f"FIX {tta.baseline_steps} steps{ratio}",
            highlight=False,
        )


def tune(
    task: TaskOpt,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Optimizer steps per full trial.")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option("--minutes", help="Wall-time budget of the whole run.")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per full trial.")] = 3,
    survivors: Annotated[
        int, typer.Option("--survivors", help="Candidates promoted to full trials.")
    ] = 3,
    executor: ExecutorOpt = "process",
    workers: WorkersOpt = None,
    batch_trials: GroupedBatchTrialsOpt = "auto",
    ray_address: RayAddressOpt = None,
    ray_timeout: RayTimeoutOpt = DEFAULT_RAY_TIMEOUT_S,
    data_dir: DataDirOpt = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help="Pick the winner by this metric's mean over seeds (default: the task's "
            f"primary metric at the end, top1 for classification): {metric_help()}.",
            show_default=False,
        ),
    ] = None,
    tie: Annotated[
        float,
        typer.Option(
            "--tie",
            help="Metric differences up to this are ties, won by the first to FIX's best "
            "value of the primary metric (0: metric alone).",
        ),
    ] = DEFAULT_TIE,
    max_epochs: Annotated[
        int,
        typer.Option(
            "--max-epochs", help="Cap of a --minutes-sized full trial, in epochs (0: no cap)."
        ),
    ] = DEFAULT_MAX_EPOCHS,
    threads: ThreadsOpt = 1,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    grad_accum: GradAccumOpt = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Range test, candidate policies, pruned cheap trials, full trials, ranking: all stored."""
    from lrscope.store import Store
    from lrscope.tune import tune as run_tune

    max_epochs = check("lrscope tune", "--max-epochs", max_epochs, _MAX_EPOCHS)
    runtime = runtime_option(device, precision, grad_accum)
    execution = build_execution(
        executor,
        workers,
        batch_trials,
        ray_address=ray_address,
        ray_timeout_s=ray_timeout,
    )
    set_torch_threads("lrscope tune", threads)
    prepare_process(execution)
    with (
        Store.open(resolve_db_url(db)) as store,
        stage_progress("tune", quiet, notes=not json_) as events,
        interrupt_note(lambda: stopped_tuning("lrscope tune", events)),
        task_failures(task, events.where),
    ):
        result = run_tune(
            task,
            store,
            steps=steps,
            minutes=minutes,
            seeds=seeds,
            survivors=survivors,
            execution=execution,
            data_dir=data_dir,
            metric=metric,
            tie=tie,
            max_epochs=max_epochs or None,
            on_event=events,
            runtime=runtime,
        )
    emit(result.to_dict(), json_, lambda: render_tune(result))


def _render_recommend(result: RecommendResult) -> None:
    if not result.recommendations:
        stdout.print(result.message or "no recommendation", highlight=False)
        return
    from rich.table import Table

    table = Table(title=f"recommended for {result.task}")
    for header in ("policy", "steps", "from task", "similarity", "measured", "best top1", "lr x"):
        table.add_column(header)
    for r in result.recommendations:
        table.add_row(
            r.spec,
            str(r.steps),
            r.source_task + (" (imported)" if r.imported else ""),
            f"{r.similarity:.2f}",
            f"{r.source_spec} @ {r.source_steps}",
            f"{r.metrics.get('best_top1_mean', float('nan')):.4f} (n={r.metrics.get('n')})",
            f"{r.lr_factor:.3g}",
        )
    stdout.print(table)


def recommend(
    task: TaskOpt,
    top: Annotated[int, typer.Option("--top", help="Policies per similar task.")] = 3,
    no_range_test: Annotated[
        bool,
        typer.Option("--no-range-test", help="Do not run a range test to scale learning rates."),
    ] = False,
    data_dir: DataDirOpt = None,
    threads: ThreadsOpt = 1,
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Policies for a task from the stored history, carried over with their evidence."""
    from lrscope.recommend import recommend as run_recommend
    from lrscope.store import Store, database_file

    top = check("lrscope recommend", "--top", top, COUNT)
    set_torch_threads("lrscope recommend", threads)
    url = resolve_db_url(db)
    missing = (path := database_file(url)) is not None and not path.exists()
    # read-only unless it may store the range test it runs (or there is no store yet)
    with (
        Store.open(url, readonly=no_range_test and not missing) as store,
        interrupt_note(lambda: "lrscope recommend stopped; it stores only a finished range test"),
        task_failures(task, lambda: "in the range test of lrscope recommend"),
    ):
        result = run_recommend(
            store, task, top=top, data_dir=data_dir, run_range_test=not no_range_test
        )
    emit(result.to_dict(), json_, lambda: _render_recommend(result))
