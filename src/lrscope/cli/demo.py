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
    stdout.print("[bold]Summary[/bold]")
    stdout.print(f"  winning policy : {s['winner']}", highlight=False)
    if s["winner_reason"]:
        stdout.print(f"  chosen for     : {s['winner_reason']}", highlight=False)
    stdout.print(
        f"  final top1     : median {s['winner_top1_median']:.4f} over {len(result.tune.seeds)} "
        f"seeds (best during training {s['winner_best_top1_mean']:.4f} on average)",
        highlight=False,
    )
    stdout.print(
        f"  FIX baseline   : {s['baseline']}: final top1 {s['baseline_top1_mean']:.4f}, "
        f"best {s['baseline_best_top1_mean']:.4f}",
        highlight=False,
    )
    if s["time_to_accuracy_ratio"] is not None:
        stdout.print(
            f"  steps to FIX's best top1, winner / FIX: {s['time_to_accuracy_ratio']:.2f}",
            highlight=False,
        )
    stdout.print(f"  report         : {s['report']}", highlight=False)
    stdout.print(f"  plots          : {', '.join(s['plots'])}", highlight=False)
    stdout.print(
        f"  results        : {s['db']}  (try: lrscope rank --task {s['task']} --db ...)",
        highlight=False,
    )
    stdout.print("\nUse it in your own training loop:\n")
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
    minutes: Annotated[float, typer.Option("--minutes", help="Tuning budget in minutes.")] = 7.0,
    workers: WorkersOpt = None,
    batch_trials: GroupedBatchTrialsOpt = "auto",
    threads: ThreadsOpt = 1,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Tune mnist1d-cnn, store everything, write the report, print the winner and how to use it."""
    from lrscope.cli.tune import stopped_tuning
    from lrscope.demo import DEFAULT_TASK, run_demo
    from lrscope.errors import ParameterError

    if not minutes > 0:
        raise ParameterError("lrscope demo", "--minutes", "a float in the range (0, inf)", minutes)
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
