"""Batched executors: groups of K trials trained in lockstep (:mod:`lrscope.batched`).

- ``batched`` (:class:`BatchedExecutor`): in this process, K trials at a time.
- ``process`` with ``batch_trials=K`` (:class:`BatchedProcessExecutor`): each
  of the ``workers`` spawned processes trains a group of K trials at a time
  (e.g. ``--executor process --workers 2 --batch-trials 8``).
- ``ray`` with ``batch_trials=K`` (:class:`BatchedRayExecutor`): each Ray
  task trains a group of K trials.

The executor pulls up to K configs for each free worker (so up to
``workers * K`` trials are claimed and in flight), splits them by task, runs
each part with :func:`lrscope.batched.run_batched` and yields one
:class:`TrialOutcome` per trial, as the other executors do. Pick K close to
``trials / workers`` so that no worker idles at the end.

When a task cannot be batched (:func:`lrscope.batched.task_batching_problem`:
BatchNorm, dropout, an optimizer other than SGD, ...) or a batched group fails
for any reason (a model whose first batched loss differs from the unbatched
one, a model factory that raises for one seed), its trials run one by one
through the ordinary worker path, and the reason is logged
(``logging.getLogger("lrscope.bench.batched")``, level INFO for an
unsupported task, WARNING for a failed group). Each trial then gets exactly
the outcome the unbatched executors would give it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from lrscope.bench._worker import (
    TrialConfig,
    TrialOutcome,
    _task,
    cache_task,
    init_worker,
    run_config,
)
from lrscope.bench.executors import ProcessExecutor
from lrscope.bench.ray_executor import RayExecutor
from lrscope.errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.tasks import Task

__all__ = [
    "DEFAULT_BATCH_TRIALS",
    "BatchedExecutor",
    "BatchedProcessExecutor",
    "BatchedRayExecutor",
    "execute_group",
    "make_batched_executor",
    "run_group",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_TRIALS = 8
"""Trials per group when ``batch_trials`` is not given."""

TaskKey = tuple[str, str | None]

# (task_ref, data_dir) -> why the task cannot be batched ("" when it can); per process.
_PROBLEMS: dict[TaskKey, str] = {}
_TOLD: set[TaskKey] = set()  # tasks whose fallback reason was logged already


def _problem(key: TaskKey, task: Task) -> str:
    if key not in _PROBLEMS:
        from lrscope.batched import task_batching_problem

        _PROBLEMS[key] = task_batching_problem(task) or ""
    return _PROBLEMS[key]


def _by_task(configs: list[TrialConfig]) -> list[list[TrialConfig]]:
    parts: dict[TaskKey, list[TrialConfig]] = {}
    for config in configs:
        parts.setdefault((config.task_ref, config.data_dir), []).append(config)
    return list(parts.values())


def _unbatched(configs: list[TrialConfig]) -> list[TrialOutcome]:
    return [run_config(config) for config in configs]


def _run_part(configs: list[TrialConfig]) -> list[TrialOutcome]:
    """Trials of one task: batched when possible, else one by one."""
    from lrscope.batched import Member, run_batched

    key = (configs[0].task_ref, configs[0].data_dir)
    try:
        task = _task(*key)
    except Exception:  # each trial reports the error as run_config does
        return _unbatched(configs)
    problem = _problem(key, task)
    if problem:
        if key not in _TOLD:
            _TOLD.add(key)
            log.info("running the trials of %s unbatched: %s", task.name, problem)
        return _unbatched(configs)
    members = [Member(c.spec, seed=c.seed, steps=c.steps, eval_every=c.eval_every) for c in configs]
    try:
        results = run_batched(task, members)
    except Exception as exc:
        log.warning(
            "batched group of %d trials of %s failed (%s: %s); running them one by one",
            len(configs),
            task.name,
            type(exc).__name__,
            exc,
        )
        return _unbatched(configs)
    outcomes = []
    for config, result in zip(configs, results, strict=True):
        data = result.to_dict()
        # The stored identity is the plan's, whatever name the task object carries.
        data.update(
            task=config.task,
            spec=config.spec,
            seed=config.seed,
            steps=config.steps,
            eval_every=config.eval_every,
        )
        outcomes.append(TrialOutcome(config, result=data))
    return outcomes


def run_group(configs: Iterable[TrialConfig]) -> list[TrialOutcome]:
    """Run ``configs`` batched per task; one outcome per config, in order. Never raises."""
    items = list(configs)
    done: dict[int, TrialOutcome] = {}
    for part in _by_task(items):
        for config, outcome in zip(part, _run_part(part), strict=True):
            done[id(config)] = outcome
    return [done[id(config)] for config in items]


def execute_group(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a process or Ray worker calls: plain dicts in, plain dicts out."""
    init_worker()
    return [o.to_dict() for o in run_group(TrialConfig.from_dict(c) for c in configs)]


def _chunks(source: Iterator[TrialConfig], size: int) -> Iterator[list[TrialConfig]]:
    while chunk := list(itertools.islice(source, size)):
        yield chunk


def _check_batch_trials(batch_trials: int) -> None:
    if isinstance(batch_trials, bool) or not isinstance(batch_trials, int) or batch_trials < 1:
        raise PlanError(f"batch_trials must be an int >= 1. Got {batch_trials!r}.")


