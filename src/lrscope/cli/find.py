"""``lrscope find``: the LR range test of a task, or a momentum / weight-decay sweep.

``lrscope find --task T [--mode exp|linear] [--start-lr A] [--end-lr B]
[--steps N] [--seed S] [--eval-every K] [--eval-samples M] [--data-dir D]
[--plot FILE.png] [--db URL] [--json]`` runs
:func:`lrscope.rangetest.range_test`, stores the result (``--db``, default
``$LRSCOPE_DB`` else ``sqlite:///lrscope.db``) and prints ``suggested_lr``,
``min_lr``, ``max_lr``, ``onecycle_max_lr``, every suggestion with the rule
that produced it, the curves (``lr``, ``loss``, ``smoothed_loss``) and
``diverged_at``. A test that found no usable range (a loss that never fell
clearly) still exits 0, but says so in one line on stderr
(``warning: no usable range: REASON``) and in the JSON document
(``"usable": false`` and ``"reason"``).

``lrscope find --task T --sweep momentum|weight-decay [--lr LR] [--steps N]
[--seed S]`` runs :func:`~lrscope.rangetest.momentum_sweep` or
:func:`~lrscope.rangetest.weight_decay_search` instead (``--steps``: steps of
each short run; without ``--lr`` a range test finds the peak first) and prints
the table (per candidate: the mean final test loss, which picks the best
value, and the mean final value of the task's primary metric, e.g. ``Top-1 %``
for classification, ``MSE`` for regression) and the best value. Its JSON
document names that metric (``"metric"``; each row's value is ``"primary"``).

The options build a :class:`~lrscope.rangetest.RangeTestSettings` (or the
sweep's settings) before any data is loaded, so a bad value gets exactly the
library's message; torch and matplotlib are imported inside the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lrscope.cli._common import (
    MAX_THREADS,
    DataDirOpt,
    DbOpt,
    DeviceOpt,
    GradAccumOpt,
    JsonOpt,
    PrecisionOpt,
    Progress,
    QuietOpt,
    TaskOpt,
    emit,
    interrupt_note,
    resolve_db_url,
    runtime_option,
    stdout,
    task_failures,
)
from lrscope.cli._outputs import IMAGE, PlotOpt, check_output, replacing, writing
from lrscope.errors import LRScopeError
from lrscope.rangetest.settings import (
    DEFAULT_END_LR,
    DEFAULT_EVAL_SAMPLES,
    DEFAULT_START_LR,
    MomentumSweepSettings,
    RangeTestSettings,
    SweepSettings,
    WeightDecaySettings,
)
from lrscope.validation import Choice, Interval, OrNone, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.runtime import Runtime
    from lrscope.metrics import Metric
    from lrscope.rangetest import RangeTestResult, SweepResult
    from lrscope.tasks import Task

__all__ = ["find", "register"]

_OWNER = "lrscope find"
_SWEEPS = ("momentum", "weight-decay")
_CURVE_ROWS = 16

FloatOpt = Annotated[float | None, typer.Option(show_default=False)]


def register(app: typer.Typer) -> None:
    """Add ``find`` to the ``lrscope`` app."""
    app.command("find")(find)


def _check_combination(
    sweep: str | None,
    eval_every: int | None,
    lr: float | None,
    plot: Path | None,
    runtime: Runtime,
) -> None:
    """Reject options that do not go together, before any data is loaded."""
    if lr is not None and sweep is None:
        raise LRScopeError("--lr only applies with --sweep momentum|weight-decay")
    if sweep is not None and runtime.to_dict() != type(runtime)().to_dict():
        raise LRScopeError(
            "--device, --precision and --grad-accum apply to the range test, not to --sweep"
        )
    if sweep is not None and (plot is not None or eval_every is not None):
        raise LRScopeError("--plot and --eval-every only apply to the range test, not to --sweep")


def _document(result: RangeTestResult, stored_id: int | None, plot: Path | None) -> dict[str, Any]:
    """The JSON document: headline numbers first, then the whole result."""
    data = result.to_dict()
    found = data["suggestions"]
    head = {
        "task": result.task,
        "seed": result.seed,
        "usable": found["usable"],
        "reason": found["reason"],
        "suggested_lr": found["suggested_lr"]["lr"],
        "min_lr": found["min_lr"]["lr"],
        "max_lr": found["max_lr"]["lr"],
        "onecycle_max_lr": found["onecycle_max_lr"]["lr"],
        "diverged_at": result.diverged_at,
        "diverged_lr": result.diverged_lr,
        "steps_done": result.steps_done,
        "stored_id": stored_id,
        "plot": None if plot is None else str(plot),
    }
    return {**head, **{k: v for k, v in data.items() if k not in head}}


def _render(result: RangeTestResult, stored: str | None, plot: Path | None) -> None:
    from rich.table import Table

    found = result.suggestions
    if found is None:  # pragma: no cover - range_test always attaches them
        return
    stdout.print(
        f"range test of {result.task} (seed {result.seed}): {result.mode} ramp "
        f"{result.start_lr:g} -> {result.end_lr:g}, {result.steps_done}/{result.steps} steps, "
        f"{result.wall_s:.1f} s"
    )
    if result.diverged_at is not None:
        stdout.print(f"diverged at step {result.diverged_at} (lr {result.diverged_lr:.4g})")
    else:
        stdout.print("diverged at: none (the loss stayed below 4x its minimum)")
    table = Table(title="suggestions")
    for column in ("name", "lr", "rule", "fallback"):
        table.add_column(column, justify="right" if column == "lr" else "left")
    for name, s in found.as_pairs().items():
        item = getattr(found, name)
        table.add_row(name, f"{s[0]:.4g}", s[1], item.fallback or "")
    stdout.print(table)
    curve = Table(title="curve (sampled)")
    for column in ("step", "lr", "loss", "smoothed"):
        curve.add_column(column, justify="right")
    n = result.steps_done
    for i in sorted(
        {round(k * (n - 1) / (_CURVE_ROWS - 1)) for k in range(_CURVE_ROWS)} if n else ()
    ):
        curve.add_row(
            str(i), f"{result.lr[i]:.4g}", f"{result.loss[i]:.4f}", f"{result.smoothed_loss[i]:.4f}"
        )
    stdout.print(curve)
    if stored:
        stdout.print(f"stored in {stored}")
    if plot is not None:
        stdout.print(f"plot written to {plot}")


def _render_sweep(result: SweepResult, primary: Metric) -> None:
    """The sweep's table: test loss (what picks the best value) and the task's primary
    metric (``primary``: its label, unit and digits; top-1 in percent, MSE, ...)."""
    from rich.table import Table

    table = Table(
        title=f"{result.parameter} of {result.task}: {result.policy}, seeds {list(result.seeds)}"
    )
    for column in ("value", "phase", "test_loss", primary.header, "diverged"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for row in result.rows:
        mark = " *" if row.value == result.best else ""
        table.add_row(
            f"{row.value:g}{mark}",
            row.phase,
            f"{row.test_loss:.4g}",  # any loss scale: a regression's can be 3e-4
            primary.format(row.primary),
            "yes" if row.diverged else "",
        )
    stdout.print(table)
    stdout.print(
        f"best {result.parameter}: {result.best:g} (lowest test loss; "
        f"lr {result.lr:.4g}, {result.lr_method})"
    )


def _sweep_settings(sweep: str, lr: float | None, steps: int | None, seed: int) -> SweepSettings:
    if sweep == "momentum":
        return MomentumSweepSettings(lr=lr, steps=steps, seeds=(seed,))
    return WeightDecaySettings(lr=lr, steps=steps, seeds=(seed,))


def _run_sweep(the_task: Task, settings: SweepSettings, quiet: bool) -> SweepResult:
    from lrscope.rangetest import momentum_sweep, weight_decay_search

    runs = [0]
    with (
        Progress(f"{settings.owner} of {the_task.name}", None, quiet=quiet) as progress,
        interrupt_note(
            lambda: (
                f"the {settings.owner} stopped after {runs[0]} runs; nothing is stored "
                "(sweeps are never stored)"
            )
        ),
        task_failures(the_task.name, lambda: f"in the {settings.owner}, after {runs[0]} runs"),
    ):

        def on_progress(done: int, total: int) -> None:
            runs[0] = done
            progress.update(done, total)

        if isinstance(settings, MomentumSweepSettings):
            return momentum_sweep(the_task, settings, on_progress=on_progress)
        if isinstance(settings, WeightDecaySettings):
            return weight_decay_search(the_task, settings, on_progress=on_progress)
        raise TypeError(f"not a sweep's settings: {settings!r}")  # pragma: no cover


#: Below this many input numbers per batch, intra-op threads cost more than
#: they give (each op takes microseconds; on a busy machine spinning threads
#: make it far worse), so ``find`` runs on one thread unless told otherwise.
SMALL_BATCH_NUMEL = 65_536


def _numel(sample: Any) -> int:
    """Numbers in one sample: every tensor's, however nested (dicts, lists, tuples)."""
    if hasattr(sample, "numel"):
        return int(sample.numel())
    if isinstance(sample, dict):
        return sum(_numel(v) for v in sample.values())
    if isinstance(sample, (list, tuple)):
        return sum(_numel(v) for v in sample)
    return 0


