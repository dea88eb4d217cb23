"""Run a :class:`~lrscope.bench.plan.Plan` with an executor and record every trial.

Where claims happen, and why a plan can always be resumed:

1. Everything is validated first (the plan and the :class:`Execution` at
   their construction; the task, which is built once here), before any
   worker or Ray starts.
2. The trials already stored as done (``store.done_keys(task)``, diverged
   ones included) are skipped: a plan is re-run to resume it.
3. The runner, in the parent process, claims a trial
   (``store.start_trial(key)``, status ``running``) at the moment an executor
   pulls it to hand it to a free worker, not earlier; ``start_trial``
   returning None means another run finished it meanwhile, and it is skipped.
4. Workers never touch the store. Each outcome is written by the runner as it
   arrives (``finish_trial``: done or diverged; ``fail_trial``: the error
   text), in its own transaction.

So a runner killed at any moment (even ``kill -9``) loses only the trials in
flight, which stay ``running`` in the store and are not in ``done_keys``: the
next run claims them again (one row per key, so no duplicates). An ordinary
interruption (Ctrl-C, an exception) marks them failed with the reason. A
trial that raises is stored failed with its error text; a diverging one is
stored diverged; the plan goes on in both cases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lrscope.bench.execution import Execution
from lrscope.bench.executors import Executor
from lrscope.bench.factory import make_executor
from lrscope.bench.plan import Plan
from lrscope.bench.worker import TrialConfig, TrialOutcome, absolute_task_ref, cache_task
from lrscope.engine.result import TrialKey, TrialResult
from lrscope.engine.runtime import Runtime
from lrscope.errors import LRScopeError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.store import Store
    from lrscope.tasks import Task

__all__ = ["BenchSummary", "run_plan", "run_trials"]

log = logging.getLogger("lrscope.bench")

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class BenchSummary:
    """What :func:`run_plan` did.

    ``total`` trials in the plan = ``skipped`` (already stored as done, or
    finished by a concurrent run) + ``ran`` (executed by this call). Of those
    that ran, ``failed`` raised an exception and ``diverged`` stopped on a
    non-finite or exploding loss; the rest are done. ``wall_s``: seconds from
    the call to its return, validation included. ``executor``, ``workers``
    and ``batch_trials`` (trials per group; 1: one at a time) say how they ran.
    """

    task: str
    total: int
    ran: int
    skipped: int
    failed: int
    diverged: int
    wall_s: float
    executor: str
    workers: int
    batch_trials: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


HEARTBEAT_S = 20.0
"""Seconds between heartbeats of the claimed trials (the store rate-limits writes)."""


class _Run:
    """The bookkeeping of one :func:`run_plan` call: claims, records, counts.

    A daemon thread heartbeats the claimed trials while they run, so that a
    runner on another host sharing the database does not take them over.
    """

    def __init__(self, store: Store, total: int, skipped: int, on_progress: ProgressFn | None):
        self.store = store
        self.total = total
        self.skipped = skipped
        self.ran = self.failed = self.diverged = 0
        self.claimed: dict[TrialKey, int] = {}
        self.on_progress = on_progress
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None
        self.progress()

    def __enter__(self) -> _Run:
        self._beater = threading.Thread(target=self._beat, name="lrscope-heartbeat", daemon=True)
        self._beater.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._beater is not None:
            self._beater.join()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                trial_ids = list(self.claimed.values())
            for trial_id in trial_ids:
                try:
                    self.store.heartbeat(trial_id)
                except LRScopeError as exc:  # a busy database: the next beat retries
                    log.warning("heartbeat of trial %d failed: %s", trial_id, exc)

    def progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.skipped + self.ran, self.total)

    def claim(self, configs: list[TrialConfig]) -> Iterator[TrialConfig]:
        """Yield each config once it is claimed; skip those finished elsewhere."""
        for config in configs:
            trial_id = self.store.start_trial(config.key)
            if trial_id is None:
                self.skipped += 1
                self.progress()
                continue
            with self._lock:
                self.claimed[config.key] = trial_id
            yield config

    def record(self, outcome: TrialOutcome) -> None:
        with self._lock:
            trial_id = self.claimed.pop(outcome.config.key)
        self.ran += 1
        if outcome.result is None:
            self.failed += 1
            self.store.fail_trial(trial_id, outcome.error or "unknown error")
        else:
            result = TrialResult.from_dict(outcome.result)
            self.diverged += int(result.diverged)
            self.store.finish_trial(trial_id, result)
        self.progress()

    def abandon(self, reason: str) -> None:
        """Mark the claimed trials that never came back as failed."""
        with self._lock:
            trial_ids = list(self.claimed.values())
            self.claimed.clear()
        for trial_id in trial_ids:
            self.store.fail_trial(trial_id, f"interrupted: {reason}")


def run_plan(
    plan: Plan,
    store: Store,
    execution: Execution | Executor = Execution(),
    on_progress: ProgressFn | None = None,
    task: Task | None = None,
) -> BenchSummary:
    """Run every trial of ``plan`` not yet stored as done, and store its outcome.

    Args:
        plan: what to run (validated at construction).
        store: where trials are claimed and recorded (:class:`lrscope.store.Store`).
        execution: how the trials run: an :class:`Execution` (executor,
            workers, Ray address, group size; the executor is made here, for
            the trials still to run, and closed at the end) or an
            :class:`Executor` instance (which the caller owns and closes).
        on_progress: called as ``on_progress(finished, total)`` at the start and
            after each trial recorded or skipped.
        task: the task ``plan.task`` names, if the caller has built it
            already (e.g. to validate it before opening the store); else it is
            built here.

    Raises:
        PlanError, TaskError, DataError, ParameterError: invalid input, before
            any training.
        DeviceError: the plan's device does not exist on this machine (for
            trials that train here, not on a Ray cluster at an address).

    >>> summary = run_plan(Plan("mnist1d-cnn", ["FIX(k0=0.05)"], steps=200),
    ...                    Store.open("sqlite:///bench.db"),
    ...                    Execution("process", batch_trials=4))  # doctest: +SKIP
    """
    if not isinstance(execution, (Execution, Executor)):
        raise ParameterError("run_plan", "execution", "an Execution or an Executor", execution)
    _check_device(plan, execution)
    if task is None:
        from lrscope.tasks import get_task

        task = get_task(plan.task, data_dir=plan.data_dir)
    keys = plan.keys(task.name, task.steps_per_epoch)
    return run_trials(
        plan.task,
        keys,
        store,
        execution,
        task=task,
        data_dir=plan.data_dir,
        on_progress=on_progress,
        runtime=plan.runtime,
    )


def run_trials(
    task_ref: str,
    keys: Sequence[TrialKey],
    store: Store,
    execution: Execution | Executor = Execution(),
    *,
    task: Task | None = None,
    data_dir: str | None = None,
    on_progress: ProgressFn | None = None,
    runtime: Runtime | None = None,
) -> BenchSummary:
    """Run the trials ``keys`` of one task not yet stored as done, in order; store each outcome.

    What :func:`run_plan` does for a plan's cross product, for any list of
    trials (:func:`lrscope.tune.tune` runs its search rounds, confirmation
    and budget ladder this way: specs that differ per budget, seeds per
    stage). Every key names the task ``task_ref`` builds (``key.task ==
    task.name``); a key given twice runs once. Trials are handed to the
    executor in the order given, so groups are consecutive runs of ``keys``
    (those already stored left out). Every trial trains on ``runtime``
    (default ``Runtime()``: fp32, no accumulation, the best device), whose
    identity every key carries.

    Raises:
        ParameterError: a key of another task or of another runtime, or
            ``execution`` of the wrong type.
        PlanError, TaskError, DataError: ``task_ref`` cannot be built, before any training.
    """
    start = time.perf_counter()
    if not isinstance(execution, (Execution, Executor)):
        raise ParameterError("run_trials", "execution", "an Execution or an Executor", execution)
    if task is None:
        from lrscope.tasks import get_task

        task = get_task(task_ref, data_dir=data_dir)
    runtime = runtime if runtime is not None else Runtime()
    ordered = list(dict.fromkeys(keys))
    for key in ordered:
        if (
            not isinstance(key, TrialKey)
            or key.task != task.name
            or key.runtime != runtime.identity
        ):
            allowed = f"TrialKeys of the task {task.name!r} and runtime {runtime.identity!r}"
            raise ParameterError("run_trials", "keys", allowed, key)
    store.put_task(task.name, task.metadata)
    done = store.done_keys(task.name) if ordered else set()
    pending = [k for k in ordered if k not in done]
    run = _Run(store, len(ordered), len(ordered) - len(pending), on_progress)
    ref = absolute_task_ref(task_ref)
    configs = [
        TrialConfig(
            k.task, ref, data_dir, k.spec, k.seed, k.steps, k.eval_every, **runtime.to_dict()
        )
        for k in pending
    ]
    cache_task(ref, data_dir, task)  # the local executor trains this very build
    if isinstance(execution, Execution):
        name, (workers, size) = execution.executor, execution.resolve(trials=len(pending))
        if configs:
            made = make_executor(execution, tasks=[task], trials=len(configs), runtime=runtime)
            with made as owned, run:
                _execute(run, owned, configs, owned=True)
            name, workers, size = owned.name, owned.workers, owned.batch_trials
    else:
        name, workers, size = execution.name, execution.workers, execution.batch_trials
        if configs:
            with run:
                _execute(run, execution, configs, owned=False)
    return BenchSummary(
        task=task.name,
        total=run.total,
        ran=run.ran,
        skipped=run.skipped,
        failed=run.failed,
        diverged=run.diverged,
        wall_s=time.perf_counter() - start,
        executor=name,
        workers=workers,
        batch_trials=size,
    )


def _check_device(plan: Plan, execution: Execution | Executor) -> None:
    """A device this machine lacks is an error before any claim, when trials train here.

    Trials on a Ray cluster at an address resolve the device there.
    """
    remote = (
        execution.ray_address is not None
        if isinstance(execution, Execution)
        else execution.name not in ("local", "process")
    )
    if not remote:
        from lrscope.engine.device import resolve

        resolve(plan.runtime)


def _execute(run: _Run, executor: Executor, configs: list[TrialConfig], *, owned: bool) -> None:
    """Feed ``configs`` through ``executor``, recording each outcome as it arrives.

    On any interruption the workers of an ``owned`` executor are stopped first
    (``close()``; a caller's executor is the caller's to close), then the
    claimed trials that never came back are marked failed, and the exception
    goes on.
    """
    try:
        for outcome in executor.run(run.claim(configs)):
            run.record(outcome)
    except BaseException as exc:
        if owned:
            executor.close()
        run.abandon(f"{type(exc).__name__}: {exc}".rstrip(": "))
        raise
