"""lrscope against plain PyTorch: scheduler overhead, trials per hour, time to accuracy.

    python benchmarks/run.py [--out DIR] [--quick] [--tuned SPEC] [--only NAME ...]

writes ``DIR/results.json`` and ``DIR/results.md`` (default DIR: ``benchmarks/results``).

1. Scheduler overhead: ``benchmarks/scheduler_overhead.py``'s ``run()`` (one
   ``scheduler.step()`` of lrscope's PolicyScheduler vs torch's schedulers).
2. Trials per hour on one plan (``benchmarks/trials_per_hour.py``): the 16
   policies of ``benchmarks/plain_loop.py`` on ``mnist1d-cnn``, 1 seed, 1000
   steps, evaluation every 250 steps, under the plain PyTorch loop at 1 and
   at 2 torch threads, and lrscope's ``local``, ``process`` (2 workers),
   ``batched`` (K = 16) and ``process+batched`` (2 workers x K = 8); three
   interleaved rounds, each run in a fresh process, median wall times, every
   ratio against the faster plain loop (also per round), load averages.
3. Time to accuracy (``benchmarks/time_to_accuracy.py``): steps and seconds
   the tuned policy needs to reach the FIX and NSTEP defaults' best top-1.
4. Tune with and without groups: the same ``lrscope tune`` (``--tune-steps``
   per trial, ``--tune-trials`` search points, ``--workers`` worker
   processes), once with the default group size (``batch_trials="auto"``) and
   once one trial at a time (K = 1), side by side in this run, each into a
   fresh store. ``ratio = grouped wall s / ungrouped wall s`` (the target:
   at most 0.4); ``cpu_ratio`` the same for CPU seconds (this process and its
   reaped worker processes: less sensitive to other jobs on the machine), and
   both per optimizer step. The search asks the same points in both (its
   rounds do not depend on the group size); ``same_trials`` says whether both
   stored the same trial identities (they do when the measured values agree;
   float summation order may steer a search apart on a long run, and then the
   two runs train different amounts: compare per step).

The machine's load average is recorded around every measurement: other work
on the machine slows every configuration, torch's multi-threaded plain loop
most. ``--quick`` shrinks everything (200 steps, eval every 100, one round,
fewer timings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scheduler_overhead  # noqa: E402
import time_to_accuracy  # noqa: E402
import trials_per_hour  # noqa: E402
from trials_per_hour import CONFIGS, load_average  # noqa: E402

SECTIONS = ("overhead", "throughput", "tta", "tune")


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (the worker processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _tune_run(task: str, steps: int, trials: int, workers: int, grouped: bool) -> dict[str, Any]:
    from lrscope.bench import Execution
    from lrscope.store import Store
    from lrscope.tune import tune

    execution = Execution("process", workers=workers, batch_trials="auto" if grouped else 1)
    with (
        tempfile.TemporaryDirectory(prefix="lrscope-tune-") as tmp,
        Store.open(f"sqlite:///{Path(tmp) / 'tune.db'}") as store,
    ):
        start, cpu = time.perf_counter(), _cpu_s()
        result = tune(task, store, steps=steps, trials=trials, execution=execution)
        wall_s = time.perf_counter() - start
        cpu_s = _cpu_s() - cpu  # the executor is closed: its workers are reaped
        keys = sorted(str(r.key) for r in store.trials(task=result.task))
    return {
        "execution": result.execution,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "trials": result.compute.trials,
        "steps": result.compute.steps,
        "winner": result.winner_spec,
        "keys": keys,
    }


def tune_groups(task: str, steps: int, trials: int, workers: int) -> dict[str, Any]:
    """Section 4: the same tune with the default groups and one trial at a time."""
    runs = {}
    for name, grouped in (("grouped", True), ("one at a time", False)):
        before = load_average()
        runs[name] = _tune_run(task, steps, trials, workers, grouped)
        runs[name]["load_avg_before"], runs[name]["load_avg_after"] = before, load_average()
        print(f"tune {name}: {runs[name]['wall_s']:.1f} s", file=sys.stderr)
    same = runs["grouped"].pop("keys") == runs["one at a time"].pop("keys")
    grouped, single = runs["grouped"], runs["one at a time"]
    per_step = {k: (grouped[k] / grouped["steps"]) / (single[k] / single["steps"])
                for k in ("wall_s", "cpu_s")}  # fmt: skip
    return {"task": task, "steps": steps, "trials": trials, "workers": workers, "runs": runs,
            "ratio": grouped["wall_s"] / single["wall_s"], "target": 0.4,
            "cpu_ratio": grouped["cpu_s"] / single["cpu_s"],
            "per_step_ratio": per_step["wall_s"], "per_step_cpu_ratio": per_step["cpu_s"],
            "same_trials": same}  # fmt: skip


def _markdown(report: dict[str, Any]) -> str:
    tp = report.get("throughput")
    lines = [
        f"Machine: {report['machine']['cpus']} CPUs, torch {report['machine']['torch']}, "
        f"load average {report['load_avg_before']} before, {report['load_avg_after']} after.",
        "",
    ]
    if tp:
        lines += trials_per_hour.markdown(tp)
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
            "| run | execution | wall s | CPU s | trials | optimizer steps | winner | load |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, run in tg["runs"].items():
            load = f"{run['load_avg_before'][0]}, {run['load_avg_after'][0]}"
            lines.append(
                f"| {name} | {run['execution']} | {run['wall_s']:.1f} | {run['cpu_s']:.1f} "
                f"| {run['trials']} | {run['steps']:,} | `{run['winner']}` | {load} |"
            )
        lines += [
            "",
            f"Grouped / one at a time: **{tg['ratio']:.2f}** wall time (target at most "
            f"{tg['target']}), {tg['cpu_ratio']:.2f} CPU time; per optimizer step "
            f"{tg['per_step_ratio']:.2f} wall, {tg['per_step_cpu_ratio']:.2f} CPU. "
            f"The same trials stored: {'yes' if tg['same_trials'] else 'no'}.",
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
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3)")
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
        "load_avg_before": load_average(),
    }
    if "overhead" not in args.skip:
        number, repeat, rounds = (500, 3, 2) if args.quick else (2000, 5, 3)
        report["scheduler_overhead"] = scheduler_overhead.run(
            groups=(1, 4), number=number, repeat=repeat, rounds=rounds
        )
    if "throughput" not in args.skip:
        rounds = args.rounds or (1 if args.quick else 3)
        report["throughput"] = trials_per_hour.run(
            args.only, args.task, steps, eval_every, args.workers, args.batch_trials, rounds
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
    report["load_avg_after"] = load_average()
    report["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    table = _markdown(report)
    (args.out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