def _auto_threads(the_task: Task) -> int | None:
    """1 for tasks whose batches are small (see :data:`SMALL_BATCH_NUMEL`), else None."""
    numel = _numel(the_task.train_data[0])
    return 1 if 0 < numel * the_task.batch_size < SMALL_BATCH_NUMEL else None


def _run_range_test(
    the_task: Task, settings: RangeTestSettings, seed: int, runtime: Runtime, quiet: bool
) -> RangeTestResult:
    """The range test, with a progress bar."""
    from lrscope.rangetest import range_test

    total = settings.steps_for(runtime.optimizer_steps(the_task.steps_per_epoch))
    done = [0]
    with (
        Progress(f"range test {the_task.name}", total, quiet=quiet) as progress,
        interrupt_note(
            lambda: f"the range test stopped after {done[0]} of {total} steps; nothing is stored"
        ),
        task_failures(the_task.name, lambda: f"after {done[0]} of {total} range-test steps"),
    ):

        def on_progress(finished: int, steps: int) -> None:
            done[0] = finished
            progress.update(finished)

        return range_test(the_task, settings, seed=seed, runtime=runtime, on_progress=on_progress)


def _range_test(
    the_task: Task,
    settings: RangeTestSettings,
    seed: int,
    runtime: Runtime,
    db: str | None,
    quiet: bool,
) -> tuple[RangeTestResult, int, str]:
    """Run the range test and store it: the result, its id and the store's URL.

    The store is opened before the first step, so that a bad or unreachable
    ``--db`` exits 2 at once instead of after the whole test; the result's
    parameters carry the runtime's identity (precision, accumulation).
    """
    from lrscope.store import Store

    with Store.open(resolve_db_url(db)) as store:
        result = _run_range_test(the_task, settings, seed, runtime, quiet)
        params = {**result.params(), "runtime": runtime.identity}
        stored_id = store.put_range_test(str(result.task), result.to_dict(), params)
        return result, stored_id, store.url