class BatchedExecutor:
    """Groups of ``batch_trials`` trials, one group after another, in this process.

    ``tasks`` maps ``(task_ref, data_dir)`` to an already built task (the
    runner's), as for :class:`~lrscope.bench.executors.LocalExecutor`.
    """

    name = "batched"

    def __init__(
        self,
        batch_trials: int = DEFAULT_BATCH_TRIALS,
        tasks: dict[tuple[str, str | None], Task] | None = None,
    ) -> None:
        _check_batch_trials(batch_trials)
        self.workers = 1
        self.batch_trials = batch_trials
        for (ref, data_dir), task in (tasks or {}).items():
            cache_task(ref, data_dir, task)

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        for chunk in _chunks(iter(configs), self.batch_trials):
            yield from run_group(chunk)

    def close(self) -> None:
        return None


class BatchedProcessExecutor(ProcessExecutor):
    """``workers`` spawned processes, each training groups of ``batch_trials`` trials."""

    name = "process+batched"

    def __init__(self, workers: int, batch_trials: int = DEFAULT_BATCH_TRIALS) -> None:
        _check_batch_trials(batch_trials)
        super().__init__(workers)
        self.batch_trials = batch_trials

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        chunks = _chunks(iter(configs), self.batch_trials)
        flight: dict[Future[list[dict[str, Any]]], list[TrialConfig]] = {}
        self._refill_groups(chunks, flight)
        while flight:
            finished, _ = wait(flight, return_when=FIRST_COMPLETED)
            outcomes = [o for f in finished for o in self._group_outcomes(f, flight.pop(f))]
            if any(o.error and o.error.startswith("BrokenProcessPool") for o in outcomes):
                outcomes += [
                    o for f in list(flight) for o in self._group_outcomes(f, flight.pop(f))
                ]
                self._discard_pool()
            self._refill_groups(chunks, flight)
            yield from outcomes

    def _refill_groups(
        self,
        chunks: Iterator[list[TrialConfig]],
        flight: dict[Future[list[dict[str, Any]]], list[TrialConfig]],
    ) -> None:
        while len(flight) < self.workers:
            chunk = next(chunks, None)
            if chunk is None:
                return
            payload = [c.to_dict() for c in chunk]
            try:
                future = self._ensure_pool().submit(execute_group, payload)
            except BrokenProcessPool:
                self._discard_pool()
                future = self._ensure_pool().submit(execute_group, payload)
            flight[future] = chunk

    @staticmethod
    def _group_outcomes(
        future: Future[list[dict[str, Any]]], chunk: list[TrialConfig]
    ) -> list[TrialOutcome]:
        try:
            return [TrialOutcome.from_dict(o) for o in future.result()]
        except BrokenProcessPool as exc:
            error = f"BrokenProcessPool: a worker process died ({exc})"
        except Exception as exc:  # e.g. a result that could not be sent back
            error = f"{type(exc).__name__}: {exc}"
        return [TrialOutcome(config, error=error) for config in chunk]


class BatchedRayExecutor(RayExecutor):
    """Ray tasks (one CPU each), each training a group of ``batch_trials`` trials."""

    name = "ray+batched"

    def __init__(
        self,
        workers: int | None = None,
        batch_trials: int = DEFAULT_BATCH_TRIALS,
        *,
        address: str | None = None,
    ) -> None:
        _check_batch_trials(batch_trials)
        super().__init__(workers, address=address)
        self.batch_trials = batch_trials
        self._group_remote = self._ray.remote(num_cpus=1, max_retries=0)(execute_group)
        self._groups: dict[Any, list[TrialConfig]] = {}

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        chunks = _chunks(iter(configs), self.batch_trials)
        flight = self._groups
        self._refill_groups(chunks, flight)
        while flight:
            ready, _ = self._ray.wait(list(flight), num_returns=1)
            outcomes = [o for ref in ready for o in self._group_outcomes(ref, flight.pop(ref))]
            self._refill_groups(chunks, flight)
            yield from outcomes

    def _refill_groups(
        self, chunks: Iterator[list[TrialConfig]], flight: dict[Any, list[TrialConfig]]
    ) -> None:
        while len(flight) < self.workers:
            chunk = next(chunks, None)
            if chunk is None:
                return
            flight[self._group_remote.remote([c.to_dict() for c in chunk])] = chunk

    def _group_outcomes(self, ref: Any, chunk: list[TrialConfig]) -> list[TrialOutcome]:
        try:
            return [TrialOutcome.from_dict(o) for o in self._ray.get(ref)]
        except Exception as exc:  # a worker that died, a lost node
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return [TrialOutcome(c, error=f"{type(exc).__name__}: {first}") for c in chunk]

    def close(self) -> None:
        """Cancel groups in flight, then what :meth:`RayExecutor.close` does."""
        for ref in list(self._groups):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # already finished or lost
                log.debug("could not cancel a finished or lost Ray task")
        self._groups.clear()
        super().close()


def make_batched_executor(
    name: str,
    workers: int | None = None,
    batch_trials: int | None = None,
    *,
    ray_address: str | None = None,
    tasks: dict[tuple[str, str | None], Task] | None = None,
) -> BatchedExecutor | BatchedProcessExecutor | BatchedRayExecutor:
    """The batched form of executor ``name`` (``batched``/``local``, ``process``, ``ray``).

    ``batch_trials`` defaults to :data:`DEFAULT_BATCH_TRIALS`; ``workers`` as in
    :func:`lrscope.bench.executors.make_executor`.
    """
    size = DEFAULT_BATCH_TRIALS if batch_trials is None else batch_trials
    _check_batch_trials(size)
    if name in ("batched", "local"):
        return BatchedExecutor(size, tasks)
    if name == "process":
        from lrscope.bench.executors import default_workers

        return BatchedProcessExecutor(workers or default_workers(), size)
    if name == "ray":
        return BatchedRayExecutor(workers, size, address=ray_address)
    raise PlanError(f"no batched form of executor {name!r}; allowed: batched, local, process, ray.")
