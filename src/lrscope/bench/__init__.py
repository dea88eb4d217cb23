"""Benchmarks: a plan of trials, run by an executor, recorded in the store.

>>> from lrscope.bench import Execution, Plan, run_plan, load_plan
>>> plan = Plan("mnist1d-cnn", ["FIX(k0=0.05)", "TRI2(k0=0.01, k1=0.1, l=250)"],
...             seeds=2, steps=1000, eval_every=100)
>>> summary = run_plan(plan, Store.open(), Execution("process", workers=2))  # doctest: +SKIP

- :mod:`lrscope.bench.plan`: :class:`Plan`, the TOML schema, :func:`load_plan`.
- :mod:`lrscope.bench.execution`: :class:`Execution`, how trials run (executor,
  workers, Ray address, group size K), resolved once.
- :mod:`lrscope.bench.executors`: the :class:`Executor` interface and the one
  scheduling loop (:class:`GroupExecutor`) of the ``local`` and ``process``
  executors; :mod:`lrscope.bench.ray_executor`: ``ray``;
  :mod:`lrscope.bench.factory`: :func:`make_executor`.
- :mod:`lrscope.bench.worker`: what crosses to a worker and back, and what
  runs there (groups of trials, batched when the task allows).
- :mod:`lrscope.bench.runner`: :func:`run_plan` and :func:`run_trials` (any
  list of trials: claims, records, resume).

Importing this package imports neither torch nor ray.
"""

from __future__ import annotations

from lrscope.bench.execution import EXECUTORS, Execution, default_workers
from lrscope.bench.executors import Executor, GroupExecutor, LocalExecutor, ProcessExecutor
from lrscope.bench.factory import make_executor
from lrscope.bench.plan import Plan, load_plan, plan_from_mapping
from lrscope.bench.runner import BenchSummary, run_plan, run_trials
from lrscope.bench.worker import TrialConfig, TrialOutcome

__all__ = [
    "EXECUTORS",
    "BenchSummary",
    "Execution",
    "Executor",
    "GroupExecutor",
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
    "run_trials",
]
