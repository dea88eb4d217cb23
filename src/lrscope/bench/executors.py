"""Executors: where the trials of a plan run, in groups, with one scheduling loop.

One small interface (:class:`Executor`): :meth:`Executor.run` takes
:class:`TrialConfig` s (any iterable, consumed lazily) and yields a
:class:`TrialOutcome` for each as it completes, in completion order. The
runner claims a trial in the store exactly when the executor pulls it (see
:mod:`lrscope.bench.runner`), so an executor pulls configs only for a worker
that is about to be free.

Every executor here is a :class:`GroupExecutor`: it pulls ``batch_trials``
configs for each free worker, so at most ``workers * batch_trials`` trials
train at once (and the outcomes of one more group may wait to be recorded:
the next group is pulled before they are handed over, so that no worker
idles), hands each group to a worker
(:func:`lrscope.bench.worker.run_group`: the trials of one task in lockstep in
one stacked model, or one by one when they cannot be), and yields the
group's outcomes when it completes. ``batch_trials=1`` runs one trial at a
time. The loop (:meth:`GroupExecutor.run`) is written once; each executor
only says how to submit a group, wait for any, and collect one:

- ``local`` (:class:`LocalExecutor`): in this process, one group after the other.
- ``process`` (:class:`ProcessExecutor`): ``workers`` spawned processes
  (:class:`concurrent.futures.ProcessPoolExecutor`, ``spawn`` context), each
  with one torch thread and its own task cache.
- ``ray`` (:class:`lrscope.bench.ray_executor.RayExecutor`): Ray tasks on a
  running cluster or on a local Ray started for the run (ray is imported only
  there).

Make them with :func:`lrscope.bench.factory.make_executor`. Workers exchange
plain data only; a worker that raises gives outcomes with ``error`` set, and
a worker process that dies fails the trials it held.
"""

from __future__ import annotations

import abc
import itertools
import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar, Protocol, runtime_checkable

from lrscope.bench.execution import Execution, Resolution
from lrscope.bench.worker import TrialConfig, TrialOutcome, execute_group, init_worker, run_group
from lrscope.errors import ParameterError

__all__ = [
    "Executor",
    "GroupExecutor",
    "LocalExecutor",
    "ProcessExecutor",
]

Handle = Any
"""A group in flight, as its executor knows it (a future, a Ray object ref)."""


@runtime_checkable
class Executor(Protocol):
    """Runs trial configs and yields their outcomes as they complete."""

    @property
    def name(self) -> str:
        """``local``, ``process``, ``ray`` or the name of your own executor."""
        ...

    @property
    def workers(self) -> int:
        """Groups trained in parallel."""
        ...

    @property
    def batch_trials(self) -> int:
        """Trials per group (1: one at a time)."""
        ...

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        """Consume ``configs`` lazily (at most ``workers * batch_trials`` in flight),
        yield outcomes."""
        ...

    def close(self) -> None:
        """Release workers (processes, a local Ray). Idempotent."""
        ...


def _groups(source: Iterator[TrialConfig], size: int) -> Iterator[list[TrialConfig]]:
    while group := list(itertools.islice(source, size)):
        yield group


