"""The ``ray`` executor: trials as Ray tasks.

ray is imported here only, when the executor is created. Three cases:

- ``address`` given: connect to that running cluster (``ray.init(address=...)``)
  and disconnect afterwards; lrscope must be installed on its nodes.
- Ray already initialized in this process (a notebook, a test): use it as is
  and leave it running.
- otherwise: start a local Ray for the run with ``num_cpus=workers`` and no
  dashboard, and shut it down in :meth:`RayExecutor.close`.

Each trial is one task with ``num_cpus=1``; at most ``workers`` are in flight.
Ray reuses its worker processes, so a worker builds each task once (the task
cache of :mod:`lrscope.bench._worker`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lrscope.bench._worker import TrialConfig, TrialOutcome, execute
from lrscope.errors import PlanError

__all__ = ["RayExecutor"]


def _local_runtime_env() -> dict[str, Any]:
    """Make this checkout of lrscope importable in local Ray workers."""
    import lrscope

    src = str(Path(lrscope.__file__).resolve().parents[1])
    paths = [src, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}


class RayExecutor:
    """Runs trials as Ray tasks (see the module docstring for the three modes)."""

    name = "ray"

    def __init__(self, workers: int | None = None, *, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is an extra
            raise PlanError("the ray executor needs ray: pip install 'lrscope[ray]'") from exc
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            self._start(workers, address)
        if workers is None:
            resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
            workers = max(1, int(resources.get("CPU", 1)))
        self.workers = workers
        self._remote = ray.remote(num_cpus=1, max_retries=0)(execute)
        self._flight: dict[Any, TrialConfig] = {}

    def _start(self, workers: int | None, address: str | None) -> None:
        ray = self._ray
        common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        try:
            if address is not None:
                ray.init(address=address, **common)
            else:
                from lrscope.bench.executors import default_workers

                ray.init(
                    num_cpus=workers or default_workers(),
                    include_dashboard=False,
                    runtime_env=_local_runtime_env(),
                    **common,
                )
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {address!r}" if address else "a local Ray"
            raise PlanError(f"cannot start or reach {where}: {exc}") from None
        self._owns_ray = True

    def run(self, configs: Iterable[TrialConfig]) -> Iterator[TrialOutcome]:
        ray = self._ray
        source = iter(configs)
        flight = self._flight
        self._refill(source, flight)
        while flight:
            ready, _ = ray.wait(list(flight), num_returns=1)
            outcomes = [self._outcome(ref, flight.pop(ref)) for ref in ready]
            self._refill(source, flight)
            yield from outcomes

    def _refill(self, source: Iterator[TrialConfig], flight: dict[Any, TrialConfig]) -> None:
        while len(flight) < self.workers:
            config = next(source, None)
            if config is None:
                return
            flight[self._remote.remote(config.to_dict())] = config

    def _outcome(self, ref: Any, config: TrialConfig) -> TrialOutcome:
        try:
            return TrialOutcome.from_dict(self._ray.get(ref))
        except Exception as exc:  # a worker that died, a lost node
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return TrialOutcome(config, error=f"{type(exc).__name__}: {first}")

    def close(self) -> None:
        """Cancel trials in flight; shut down the Ray this executor started or joined."""
        for ref in list(self._flight):
            with contextlib.suppress(Exception):  # already finished or lost
                self._ray.cancel(ref, force=True)
        self._flight.clear()
        if self._owns_ray:
            self._owns_ray = False
            self._ray.shutdown()
