"""Trials per hour of the ``local`` and ``process`` executors on one plan.

Runs the same plan (default: 8 LRBench policies x 2 seeds on ``mnist1d-cnn``,
3000 steps, evaluation every 300 steps: the budget of a real comparison) once
per executor, each into a fresh
SQLite file, and reports wall time and trials per hour
(``3600 * trials / wall_s``; wall time from the ``run_plan`` call to its
return, so the parent's task build, worker start-up and every store write
count). ``local`` runs with this process's torch threads (the default: one per
core); ``local-1thread`` with one, which is what each ``process`` worker uses.
The machine's load average before and after is part of the result: other work
on the machine changes the numbers. Worker start-up (a torch import and the
task build per worker, a few seconds) is a fixed cost, so short trials show
less of the speed-up (on 2 cores: 1.91x at 3000 steps, 1.56x at 1000).

    .venv/bin/python benchmarks/bench_throughput.py            # table + JSON line
    .venv/bin/python benchmarks/bench_throughput.py --steps 400 --seeds 1

``run(...) -> dict`` is the importable entry point (for ``benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_POLICIES = (
    "FIX(k0=0.047)",
    "STEP(k0=0.188, gamma=0.5, l=250)",
    "EXP(k0=0.188, gamma=0.998)",
    "POLY(k0=0.188, p=1.2, l=1000)",
    "TRI(k0=0.036, k1=0.188, l=125)",
    "TRI2(k0=0.036, k1=0.188, l=125)",
    "SIN(k0=0.036, k1=0.188, l=125)",
    "COS(k0=0.036, k1=0.188, l=125)",
)
EXECUTORS = ("local", "local-1thread", "process")


def _one(name: str, plan: Any, workers: int, directory: Path) -> dict[str, Any]:
    import torch

    from lrscope.bench import Execution, run_plan
    from lrscope.store import Store

    executor, threads_before = name.split("-")[0], torch.get_num_threads()
    if name == "local-1thread":
        torch.set_num_threads(1)
    threads = torch.get_num_threads() if executor == "local" else 1
    try:
        with Store.open(f"sqlite:///{directory / name}.db") as store:
            execution = Execution(executor, workers=workers if executor != "local" else None)
            summary = run_plan(plan, store, execution)
    finally:
        torch.set_num_threads(threads_before)
    return {
        "executor": executor,
        "workers": summary.workers,
        "torch_threads_per_worker": threads,
        "trials": summary.ran,
        "failed": summary.failed,
        "wall_s": round(summary.wall_s, 2),
        "trials_per_hour": round(3600.0 * summary.ran / summary.wall_s, 1),
    }


def run(
    task: str = "mnist1d-cnn",
    policies: Sequence[str] = DEFAULT_POLICIES,
    seeds: int = 2,
    steps: int = 3000,
    eval_every: int = 300,
    workers: int = 2,
    executors: Sequence[str] = EXECUTORS,
) -> dict[str, Any]:
    """Run the plan under each executor; wall times, trials per hour and speed-ups."""
    from lrscope.bench import Plan

    unknown = sorted(set(executors) - set(EXECUTORS))
    if unknown:
        raise ValueError(f"unknown executors {unknown}; allowed: {', '.join(EXECUTORS)}")
    plan = Plan(task, list(policies), seeds=seeds, steps=steps, eval_every=eval_every)
    load_before = os.getloadavg()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="lrscope-throughput-") as tmp:
        for name in executors:
            results[name] = _one(name, plan, workers, Path(tmp))
    speedups = {
        f"process_vs_{base}": round(results[base]["wall_s"] / results["process"]["wall_s"], 2)
        for base in ("local", "local-1thread")
        if base in results and "process" in results
    }
    return {
        "benchmark": "bench_throughput",
        "plan": plan.to_dict(),
        "trials": len(plan),
        "cpus": os.cpu_count(),
        "load_avg_before": [round(v, 2) for v in load_before],
        "load_avg_after": [round(v, 2) for v in os.getloadavg()],
        "results": results,
        "speedup": speedups,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _print_table(report: dict[str, Any]) -> None:
    print(
        f"plan: {report['trials']} trials of {report['plan']['task']}, "
        f"{report['plan']['steps'][0]} steps; load before {report['load_avg_before']}, "
        f"after {report['load_avg_after']} ({report['cpus']} CPUs)"
    )
    print(f"{'executor':<15}{'workers':>8}{'threads':>8}{'wall s':>10}{'trials/h':>11}")
    for name, row in report["results"].items():
        print(
            f"{name:<15}{row['workers']:>8}{row['torch_threads_per_worker']:>8}"
            f"{row['wall_s']:>10.1f}{row['trials_per_hour']:>11.0f}"
        )
    for name, value in report["speedup"].items():
        print(f"speed-up {name}: {value:.2f}x")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d-cnn")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executors", nargs="+", default=list(EXECUTORS), choices=EXECUTORS)
    args = parser.parse_args(argv)
    report = run(
        args.task,
        DEFAULT_POLICIES,
        args.seeds,
        args.steps,
        args.eval_every,
        args.workers,
        args.executors,
    )
    _print_table(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
