"""The ``ray`` executor: groups of trials as Ray tasks.

ray is imported here only, when the executor is made. Three cases:

- ``ray_address`` given: connect to that running cluster and disconnect
  afterwards; lrscope must be installed on its nodes. The address must accept
  a TCP connection within ``ray_timeout_s`` seconds (:func:`wait_for_address`),
  else :class:`~lrscope.errors.PlanError` names it: an address where nothing
  listens fails in bounded time instead of Ray's own reconnection attempts
  (about a quarter of an hour).
- Ray already initialized in this process (a notebook, a test): use it as is
  and leave it running.
- otherwise: start a new local Ray for the run with ``num_cpus=workers`` and
  no dashboard, and shut it down in :meth:`RayExecutor.close`. A cluster that
  ``RAY_ADDRESS`` or ``ray start`` names is joined only with ``ray_address="auto"``.

Each group is one Ray task with ``num_cpus=1``; at most ``workers`` are in
flight. Ray reuses its worker processes, so a worker builds each task once
(the task cache of :mod:`lrscope.bench.worker`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from lrscope.bench.execution import Execution, split_ray_address
from lrscope.bench.executors import GroupExecutor, Handle
from lrscope.bench.worker import TrialConfig, TrialOutcome, execute_group
from lrscope.errors import PlanError

__all__ = ["RayExecutor", "ray_failure_text", "wait_for_address"]

_RETRY_S = 0.5
_MAX_ERROR_CHARS = 4000
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _local_runtime_env() -> dict[str, Any]:
    """Make this checkout of lrscope, and the directories task references put on
    ``sys.path`` (:func:`lrscope.tasks.loader.added_path_entries`: a task file's
    sibling modules, a module in the current directory), importable in local Ray
    workers, which start with a fresh ``sys.path``."""
    import lrscope
    from lrscope.tasks.loader import added_path_entries

    src = str(Path(lrscope.__file__).resolve().parents[1])
    given = filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))
    paths = [src, *added_path_entries(), *given]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}


def wait_for_address(address: str, timeout_s: float) -> None:
    """Return once ``address`` (``host:port``, ``ray://host:port``) accepts a TCP
    connection, trying every half second; ``auto`` returns at once.

    Raises:
        PlanError: nothing accepted a connection within ``timeout_s`` seconds
            (one line naming the address, the time waited and the last reason).
    """
    target = split_ray_address(address)
    if target is None:
        return
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection(target, timeout=max(min(left, 5.0), 0.05)):
                return
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
        if time.monotonic() + _RETRY_S >= deadline:
            break
        time.sleep(_RETRY_S)
    raise PlanError(
        f"cannot reach the Ray cluster at {address!r}: no connection within "
        f"{timeout_s:g} s ({reason}); is a Ray head running there (ray start --head)?"
    )


def ray_failure_text(exc: BaseException) -> str:
    """The stored error of a group Ray lost: the root cause on the first line, then Ray's text.

    Ray's own first line only names the task (``ray::execute_group() (pid=...)``);
    the cause is its last line (``ModuleNotFoundError: No module named ...``).
    A cluster whose workers cannot import lrscope gets a hint.
    """
    text = _ANSI.sub("", str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head = f"{type(exc).__name__}: {lines[-1] if lines else ''}"
    if "failed to import on the worker" in text:
        head += " (the Ray workers cannot import this lrscope: install it on every node)"
    full = f"{head}\n\n{text}" if len(lines) > 1 else head
    return full if len(full) <= _MAX_ERROR_CHARS else full[: _MAX_ERROR_CHARS - 3] + "..."


class RayExecutor(GroupExecutor):
    """Runs groups of trials as Ray tasks (see the module docstring for the three modes)."""

    name = "ray"

    def __init__(self, execution: Execution = Execution("ray"), trials: int | None = None) -> None:
        self._accept(execution)
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is an extra
            raise PlanError("the ray executor needs ray: pip install 'lrscope[ray]'") from exc
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            self._start(execution)
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
        super().__init__(execution, trials, cpus=max(1, int(resources.get("CPU", 1))))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(execute_group)

    def _start(self, execution: Execution) -> None:
        ray = self._ray
        address = execution.ray_address
        common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address is not None:
            wait_for_address(address, execution.ray_timeout_s)
        try:
            if address is not None:
                ray.init(address=address, **common)
            else:
                ray.init(
                    address="local",  # a new Ray, even where one runs or ran (ray start)
                    num_cpus=execution.resolve().workers,
                    include_dashboard=False,
                    runtime_env=_local_runtime_env(),
                    **common,
                )
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {address!r}" if address else "a local Ray"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PlanError(f"cannot start or reach {where}: {first}") from None
        self._owns_ray = True

    def _submit(self, group: list[TrialConfig]) -> Handle:
        return self._remote.remote([config.to_dict() for config in group])

    def _wait(self, handles: list[Handle]) -> list[Handle]:
        ready, _ = self._ray.wait(handles, num_returns=1)
        return list(ready)

    def _result(self, handle: Handle) -> list[TrialOutcome]:
        return [TrialOutcome.from_dict(data) for data in self._ray.get(handle)]

    def _failure(self, exc: Exception) -> str:
        return ray_failure_text(exc)

    def _release(self, handles: list[Handle]) -> None:
        """Cancel the groups in flight; shut down the Ray this executor started or joined."""
        for ref in handles:
            with contextlib.suppress(Exception):  # already finished or lost
                self._ray.cancel(ref, force=True)
        if self._owns_ray:
            self._owns_ray = False
            self._ray.shutdown()
