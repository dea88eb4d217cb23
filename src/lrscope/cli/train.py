"""``lrscope train``: one trial of a task under a policy, printing the task's metrics.

Thin over :func:`lrscope.engine.run_trial`: parse the policy, build the
runtime (``--device``, ``--precision``, ``--grad-accum``) and check the output
paths (so a bad spec, value or path fails before any data is loaded), resolve
the task, train, render. A diverged trial is a result, not an error: it exits
0 with ``"diverged": true``. A task whose own code fails while it trains
(labels outside ``0 .. num_classes - 1``, shapes that do not fit, a model
without parameters) exits 2 with one line naming the task, the step and the
error. torch is imported inside the command only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lrscope.cli._common import (
    DataDirOpt,
    DeviceOpt,
    GradAccumOpt,
    JsonOpt,
    PrecisionOpt,
    Progress,
    QuietOpt,
    TaskOpt,
    ThreadsOpt,
    emit,
    interrupt_note,
    runtime_option,
    set_torch_threads,
    stdout,
    task_failures,
)
from lrscope.cli._outputs import TORCH, check_output, check_output_dir, writing

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.result import TrialResult
    from lrscope.metrics import Scoring

__all__ = ["register", "train"]

_OWNER = "lrscope train"

#: What the table shows besides the task's metrics (whose units the metric table gives).
_COUNTS = {"n_params": "count", "steps_done": "steps", "diverged": "", "diverged_at": "step"}

PolicyOpt = Annotated[str, typer.Option("--policy", help='Policy spec, e.g. "FIX(k0=0.1)".')]
StepsOpt = Annotated[int, typer.Option("--steps", help="Optimizer steps to take.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the initial weights and data order.")]
EvalEveryOpt = Annotated[
    int | None,
    typer.Option(
        "--eval-every", help="Evaluate every N steps (default: one epoch).", show_default=False
    ),
]
PathOpt = Annotated[Path | None, typer.Option(show_default=False)]
IntOpt = Annotated[int | None, typer.Option(show_default=False)]


def register(app: typer.Typer) -> None:
    """Add ``train`` to the ``lrscope`` app."""
    app.command("train")(train)


def _text(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _render(result: TrialResult, scoring: Scoring) -> None:
    from rich.table import Table

    table = Table(title=f"{result.task}  {result.spec}  seed {result.seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    known = scoring.rankable()
    shown = {**result.metrics, "best_iter": result.best_iter, "ld": result.ld}
    shown["wall_s"] = result.wall_s
    for name, value in shown.items():
        metric = known.get(name)
        table.add_row(name, _text(value), "" if metric is None else metric.unit)
    summary = result.summary()
    for name, unit in _COUNTS.items():
        table.add_row(name, _text(summary[name]), unit)
    if result.runtime:
        table.add_row("runtime", result.runtime, "")
    stdout.print(table)


def train(
    task: TaskOpt,
    policy: PolicyOpt,
    steps: StepsOpt,
    seed: SeedOpt = 0,
    eval_every: EvalEveryOpt = None,
    data_dir: DataDirOpt = None,
    save_weights: Annotated[
        Path | None,
        typer.Option("--save-weights", help="Write the final state_dict here.", show_default=False),
    ] = None,
    snapshot_dir: Annotated[
        Path | None,
        typer.Option("--snapshot-dir", help="Directory of weight snapshots step_NNNNNN.pt."),
    ] = None,
    snapshot_every: Annotated[
        int | None,
        typer.Option("--snapshot-every", help="Snapshot every N steps.", show_default=False),
    ] = None,
    snapshot_every_cycle: Annotated[
        bool,
        typer.Option("--snapshot-every-cycle", help="Snapshot at the end of every policy cycle."),
    ] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Resume from this file if it exists; write it as we go."),
    ] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            "--checkpoint-every", help="Checkpoint every N steps (default: --eval-every)."
        ),
    ] = None,
    threads: ThreadsOpt = 1,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    grad_accum: GradAccumOpt = None,
    curve: Annotated[
        bool, typer.Option("--curve", help="Include the evaluation curve in the JSON.")
    ] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train one trial and print its metrics (classification: top1, top5, ac, cd, cdac, ...)."""
    from lrscope.policies import parse

    pol = parse(policy)
    outputs = _check_outputs(save_weights, snapshot_dir, checkpoint)
    set_torch_threads(_OWNER, threads)
    runtime = runtime_option(device, precision, grad_accum)

    from lrscope.engine import run_trial
    from lrscope.tasks import get_task

    the_task = get_task(task, data_dir=data_dir)
    done = [0]
    with (
        Progress(f"{the_task.name} {pol.spec}", steps, quiet=quiet) as progress,
        interrupt_note(lambda: _stopped(done[0], steps, checkpoint)),
        task_failures(the_task.name, lambda: f"after {done[0]} of {steps} steps"),
        writing(outputs),
    ):

        def on_progress(finished: int, total: int) -> None:
            done[0] = finished
            progress.update(finished)

        result = run_trial(
            the_task,
            pol,
            steps=steps,
            seed=seed,
            eval_every=eval_every,
            checkpoint=checkpoint,
            checkpoint_every=checkpoint_every,
            snapshot_dir=snapshot_dir,
            snapshot_every=snapshot_every,
            snapshot_every_cycle=snapshot_every_cycle,
            on_progress=on_progress,
            save_weights=save_weights,
            runtime=runtime,
        )
    document: dict[str, Any] = result.to_dict() if curve else result.summary()
    emit(document, as_json, lambda: _render(result, the_task.scoring))


def _check_outputs(
    save_weights: Path | None, snapshot_dir: Path | None, checkpoint: Path | None
) -> dict[str, Path | None]:
    """Refuse unfit output paths before any data is loaded; the outputs by option."""
    if save_weights is not None:
        check_output(_OWNER, "--save-weights", save_weights, TORCH)
    if checkpoint is not None:
        check_output(_OWNER, "--checkpoint", checkpoint, TORCH)
    if snapshot_dir is not None:
        check_output_dir(_OWNER, "--snapshot-dir", snapshot_dir, holds=("step_*.pt", TORCH))
    return {
        "--save-weights": save_weights,
        "--checkpoint": checkpoint,
        "--snapshot-dir": snapshot_dir,
    }


def _stopped(done: int, steps: int, checkpoint: Path | None) -> str:
    """What an interrupted ``train`` says: how far it came, and what is kept."""
    text = f"lrscope train stopped after {done} of {steps} steps; no result (train stores none)"
    if checkpoint is not None and checkpoint.exists():
        text += f"; {str(checkpoint)!r} holds the last checkpoint, and the same command resumes it"
    return text
