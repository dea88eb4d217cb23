"""``lrscope train``: one trial of a task under a policy, printing the LRBench metrics.

Thin over :func:`lrscope.engine.run_trial`: parse the policy (so a bad spec
fails before any data is loaded), resolve the task, train, render. A diverged
trial is a result, not an error: it exits 0 with ``"diverged": true``. torch
is imported inside the command only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lrscope.cli._common import (
    JsonOpt,
    QuietOpt,
    ThreadsOpt,
    emit,
    progress_bar,
    set_torch_threads,
    stdout,
)

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.result import TrialResult

__all__ = ["register", "train"]

_METRIC_UNITS = {
    "top1": "fraction",
    "top5": "fraction",
    "best_top1": "fraction",
    "best_iter": "steps",
    "ac": "probability",
    "cd": "probability",
    "cdac": "probability",
    "ld": "nats",
    "n_params": "policy parameters",
    "wall_s": "seconds",
    "steps_done": "steps",
    "diverged": "",
    "diverged_at": "step",
}

TaskOpt = Annotated[
    str,
    typer.Option(
        "--task",
        help="Built-in task name (e.g. mnist1d-cnn), pkg.module:function or file.py:function.",
    ),
]
PolicyOpt = Annotated[str, typer.Option("--policy", help='Policy spec, e.g. "FIX(k0=0.1)".')]
StepsOpt = Annotated[int, typer.Option("--steps", help="Optimizer steps to take.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the initial weights and data order.")]
EvalEveryOpt = Annotated[
    int | None,
    typer.Option(
        "--eval-every", help="Evaluate every N steps (default: one epoch).", show_default=False
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Directory of on-disk datasets (CIFAR-10, MNIST); default $LRSCOPE_DATA_DIR.",
        show_default=False,
    ),
]
PathOpt = Annotated[Path | None, typer.Option(show_default=False)]
IntOpt = Annotated[int | None, typer.Option(show_default=False)]


def register(app: typer.Typer) -> None:
    """Add ``train`` to the ``lrscope`` app."""
    app.command("train")(train)


def _render(result: TrialResult) -> None:
    from rich.table import Table

    table = Table(title=f"{result.task}  {result.spec}  seed {result.seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for name, value in result.metrics().items():
        if name not in _METRIC_UNITS:
            continue
        if isinstance(value, float):
            text = "nan" if math.isnan(value) else f"{value:.4g}"
        else:
            text = str(value)
        table.add_row(name, text, _METRIC_UNITS[name])
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
    curve: Annotated[
        bool, typer.Option("--curve", help="Include the evaluation curve in the JSON.")
    ] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train one trial and print top1, top5, ac, cd, cdac, ld, best_iter, n_params, diverged."""
    from lrscope.policies import parse

    pol = parse(policy)
    set_torch_threads("lrscope train", threads)

    from lrscope.engine import run_trial
    from lrscope.tasks import get_task

    the_task = get_task(task, data_dir=data_dir)
    with progress_bar(f"{the_task.name} {pol.spec}", steps, quiet) as advance:
        seen = [0]

        def on_progress(done: int, total: int) -> None:
            advance(done - seen[0])
            seen[0] = done

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
        )
    document: dict[str, Any] = result.to_dict() if curve else result.metrics()
    emit(document, as_json, lambda: _render(result))