def find(
    task: TaskOpt,
    mode: Annotated[str, typer.Option("--mode", help="Ramp: exp or linear.")] = "exp",
    start_lr: Annotated[
        float, typer.Option("--start-lr", help="lr of the first step.")
    ] = DEFAULT_START_LR,
    end_lr: Annotated[
        float, typer.Option("--end-lr", help="lr of the last step.")
    ] = DEFAULT_END_LR,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps",
            help="Range-test steps (default: one epoch within 300..500); with --sweep, "
            "steps of each short run (default: 10 epochs within 300..1000).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights and data order.")] = 0,
    eval_every: Annotated[
        int | None,
        typer.Option(
            "--eval-every",
            help="Evaluate the test subset every K steps: loss, and top-1 for a "
            "classification (default: off).",
            show_default=False,
        ),
    ] = None,
    eval_samples: Annotated[
        int, typer.Option("--eval-samples", help="Size of the fixed test subset.")
    ] = DEFAULT_EVAL_SAMPLES,
    data_dir: DataDirOpt = None,
    plot: PlotOpt = None,
    sweep: Annotated[
        str | None,
        typer.Option(
            "--sweep",
            help="momentum or weight-decay instead of the range test.",
            show_default=False,
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr",
            help="Peak lr of the sweep runs (default: from a range test).",
            show_default=False,
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            help="torch intra-op threads (default: 1 for small batches, else torch's).",
            show_default=False,
        ),
    ] = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    grad_accum: GradAccumOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Range test: suggested_lr, min_lr, max_lr, curves; or a momentum / weight-decay sweep."""
    sweep = check(_OWNER, "--sweep", sweep, OrNone(Choice(_SWEEPS)))
    settings = RangeTestSettings(
        mode=mode,
        start_lr=start_lr,
        end_lr=end_lr,
        steps=None if sweep else steps,
        eval_every=eval_every,
        eval_samples=eval_samples,
    )
    sweep_settings = None if sweep is None else _sweep_settings(sweep, lr, steps, seed)
    runtime = runtime_option(device, precision, grad_accum)
    _check_combination(sweep, eval_every, lr, plot, runtime)
    if plot is not None:
        check_output(_OWNER, "--plot", plot, IMAGE, db_url=resolve_db_url(db))
    threads = check(_OWNER, "--threads", threads, OrNone(Interval(int, 1, MAX_THREADS)))
    import torch

    from lrscope.tasks import get_task

    the_task = get_task(task, data_dir=data_dir)
    chosen = threads if threads is not None else _auto_threads(the_task)
    if chosen is not None:
        torch.set_num_threads(chosen)
    if sweep_settings is not None:
        found = _run_sweep(the_task, sweep_settings, quiet)
        primary = the_task.scoring.primary_metric
        emit(found.to_dict(), as_json, lambda: _render_sweep(found, primary))
        return

    from lrscope.rangetest import plot_range_test

    result, stored_id, stored_url = _range_test(the_task, settings, seed, runtime, db, quiet)
    if plot is not None:
        kept = f"the range test is stored as id {stored_id}"
        with (
            interrupt_note(lambda: f"{kept}; the plot is not written"),
            writing({"--plot": plot}, kept=kept),
            replacing(plot) as temporary,
        ):
            plot_range_test(result, temporary)
    document = {**_document(result, stored_id, plot), "runtime": runtime.identity}
    emit(document, as_json, lambda: _render(result, stored_url, plot))
    if not document["usable"]:
        sys.stderr.write(f"warning: no usable range: {document['reason']}\n")
