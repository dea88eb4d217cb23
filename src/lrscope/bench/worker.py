"""What crosses to a worker and back, and what runs inside it.

Workers (this process for the ``local`` executor, a spawned process, a Ray
task) get plain data (:meth:`TrialConfig.to_dict`) and return plain data
(:meth:`TrialOutcome.to_dict`), so nothing but strings, numbers, lists and
dicts crosses a process boundary. A worker runs a *group* of configs at a
time (:func:`run_group`; a group of one is an ordinary trial): the trials of
one task in a group of two or more train in lockstep in one stacked model
(:func:`lrscope.batched.run_batched`), each with its own policy, seed, data
order, divergence check and result.

When a task cannot be batched (:func:`lrscope.batched.task_batching_problem`:
BatchNorm, dropout, an optimizer other than SGD, a runtime other than fp32
without accumulation on the CPU, ...) or a batched group fails
for any reason (a first batched loss that differs from the unbatched one, a
model factory that raises for one seed), its trials run one by one, and the
reason is logged (logger ``lrscope.bench.worker``: INFO for a task that cannot
be batched, once per process; WARNING for a failed group). Each trial then
gets exactly the outcome an ungrouped run gives it.

Each worker builds a task once and keeps it for the next trials. Workers
never touch the results store: the runner in the parent process claims and
records every trial. :func:`init_worker` is a worker process's start-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrscope.engine.result import TrialKey
from lrscope.engine.runtime import Runtime

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.result import TrialResult
    from lrscope.tasks import Task

__all__ = [
    "TrialConfig",
    "TrialOutcome",
    "absolute_task_ref",
    "cache_task",
    "execute_group",
    "init_worker",
    "keep_freed_memory",
    "run_config",
    "run_group",
]

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 4000

TaskRef = tuple[str, str | None]
"""``(task_ref, data_dir)``: how a worker finds a task."""

_TASKS: dict[TaskRef, Task] = {}  # one cache per worker process
_PROBLEMS: dict[tuple[TaskRef, str], str] = {}  # why a task under a runtime cannot be batched
_TOLD: set[tuple[TaskRef, str]] = set()  # tasks whose reason for running one by one was logged
_MALLOC_TUNED: list[bool] = []


@dataclass(frozen=True)
class TrialConfig:
    """One trial to run, as plain data.

    ``task`` is the task's name (part of the :class:`TrialKey`); ``task_ref``
    is what a worker passes to :func:`lrscope.tasks.get_task` (the same, except
    that a ``path/file.py:function`` reference is made absolute so that a
    worker with another working directory finds the file). ``device``,
    ``precision`` and ``grad_accum_steps`` are the trial's
    :class:`~lrscope.engine.Runtime`, resolved by the worker on its machine.
    """

    task: str
    task_ref: str
    data_dir: str | None
    spec: str
    seed: int
    steps: int
    eval_every: int
    device: str = "auto"
    precision: str = "fp32"
    grad_accum_steps: int = 1

    @property
    def runtime(self) -> Runtime:
        return Runtime(
            device=self.device, precision=self.precision, grad_accum_steps=self.grad_accum_steps
        )

    @property
    def key(self) -> TrialKey:
        """The trial's identity in the store (the runtime's identity included)."""
        return TrialKey(
            self.task, self.spec, self.seed, self.steps, self.eval_every, self.runtime.identity
        )

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

    @classmethod
    def of(cls, config: TrialConfig, result: TrialResult) -> TrialOutcome:
        """The outcome of a finished trial, stored under ``config``'s identity.

        The one place a stored trial gets its identity: the plan's key
        (:attr:`TrialConfig.key`), whatever name the task object carries and
        however the trial ran (alone or in a group).
        """
        data = result.to_dict()
        data.update(asdict(config.key))
        return cls(config, result=data)

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


# --- worker start-up ------------------------------------------------------------


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory in the heap (once per process; Linux only).

    A batched step allocates and frees activations of megabytes; by default
    glibc hands such blocks back to the kernel and the next step page-faults
    them in again, which costs 15-25 % of a step on small models. Raising the
    mmap and trim thresholds to 1 GiB keeps them: the process's peak memory is
    unchanged, it is just not returned to the system between steps. This
    changes the whole process, so only code that owns its process calls it:
    :func:`init_worker` and the command line. True when the thresholds were set.
    """
    if _MALLOC_TUNED:
        return _MALLOC_TUNED[0]
    done = False
    name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if name is not None:
        try:
            mallopt = ctypes.CDLL(name).mallopt
        except (OSError, AttributeError):  # not glibc
            mallopt = None
        if mallopt is not None:
            m_trim_threshold, m_mmap_threshold = -1, -3
            done = bool(mallopt(m_mmap_threshold, 1 << 30) and mallopt(m_trim_threshold, 1 << 30))
    log.debug("malloc thresholds raised: %s", done)
    _MALLOC_TUNED.append(done)
    return done


