"""Options, output and progress shared by every command.

Conventions (docs/architecture.md): ``--json`` prints one JSON document on
stdout and nothing else there; human output is a rich table or text; progress
goes to stderr (a bar in a terminal, a line every :data:`LOG_EVERY_S` seconds
in a log) and is off with ``--quiet``. An interruption (Ctrl-C, SIGTERM) is
an :class:`Interrupted`, which :func:`interrupt_note` gives the text of the
error line: what stopped, and what is stored.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from lrscope.errors import LRScopeError, TaskError
from lrscope.validation import Interval, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.runtime import Runtime

DEFAULT_DB_URL = "sqlite:///lrscope.db"

TASK_HELP = "The task: a built-in name (e.g. mnist1d-cnn), pkg.module:function or file.py:function."
TaskOpt = Annotated[str, typer.Option("--task", help=TASK_HELP)]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Directory of on-disk datasets (CIFAR-10, MNIST); default $LRSCOPE_DATA_DIR.",
        show_default=False,
    ),
]
TieOpt = Annotated[
    float,
    typer.Option(
        "--tie",
        help="Metric differences up to this are ties, ranked by the lower std over the "
        "seeds (for best_* and cost metrics: by cost, steps to the best evaluation): absolute "
        "for a fraction such as top-1, relative to the best value for other metrics; 0: the "
        "metric alone.",
    ),
]
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

DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="Where to train: auto (CUDA, else MPS, else the CPU), cpu, cuda, cuda:N or mps "
        "(default: auto).",
        show_default=False,
    ),
]
PrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="fp32, bf16 (autocast; runs on CPUs too) or fp16 (autocast and a gradient "
        "scaler) (default: fp32).",
        show_default=False,
    ),
]
GradAccumOpt = Annotated[
    int | None,
    typer.Option(
        "--grad-accum",
        help="Micro-batches per optimizer step (gradient accumulation; the policy counts "
        "optimizer steps) (default: 1).",
        show_default=False,
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


MAX_THREADS = 1024
"""The most torch threads ``--threads`` may ask for (more is a typo, and each is an OS thread)."""
THREADS = Interval(int, 0, MAX_THREADS)
"""``--threads``: 0 keeps torch's default, else 1 .. :data:`MAX_THREADS`."""


def set_torch_threads(command: str, threads: int) -> None:
    """Apply ``--threads`` (0 keeps torch's default); imports torch."""
    threads = check(command, "--threads", threads, THREADS)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def runtime_option(
    device: str | None, precision: str | None, grad_accum: int | None, *, check_device: bool = True
) -> Runtime:
    """The :class:`~lrscope.engine.Runtime` of ``--device``, ``--precision``, ``--grad-accum``.

    Options not given take the runtime's defaults. Checked before any data is
    loaded: a bad value is the runtime's ParameterError, and (with
    ``check_device``) a device this machine lacks a DeviceError (imports torch).
    """
    from lrscope.engine.runtime import Runtime

    given = {"device": device, "precision": precision, "grad_accum_steps": grad_accum}
    runtime = Runtime.from_options(**{k: v for k, v in given.items() if v is not None})
    if check_device:
        from lrscope.engine.device import device_of

        device_of(runtime.device)
    return runtime


# --- progress -----------------------------------------------------------------

LOG_EVERY_S = 30.0
"""Seconds between two progress lines when stderr is not a terminal (a log file, CI)."""


