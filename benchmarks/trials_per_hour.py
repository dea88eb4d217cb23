"""Trials per hour of one plan under the plain PyTorch loop and every lrscope configuration.

The plan: the 16 policies of ``benchmarks/plain_loop.py`` on one task (default
``mnist1d-cnn``), 1 seed, ``steps`` steps each, lrscope evaluating every
``eval_every`` steps. Configurations:

- ``plain-1thread`` / ``plain-2thread``: the hand-written PyTorch loop
  (``DataLoader`` with shuffle, torch's schedulers, one evaluation at the end)
  with 1 and 2 torch threads. Every ratio is taken against the faster of the
  two in the same run: on a busy machine the 2-thread loop slows down most,
  and a ratio against it alone would flatter lrscope;
- ``local``: ``run_plan`` with the local executor (this process, torch's default threads);
- ``process``: ``workers`` worker processes, one torch thread each;
- ``batched``: this process, all trials in one stacked group (K = workers x K');
- ``process+batched``: ``workers`` workers x K' trials per group.

Side by side: ``rounds`` rounds, each running every configuration once, the
order rotated from round to round, so load from other work on the machine
falls on all of them alike. A configuration's wall time is the median over
its rounds; the load average (1, 5, 15 minutes) is recorded around every run.
Every run is a fresh Python process (``python benchmarks/trials_per_hour.py
--config NAME ...`` prints its result as JSON), so no configuration inherits
another's process state (malloc settings, thread counts, warm caches). Before
its clock starts, each builds the task and one ``torch.optim.SGD``: torch
imports ``torch._dynamo`` (about a second) on its first optimizer, a one-time
cost that is not the loop's.

``trials_per_hour = 3600 * trials / wall_s`` (wall time of the whole run:
worker start-up, evaluations and store writes included; the task build
excluded); ``speedup`` is the ratio to the faster plain loop's trials per
hour, and ``round_speedups`` the same ratio within each round. ``cpu_s`` is
the CPU time the run used (its process and worker processes, median over
rounds): on a busy machine wall times measure the share of the cores a
configuration got as much as its speed, CPU times much less so.
``max_abs_dtop1_vs_local`` compares each trial's final top-1 with the same
trial run by ``local``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plain_loop

__all__ = ["CONFIGS", "PLAIN", "cpu_seconds", "load_average", "markdown", "run", "run_one"]

PLAIN = {"plain-1thread": 1, "plain-2thread": 2}
CONFIGS = (*PLAIN, "local", "process", "batched", "process+batched")


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its children that have exited."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _lrscope_run(
    name: str, task: Any, specs: list[str], steps: int, eval_every: int, workers: int, k: int
) -> dict[str, Any]:
    """One run of the plan with one lrscope configuration, into a fresh SQLite store."""
    import torch

    from lrscope.bench import Execution, Plan, make_executor, run_plan
    from lrscope.bench.worker import keep_freed_memory
    from lrscope.store import Store

    plan = Plan(task.name, specs, seeds=1, steps=steps, eval_every=eval_every)
    executions = {
        "local": Execution("local"),
        "process": Execution("process", workers=workers),
        "batched": Execution("local", batch_trials=k * workers),
        "process+batched": Execution("process", workers=workers, batch_trials=k),
    }
    execution = executions[name]
    if execution.executor == "local" and execution.grouped:
        keep_freed_memory()  # what `lrscope bench` does for its own process; workers do it too
    with tempfile.TemporaryDirectory(prefix="lrscope-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        with Store.open(url) as store:
            executor = make_executor(execution, tasks=[task], trials=len(plan))
            start, cpu = time.perf_counter(), cpu_seconds()
            try:
                summary = run_plan(plan, store, executor, task=task)
            finally:
                executor.close()
            wall_s, cpu_s = time.perf_counter() - start, cpu_seconds() - cpu
            records = store.trials(task=task.name)
    in_process = execution.executor == "local"
    return {
        "executor": summary.executor,
        "workers": summary.workers,
        "batch_trials": summary.batch_trials,
        "torch_threads": torch.get_num_threads() if in_process else 1,
        "trials": summary.ran,
        "failed": summary.failed,
        "diverged": summary.diverged,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "top1": {r.spec: r.top1 for r in records},
    }


def _plain_run(name: str, task_name: str, steps: int, specs: list[str]) -> dict[str, Any]:
    cpu = cpu_seconds()
    report = plain_loop.run(task_name, steps, seed=0, threads=PLAIN[name])
    cpu_s = cpu_seconds() - cpu  # includes the task build (under 0.1 s)
    return {
        "executor": "plain PyTorch loop",
        "workers": 1,
        "batch_trials": None,
        "torch_threads": report["threads"],
        "trials": report["trials"],
        "failed": 0,
        "diverged": None,
        "wall_s": report["wall_s"],
        "cpu_s": cpu_s,
        "top1": dict(zip(specs, report["top1"], strict=True)),
    }


def _canonical(specs: list[str]) -> list[str]:
    from lrscope.policies import parse

    return [parse(s).spec for s in specs]


def run_one(
    name: str, task_name: str, steps: int, eval_every: int, workers: int, k: int
) -> dict[str, Any]:
    """One run of one configuration in this process (the task build and warm-up not timed)."""
    import torch

    from lrscope.tasks import get_task

    task = get_task(task_name)
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # imports torch._dynamo
    specs = _canonical(plain_loop.plan_specs(steps))
    if name in PLAIN:
        return _plain_run(name, task_name, steps, specs)
    return _lrscope_run(name, task, specs, steps, eval_every, workers, k)


def _fresh_process(
    name: str, task_name: str, steps: int, eval_every: int, workers: int, k: int
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        *("--config", name, "--task", task_name, "--steps", str(steps)),
        *("--eval-every", str(eval_every), "--workers", str(workers), "--k", str(k)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def run(
    configs: Sequence[str],
    task_name: str,
    steps: int,
    eval_every: int,
    workers: int,
    k: int,
    rounds: int,
) -> dict[str, Any]:
    """Every configuration ``rounds`` times, interleaved; medians, ratios, loads."""
    specs = _canonical(plain_loop.plan_specs(steps))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    for r in range(rounds):
        shift = r % len(configs)
        for name in (*configs[shift:], *configs[:shift]):
            before = load_average()
            row = _fresh_process(name, task_name, steps, eval_every, workers, k)
            row["load_avg_before"], row["load_avg_after"] = before, load_average()
            runs[name].append(row)
            print(
                f"round {r + 1}/{rounds} {name}: {row['wall_s']:.1f} s, load {before}",
                file=sys.stderr,
            )
    rows = {name: _summary(found) for name, found in runs.items()}
    _ratios(rows, runs, specs, rounds)
    return {
        "task": task_name,
        "specs": specs,
        "seeds": 1,
        "steps": steps,
        "eval_every": eval_every,
        "rounds": rounds,
        "configs": rows,
    }


def _summary(found: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration's row: the first run's identity, the median wall time of all runs."""
    row = {key: value for key, value in found[0].items() if key not in ("wall_s", "cpu_s")}
    walls = [run["wall_s"] for run in found]
    row["wall_s"] = statistics.median(walls)
    row["wall_s_runs"] = [round(w, 2) for w in walls]
    row["cpu_s"] = statistics.median(run["cpu_s"] for run in found)
    row["load_avg_runs"] = [run["load_avg_before"] for run in found]
    row["trials_per_hour"] = 3600.0 * row["trials"] / row["wall_s"]
    row["mean_top1"] = statistics.fmean(row["top1"].values())
    return row


