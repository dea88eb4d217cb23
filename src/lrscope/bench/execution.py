"""How trials run: one validated value, :class:`Execution`, resolved once.

>>> Execution("process", workers=2, batch_trials=8).resolve(trials=30)
Resolution(workers=2, batch_trials=8)
>>> Execution("batched").executor, Execution("batched").batch_trials
('local', 'auto')

An execution names

- ``executor``: where trials run. ``local`` (this process, one worker),
  ``process`` (spawned worker processes, one torch thread each) or ``ray``
  (Ray tasks; a running cluster at ``ray_address``, else a local Ray started
  for the run). The old name ``batched`` means ``local`` in groups.
- ``workers``: parallel workers; ``None`` means the CPUs this process may use
  (``process``, a local Ray) or the cluster's CPUs (``ray`` at an address).
  ``local`` always has one.
- ``batch_trials``: the group size K. Each worker trains K trials of one task
  at a time in one stacked model (:mod:`lrscope.batched`); ``None`` or 1 means
  one trial at a time; ``"auto"`` sizes the groups to the work
  (:meth:`Execution.resolve`). Tasks whose model or optimizer cannot be
  batched run one trial at a time whatever K is, with the reason logged.
- ``ray_address`` (``ray`` only): ``host:port``, ``ray://host:port`` or
  ``auto``; and ``ray_timeout_s``, how long to wait for that address to accept
  a connection before giving up with an error naming it.

:meth:`Execution.resolve` is the one rule that turns the request into a
worker count and a group size; executors call it once, when they are made
(:func:`lrscope.bench.factory.make_executor`). Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Annotated, NamedTuple

from lrscope.errors import ParameterError
from lrscope.validation import (
    POSITIVE_FLOAT,
    AnyOf,
    Choice,
    Interval,
    OrNone,
    Text,
    Validated,
)

__all__ = [
    "DEFAULT_BATCH_TRIALS",
    "DEFAULT_RAY_TIMEOUT_S",
    "EXECUTORS",
    "MAX_AUTO_BATCH_TRIALS",
    "MAX_BATCH_TRIALS",
    "MAX_WORKERS",
    "Execution",
    "Resolution",
    "default_workers",
    "split_ray_address",
]

EXECUTORS = ("local", "process", "ray")
"""The executors; ``batched`` is accepted as another name for ``local`` in groups."""

DEFAULT_BATCH_TRIALS = 8
"""Group size of ``batch_trials="auto"`` when the number of trials is not known."""
MAX_AUTO_BATCH_TRIALS = 16
"""Largest group ``"auto"`` forms: on ``mnist1d-cnn`` one group of 16 trains
3.85x as many trials per hour as a plain loop (``benchmarks/run.py``), and a
larger group only holds more trials in flight (claimed, and lost if the
runner is killed) and more memory for little more speed: one stack on one
thread took 0.97, 0.95 and 0.94 ms per member and step with 8, 16 and 32
members (``benchmarks/results/batched-profile.md``)."""
DEFAULT_RAY_TIMEOUT_S = 30.0
"""Seconds to wait for a Ray address to accept a connection (a head that is
starting takes a few seconds; an address where nothing listens never will)."""


MAX_WORKERS = 1024
"""The most workers a run may ask for: each is a process (or a Ray task) holding the task."""
MAX_BATCH_TRIALS = 1024
"""The largest group size K: K copies of the model's weights train in one stack."""
WORKERS = OrNone(Interval(int, 1, MAX_WORKERS))
"""``None`` (the CPUs) or 1 .. :data:`MAX_WORKERS` workers."""
GROUP_SIZE = OrNone(AnyOf((Choice(("auto",)), Interval(int, 1, MAX_BATCH_TRIALS))))
"""``None`` (one trial at a time), ``"auto"`` or a group size K in 1 .. :data:`MAX_BATCH_TRIALS`."""


class Resolution(NamedTuple):
    """What an :class:`Execution` comes to: ``workers`` in parallel, each training
    ``batch_trials`` trials at a time (1: one trial at a time)."""

    workers: int
    batch_trials: int