def _clock(seconds: float) -> str:
    """``h:mm:ss`` of a duration."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class Progress:
    """How far a long command has come, on stderr: one mechanism for every command.

    - stderr is a terminal: a rich progress bar (description, done/total,
      elapsed, remaining), redrawn in place;
    - stderr is a log (a file, a pipe, CI): one line every ``every_s`` seconds
      from a daemon thread, ``bench tiny-blobs: 5/12 (42%), 0:01:10 elapsed``,
      so a log never stays silent for minutes even while one trial trains;
    - ``quiet``: nothing.

    ``note(text)`` prints an event line (a stage starts, a trial is pruned) in
    both modes, above the bar. Use it as a context manager; ``advance(n)``
    and ``update(done, total, description)`` may be called from any thread.
    """

    def __init__(
        self,
        description: str,
        total: float | None = None,
        *,
        quiet: bool = False,
        every_s: float | None = None,
        mode: Literal["bar", "log", "off"] | None = None,
    ) -> None:
        self.description = description
        self.total = total
        self.done = 0.0
        self.every_s = LOG_EVERY_S if every_s is None else every_s
        self.mode = mode or ("off" if quiet else "bar" if sys.stderr.isatty() else "log")
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None
        self._bar_task: Any = None

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        if self.mode == "bar":
            self._bar = _rich_progress()
            self._bar.start()
            self._bar_task = self._bar.add_task(self.description, total=self.total)
        elif self.mode == "log":
            self._thread = threading.Thread(target=self._tick, name="lrscope-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: float = 1.0) -> None:
        """``n`` more units done."""
        with self._lock:
            self.done += n
        if self._bar is not None:
            self._bar.update(self._bar_task, completed=self.done)

    def update(
        self, done: float, total: float | None = None, description: str | None = None
    ) -> None:
        """Set the units done (and the total, and the description, when given)."""
        with self._lock:
            self.done = done
            self.total = total if total is not None else self.total
            self.description = description or self.description
        if self._bar is not None:
            self._bar.update(
                self._bar_task, completed=done, total=self.total, description=self.description
            )

    def restart(self, description: str, total: float | None = None) -> None:
        """Start counting again from 0: a new stage with its own total (None: unknown)."""
        with self._lock:
            self.done, self.total, self.description = 0.0, total, description
        if self._bar is not None:
            self._bar.remove_task(self._bar_task)
            self._bar_task = self._bar.add_task(description, total=total)

    def note(self, text: str) -> None:
        """An event line on stderr (not markup), unless quiet."""
        if self.mode != "off":
            target = self._bar.console if self._bar is not None else stderr
            target.print(text, markup=False, highlight=False)

    def line(self) -> str:
        """The log line: description, done/total (percent) and elapsed time."""
        with self._lock:
            done, total, description = self.done, self.total, self.description
        elapsed = _clock(time.monotonic() - self._started)
        if total:
            return (
                f"{description}: {done:g}/{total:g} ({100 * done / total:.0f}%), {elapsed} elapsed"
            )
        count = f"{done:g} done, " if done else ""
        return f"{description}: {count}{elapsed} elapsed"

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            stderr.print(self.line(), markup=False, highlight=False)


def _rich_progress() -> Any:
    from rich import progress

    return progress.Progress(
        progress.TextColumn("{task.description}"),
        progress.BarColumn(),
        progress.MofNCompleteColumn(),
        progress.TimeElapsedColumn(),
        progress.TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )


_COUNTER = re.compile(r"^(\d+)/(\d+)$")


@contextmanager
def stage_progress(description: str, quiet: bool, notes: bool = True) -> Iterator[StageEvents]:
    """``on_event(stage, message)`` of a staged run (tune, demo) on a :class:`Progress`.

    A message ``k/n`` advances the bar (in a log: the periodic line says it);
    any other message is a note line ``stage: message`` (unless ``notes`` is
    False, e.g. under ``--json``). The yielded callable remembers the last
    stage, for the line an interruption prints.
    """
    with Progress(description, None, quiet=quiet) as progress:
        yield StageEvents(progress, description, notes)


class StageEvents:
    """The ``on_event`` callback of :func:`stage_progress`; ``stage`` is the last stage seen."""

    def __init__(self, progress: Progress, description: str, notes: bool) -> None:
        self.progress = progress
        self.description = description
        self.notes = notes
        self.stage: str | None = None

    def where(self) -> str | None:
        """``in the <stage> stage`` (for :func:`task_failures`), or None before the first."""
        return None if self.stage is None else f"in the {self.stage} stage"

    def __call__(self, stage: str, message: str) -> None:
        found = _COUNTER.match(message.strip())
        label = f"{self.description}: {stage}"
        if stage != self.stage:
            self.progress.restart(label)
        self.stage = stage
        if found:
            self.progress.update(int(found[1]), int(found[2]))
            return
        if self.notes:
            self.progress.note(f"{stage}: {message}")


# --- interruptions -------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM while a command runs; exit status ``128 + signum``.

    A :class:`KeyboardInterrupt`, so every clean-up that handles Ctrl-C handles
    SIGTERM the same way (bench marks the trials in flight failed, the store
    releases its claims). ``what`` says what stopped and what is stored; see
    :func:`interrupt_note`.
    """

    def __init__(self, signum: int = signal.SIGINT, what: str = "") -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.what = what


@contextmanager
def interrupt_note(describe: Callable[[], str]) -> Iterator[None]:
    """Say what an interruption inside the block stopped and what is stored.

    ``describe()`` is called after the clean-up of the code inside (so the
    counts it reads are final) and becomes the error line's text; the
    innermost block that gives a text wins.
    """
    try:
        yield
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted) and exc.what:
            raise
        try:
            what = describe()
        except Exception:  # a description must never hide the interruption
            what = ""
        raise Interrupted(getattr(exc, "signum", signal.SIGINT), what) from exc


# --- a task's own code failing --------------------------------------------------

TRACEBACK_ENV = "LRSCOPE_TRACEBACK"
"""Set to 1 to print the traceback behind an error line (a task's failure, say)."""


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@contextmanager
def task_failures(task: str, where: Callable[[], str | None]) -> Iterator[None]:
    """An exception from inside the block is the task's failure: a one-line :class:`TaskError`.

    A user's task fails while it trains (labels outside ``0 .. num_classes - 1``,
    a model whose output does not fit the labels, a model without parameters):
    the line names the task, ``where()`` it was (``after 12 of 200 steps``, the
    stage of a tune), and the error's type and first line. lrscope's own
    errors pass unchanged; ``LRSCOPE_TRACEBACK=1`` prints the traceback.
    """
    try:
        yield
    except LRScopeError:
        raise
    except Exception as exc:
        try:
            place = where()
        except Exception:
            place = None
        at = f" {place}" if place else ""
        raise TaskError(
            f"task {task!r} failed{at}: {_first_line(exc)} ({TRACEBACK_ENV}=1 prints the traceback)"
        ) from exc
