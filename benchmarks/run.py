"""lrscope against plain PyTorch: scheduler overhead, trials per hour, time to accuracy.

    python benchmarks/run.py [--out DIR] [--quick] [--tuned SPEC] [--only NAME ...]

writes ``DIR/results.json`` and ``DIR/results.md`` (default DIR: ``benchmarks/results``).

1. Scheduler overhead: ``benchmarks/scheduler_overhead.py``'s ``run()`` (one
   ``scheduler.step()`` of lrscope's PolicyScheduler vs torch's schedulers).
2. Trials per hour on one plan: the 16 policies of ``benchmarks/plain_loop.py``
   on ``mnist1d-cnn``, 1 seed, 1000 steps, evaluation every 250 steps, under:

   - ``plain``: the hand-written PyTorch loop (DataLoader with shuffle, torch
     schedulers, torch's default threads, one evaluation at the end);
   - ``plain-1thread``: the same loop with one torch thread (for reference);
   - ``local``: ``run_plan`` with the local executor (this process, default threads);
   - ``process``: 2 worker processes, one torch thread each;
   - ``batched``: one process, the 16 trials in one stacked model (K=16);
   - ``process+batched``: 2 workers x K=8.

   ``trials_per_hour = 3600 * trials / wall_s`` (wall time of the whole run,
   worker start-up, evaluations and store writes included; task build
   excluded); ``speedup_vs_plain`` is the ratio to ``plain``. ``mean_top1``
   is the mean final test top-1 of the 16 trials; for lrscope configurations
   ``max_abs_dtop1_vs_local`` compares each trial with the same trial run by
   ``local``.
3. Time to accuracy (``benchmarks/time_to_accuracy.py``): steps and seconds
   the tuned policy needs to reach the FIX and NSTEP defaults' best top-1.
4. Tune with and without groups: the same ``lrscope tune`` (``--tune-steps``
   per trial, ``--tune-trials`` search points, ``--workers`` worker
   processes), once with the default group size (``batch_trials="auto"``) and
   once one trial at a time (K = 1), side by side in this run, each into a
   fresh store. ``ratio = grouped wall s / ungrouped wall s`` (the target:
   at most 0.4). The search is the same in both (its rounds do not depend on
   the group size); ``same_trials`` says whether both stored the same trial
   identities (they do when the measured values agree; float summation order
   may steer a search apart on a long run).

The machine's load average is recorded around every measurement: other work
on the machine slows every configuration, torch's multi-threaded plain loop most.
``--quick`` shrinks everything (200 steps, eval every 100, fewer timings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import plain_loop  # noqa: E402
import scheduler_overhead  # noqa: E402
import time_to_accuracy  # noqa: E402

CONFIGS = ("plain", "plain-1thread", "local", "process", "batched", "process+batched")
SECTIONS = ("overhead", "throughput", "tta", "tune")


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _lrscope_config(
    name: str, task: Any, specs: list[str], steps: int, eval_every: int, workers: int, k: int
) -> dict[str, Any]:
    """Run the plan with one lrscope configuration into a fresh SQLite store."""
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
            start = time.perf_counter()
            try:
                summary = run_plan(plan, store, executor, task=task)
            finally:
                executor.close()
            wall_s = time.perf_counter() - start
            records = store.trials(task=task.name)
    top1 = {r.spec: r.top1 for r in records}
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
        "top1": top1,
    }


def _plain_config(name: str, task_name: str, steps: int) -> dict[str, Any]:
    threads = 1 if name == "plain-1thread" else None
    report = plain_loop.run(task_name, steps, seed=0, threads=threads)
    return {
        "executor": "plain PyTorch loop",
        "workers": 1,
        "batch_trials": None,
        "torch_threads": report["threads"],
        "trials": report["trials"],
        "failed": 0,
        "diverged": None,
        "wall_s": report["wall_s"],
        "top1": dict(zip(report["specs"], report["top1"], strict=True)),
    }


def _canonical(specs: list[str]) -> list[str]:
    from lrscope.policies import parse

    return [parse(s).spec for s in specs]


def throughput(
    configs: Sequence[str], task_name: str, steps: int, eval_every: int, workers: int, k: int
) -> dict[str, Any]:
    """Section 2: every configuration on the same 16-trial plan."""
    from lrscope.tasks import get_task

    task = get_task(task_name)
    specs = _canonical(plain_loop.plan_specs(steps))
    rows: dict[str, dict[str, Any]] = {}
    for name in configs:
        before = _load()
        if name.startswith("plain"):
            row = _plain_config(name, task_name, steps)
            row["top1"] = dict(zip(specs, row["top1"].values(), strict=True))
        else:
            row = _lrscope_config(name, task, specs, steps, eval_every, workers, k)
        row["load_avg_before"], row["load_avg_after"] = before, _load()
        row["trials_per_hour"] = 3600.0 * row["trials"] / row["wall_s"]
        values = list(row["top1"].values())
        row["mean_top1"] = statistics.fmean(values)
        rows[name] = row
        print(f"{name}: {row['wall_s']:.1f} s, mean top1 {row['mean_top1']:.4f}", file=sys.stderr)
    plain = rows.get("plain")
    for row in rows.values():
        row["speedup_vs_plain"] = (
            row["trials_per_hour"] / plain["trials_per_hour"] if plain else None
        )
    reference = rows.get("local")
    for name, row in rows.items():
        if reference is not None and not name.startswith("plain"):
            diffs = [abs(row["top1"][s] - reference["top1"][s]) for s in specs]
            row["max_abs_dtop1_vs_local"] = max(diffs)
    return {
        "task": task_name,
        "specs": specs,
        "seeds": 1,
        "steps": steps,
        "eval_every": eval_every,
        "configs": rows,
    }


def _tune_run(task: str, steps: int, trials: int, workers: int, grouped: bool) -> dict[str, Any]:
    from lrscope.bench import Execution
    from lrscope.store import Store
    from lrscope.tune import tune

    execution = Execution("process", workers=workers, batch_trials="auto" if grouped else 1)
    with (
        tempfile.TemporaryDirectory(prefix="lrscope-tune-") as tmp,
        Store.open(f"sqlite:///{Path(tmp) / 'tune.db'}") as store,
    ):
        start = time.perf_counter()
        result = tune(task, store, steps=steps, trials=trials, execution=execution)
        wall_s = time.perf_counter() - start
        keys = sorted(str(r.key) for r in store.trials(task=result.task))
    return {
        "execution": result.execution,
        "wall_s": wall_s,
        "trials": result.compute.trials,
        "steps": result.compute.steps,
        "winner": result.winner_spec,
        "keys": keys,
    }


def tune_groups(task: str, steps: int, trials: int, workers: int) -> dict[str, Any]:
    """Section 4: the same tune with the default groups and one trial at a time."""
    runs = {}
    for name, grouped in (("grouped", True), ("one at a time", False)):
        before = _load()
        runs[name] = _tune_run(task, steps, trials, workers, grouped)
        runs[name]["load_avg_before"], runs[name]["load_avg_after"] = before, _load()
        print(f"tune {name}: {runs[name]['wall_s']:.1f} s", file=sys.stderr)
    same = runs["grouped"].pop("keys") == runs["one at a time"].pop("keys")
    ratio = runs["grouped"]["wall_s"] / runs["one at a time"]["wall_s"]
    return {"task": task, "steps": steps, "trials": trials, "workers": workers, "runs": runs,
            "ratio": ratio, "target": 0.4, "same_trials": same}  # fmt: skip


def _markdown(report: dict[str, Any]) -> str:
    tp = report.get("throughput")
    lines = [
        f"Machine: {report['machine']['cpus']} CPUs, torch {report['machine']['torch']}, "
        f"load average {report['load_avg_before']} before, {report['load_avg_after']} after.",
        "",
    ]
    if tp:
        lines += [
            f"Trials per hour: {len(tp['specs'])} policies x 1 seed on `{tp['task']}`, "
            f"{tp['steps']} steps, evaluation every {tp['eval_every']} steps.",
            "",
            "| configuration | workers x K | threads | wall s | trials/h | vs plain "
            "| mean top1 | max abs dtop1 vs local | load before |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in tp["configs"].items():
            k = row["batch_trials"] or 1
            dtop = row.get("max_abs_dtop1_vs_local")
            speedup = row["speedup_vs_plain"]
            lines.append(
                f"| {name} | {row['workers']} x {k} | {row['torch_threads']} "
                f"| {row['wall_s']:.1f} | {row['trials_per_hour']:.0f} "
                f"| {'' if speedup is None else f'{speedup:.2f}x'} | {row['mean_top1']:.4f} "
                f"| {'' if dtop is None else f'{dtop:.3f}'} | {row['load_avg_before'][0]} |"
            )
        lines.append("")
    tta = report.get("time_to_accuracy")
    if tta:
        lines += [
            f"Time to accuracy on `{tta['task']}` (target: the defaults' best top1 "
            f"{tta['target_top1']:.3f}, evaluation every {tta['eval_every']} steps):",
            "",
            "| policy | spec | best top1 | steps to target | seconds to target |",
            "|---|---|---|---|---|",
        ]
        for name, row in tta["trials"].items():
            secs = row["seconds_to_target"]
            lines.append(
                f"| {name} | `{row['spec']}` | {row['best_top1']:.3f} "
                f"| {row['steps_to_target']} | {'' if secs is None else f'{secs:.1f}'} |"
            )
        lines.append("")
    tg = report.get("tune_groups")
    if tg:
        lines += [
            f"Tune with and without groups on `{tg['task']}`: {tg['steps']} steps per trial, "
            f"{tg['trials']} search points, {tg['workers']} worker processes, side by side:",
            "",
            "| run | execution | wall s | trials | optimizer steps | winner |",
            "|---|---|---|---|---|---|",
        ]
        for name, run in tg["runs"].items():
            lines.append(
                f"| {name} | {run['execution']} | {run['wall_s']:.1f} | {run['trials']} "
                f"| {run['steps']:,} | `{run['winner']}` |"
            )
        lines += [
            "",
            f"Grouped / one at a time: **{tg['ratio']:.2f}** (target at most {tg['target']}); "
            f"the same trials stored: {'yes' if tg['same_trials'] else 'no'}.",
            "",
        ]
    so = report.get("scheduler_overhead")
    if so:
        lines += [
            "Scheduler step overhead (microseconds per `step()`):",
            "",
            "| pair | groups | torch | lrscope | ratio |",
            "|---|---|---|---|---|",
        ]
        for t in so["results"]:
            lines.append(
                f"| {t['name']} | {t['n_groups']} | {t['torch_us']:.1f} "
                f"| {t['lrscope_us']:.1f} | {t['ratio']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--quick", action="store_true", help="200 steps, fewer timings")
    parser.add_argument("--task", default="mnist1d-cnn")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--eval-every", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-trials", type=int, default=8, help="K per worker")
    parser.add_argument("--tuned", default=None, help="time to accuracy: the tuned spec")
    parser.add_argument("--only", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--skip", nargs="*", choices=SECTIONS, default=[])
    parser.add_argument("--tune-steps", type=int, default=None, help="tune: steps per trial")
    parser.add_argument("--tune-trials", type=int, default=None, help="tune: search points")
    args = parser.parse_args(argv)
    import torch

    steps = args.steps or (200 if args.quick else 1000)
    eval_every = args.eval_every or (100 if args.quick else 250)
    report: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "default_torch_threads": torch.get_num_threads(),
        },
        "load_avg_before": _load(),
    }
    if "overhead" not in args.skip:
        number, repeat, rounds = (500, 3, 2) if args.quick else (2000, 5, 3)
        report["scheduler_overhead"] = scheduler_overhead.run(
            groups=(1, 4), number=number, repeat=repeat, rounds=rounds
        )
    if "throughput" not in args.skip:
        report["throughput"] = throughput(
            args.only, args.task, steps, eval_every, args.workers, args.batch_trials
        )
    if "tta" not in args.skip:
        report["time_to_accuracy"] = time_to_accuracy.run(
            args.task, steps, 20 if args.quick else 25, args.tuned
        )
    if "tune" not in args.skip:
        report["tune_groups"] = tune_groups(
            args.task,
            args.tune_steps or (100 if args.quick else 2000),
            args.tune_trials or (16 if args.quick else 32),
            args.workers,
        )
    report["load_avg_after"] = _load()
    report["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    table = _markdown(report)
    (args.out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
