"""Make the executor an :class:`~lrscope.bench.execution.Execution` asks for.

>>> with make_executor(Execution("process", workers=2, batch_trials=8)) as executor:
...     run_plan(plan, store, executor)  # doctest: +SKIP

The one place executors are chosen; it imports the ray executor (and ray)
only when ``ray`` is asked for, and the batched engine (torch) only to check
whether the given tasks can be trained in groups.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lrscope.bench.execution import Execution
from lrscope.bench.executors import GroupExecutor, LocalExecutor, ProcessExecutor
from lrscope.errors import ParameterError
from lrscope.validation import Interval, OrNone, check

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine.runtime import Runtime
    from lrscope.tasks import Task

__all__ = ["make_executor", "ungrouped_reason"]

log = logging.getLogger("lrscope.bench")


def ungrouped_reason(tasks: Sequence[Task], runtime: Runtime | None = None) -> str | None:
    """Why the trials of ``tasks`` (under ``runtime``) cannot train in groups, or None."""
    if not tasks:
        return None
    from lrscope.batched import task_batching_problem

    for task in tasks:
        problem = task_batching_problem(task, runtime)
        if problem is not None:
            return f"{task.name}: {problem}"
    return None


def make_executor(
    execution: Execution = Execution(),
    *,
    tasks: Sequence[Task] = (),
    trials: int | None = None,
    runtime: Runtime | None = None,
) -> GroupExecutor:
    """The executor ``execution`` names, with its workers and group size resolved.

    Args:
        execution: how trials run (:class:`Execution`).
        tasks: the tasks whose trials it will run, if known. When trials are
            to run in groups and one of them cannot be batched, the executor
            runs one trial at a time and the reason is logged (logger
            ``lrscope.bench``, INFO) and kept in its ``ungrouped_reason``.
        trials: how many trials it will run, if known (sizes ``"auto"`` groups).
        runtime: the trials' runtime, if known: groups train in fp32 without
            accumulation on the CPU, so any other runtime runs one at a time.

    The caller owns the executor: use it as a context manager or call
    ``close()`` (which stops worker processes and a Ray started for it).

    Raises:
        ParameterError: ``execution`` is not an :class:`Execution`.
        PlanError: the ray executor without ray installed, or a Ray that
            cannot be started or reached (within ``execution.ray_timeout_s``).
    """
    if not isinstance(execution, Execution):
        raise ParameterError("make_executor", "execution", "an lrscope.bench.Execution", execution)
    trials = check("make_executor", "trials", trials, OrNone(Interval(int, 0, None)))
    reason = ungrouped_reason(tasks, runtime) if execution.grouped else None
    if reason is not None:
        log.info("trials run one at a time, not in groups: %s", reason)
        execution = execution.ungrouped()
    executor: GroupExecutor
    if execution.executor == "local":
        executor = LocalExecutor(execution, trials)
    elif execution.executor == "process":
        executor = ProcessExecutor(execution, trials)
    else:
        from lrscope.bench.ray_executor import RayExecutor

        executor = RayExecutor(execution, trials)
    executor.ungrouped_reason = reason
    return executor
