"""``lrscope demo [--out DIR]``: the main job, end to end (see :mod:`lrscope.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lrscope.cli._common import JsonOpt, QuietOpt, ThreadsOpt, emit, set_torch_threads, stdout
from lrscope.cli._execution import GroupedBatchTrialsOpt, WorkersOpt, build_execution
from lrscope.demo import DEFAULT_MINUTES
from lrscope.validation import POSITIVE_FLOAT, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.demo import DemoResult

__all__ = ["register"]


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
    from lrscope.cli.tune import event_printer
    from lrscope.demo import run_demo

    minutes = check("lrscope demo", "--minutes", minutes, POSITIVE_FLOAT)
    execution = build_execution("process", workers, batch_trials)
    set_torch_threads("lrscope demo", threads)
    result = run_demo(
        out, minutes=minutes, execution=execution, on_event=event_printer(quiet or json_)
    )
    emit(result.summary(), json_, lambda: _render(result))