def init_worker(threads: int = 1, watch_parent: bool = False) -> None:
    """A worker process's start-up: ``threads`` torch threads, malloc keeps freed memory.

    ``threads`` intra-op threads per worker, so N workers use N cores;
    :func:`keep_freed_memory` for the batched steps. With ``watch_parent``
    (process pool workers) a daemon thread ends this process within a second
    of its parent's death, so a runner killed with ``kill -9`` leaves no
    orphaned workers training on; and SIGINT is ignored, so Ctrl-C is handled
    once, by the runner, which then stops the workers.
    """
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    keep_freed_memory()
    if watch_parent:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        parent = os.getppid()
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int, interval_s: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(interval_s)
    os._exit(1)


# --- running trials ---------------------------------------------------------------


def cache_task(ref: str, data_dir: str | None, task: Task) -> None:
    """Put an already built task in this process's cache (the runner's own build)."""
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
            task,
            config.spec,
            steps=config.steps,
            seed=config.seed,
            eval_every=config.eval_every,
            runtime=config.runtime,
        )
    except (Exception, SystemExit) as exc:  # a task's sys.exit() fails its trial, not the run
        return TrialOutcome(config, error=_error_text(exc))
    return TrialOutcome.of(config, result)


def _one_by_one(configs: Sequence[TrialConfig]) -> list[TrialOutcome]:
    return [run_config(config) for config in configs]


def _batching_problem(key: tuple[TaskRef, str], task: Task, runtime: Runtime) -> str:
    if key not in _PROBLEMS:
        from lrscope.batched import task_batching_problem

        _PROBLEMS[key] = task_batching_problem(task, runtime) or ""
    return _PROBLEMS[key]


def _run_part(configs: Sequence[TrialConfig]) -> list[TrialOutcome]:
    """Trials of one task and runtime: in one stacked model when there are several and it can be."""
    if len(configs) == 1:
        return _one_by_one(configs)
    ref = (configs[0].task_ref, configs[0].data_dir)
    runtime = configs[0].runtime
    key = (ref, f"{runtime.device}/{runtime.identity}")
    try:
        task = _task(*ref)
    except Exception:  # each trial reports the error, as run_config does
        return _one_by_one(configs)
    problem = _batching_problem(key, task, runtime)
    if problem:
        if key not in _TOLD:
            _TOLD.add(key)
            log.info("running the trials of %s one by one: %s", task.name, problem)
        return _one_by_one(configs)
    from lrscope.batched import Member, run_batched

    members = [Member(c.spec, seed=c.seed, steps=c.steps, eval_every=c.eval_every) for c in configs]
    try:
        results = run_batched(task, members)
    except Exception as exc:
        log.warning(
            "a group of %d trials of %s failed (%s: %s); running them one by one",
            len(configs),
            task.name,
            type(exc).__name__,
            exc,
        )
        return _one_by_one(configs)
    return [TrialOutcome.of(c, r) for c, r in zip(configs, results, strict=True)]


def run_group(configs: Iterable[TrialConfig]) -> list[TrialOutcome]:
    """Run a group of configs, the trials of each task and runtime together; one outcome
    per config, in order. Never raises."""
    items = list(configs)
    parts: dict[tuple[str, str | None, str, str, int], list[TrialConfig]] = {}
    for config in items:
        runtime = (config.device, config.precision, config.grad_accum_steps)
        parts.setdefault((config.task_ref, config.data_dir, *runtime), []).append(config)
    done: dict[int, TrialOutcome] = {}
    for members in parts.values():
        for config, outcome in zip(members, _run_part(members), strict=True):
            done[id(config)] = outcome
    return [done[id(config)] for config in items]


def execute_group(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a process or Ray worker calls: plain dicts in, plain dicts out."""
    init_worker()
    return [o.to_dict() for o in run_group(TrialConfig.from_dict(c) for c in configs)]
