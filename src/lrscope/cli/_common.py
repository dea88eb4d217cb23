"""Options, output and progress shared by every command.

Conventions (docs/architecture.md): ``--json`` prints one JSON document on
stdout and nothing else there; human output is a rich table or text; progress
goes to stderr and is off with ``--quiet`` or when stderr is not a terminal.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

DEFAULT_DB_URL = "sqlite:///lrscope.db"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy URL of the results store "
        "(default: $LRSCOPE_DB, else sqlite:///lrscope.db).",
        show_default=False,
    ),
]

ThreadsOpt = Annotated[
    int,
    typer.Option(
        "--threads",
        help="torch intra-op threads of this process; the small built-in models run "
        "fastest on 1 (0: torch's default, all cores).",
    ),
]

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def resolve_db_url(db: str | None) -> str:
    """The ``--db`` value, else ``$LRSCOPE_DB``, else ``sqlite:///lrscope.db``."""
    return db or os.environ.get("LRSCOPE_DB") or DEFAULT_DB_URL


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def print_json(document: Any) -> None:
    """Write ``document`` as JSON on stdout (NaN and inf as null)."""
    text = json.dumps(_finite(json.loads(json.dumps(document, default=_json_default))))
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit(document: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``document`` as JSON when asked, else call ``render`` for humans."""
    if as_json:
        print_json(document)
    else:
        render()


def set_torch_threads(command: str, threads: int) -> None:
    """Apply ``--threads`` (0 keeps torch's default); imports torch."""
    from lrscope.validation import Interval, check

    threads = check(command, "--threads", threads, Interval(int, 0, None, "left"))
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextmanager
def progress_bar(
    description: str, total: float | None, quiet: bool
) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``. A no-op when quiet."""
    if not progress_enabled(quiet):
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task_id = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task_id, n)
