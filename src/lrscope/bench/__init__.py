"""Benchmarks: a plan of trials, run by an executor, recorded in the store.

>>> from lrscope.bench import Plan, run_plan, load_plan
>>> plan = Plan("mnist1d-cnn", ["FIX(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=250)"],
...             seeds=2, steps=1000, eval_every=100)
>>> summary = run_plan(plan, Store.open(), executor="process", workers=2)  # doctest: +SKIP

- :mod:`lrscope.bench.plan`: :class:`Plan`, the TOML schema, :func:`load_plan`.
- :mod:`lrscope.bench.executors`: the :class:`Executor` interface, ``local``
  and ``process`` executors; :mod:`lrscope.bench.ray_executor`: ``ray``.
- :mod:`lrscope.bench.runner`: :func:`run_plan` (claims, records, resume).

Importing this package does not import ray (only the ray executor does).
"""

from __future__ import annotations

from lrscope.bench._worker import TrialConfig, TrialOutcome
from lrscope.bench.executors import (
    EXECUTORS,
    Executor,
    LocalExecutor,
    ProcessExecutor,
    default_workers,
    make_executor,
)
from lrscope.bench.plan import Plan, load_plan, plan_from_mapping
from lrscope.bench.runner import BenchSummary, run_plan

__all__ = [
    "EXECUTORS",
    "BenchSummary",
    "Executor",
    "LocalExecutor",
    "Plan",
    "ProcessExecutor",
    "TrialConfig",
    "TrialOutcome",
    "default_workers",
    "load_plan",
    "make_executor",
    "plan_from_mapping",
    "run_plan",
]
