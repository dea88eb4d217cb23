"""lrscope tune against the recipes people already use, on the same budget: the peer table.

    python benchmarks/peers.py [--tasks mnist1d-cnn digits-lenet] [--epochs 150]
        [--trials 48] [--judge-seeds 100 101 102 103 104] [--workers 2]
        [--skip lr-finder fastai prodigy sf-sgd sf-adamw adamw optuna]
        [--out benchmarks/results] [--work DIR] [--peers-from OLD/peers.json]

writes ``OUT/peers.json`` and ``OUT/peers.md`` and prints the table.

Every method ends in trials of the same length, ``--epochs`` epochs of the
task (150: ``mnist1d-cnn`` 4,800 steps, ``digits-lenet`` 3,450), and every
final trial is trained in the plain PyTorch loop of ``benchmarks/plain_loop.py``
(``train_recipe``: a shuffled ``DataLoader``, the optimizer, the scheduler
stepped after every optimizer step; not lrscope's engine), on the judge
seeds, once per method and seed:

- **lrscope tune**: :func:`lrscope.tune.tune` with ``steps`` = that budget and
  ``--trials`` search points (its default execution: worker processes,
  groups); its winner runs in the plain loop through
  :class:`lrscope.torch.PolicyScheduler` on the task's optimizer (SGD,
  momentum 0.9, weight decay 5e-4);
- **FIX at lrscope's suggested_lr**: tune's baseline, for reference;
- **torch-lr-finder + OneCycleLR**: ``LRFinder.range_test`` (100 iterations up
  to lr 10, from 1e-7, on the task's SGD) and its suggestion (the steepest
  descent of the loss) as ``OneCycleLR``'s ``max_lr``, PyTorch's defaults
  otherwise;
- **fastai-style valley + one-cycle**: a range test as fastai's ``lr_find``
  runs it (100 iterations from 1e-7 to 10, exponentially; the debiased
  exponential average of the loss, beta 0.98; stopped once it exceeds 4 times
  its minimum), fastai's "valley" rule (the longest stretch over which the
  averaged loss keeps falling, and the lr half-way down it), and fastai's
  ``fit_one_cycle`` shape (``pct_start`` 0.25, ``div`` 25, final lr ``max/1e5``,
  cosine, momentum 0.95 -> 0.85 -> 0.95) on the task's SGD; fastai itself needs
  torchvision, which this machine must not install, so the rule is written
  here from fastai's documented algorithm;
- **Prodigy + cosine** (prodigyopt): ``Prodigy(lr=1.0, weight_decay=0.01)`` and
  ``CosineAnnealingLR`` over the budget, as its README recommends;
- **schedule-free SGD** and **schedule-free AdamW** (schedulefree):
  ``SGDScheduleFree`` (its default lr 1.0, momentum 0.9, weight decay 5e-4)
  and ``AdamWScheduleFree`` (its default lr 0.0025), each with the warm-up its
  README recommends (5 % of the steps), ``train()``/``eval()`` around training;
- **AdamW + cosine**: ``AdamW`` with PyTorch's defaults (lr 1e-3, weight decay
  0.01) and ``CosineAnnealingLR``;
- **Optuna TPE over (family, lr)**: what a user writes with Optuna around the
  plain loop: a family (constant, MultiStepLR at 1/2 and 3/4, cosine,
  OneCycleLR) and an lr (1e-3 to 1, log), ``TPESampler(seed=0)`` asked two at a
  time, each trial the full budget on seed 0, as many trials as tune spent
  optimizer steps (so the same total training); the best one then runs on
  the judge seeds.

Seeds: tune's range test and search use seed 0 and its confirmation seeds 1
to 3; the recipes' range tests and Optuna's search use seed 0; the judge
seeds (default 100 to 104) were never used to tune anything, in lrscope or
here. For each method: the median and mean ± std of the final test top-1
over the judge seeds, and the compute it spent to choose its recipe
(trials, optimizer steps, wall time; the judge trials themselves are the
same for every method and are not counted). The acceptance lines compare
tune's winner with the peer of the best median: a median at least as high,
and a mean not lower by more than one standard error of the difference of
the two means.

``--peers-from`` takes the rows of the peers left out with ``--skip`` from an
earlier run's ``peers.json`` (same task, budget and judge seeds; each such
row is marked with the time of that run): a peer's recipe and judge trials
do not depend on lrscope, so a change to tune is judged again without
repeating an hour of peer searches. Tune's winner and FIX always run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

METHODS = (
    "lrscope tune",
    "FIX at lrscope's suggested_lr",
    "torch-lr-finder + OneCycleLR",
    "fastai-style valley + one-cycle",
    "Prodigy + cosine",
    "schedule-free SGD",
    "schedule-free AdamW",
    "AdamW + cosine",
    "Optuna TPE over (family, lr)",
)
KEYS = dict(
    zip(
        ("tune", "fix", "lr-finder", "fastai", "prodigy", "sf-sgd", "sf-adamw", "adamw", "optuna"),
        METHODS,
        strict=True,
    )
)
"""Short names of the methods, for ``--skip``."""
TUNE = METHODS[0]
REFERENCE = METHODS[1]  # shown, not a peer
OPTUNA_FAMILIES = ("constant", "step", "cosine", "onecycle")
WARMUP_SHARE = 0.05


@dataclass
class Compute:
    """What a method spent to choose its recipe: trials, optimizer steps, wall seconds."""

    trials: int = 0
    steps: int = 0
    wall_s: float = 0.0


@dataclass
class Method:
    """A method's recipe (plain data a worker process rebuilds) and what choosing it cost."""

    name: str
    recipe: dict[str, Any]
    compute: Compute = field(default_factory=Compute)
    note: str = ""