def default_workers() -> int:
    """Workers when none is asked for: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def split_ray_address(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; None for ``auto``.

    Raises ``ValueError`` for anything else (an IPv6 host is written ``[::1]:6379``).
    """
    if address == "auto":
        return None
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if not sep or not host or any(c.isspace() for c in host) or not port.isdigit():
        raise ValueError(f"not a Ray address: {address!r}")
    number = int(port)
    if not 1 <= number <= 65535:
        raise ValueError(f"not a Ray address: {address!r}")
    return host, number


@dataclass(frozen=True)
class Execution(Validated):
    """How the trials of a benchmark or a tune run; see the module docstring.

    Frozen and validated at construction (:class:`~lrscope.errors.ParameterError`
    naming the field, what is allowed and the value given). ``executor="batched"``
    becomes ``"local"`` with ``batch_trials="auto"`` unless a size is given.

    Raises:
        ParameterError: an unknown executor, ``workers`` < 1 (or > 1 with
            ``local``), a group size that is not ``None``, ``"auto"`` or an int
            >= 1, ``ray_address`` with an executor other than ``ray`` or not
            of the form ``host:port``, ``ray://host:port`` or ``auto``, a
            timeout that is not a positive number of seconds.
    """

    executor: Annotated[str, Choice((*EXECUTORS, "batched"))] = "local"
    workers: Annotated[int | None, WORKERS] = None
    batch_trials: Annotated[int | str | None, GROUP_SIZE] = None
    ray_address: Annotated[str | None, OrNone(Text(max_length=1000))] = None
    ray_timeout_s: Annotated[float, POSITIVE_FLOAT] = DEFAULT_RAY_TIMEOUT_S

    def _check(self) -> None:
        owner = self.owner_name()
        if self.executor == "batched":
            object.__setattr__(self, "executor", "local")
            if self.batch_trials is None:
                object.__setattr__(self, "batch_trials", "auto")
        if self.executor == "local" and self.workers not in (None, 1):
            allowed = (
                "None or 1 with executor 'local' (it trains in this process; "
                "for several workers use executor 'process')"
            )
            raise ParameterError(owner, "workers", allowed, self.workers)
        if self.ray_address is None:
            return
        if self.executor != "ray":
            allowed = f"None with executor {self.executor!r} (an address is for executor 'ray')"
            raise ParameterError(owner, "ray_address", allowed, self.ray_address)
        try:
            split_ray_address(self.ray_address)
        except ValueError:
            allowed = "'auto', 'host:port' or 'ray://host:port' (port 1-65535)"
            raise ParameterError(owner, "ray_address", allowed, self.ray_address) from None

    @property
    def grouped(self) -> bool:
        """True when trials may train in groups (``batch_trials`` is ``"auto"`` or > 1)."""
        return self.batch_trials not in (None, 1)

    def ungrouped(self) -> Execution:
        """This execution with one trial at a time."""
        return replace(self, batch_trials=None)

    def resolve(self, *, trials: int | None = None, cpus: int | None = None) -> Resolution:
        """The worker count and group size this execution comes to.

        Args:
            trials: how many trials will run (sizes ``"auto"`` groups); None if
                not known.
            cpus: the CPUs workers may use where ``workers`` is None (a Ray
                cluster's); default :func:`default_workers`.

        ``workers``: 1 for ``local``, else ``workers`` or ``cpus``. Group size:
        1 when ungrouped, K when given; ``"auto"`` gives every worker one
        group, ``ceil(trials / workers)`` trials, at most
        :data:`MAX_AUTO_BATCH_TRIALS` (:data:`DEFAULT_BATCH_TRIALS` when
        ``trials`` is unknown).
        """
        workers = 1 if self.executor == "local" else self.workers or cpus or default_workers()
        if not self.grouped:
            return Resolution(workers, 1)
        if isinstance(self.batch_trials, int):
            return Resolution(workers, self.batch_trials)
        if trials is None:
            return Resolution(workers, DEFAULT_BATCH_TRIALS)
        size = math.ceil(max(trials, 1) / workers)
        return Resolution(workers, min(size, MAX_AUTO_BATCH_TRIALS))

    def describe(self, resolution: Resolution | None = None) -> str:
        """``process x2, groups of 8`` (``resolution`` default: :meth:`resolve`)."""
        workers, size = resolution or self.resolve()
        where = self.executor if self.executor == "local" else f"{self.executor} x{workers}"
        if self.ray_address is not None:
            where += f" at {self.ray_address}"
        return f"{where}, groups of {size}" if size > 1 else f"{where}, one trial at a time"