class GroupExecutor(abc.ABC):
    """Groups of ``batch_trials`` trials on ``workers`` workers: the one scheduling loop.

    ``workers`` and ``batch_trials`` are the :class:`Execution`'s, resolved
    once here (:meth:`Execution.resolve`) for ``trials`` trials on ``cpus``
    CPUs. ``ungrouped_reason`` says why trials that were to run in groups run
    one at a time (set by :func:`~lrscope.bench.factory.make_executor`).
    Use as a context manager, or call :meth:`close`.
    """

    name: ClassVar[str]

    def __init__(
        self, execution: Execution, trials: int | None = None, *, cpus: int | None = None
    ) -> None:
        self.execution = self._accept(execution)
        self.workers, self.batch_trials = execution.resolve(trials=trials, cpus=cpus)
        self.ungrouped_reason: str | None = None
        self._flight: dict[Handle, list[TrialConfig]] = {}

    @classmethod
    def _accept(cls, execution: object) -> Execution:
        if not isinstance(execution, Execution) or execution.executor != cls.name:
            allowed = f"an Execution with executor {cls.name!r}"
            raise ParameterError(cls.__name__, "execution", allowed, execution)
        return execution

    def describe(self) -> str:
        """``process x2, groups of 8``."""
        return self.execution.describe(Resolution(self.workers, self.batch_trials))

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        groups = _groups(iter(configs), self.batch_trials)
        flight: dict[Handle, list[TrialConfig]] = {}
        self._flight = flight
        self._refill(groups, flight)
        while flight:
            done = self._wait(list(flight))
            outcomes = [o for h in done for o in self._collect(h, flight.pop(h))]
            if self._recover():  # every group in flight is gone with the workers
                outcomes += [o for h in list(flight) for o in self._collect(h, flight.pop(h))]
            # Keep the workers busy while the caller records these outcomes.
            self._refill(groups, flight)
            yield from outcomes

    def _refill(
        self, groups: Iterator[list[TrialConfig]], flight: dict[Handle, list[TrialConfig]]
    ) -> None:
        while len(flight) < self.workers:
            group = next(groups, None)
            if group is None:
                return
            flight[self._submit(group)] = group

    def _collect(self, handle: Handle, group: list[TrialConfig]) -> list[TrialOutcome]:
        try:
            return self._result(handle)
        except Exception as exc:  # a worker that died, a result that could not be sent back
            error = self._failure(exc)
            return [TrialOutcome(config, error=error) for config in group]

    # --- what each executor says -------------------------------------------------

    @abc.abstractmethod
    def _submit(self, group: list[TrialConfig]) -> Handle:
        """Start ``group`` on a free worker; a handle to wait on."""

    @abc.abstractmethod
    def _wait(self, handles: list[Handle]) -> list[Handle]:
        """Block until at least one of ``handles`` is complete; the complete ones."""

    @abc.abstractmethod
    def _result(self, handle: Handle) -> list[TrialOutcome]:
        """The outcomes of a complete group, in its order (raise if the group was lost)."""

    def _failure(self, exc: Exception) -> str:
        """The error text of every trial of a group lost to ``exc``."""
        return f"{type(exc).__name__}: {exc}"

    def _recover(self) -> bool:
        """True when every group in flight was lost (a dead process pool); the
        workers are then replaced and those groups collected as failed."""
        return False

    @abc.abstractmethod
    def _release(self, handles: list[Handle]) -> None:
        """Stop the groups still in flight (best effort) and release the workers."""

    def close(self) -> None:
        """Stop the groups in flight and release the workers. Idempotent."""
        handles = list(self._flight)
        self._flight.clear()
        self._release(handles)

    def __enter__(self) -> GroupExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(GroupExecutor):
    """Runs every group in this process, one after the other (``workers`` is 1).

    A group runs when the loop waits for it, after the outcomes of the one
    before were handed over (and recorded by the runner).
    """

    name = "local"

    def __init__(self, execution: Execution = Execution(), trials: int | None = None) -> None:
        super().__init__(execution, trials)
        self._pending: dict[Future[list[TrialOutcome]], list[TrialConfig]] = {}

    def _submit(self, group: list[TrialConfig]) -> Future[list[TrialOutcome]]:
        future: Future[list[TrialOutcome]] = Future()
        self._pending[future] = group
        return future

    def _wait(self, handles: list[Handle]) -> list[Handle]:
        first: Future[list[TrialOutcome]] = handles[0]
        first.set_result(run_group(self._pending.pop(first)))
        return [first]

    def _result(self, handle: Handle) -> list[TrialOutcome]:
        outcomes: list[TrialOutcome] = handle.result()
        return outcomes

    def _release(self, handles: list[Handle]) -> None:
        self._pending.clear()


class ProcessExecutor(GroupExecutor):
    """``workers`` spawned worker processes, each with one torch thread.

    Each process builds a task the first time it needs it and keeps it.
    If a worker process dies (killed, out of memory), the trials in flight
    are reported failed and a fresh pool takes over the rest.
    """

    name = "process"

    def __init__(
        self, execution: Execution = Execution("process"), trials: int | None = None
    ) -> None:
        super().__init__(execution, trials)
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(1, True),
            )
        return self._pool

    def _submit(self, group: list[TrialConfig]) -> Handle:
        payload = [config.to_dict() for config in group]
        try:
            return self._ensure_pool().submit(execute_group, payload)
        except BrokenProcessPool:
            self._discard_pool()
            return self._ensure_pool().submit(execute_group, payload)

    def _wait(self, handles: list[Handle]) -> list[Handle]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return list(done)

    def _result(self, handle: Handle) -> list[TrialOutcome]:
        return [TrialOutcome.from_dict(data) for data in handle.result()]

    def _failure(self, exc: Exception) -> str:
        if isinstance(exc, BrokenProcessPool):
            self._broken = True
            return f"BrokenProcessPool: a worker process died ({exc})"
        return super()._failure(exc)

    def _recover(self) -> bool:
        if not self._broken:
            return False
        self._broken = False
        self._discard_pool()
        return True

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _release(self, handles: list[Handle]) -> None:
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