# --- building a recipe's optimizer and scheduler (in the worker) ------------------------


def _task(name: str) -> Any:
    from lrscope.tasks import get_task

    return get_task(name)


def _sgd(task: Any, model: Any, lr: float) -> Any:
    optimizer = task.optimizer(model.parameters())  # SGD, momentum 0.9, weight decay 5e-4
    for group in optimizer.param_groups:
        group["lr"] = lr
    return optimizer


def _factories(task: Any, recipe: dict[str, Any]) -> tuple[Any, Any]:
    """``(make_optimizer, make_scheduler)`` of ``recipe`` for ``train_recipe``."""
    import torch
    from torch.optim import lr_scheduler as sch

    kind = recipe["kind"]
    if kind == "policy":
        from lrscope.torch import PolicyScheduler

        spec = recipe["spec"]
        return lambda m: _sgd(task, m, 0.01), lambda opt, steps: PolicyScheduler(opt, spec)
    if kind == "onecycle":
        options = {k: v for k, v in recipe.items() if k not in ("kind", "max_lr")}
        return (
            lambda m: _sgd(task, m, recipe["max_lr"]),
            lambda opt, steps: sch.OneCycleLR(
                opt, max_lr=recipe["max_lr"], total_steps=steps, **options
            ),
        )
    if kind == "family":
        lr, family = recipe["lr"], recipe["family"]

        def scheduler(opt: Any, steps: int) -> Any:
            if family == "constant":
                return None
            if family == "step":
                return sch.MultiStepLR(opt, [steps // 2, 3 * steps // 4], gamma=0.1)
            if family == "cosine":
                return sch.CosineAnnealingLR(opt, T_max=steps)
            return sch.OneCycleLR(opt, max_lr=lr, total_steps=steps)

        return lambda m: _sgd(task, m, lr), scheduler
    if kind == "prodigy":
        from prodigyopt import Prodigy

        return (
            lambda m: Prodigy(m.parameters(), lr=1.0, weight_decay=0.01),
            lambda opt, steps: sch.CosineAnnealingLR(opt, T_max=steps),
        )
    if kind == "adamw_cosine":
        return (
            lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01),
            lambda opt, steps: sch.CosineAnnealingLR(opt, T_max=steps),
        )
    import schedulefree

    warmup = round(WARMUP_SHARE * recipe["steps"])
    if kind == "sf_sgd":
        return (
            lambda m: schedulefree.SGDScheduleFree(
                m.parameters(), lr=1.0, momentum=0.9, weight_decay=5e-4, warmup_steps=warmup
            ),
            None,
        )
    if kind == "sf_adamw":
        return (
            lambda m: schedulefree.AdamWScheduleFree(m.parameters(), warmup_steps=warmup),
            None,
        )
    raise ValueError(f"unknown recipe {recipe!r}")


def run_trial(task_name: str, recipe: dict[str, Any], steps: int, seed: int) -> dict[str, Any]:
    """One plain-loop trial in a worker process: its final top-1 and wall time."""
    import torch

    import plain_loop

    torch.set_num_threads(1)
    task = _task(task_name)
    make_optimizer, make_scheduler = _factories(task, recipe)
    start = time.perf_counter()
    top1 = plain_loop.train_recipe(task, make_optimizer, make_scheduler, steps, seed)
    return {"seed": seed, "top1": top1, "wall_s": time.perf_counter() - start}


# --- choosing each recipe ----------------------------------------------------------------


def _loader(task: Any, seed: int) -> Any:
    import torch
    from torch.utils.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    return DataLoader(task.train_data, batch_size=task.batch_size, shuffle=True,
                      generator=generator)  # fmt: skip


def lr_finder_max_lr(task: Any, seed: int) -> tuple[float, Compute]:
    """torch-lr-finder's suggestion (steepest descent) on the task's SGD, from 1e-7 to 10."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torch_lr_finder import LRFinder

    start = time.perf_counter()
    torch.manual_seed(seed)
    model = task.model()
    finder = LRFinder(model, _sgd(task, model, 1e-7), torch.nn.CrossEntropyLoss(), device="cpu")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(_loader(task, seed), end_lr=10, num_iter=100)
        figure, axes = plt.subplots()
        _, lr = finder.plot(ax=axes, suggest_lr=True)
    plt.close(figure)
    steps = len(finder.history["lr"])
    return float(lr), Compute(1, steps, time.perf_counter() - start)


def longest_valley(losses: Sequence[float]) -> tuple[int, int]:
    """``(start, end)`` of fastai's longest valley.

    ``end`` is where the longest chain of ever lower losses (a longest strictly
    decreasing subsequence, taken in order) ends, and the valley is the
    stretch of that chain's length just before it: ``start = end - length``
    (fastai counts the valley this way, so a chain that skips over noisy
    bumps does not stretch the valley back to the flat start of the curve).
    """
    n = len(losses)
    length = [1] * n
    for i in range(n):
        for j in range(i):
            if losses[i] < losses[j]:
                length[i] = max(length[i], length[j] + 1)
    end = max(range(n), key=lambda i: (length[i], -i)) if n else 0
    return max(end - length[end], 0) if n else 0, end


def fastai_valley_lr(task: Any, seed: int, iterations: int = 100) -> tuple[float, Compute]:
    """A fastai-style range test and its valley rule (see the module docstring)."""
    import torch

    start_time = time.perf_counter()
    torch.manual_seed(seed)
    model = task.model()
    optimizer = _sgd(task, model, 1e-7)
    lrs, smoothed = [], []
    average, best = 0.0, math.inf
    batches = iter(_loader(task, seed))
    for i in range(iterations):
        lr = 1e-7 * (10 / 1e-7) ** (i / (iterations - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(_loader(task, seed + i + 1))
            x, y = next(batches)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average = 0.98 * average + 0.02 * loss.item()
        value = average / (1 - 0.98 ** (i + 1))
        lrs.append(lr)
        smoothed.append(value)
        best = min(best, value)
        if not math.isfinite(value) or value > 4 * best:
            break
    skip = len(lrs) // 10
    lrs, smoothed = lrs[skip:-5], smoothed[skip:-5]
    first, last = longest_valley(smoothed)
    third = (last - first) / 3
    index = first + int(third) + int(third / 2)  # half-way down the valley
    return lrs[index], Compute(1, len(lrs) + skip + 5, time.perf_counter() - start_time)


def optuna_search(
    task_name: str, steps: int, trials: int, workers: int, seed: int = 0
) -> tuple[dict[str, Any], Compute, list[dict[str, Any]]]:
    """TPE over (family, lr), each trial the full budget on ``seed`` in the plain loop."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    start = time.perf_counter()
    history = []
    with ProcessPoolExecutor(workers) as pool:
        while len(history) < trials:
            asked = [study.ask() for _ in range(min(workers, trials - len(history)))]
            recipes = [
                {
                    "kind": "family",
                    "family": t.suggest_categorical("family", list(OPTUNA_FAMILIES)),
                    "lr": t.suggest_float("lr", 1e-3, 1.0, log=True),
                }
                for t in asked
            ]
            outcomes = list(
                pool.map(
                    run_trial,
                    [task_name] * len(asked),
                    recipes,
                    [steps] * len(asked),
                    [seed] * len(asked),
                )
            )
            for trial, recipe, outcome in zip(asked, recipes, outcomes, strict=True):
                study.tell(trial, outcome["top1"])
                history.append({**recipe, "top1": outcome["top1"]})
            print(f"  optuna {len(history)}/{trials}", file=sys.stderr, flush=True)
    best = max(history, key=lambda h: h["top1"])
    recipe = {"kind": "family", "family": best["family"], "lr": best["lr"]}
    return recipe, Compute(trials, trials * steps, time.perf_counter() - start), history


def run_tune(task_name: str, steps: int, trials: int, work: Path) -> tuple[Any, float]:
    from lrscope.store import Store
    from lrscope.tune import tune

    start = time.perf_counter()
    db = f"sqlite:///{work / f'tune-{task_name}-{steps}-{trials}.db'}"

    def event(stage: str, message: str) -> None:
        if "/" not in message or "round" in message:
            print(f"  tune {stage}: {message}", file=sys.stderr, flush=True)

    with Store.open(db) as store:
        result = tune(task_name, store, steps=steps, trials=trials, on_event=event)
    return result, time.perf_counter() - start


def choose(
    task_name: str, steps: int, trials: int, workers: int, work: Path, skip: Sequence[str] = ()
) -> list[Method]:
    """Every method's recipe for ``task_name``, chosen on the development seeds only.

    ``skip`` leaves out the peers named (tune's winner and FIX are always run).
    """
    task = _task(task_name)
    result, tune_wall = run_tune(task_name, steps, trials, work)
    tuned = Compute(result.compute.trials, result.compute.steps, tune_wall)
    methods = [
        Method(TUNE, {"kind": "policy", "spec": result.winner_spec}, tuned, result.winner_spec),
        Method(
            REFERENCE,
            {"kind": "policy", "spec": result.baseline_spec},
            Compute(),
            result.baseline_spec,
        ),
    ]
    lr, cost = lr_finder_max_lr(task, seed=0)
    finder = {"kind": "onecycle", "max_lr": lr}
    methods.append(Method(METHODS[2], finder, cost, f"max_lr {lr:.3g}"))
    methods += _fastai_and_the_rest(task, steps)
    if METHODS[8] not in skip:
        n_optuna = max(1, round(result.compute.steps / steps))
        recipe, cost, _ = optuna_search(task_name, steps, n_optuna, workers)
        note = f"{recipe['family']}, lr {recipe['lr']:.3g}"
        methods.append(Method(METHODS[8], recipe, cost, note))
    return [m for m in methods if m.name not in skip]


def _fastai_and_the_rest(task: Any, steps: int) -> list[Method]:
    methods = []
    lr, cost = fastai_valley_lr(task, seed=0)
    fastai = {
        "kind": "onecycle",
        "max_lr": lr,
        "pct_start": 0.25,
        "div_factor": 25.0,
        "final_div_factor": 1e5 / 25.0,  # the final lr: max_lr / 1e5
        "base_momentum": 0.85,
        "max_momentum": 0.95,
    }
    methods.append(Method(METHODS[3], fastai, cost, f"max_lr {lr:.3g}"))
    methods += [
        Method(METHODS[4], {"kind": "prodigy"}, note="lr 1.0, weight decay 0.01"),
        Method(METHODS[5], {"kind": "sf_sgd", "steps": steps}, note="lr 1.0, 5 % warm-up"),
        Method(METHODS[6], {"kind": "sf_adamw", "steps": steps}, note="lr 0.0025, 5 % warm-up"),
        Method(METHODS[7], {"kind": "adamw_cosine"}, note="lr 1e-3, weight decay 0.01"),
    ]
    return methods


def judge(
    task_name: str, methods: Sequence[Method], steps: int, seeds: Sequence[int], workers: int
) -> dict[str, list[dict[str, Any]]]:
    """Every method's final trials on the judge seeds, in the plain loop."""
    jobs = [(m.name, m.recipe, seed) for m in methods for seed in seeds]
    with ProcessPoolExecutor(workers) as pool:
        outcomes = list(
            pool.map(
                run_trial,
                [task_name] * len(jobs),
                [j[1] for j in jobs],
                [steps] * len(jobs),
                [j[2] for j in jobs],
            )
        )
    by_method: dict[str, list[dict[str, Any]]] = {m.name: [] for m in methods}
    for (name, _, _), outcome in zip(jobs, outcomes, strict=True):
        by_method[name].append(outcome)
    return by_method


def _stats(values: Sequence[float]) -> dict[str, float]:
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    return {
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "std": std,
        "se": std / math.sqrt(len(values)),
    }


def verdict(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Tune's winner against the peer of the best median (ties: the better mean)."""
    peers = {n: r for n, r in rows.items() if n not in (TUNE, REFERENCE)}
    best = max(peers, key=lambda n: (peers[n]["median"], peers[n]["mean"]))
    ours, theirs = rows[TUNE], peers[best]
    se = math.sqrt(ours["se"] ** 2 + theirs["se"] ** 2)
    return {
        "best_peer": best,
        "median_at_least_best_peer": ours["median"] >= theirs["median"],
        "mean_gap": ours["mean"] - theirs["mean"],
        "se_of_gap": se,
        "mean_within_one_se": ours["mean"] >= theirs["mean"] - se,
    }


def benchmark_task(
    task_name: str,
    epochs: int,
    trials: int,
    seeds: Sequence[int],
    workers: int,
    work: Path,
    skip: Sequence[str] = (),
    earlier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    steps = epochs * _task(task_name).steps_per_epoch
    print(f"{task_name}: {steps} steps per final trial", file=sys.stderr, flush=True)
    methods = choose(task_name, steps, trials, workers, work, skip)
    outcomes = judge(task_name, methods, steps, seeds, workers)
    rows = {}
    for method in methods:
        values = [o["top1"] for o in outcomes[method.name]]
        rows[method.name] = {
            **_stats(values),
            "top1": values,
            "recipe": method.recipe,
            "note": method.note,
            "compute": asdict(method.compute),
            "judge_wall_s": statistics.fmean(o["wall_s"] for o in outcomes[method.name]),
        }
    rows.update(reused_rows(earlier, task_name, steps, seeds, skip))
    return {"task": task_name, "steps": steps, "epochs": epochs, "judge_seeds": list(seeds),
            "rows": rows, "verdict": verdict(rows)}  # fmt: skip


def reused_rows(
    earlier: dict[str, Any] | None,
    task_name: str,
    steps: int,
    seeds: Sequence[int],
    names: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """The rows of the methods ``names`` for ``task_name`` from an earlier report.

    Raises ValueError when the earlier run judged the task on other seeds or
    another budget, or lacks one of the methods.
    """
    if earlier is None or not names:
        return {}
    task = next((t for t in earlier["tasks"] if t["task"] == task_name), None)
    if task is None or task["steps"] != steps or list(task["judge_seeds"]) != list(seeds):
        raise ValueError(
            f"--peers-from: no {task_name} run of {steps} steps on judge seeds {list(seeds)}"
        )
    missing = [n for n in names if n not in task["rows"]]
    if missing:
        raise ValueError(f"--peers-from: {task_name} has no rows for {missing}")
    when = earlier.get("finished_at", "an earlier run")
    return {n: {**task["rows"][n], "reused_from": when} for n in names}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Peer table: final test top-1 over judge seeds {report['judge_seeds']} (never used to "
        "tune anything), every final trial in the plain PyTorch loop "
        "(`benchmarks/plain_loop.py`). Compute: what each method spent to choose its recipe "
        f"(machine load {report['load_avg_before']} before, {report['load_avg_after']} after).",
        "",
    ]
    for task in report["tasks"]:
        lines += [
            f"### `{task['task']}`, {task['steps']:,} steps ({task['epochs']} epochs) per trial",
            "",
            "| method | median | mean ± std | trials | steps | wall time | recipe |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, row in sorted(task["rows"].items(), key=lambda kv: -kv[1]["median"]):
            c = row["compute"]
            reused = f" (run of {row['reused_from']})" if row.get("reused_from") else ""
            lines.append(
                f"| {name}{reused} | {row['median']:.4f} | {row['mean']:.4f} ± {row['std']:.4f} "
                f"| {c['trials']} | {c['steps']:,} | {_duration(c['wall_s'])} | {row['note']} |"
            )
        v = task["verdict"]
        lines += [
            "",
            f"Best peer: {v['best_peer']}. Tune's median at least as high: "
            f"**{'yes' if v['median_at_least_best_peer'] else 'no'}**; its mean "
            f"{v['mean_gap']:+.4f} from that peer's (one standard error of the difference: "
            f"{v['se_of_gap']:.4f}): **{'within' if v['mean_within_one_se'] else 'not within'}**.",
            "",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["mnist1d-cnn", "digits-lenet"])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--trials", type=int, default=48, help="tune's search points")
    parser.add_argument("--judge-seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lrscope-peers"))
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=list(KEYS)[2:], help="peers left out"
    )
    parser.add_argument(
        "--peers-from",
        type=Path,
        default=None,
        help="an earlier peers.json: the rows of the --skip peers come from it",
    )
    args = parser.parse_args(argv)
    earlier = None if args.peers_from is None else json.loads(args.peers_from.read_text())
    if set(args.judge_seeds) & set(range(4)):
        parser.error("judge seeds must not be tune's (0 to 3)")
    args.work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/peers.py", *(argv or sys.argv[1:])]),
        "load_avg_before": [round(v, 2) for v in os.getloadavg()],
        "judge_seeds": args.judge_seeds,
        "tasks": [
            benchmark_task(
                t,
                args.epochs,
                args.trials,
                args.judge_seeds,
                args.workers,
                args.work,
                [KEYS[k] for k in args.skip],
                earlier,
            )
            for t in args.tasks
        ],
    }
    report["load_avg_after"] = [round(v, 2) for v in os.getloadavg()]
    report["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.out / "peers.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