def _ratios(
    rows: dict[str, dict[str, Any]],
    runs: dict[str, list[dict[str, Any]]],
    specs: list[str],
    rounds: int,
) -> None:
    """Speed-ups against the faster plain loop (overall and per round); top-1 against local."""
    plains = [name for name in PLAIN if name in rows]
    reference = max(plains, key=lambda n: rows[n]["trials_per_hour"]) if plains else None
    local = rows.get("local")
    for name, row in rows.items():
        row["reference"] = reference
        if reference is None:
            row["speedup"] = row["round_speedups"] = None
        else:
            row["speedup"] = row["trials_per_hour"] / rows[reference]["trials_per_hour"]
            row["round_speedups"] = [
                min(runs[p][r]["wall_s"] for p in plains) / runs[name][r]["wall_s"]
                for r in range(rounds)
            ]
        if local is not None and name not in PLAIN:
            row["max_abs_dtop1_vs_local"] = max(
                abs(row["top1"][s] - local["top1"][s]) for s in specs
            )


def markdown(tp: dict[str, Any]) -> list[str]:
    """The trials-per-hour table (and the per-round ratios) as Markdown lines."""
    rows = tp["configs"]
    reference = next(iter(rows.values()))["reference"]
    lines = [
        f"Trials per hour: {len(tp['specs'])} policies x 1 seed on `{tp['task']}`, "
        f"{tp['steps']} steps, evaluation every {tp['eval_every']} steps; {tp['rounds']} "
        f"rounds, configurations interleaved, median wall time; ratios against the faster "
        f"plain loop (`{reference}`).",
        "",
        "| configuration | workers x K | threads | wall s | CPU s | trials/h | vs faster plain "
        "| mean top1 | max abs dtop1 vs local | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        dtop = row.get("max_abs_dtop1_vs_local")
        speedup = row["speedup"]
        loads = ", ".join(str(load[0]) for load in row["load_avg_runs"])
        lines.append(
            f"| {name} | {row['workers']} x {row['batch_trials'] or 1} | {row['torch_threads']} "
            f"| {row['wall_s']:.1f} | {row['cpu_s']:.1f} | {row['trials_per_hour']:.0f} "
            f"| {'' if speedup is None else f'{speedup:.2f}x'} | {row['mean_top1']:.4f} "
            f"| {'' if dtop is None else f'{dtop:.3f}'} | {loads} |"
        )
    lines.append("")
    for name, row in rows.items():
        if name not in PLAIN and row["round_speedups"]:
            per_round = ", ".join(f"{s:.2f}x" for s in row["round_speedups"])
            lines.append(f"- {name} vs the faster plain loop of each round: {per_round}")
    lines.append("")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One run of one configuration (JSON on stdout).")
    parser.add_argument("--config", choices=CONFIGS, required=True)
    parser.add_argument("--task", default="mnist1d-cnn")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--k", type=int, default=8, help="trials per group and worker")
    args = parser.parse_args(argv)
    result = run_one(args.config, args.task, args.steps, args.eval_every, args.workers, args.k)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
