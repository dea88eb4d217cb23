"""``lrscope bench``: run a benchmark plan and store every trial.

The plan comes from the options (``--task T --policy SPEC ... --seeds N
--steps N``) or from a TOML file (``--plan FILE``, schema in
:mod:`lrscope.bench.plan`); options given with ``--plan`` replace the file's
values (``--policy`` replaces its whole list). Everything (plan, how trials
run, the task) is validated before the store is opened or any worker starts;
invalid input exits 2 with one line on stderr. ``--batch-trials K`` trains K
trials at a time per worker in one stacked model (``--executor batched`` is
``local`` in groups).

Re-running the same command resumes the plan: trials stored as done or
diverged are skipped; failed ones and those left running by a killed run are
run again.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lrscope.cli._common import (
    TASK_HELP,
    DataDirOpt,
    DbOpt,
    DeviceOpt,
    GradAccumOpt,
    JsonOpt,
    PrecisionOpt,
    Progress,
    QuietOpt,
    emit,
    interrupt_note,
    resolve_db_url,
    runtime_option,
    stdout,
)
from lrscope.cli._execution import (
    DEFAULT_RAY_TIMEOUT_S,
    BatchTrialsOpt,
    ExecutorOpt,
    RayAddressOpt,
    RayTimeoutOpt,
    WorkersOpt,
    build_execution,
    prepare_process,
)
from lrscope.errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.bench import BenchSummary, Execution, Plan
    from lrscope.tasks import Task

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to the ``lrscope`` app."""
    app.command("bench")(bench)


def _plan(
    plan_file: Path | None,
    task: str | None,
    policies: list[str] | None,
    seeds: int | None,
    steps: list[int] | None,
    eval_every: int | None,
    data_dir: Path | None,
    runtime: dict[str, Any],
) -> Plan:
    """The plan of the options, or of the plan file with the options given replacing its values.

    ``runtime`` holds the runtime options given (``device``, ``precision``,
    ``grad_accum_steps``; those not given are None).
    """
    from lrscope.bench import Plan, load_plan

    if plan_file is not None:
        return load_plan(
            plan_file,
            task=task,
            policies=policies or None,
            seeds=seeds,
            steps=steps or None,
            eval_every=eval_every,
            data_dir=None if data_dir is None else str(data_dir),
            **runtime,
        )
    if not task or not policies or not steps:
        given = (("--task", task), ("--policy", policies), ("--steps", steps))
        missing = ", ".join(flag for flag, value in given if not value)
        raise PlanError(f"missing {missing} (give them, or a plan file with --plan)")
    return Plan(
        task,
        policies,
        seeds=1 if seeds is None else seeds,
        steps=steps,
        eval_every=eval_every,
        data_dir=data_dir,
        **{k: v for k, v in runtime.items() if v is not None},
    )


def bench(
    task: Annotated[
        str | None,
        typer.Option("--task", help=TASK_HELP),
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="A policy spec; repeat for several policies."),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option("--seeds", help="Seeds 0..N-1 per policy; default 1.")
    ] = None,
    steps: Annotated[
        list[int] | None,
        typer.Option("--steps", help="Optimizer steps per trial; repeat for several budgets."),
    ] = None,
    eval_every: Annotated[
        int | None,
        typer.Option("--eval-every", help="Steps between evaluations (default: one epoch)."),
    ] = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="A TOML plan file (see the docs for the schema).")
    ] = None,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = None,
    batch_trials: BatchTrialsOpt = None,
    ray_address: RayAddressOpt = None,
    ray_timeout: RayTimeoutOpt = DEFAULT_RAY_TIMEOUT_S,
    data_dir: DataDirOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    grad_accum: GradAccumOpt = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run every policy x seed x budget of a plan (resumable) and store the trials."""
    from lrscope.tasks import get_task

    runtime_option(device, precision, grad_accum, check_device=False)  # one message per value
    given = {"device": device, "precision": precision, "grad_accum_steps": grad_accum}
    plan = _plan(plan_file, task, policy, seeds, steps, eval_every, data_dir, given)
    execution = build_execution(
        executor, workers, batch_trials, ray_address=ray_address, ray_timeout_s=ray_timeout
    )
    if execution.ray_address is None:  # trials train on this machine: its devices count
        runtime_option(plan.device, plan.precision, plan.grad_accum_steps)
    built = get_task(plan.task, data_dir=plan.data_dir)
    prepare_process(execution)
    summary, document = _run(plan, execution, built, db, quiet)
    emit(document, json_, lambda: _render(summary, document))


def _run(
    plan: Plan, execution: Execution, built: Task, db: str | None, quiet: bool
) -> tuple[BenchSummary, dict[str, Any]]:
    """Open the store and run the plan with a progress bar; the summary and the JSON document."""
    from lrscope.bench import run_plan
    from lrscope.store import Store

    finished = [0, len(plan)]
    with Store.open(resolve_db_url(db)) as store:
        with (
            Progress(f"bench {built.name}", len(plan), quiet=quiet) as progress,
            interrupt_note(lambda: _stopped(*finished)),
        ):

            def on_progress(done: int, total: int) -> None:
                finished[:] = [done, total]
                progress.update(done, total)

            summary = run_plan(plan, store, execution, on_progress=on_progress, task=built)
        document = {**summary.to_dict(), "plan": plan.to_dict(), "db": store.url}
    return summary, document


def _stopped(finished: int, total: int) -> str:
    """What an interrupted ``bench`` says: how many trials are stored, and how to go on."""
    return (
        f"lrscope bench stopped with {finished} of {total} trials stored (done, diverged or "
        "failed); the trials in flight are marked failed, and the same command resumes the plan"
    )


def _render(summary: BenchSummary, document: dict[str, Any]) -> None:
    stdout.print(
        f"{summary.task}: {summary.total} trials planned; ran {summary.ran} "
        f"({summary.failed} failed, {summary.diverged} diverged), skipped {summary.skipped} "
        f"already stored; {summary.wall_s:.1f} s with {summary.executor} x{summary.workers}"
        + (f", groups of {summary.batch_trials}" if summary.batch_trials > 1 else ""),
        markup=False,
    )
    if summary.failed:
        stdout.print("failed trials are run again by the next run of the same plan")
    task, db = shlex.quote(summary.task), shlex.quote(str(document["db"]))
    stdout.print(f"rank them: lrscope rank --task {task} --db {db}", markup=False)
