"""Executors: where the trials of a plan run.

One small interface (:class:`Executor`): :meth:`Executor.run` takes a batch of
:class:`TrialConfig` (any iterable, consumed lazily) and yields a
:class:`TrialOutcome` for each as it completes, in completion order. An
executor pulls the next config only when a worker is about to be free, so it
never holds more than ``workers`` trials in flight; the runner claims a trial
in the store exactly when the executor pulls it (see :mod:`lrscope.bench.runner`).

- ``local``: in this process, one trial after another.
- ``process``: ``workers`` spawned processes
  (:class:`concurrent.futures.ProcessPoolExecutor`, ``spawn`` context), each
  with one torch thread and its own task cache.
- ``ray``: Ray tasks on a running cluster or on a local Ray started for the
  run (:mod:`lrscope.bench.ray_executor`; ray is imported only there).

Workers exchange plain data only; a worker that raises gives an outcome with
``error`` set, and a worker process that dies fails the trials it held.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lrscope.bench._worker import TrialConfig, TrialOutcome, execute, init_worker, run_config
from lrscope.errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.tasks import Task

__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "ProcessExecutor",
    "check_executor_options",
    "default_workers",
    "make_executor",
]

EXECUTORS = ("local", "process", "ray", "batched")


@runtime_checkable
class Executor(Protocol):
    """Runs trial configs and yields their outcomes as they complete."""

    name: str
    workers: int

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        """Consume ``configs`` lazily (at most ``workers`` in flight), yield outcomes."""
        ...

    def close(self) -> None:
        """Release workers (processes, a local Ray). Idempotent."""
        ...


def default_workers() -> int:
    """Workers when none is asked for: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class LocalExecutor:
    """Runs every trial in this process, in order (``workers`` is always 1).

    ``tasks`` maps ``(task_ref, data_dir)`` to an already built task so that
    the runner's validation build is reused rather than repeated.
    """

    name = "local"

    def __init__(self, tasks: dict[tuple[str, str | None], Task] | None = None) -> None:
        from lrscope.bench._worker import cache_task

        self.workers = 1
        for (ref, data_dir), task in (tasks or {}).items():
            cache_task(ref, data_dir, task)

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        for config in configs:
            yield run_config(config)

    def close(self) -> None:
        return None


class ProcessExecutor:
    """``workers`` spawned worker processes, each with one torch thread.

    Each process builds a task the first time it needs it and keeps it.
    If a worker process dies (killed, out of memory), the trials in flight
    are reported failed and a fresh pool takes over the rest.
    """

    name = "process"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(1, True),
            )
        return self._pool

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        source = iter(configs)
        flight: dict[Future[dict[str, Any]], TrialConfig] = {}
        self._refill(source, flight)
        while flight:
            finished, _ = wait(flight, return_when=FIRST_COMPLETED)
            outcomes = [self._outcome(future, flight.pop(future)) for future in finished]
            if any(o.error and o.error.startswith("BrokenProcessPool") for o in outcomes):
                outcomes += [self._outcome(f, flight.pop(f)) for f in list(flight)]
                self._discard_pool()
            # Keep the workers busy while the caller records these outcomes.
            self._refill(source, flight)
            yield from outcomes

    def _refill(
        self, source: Iterator[TrialConfig], flight: dict[Future[dict[str, Any]], TrialConfig]
    ) -> None:
        while len(flight) < self.workers:
            config = next(source, None)
            if config is None:
                return
            try:
                future = self._ensure_pool().submit(execute, config.to_dict())
            except BrokenProcessPool:
                self._discard_pool()
                future = self._ensure_pool().submit(execute, config.to_dict())
            flight[future] = config

    @staticmethod
    def _outcome(future: Future[dict[str, Any]], config: TrialConfig) -> TrialOutcome:
        try:
            return TrialOutcome.from_dict(future.result())
        except BrokenProcessPool as exc:
            return TrialOutcome(config, error=f"BrokenProcessPool: a worker process died ({exc})")
        except Exception as exc:  # e.g. a result that could not be sent back
            return TrialOutcome(config, error=f"{type(exc).__name__}: {exc}")

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers now; trials still running in them are abandoned."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


def check_executor_options(
    name: str, workers: int | None, ray_address: str | None, batch_trials: int | None = None
) -> None:
    """Raise :class:`PlanError` unless the executor options are valid (cheap, no side effect)."""
    if name not in EXECUTORS:
        raise PlanError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}.")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)):
        raise PlanError(f"workers must be an int >= 1. Got {workers!r}.")
    if workers is not None and workers < 1:
        raise PlanError(f"workers must be an int >= 1. Got {workers!r}.")
    if ray_address is not None and name != "ray":
        raise PlanError(f"--ray-address only applies to the ray executor, not {name!r}.")
    if batch_trials is not None and (
        isinstance(batch_trials, bool) or not isinstance(batch_trials, int) or batch_trials < 1
    ):
        raise PlanError(f"batch_trials must be an int >= 1. Got {batch_trials!r}.")
    if name == "batched" and workers not in (None, 1):
        raise PlanError(
            "the batched executor trains in this process (1 worker); for several workers "
            "use --executor process --workers N --batch-trials K."
        )


def make_executor(
    name: str,
    workers: int | None = None,
    *,
    ray_address: str | None = None,
    tasks: dict[tuple[str, str | None], Task] | None = None,
    batch_trials: int | None = None,
) -> Executor:
    """The executor called ``name`` (``local``, ``process``, ``ray`` or ``batched``).

    ``workers`` defaults to the usable CPUs (``process``, local ``ray``) or to
    the cluster's CPUs (``ray`` with ``ray_address``); ``local`` always uses 1.
    ``batched``, or any executor with ``batch_trials=K``, trains K trials at a
    time in one stacked model per worker (:mod:`lrscope.bench.batched`).
    """
    check_executor_options(name, workers, ray_address, batch_trials)
    if name == "batched" or batch_trials is not None:
        from lrscope.bench.batched import make_batched_executor

        return make_batched_executor(
            name, workers, batch_trials, ray_address=ray_address, tasks=tasks
        )
    if name == "local":
        return LocalExecutor(tasks)
    if name == "process":
        return ProcessExecutor(workers or default_workers())
    from lrscope.bench.ray_executor import RayExecutor

    return RayExecutor(workers, address=ray_address)
