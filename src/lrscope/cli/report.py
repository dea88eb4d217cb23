"""``lrscope report``: one self-contained HTML page of what the store holds.

``lrscope report [--task T] [--db URL] [-o report.html] [--metric M] [--top N]
[--title TEXT] [--json]``. Per task: range tests, the policies' lr and
momentum curves, the task's primary metric during training (test top-1 for
classification), the ranking with every metric of the task (sortable), the
best value against cost with the Pareto front, and the interpolations. Each
task ranks by its own primary metric unless ``--metric`` says otherwise.
``--json`` prints ``{"path", "bytes", "tasks", "wall_s"}``. A database that
does not exist, an unknown task or metric, or an output path that is not a
new file or an earlier lrscope report exit 2 before anything is read. Stored
rows that cannot be read are left out, each named in a warning line and a
note on the page.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from lrscope.cli._common import DbOpt, JsonOpt, emit, interrupt_note, resolve_db_url, stdout
from lrscope.cli._outputs import REPORT, check_output, writing
from lrscope.metrics import metric_help

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the ``lrscope`` app."""
    app.command("report")(report)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes / 1e3:.0f} kB"


def report(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the HTML page.")
    ] = Path("report.html"),
    task: Annotated[
        str | None, typer.Option("--task", help="Only this task (default: every task).")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric",
            help=f"Rank by this metric's mean over seeds (default: each task's primary metric "
            f"at the end, top1 for classification, mse for regression): {metric_help()}.",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", help="Policies drawn as curves per task (the table lists all).")
    ] = 8,
    title: Annotated[
        str, typer.Option("--title", help="The page title.")
    ] = "Learning-rate policy report",
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Write the HTML report of the stored range tests, trials and interpolations."""
    from lrscope.report import write_report
    from lrscope.store import Store

    started = time.perf_counter()
    db_url = resolve_db_url(db)
    check_output("lrscope report", "--output", output, REPORT, db_url=db_url)
    with (
        Store.open(db_url, create=False, readonly=True) as store,
        interrupt_note(lambda: f"no report was written ({str(output)!r} is as it was)"),
        writing({"--output": output}),
    ):
        path = write_report(store, output, task, metric=metric, top_n=top, title=title)
        names = [record.name for record in store.tasks(on_unreadable=lambda exc: None)]
        tasks = [task] if task is not None else names
    n_bytes = path.stat().st_size
    document = {
        "path": str(path.resolve()),
        "bytes": n_bytes,
        "tasks": tasks,
        "wall_s": round(time.perf_counter() - started, 3),
    }
    plural = "s" * (len(tasks) != 1)
    emit(
        document,
        json_,
        lambda: stdout.print(
            f"wrote {path} ({_size(n_bytes)}, {len(tasks)} task{plural})", highlight=False
        ),
    )
