"""``lrscope demo [--out DIR]``: the main job, end to end (see :mod:`lrscope.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lrscope.cli._common import (
    JsonOpt,
    QuietOpt,
    ThreadsOpt,
    emit,
    interrupt_note,
    set_torch_threads,
    stage_progress,
    stdout,
    task_failures,
)
from lrscope.cli._execution import GroupedBatchTrialsOpt, WorkersOpt, build_execution
from lrscope.cli._outputs import IMAGE, REPORT, check_output, check_output_dir
from lrscope.demo import DEFAULT_MINUTES
from lrscope.validation import POSITIVE_FLOAT, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.demo import DemoResult

__all__ = ["register"]

_OWNER = "lrscope demo"


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the ``lrscope`` app."""
    app.command("demo")(demo)


def _render(result: DemoResult) -> None:
    from lrscope.cli.tune import render_tune

    render_tune(result.tune)
    s = result.summary()
    stdout.print()
    stdout.print(f"report : {s['report']}", highlight=False, markup=False)
    stdout.print(f"plots  : {', '.join(s['plots'])}", highlight=False, markup=False)
    stdout.print(f"results: {s['db']}", highlight=False, markup=False)
    stdout.print(f"         (try: lrscope rank --task {s['task']} --db ...)", highlight=False)
    stdout.print("\nUse the winner in your own training loop:\n")
    stdout.print(s["python"], highlight=False, markup=False)


def _check_outputs(out: Path) -> None:
    """The directory and the files the demo writes there, before any work starts."""
    check_output_dir(_OWNER, "--out", out)
    db_url = f"sqlite:///{out / 'lrscope.db'}"
    check_output(_OWNER, "--out", out / "report.html", REPORT, db_url=db_url)
    for name in ("range_test.png", "policies.png"):
        check_output(_OWNER, "--out", out / name, IMAGE, db_url=db_url)


def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Directory for lrscope.db, report.html and the plots.")
    ] = Path("."),
    minutes: Annotated[
        float, typer.Option("--minutes", help="Tuning budget of the whole run, in minutes.")
    ] = DEFAULT_MINUTES,
    workers: WorkersOpt = None,
    batch_trials: GroupedBatchTrialsOpt = "auto",
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Tune mnist1d-cnn, store everything, write the report, print the winner and how to use it."""
    from lrscope.cli.tune import stopped_tuning
    from lrscope.demo import DEFAULT_TASK, run_demo

    minutes = check("lrscope demo", "--minutes", minutes, POSITIVE_FLOAT)
    execution = build_execution("process", workers, batch_trials)
    _check_outputs(out)
    set_torch_threads("lrscope demo", threads)
    with (
        stage_progress("demo", quiet, notes=not json_) as events,
        interrupt_note(lambda: stopped_tuning("lrscope demo", events)),
        task_failures(DEFAULT_TASK, events.where),
    ):
        result = run_demo(out, minutes=minutes, execution=execution, on_event=events)
    emit(result.summary(), json_, lambda: _render(result))
