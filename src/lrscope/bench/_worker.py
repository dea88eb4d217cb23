"""What runs inside a worker (a local call, a spawned process or a Ray task).

Workers get plain data (:meth:`TrialConfig.to_dict`) and return plain data
(:meth:`TrialOutcome.to_dict`), so nothing but strings, numbers, lists and dicts
crosses a process boundary. Each worker builds a task once and keeps it for
the next trials (:data:`_TASKS`). Workers never touch the results store: the
runner in the parent process claims and records every trial.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrscope.engine.result import TrialKey

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.tasks import Task

__all__ = ["TrialConfig", "TrialOutcome", "execute", "init_worker"]

_MAX_ERROR_CHARS = 4000

# (task_ref, data_dir) -> Task, one cache per worker process.
_TASKS: dict[tuple[str, str | None], Task] = {}


@dataclass(frozen=True)
class TrialConfig:
    """One trial to run, as plain data.

    ``task`` is the task's name (part of the :class:`TrialKey`); ``task_ref``
    is what a worker passes to :func:`lrscope.tasks.get_task` (the same, except
    that a ``path/file.py:function`` reference is made absolute so that a
    worker with another working directory finds the file).
    """

    task: str
    task_ref: str
    data_dir: str | None
    spec: str
    seed: int
    steps: int
    eval_every: int

    @property
    def key(self) -> TrialKey:
        return TrialKey(self.task, self.spec, self.seed, self.steps, self.eval_every)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialConfig:
        return cls(**data)


@dataclass(frozen=True)
class TrialOutcome:
    """What a worker sends back: ``result`` (``TrialResult.to_dict()``) or ``error`` text."""

    config: TrialConfig
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "result": self.result, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialOutcome:
        return cls(TrialConfig.from_dict(data["config"]), data.get("result"), data.get("error"))


def absolute_task_ref(ref: str) -> str:
    """``path/file.py:function`` with an absolute path; any other reference unchanged."""
    path, sep, func = ref.rpartition(":")
    is_file = path.endswith(".py") or "/" in path or os.sep in path
    if sep and is_file and not Path(path).expanduser().is_absolute():
        return f"{Path(path).expanduser().resolve()}:{func}"
    return ref


def init_worker(threads: int = 1, watch_parent: bool = False) -> None:
    """Worker setup: ``threads`` intra-op torch threads, so N workers use N cores.

    With ``watch_parent`` (process pool workers) a daemon thread ends this
    process within a second of its parent's death, so a runner killed with
    ``kill -9`` leaves no orphaned workers training on; and SIGINT is ignored,
    so Ctrl-C is handled once, by the runner, which then stops the workers.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if watch_parent:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        parent = os.getppid()
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int, interval_s: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(interval_s)
    os._exit(1)


def cache_task(ref: str, data_dir: str | None, task: Task) -> None:
    """Put an already built task in this process's cache (the local executor)."""
    _TASKS[(ref, data_dir)] = task


def _task(ref: str, data_dir: str | None) -> Task:
    key = (ref, data_dir)
    if key not in _TASKS:
        from lrscope.tasks import get_task

        _TASKS[key] = get_task(ref, data_dir=data_dir)
    return _TASKS[key]


def _error_text(exc: BaseException) -> str:
    """``Type: message`` first, then the traceback, at most 4000 characters."""
    head = f"{type(exc).__name__}: {exc}"
    tail = "".join(traceback.format_exception(exc))
    text = f"{head}\n\n{tail}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def run_config(config: TrialConfig) -> TrialOutcome:
    """Run one trial; any exception becomes the outcome's ``error``, never escapes."""
    try:
        from lrscope.engine import run_trial

        task = _task(config.task_ref, config.data_dir)
        result = run_trial(
            task, config.spec, steps=config.steps, seed=config.seed, eval_every=config.eval_every
        )
        data = result.to_dict()
    except Exception as exc:
        return TrialOutcome(config, error=_error_text(exc))
    # The stored identity is the plan's, whatever name the task object carries.
    data.update(
        task=config.task,
        spec=config.spec,
        seed=config.seed,
        steps=config.steps,
        eval_every=config.eval_every,
    )
    return TrialOutcome(config, result=data)


def execute(config: dict[str, Any]) -> dict[str, Any]:
    """The function a process or Ray worker calls: plain dict in, plain dict out."""
    init_worker()
    return run_config(TrialConfig.from_dict(config)).to_dict()
