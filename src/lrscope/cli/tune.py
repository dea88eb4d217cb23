"""``lrscope tune`` and ``lrscope recommend``: automatic tuning and advice from history.

``lrscope tune --task T (--steps N | --minutes M | --trials N) [--max-epochs 150]
[--finalists 4] [--seeds 3] [--round-size 16] [--sampler tpe|random]
[--metric M] [--tie 0.003] [--executor process] [--workers N]
[--batch-trials K|auto] [--ray-address A] [--ray-timeout S] [--data-dir D]
[--db URL] [--json]`` runs :func:`lrscope.tune.tune` and prints the ranking of
the confirmed policies (the search's one-seed trials and the ladder's shorter
budgets shown apart) and the peer-style summary: winner and FIX, time to
accuracy, compute spent. Trials run in groups sized to the work (``auto``)
unless ``--batch-trials`` says otherwise; a model that cannot be batched runs
one trial at a time, and the reason is printed.
``lrscope recommend --task T [--top 3] [--no-range-test] [--db URL] [--json]``
prints :func:`lrscope.recommend.recommend`'s policies with their evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lrscope.cli._common import (
    DataDirOpt,
    DbOpt,
    DeviceOpt,
    GradAccumOpt,
    JsonOpt,
    PrecisionOpt,
    QuietOpt,
    TaskOpt,
    ThreadsOpt,
    TieOpt,
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
from lrscope.rank import DEFAULT_TIE
from lrscope.tune.budget import DEFAULT_MAX_EPOCHS, DEFAULT_ROUND_SIZE
from lrscope.tune.select import CONFIRM_SEEDS, DEFAULT_CONFIRM_SEEDS, DEFAULT_FINALISTS, FINALISTS
from lrscope.validation import COUNT, NONNEGATIVE_FLOAT, Choice, Interval, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.cli._common import StageEvents
    from lrscope.recommend import RecommendResult
    from lrscope.tune import TuneResult

__all__ = ["register", "render_tune", "stopped_tuning"]

_MAX_EPOCHS = Interval(int, 0, None, "left")
"""``--max-epochs``: 0 stands for ``max_epochs=None`` (no cap)."""


_OWNER = "lrscope tune"


def _check_options(
    finalists: int, seeds: int, round_size: int, sampler: str, seed: int, tie: float
) -> None:
    """The options :func:`lrscope.tune.tune` would check, named as the command line spells them."""
    from lrscope.tune.pipeline import TUNE_SEED
    from lrscope.tune.search import SAMPLERS

    check(_OWNER, "--finalists", finalists, FINALISTS)
    check(_OWNER, "--seeds", seeds, CONFIRM_SEEDS)
    check(_OWNER, "--round-size", round_size, COUNT)
    check(_OWNER, "--sampler", sampler, Choice(SAMPLERS))
    check(_OWNER, "--seed", seed, TUNE_SEED)
    check(_OWNER, "--tie", tie, NONNEGATIVE_FLOAT)


def register(app: typer.Typer) -> None:
    """Add ``tune`` and ``recommend`` to the ``lrscope`` app."""
    app.command("tune")(tune)
    app.command("recommend")(recommend)


def stopped_tuning(command: str, events: StageEvents) -> str:
    """What an interrupted tune (or demo) says: the stage it was in, and what is stored."""
    stage = f" during the {events.stage} stage" if events.stage else ""
    return (
        f"{command} stopped{stage}; the range test and the trials finished so far are "
        "stored, and running the same command again resumes them to the same answer"
    )


def render_tune(result: TuneResult) -> None:
    """Human output of a tuning run: the ranking (one rule, as ``lrscope rank``) and the summary."""
    from lrscope.rank_table import RankingTable

    marks = {result.baseline_spec: "FIX baseline"}
    stdout.print(RankingTable(result.ranking, marks=marks))
    stdout.print()
    for line in result.summary_lines():
        stdout.print(line, highlight=False, markup=False)


def tune(
    task: TaskOpt,
    steps: Annotated[int | None, typer.Option("--steps", help="Optimizer steps per trial.")] = None,
    minutes: Annotated[
        float | None,
        typer.Option(
            "--minutes", help="Wall-time budget of the whole run (sizes what is not given)."
        ),
    ] = None,
    trials: Annotated[
        int | None, typer.Option("--trials", help="Points the search samples (centres included).")
    ] = None,
    max_epochs: Annotated[
        int,
        typer.Option("--max-epochs", help="Cap of a --minutes-sized trial, in epochs (0: no cap)."),
    ] = DEFAULT_MAX_EPOCHS,
    finalists: Annotated[
        int,
        typer.Option(
            "--finalists",
            help="Best families of the search (its best point each) confirmed with FIX (>= 3).",
        ),
    ] = DEFAULT_FINALISTS,
    seeds: Annotated[
        int, typer.Option("--seeds", help="Confirmation seeds (>= 3), after the search's seed.")
    ] = DEFAULT_CONFIRM_SEEDS,
    round_size: Annotated[
        int, typer.Option("--round-size", help="Search points asked at once (one round).")
    ] = DEFAULT_ROUND_SIZE,
    sampler: Annotated[str, typer.Option("--sampler", help="tpe or random.")] = "tpe",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the range test and search.")] = 0,
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
            help="Rank by this metric's mean over seeds (default: the task's primary metric "
            f"at the end, top1 for classification, mse for regression): {metric_help()}.",
            show_default=False,
        ),
    ] = None,
    tie: TieOpt = DEFAULT_TIE,
    threads: ThreadsOpt = 1,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    grad_accum: GradAccumOpt = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Range test, a search around it, confirmation on fresh seeds, ranking, time to accuracy."""
    from lrscope.store import Store
    from lrscope.tasks import get_task
    from lrscope.tune import TuneBudget
    from lrscope.tune import tune as run_tune

    # every option is checked, and the task built, before the store is opened: bad input
    # leaves no database file behind and changes nothing in an existing one
    max_epochs = check(_OWNER, "--max-epochs", max_epochs, _MAX_EPOCHS)
    budget = TuneBudget(steps=steps, minutes=minutes, trials=trials, max_epochs=max_epochs or None)
    _check_options(finalists, seeds, round_size, sampler, seed, tie)
    runtime = runtime_option(device, precision, grad_accum)
    execution = build_execution(
        executor,
        workers,
        batch_trials,
        ray_address=ray_address,
        ray_timeout_s=ray_timeout,
    )
    set_torch_threads(_OWNER, threads)
    built = get_task(task, data_dir=data_dir)
    if metric is not None:
        built.scoring.get(metric, owner=_OWNER)
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
            budget,
            finalists=finalists,
            confirm_seeds=seeds,
            round_size=round_size,
            sampler=sampler,
            seed=seed,
            execution=execution,
            data_dir=None if data_dir is None else str(data_dir),
            metric=metric,
            tie=tie,
            on_event=events,
            runtime=runtime,
            built=built,
        )
    emit(result.to_dict(), json_, lambda: render_tune(result))


def _render_recommend(result: RecommendResult) -> None:
    from lrscope.recommend_table import RecommendTable

    stdout.print(RecommendTable(result), highlight=False)


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
    from lrscope.tasks import get_task

    top = check("lrscope recommend", "--top", top, COUNT)
    set_torch_threads("lrscope recommend", threads)
    built = get_task(task, data_dir=data_dir)  # an unknown task opens no store
    url = resolve_db_url(db)
    missing = (path := database_file(url)) is not None and not path.exists()
    # read-only unless it may store the range test it runs (or there is no store yet)
    with (
        Store.open(url, readonly=no_range_test and not missing) as store,
        interrupt_note(lambda: "lrscope recommend stopped; it stores only a finished range test"),
        task_failures(task, lambda: "in the range test of lrscope recommend"),
    ):
        result = run_recommend(store, built, top=top, run_range_test=not no_range_test)
    emit(result.to_dict(), json_, lambda: _render_recommend(result))
