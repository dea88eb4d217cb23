"""Do the range test's suggestions train well? One-cycle and FIX against grids, full budget.

    python benchmarks/suggestions.py [--tasks mnist1d-cnn,digits-lenet,digits-mlp]
        [--seeds 100,101,102] [--spread-seeds 100,101,102,103,104] [--out DIR] [--name NAME]
    python benchmarks/suggestions.py --render DIR/suggestions.json   # re-tabulate only

writes ``DIR/NAME.json`` and ``DIR/NAME.md`` (default DIR:
``benchmarks/results``, NAME ``suggestions``).

For each task, the full default budget: ``lrscope.tune.DEFAULT_MAX_EPOCHS``
(150) epochs, e.g. 4,800 steps on ``mnist1d-cnn``. For each seed ``s`` of
``--seeds``, as a user would: the default range test with seed ``s``, then
trials with seed ``s`` (weights and data order) of

- one-cycle at the found peak, ``found.onecycle(total_steps=T)``, and at the
  peak times each point of a log grid from 1/4 to 4 (7 points, ratio
  :math:`4^{1/3}`; the found peak is the middle one);
- FIX at ``suggested_lr`` (``found.fixed()``) and at it times the same grid;
- on ``mnist1d-cnn`` also torch-lr-finder's suggestion fed to one-cycle: its
  ``LRFinder.range_test`` with its defaults (100 iterations, exponential,
  ``smooth_f=0.05``, ``diverge_th=5``) over lrscope's lr range (1e-5 to 10),
  on the same initial weights, optimizer (the task's SGD, momentum 0.9, weight
  decay 5e-4) and batch size, and its steepest-gradient suggestion as its
  ``plot(suggest_lr=True)`` returns it. The peak goes into lrscope's
  ``onecycle``, which is PyTorch's ``OneCycleLR`` step for step (checked
  here for every such schedule, learning rate and momentum).

The grid's trials run batched (:func:`lrscope.batched.run_batched`, one group
per task and seed); a task whose model cannot be batched runs them one by one.
Each row of the table is the median final test top-1 over the seeds; a
suggestion passes when its median is within 0.005 (half a point) of the best
grid point's, and on ``mnist1d-cnn`` one-cycle at the found peak passes when
its median is at least torch-lr-finder's. The spread of ``suggested_lr``
(and of the peak) is largest / smallest over the range tests of
``--spread-seeds``.

The rules' constants were measured on range-test seeds 0-9 and trial seeds
0-5 (see :mod:`lrscope.rangetest.suggest`); the default seeds here (100-104)
were never used for that.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GRID = tuple(4.0 ** (k / 3) for k in range(-3, 4))  # 1/4 ... 4, the middle one is 1
TOLERANCE = 0.005
TASKS = ("mnist1d-cnn", "digits-lenet", "digits-mlp")
BASELINE_TASK = "mnist1d-cnn"

__all__ = ["GRID", "run", "torch_lr_finder_suggestion"]


@dataclass(frozen=True)
class Found:
    """The numbers of one range test (and torch-lr-finder's, where run)."""

    seed: int
    suggested_lr: float
    peak: float
    usable: bool
    reason: str | None
    tlf: float | None = None


def _r3(value: float) -> float:
    return float(f"{value:.3g}")


def torch_lr_finder_suggestion(task: Any, seed: int) -> float:
    """torch-lr-finder's steepest-gradient lr for ``task`` (its defaults, lr 1e-5 to 10)."""
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from torch.utils.data import DataLoader
    from torch_lr_finder import LRFinder

    from lrscope.engine.checkpoint import capture_rng, restore_rng
    from lrscope.engine.data import set_seed

    rng = capture_rng()
    try:
        set_seed(seed)  # the same initial weights as lrscope's range test of this seed
        model = task.model()
        optimizer = task.optimizer(model.parameters())
        generator = torch.Generator().manual_seed(seed)
        loader = DataLoader(
            task.train_data, batch_size=task.batch_size, shuffle=True, generator=generator
        )
        finder = LRFinder(model, optimizer, task.loss, device="cpu")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            finder.range_test(loader, start_lr=1e-5, end_lr=10.0, num_iter=100, step_mode="exp")
            fig = Figure()
            FigureCanvasAgg(fig)
            _, lr = finder.plot(ax=fig.add_subplot(), suggest_lr=True)
    finally:
        restore_rng(rng)
    return float(lr)


def _check_onecycle_is_torchs(policy: Any) -> None:
    """lrscope's onecycle equals torch's OneCycleLR at every step (lr and momentum)."""
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    torch_sched = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=policy.max_lr, total_steps=policy.total_steps
    )
    for t in range(policy.total_steps):
        group = optimizer.param_groups[0]
        lr_ok = math.isclose(group["lr"], policy(t), rel_tol=1e-12, abs_tol=1e-15)
        momentum_ok = math.isclose(group["momentum"], policy.momentum(t), rel_tol=1e-12)
        if not (lr_ok and momentum_ok):
            raise AssertionError(f"onecycle differs from OneCycleLR at step {t}")
        optimizer.step()
        torch_sched.step()


def _find(task: Any, seed: int, with_tlf: bool) -> tuple[Found, Any]:
    from lrscope.rangetest import range_test

    found = range_test(task, seed=seed)
    s = found.suggestions
    assert s is not None
    tlf = torch_lr_finder_suggestion(task, seed) if with_tlf else None
    row = Found(seed, s.suggested_lr.lr, s.onecycle_max_lr.lr, s.usable, s.reason, tlf)
    return row, found


def _members(found: Any, row: Found, steps: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """The trials of one seed: one-cycle and FIX grids (1x from the result's own methods)."""
    from lrscope.batched import Member
    from lrscope.policies import FIX, OneCycle

    members, labels = [], []
    for g in GRID:
        one = found.onecycle(total_steps=steps) if g == 1.0 else None
        peak = one or OneCycle(max_lr=_r3(row.peak * g), total_steps=steps)
        fix = found.fixed() if g == 1.0 else FIX(k0=_r3(row.suggested_lr * g))
        for kind, policy in (("onecycle", peak), ("FIX", fix)):
            members.append(Member(policy, seed=row.seed, steps=steps, eval_every=steps))
            labels.append({"kind": kind, "factor": g, "seed": row.seed, "spec": policy.spec})
    if row.tlf is not None:
        policy = OneCycle(max_lr=_r3(row.tlf), total_steps=steps)
        _check_onecycle_is_torchs(policy)
        members.append(Member(policy, seed=row.seed, steps=steps, eval_every=steps))
        labels.append({"kind": "torch-lr-finder", "factor": None, "seed": row.seed,
                       "spec": policy.spec})  # fmt: skip
    return members, labels


def _train(task: Any, members: list[Any]) -> tuple[list[Any], str]:
    from lrscope.batched import BatchingError, run_batched
    from lrscope.engine import run_trial

    try:
        return run_batched(task, members), f"batched (K={len(members)})"
    except BatchingError as exc:
        results = [
            run_trial(task, m.policy, steps=m.steps, seed=m.seed, eval_every=m.eval_every)
            for m in members
        ]
        return results, f"one by one ({exc})"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("onecycle", "FIX"):
        medians = {
            g: _median([t["top1"] for t in trials if t["kind"] == kind and t["factor"] == g])
            for g in GRID
        }
        best = max(medians.values())
        found = medians[1.0]
        out[kind] = {
            "median_by_factor": {f"{g:.3g}": v for g, v in medians.items()},
            "found": found,
            "best": best,
            "best_factor": max(medians, key=lambda g: medians[g]),
            "gap": best - found,
            "pass": found >= best - TOLERANCE,
        }
    baseline = {t["seed"]: t for t in trials if t["kind"] == "torch-lr-finder"}
    if baseline:
        ours = {t["seed"]: t for t in trials if t["kind"] == "onecycle" and t["factor"] == 1.0}
        pairs = [(ours[s]["top1"], baseline[s]["top1"]) for s in sorted(baseline)]
        out["torch-lr-finder"] = {
            "per_seed": {s: {"lrscope": ours[s], "torch-lr-finder": baseline[s]} for s in baseline},
            "median": _median([b for _, b in pairs]),
            "lrscope_median": _median([a for a, _ in pairs]),
            "mean": statistics.fmean(b for _, b in pairs),
            "lrscope_mean": statistics.fmean(a for a, _ in pairs),
            "lrscope_wins": sum(a >= b for a, b in pairs),
            "pass": _median([a for a, _ in pairs]) >= _median([b for _, b in pairs]),
        }
    return out


def _spread(values: Sequence[float]) -> float:
    return max(values) / min(values)


def run_task(
    name: str, seeds: Sequence[int], spread_seeds: Sequence[int], epochs: int
) -> dict[str, Any]:
    """Range tests, grids and summary of one task."""
    from lrscope.tasks import get_task

    task = get_task(name)
    steps = epochs * task.steps_per_epoch
    found: dict[int, tuple[Found, Any]] = {}
    for seed in dict.fromkeys([*seeds, *spread_seeds]):
        found[seed] = _find(task, seed, name == BASELINE_TASK and seed in seeds)
        _log(f"{name}, seed {seed}: {found[seed][0]}")
    trials: list[dict[str, Any]] = []
    how, wall = "", 0.0
    for seed in seeds:
        row, result = found[seed]
        if not row.usable:
            raise SystemExit(f"{name}, seed {seed}: no usable range ({row.reason})")
        members, labels = _members(result, row, steps)
        started = time.perf_counter()
        results, how = _train(task, members)
        wall += time.perf_counter() - started
        _log(f"{name}, seed {seed}: {len(members)} trials of {steps} steps, {how}, "
             f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        for label, trial in zip(labels, results, strict=True):
            trials.append({**label, "top1": trial.top1, "diverged": trial.diverged})
    rows = [found[s][0] for s in spread_seeds]
    return {
        "task": name,
        "steps": steps,
        "epochs": epochs,
        "seeds": list(seeds),
        "trained": how,
        "train_wall_s": round(wall, 1),
        "found": [vars(found[s][0]) for s in dict.fromkeys([*seeds, *spread_seeds])],
        "spread_seeds": list(spread_seeds),
        "suggested_lr_spread": _spread([r.suggested_lr for r in rows]),
        "peak_spread": _spread([r.peak for r in rows]),
        "summary": _summarise(trials),
        "trials": trials,
    }


def run(
    tasks: Sequence[str],
    seeds: Sequence[int],
    spread_seeds: Sequence[int],
    epochs: int | None = None,
) -> dict[str, Any]:
    """Every task (``epochs`` default: tune's 150); the machine's load before and after."""
    import torch

    from lrscope.tune import DEFAULT_MAX_EPOCHS

    budget = DEFAULT_MAX_EPOCHS if epochs is None else epochs
    before = [round(v, 2) for v in os.getloadavg()]
    results = [run_task(name, seeds, spread_seeds, budget) for name in tasks]
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "load_before": before,
            "load_after": [round(v, 2) for v in os.getloadavg()],
        },
        "grid": [round(g, 4) for g in GRID],
        "tolerance": TOLERANCE,
        "tasks": results,
    }


def _grid_table(results: dict[str, Any], kind: str, label: str) -> list[str]:
    heads = " | ".join(f"{g:.2g}x" if g != 1.0 else "**1x (found)**" for g in GRID)
    lines = [
        f"{label}: median final top-1 over the seeds at the found value times each factor",
        "",
        f"| task | found ({'peak' if kind == 'onecycle' else 'suggested_lr'}) per seed | {heads} "
        "| best - found | pass |",
        "|---|---|" + "---|" * len(GRID) + "---|---|",
    ]
    for task in results["tasks"]:
        s = task["summary"][kind]
        key = "peak" if kind == "onecycle" else "suggested_lr"
        found = ", ".join(f"{f[key]:.3g}" for f in task["found"] if f["seed"] in task["seeds"])
        cells = " | ".join(
            f"**{v:.3f}**" if k == "1" else f"{v:.3f}" for k, v in s["median_by_factor"].items()
        )
        verdict = "yes" if s["pass"] else "**no**"
        lines.append(f"| {task['task']} | {found} | {cells} | {s['gap']:+.3f} | {verdict} |")
    return [*lines, ""]


def _baseline_table(task: dict[str, Any], base: dict[str, Any]) -> list[str]:
    lines = [
        f"torch-lr-finder's suggestion fed to one-cycle on `{task['task']}` "
        f"({task['steps']} steps, the same seeds), final top-1:",
        "",
        "| seed | torch-lr-finder peak | its top-1 | lrscope peak | lrscope top-1 |",
        "|---|---|---|---|---|",
    ]
    for seed, pair in sorted(base["per_seed"].items(), key=lambda kv: int(kv[0])):
        theirs, ours = pair["torch-lr-finder"], pair["lrscope"]
        note = " (diverged)" if theirs["diverged"] else ""
        lines.append(
            f"| {seed} | {_peak_of(theirs['spec'])} | {theirs['top1']:.3f}{note} "
            f"| {_peak_of(ours['spec'])} | {ours['top1']:.3f} |"
        )
    lines += [
        f"| median | | {base['median']:.3f} | | {base['lrscope_median']:.3f} |",
        f"| mean | | {base['mean']:.3f} | | {base['lrscope_mean']:.3f} |",
        "",
        f"lrscope at least as good (median): {'yes' if base['pass'] else '**no**'}; "
        f"seeds where it is at least as good: {base['lrscope_wins']} of {len(base['per_seed'])}.",
        "",
    ]
    return lines


def _peak_of(spec: str) -> str:
    return spec.split("max_lr=")[1].split(",")[0]


def markdown(results: dict[str, Any]) -> str:
    """The tables of ``results`` as markdown."""
    m = results["machine"]
    lines = [
        f"Machine: {m['cpus']} CPUs, torch {m['torch']}, load average {m['load_before']} "
        f"before, {m['load_after']} after. Budget: {results['tasks'][0]['epochs']} epochs; "
        "pass = within "
        f"{results['tolerance']} of the best grid point.",
        "",
        *_grid_table(results, "onecycle", "One-cycle (OneCycleLR form) at the found peak"),
        *_grid_table(results, "FIX", "FIX at suggested_lr"),
    ]
    for task in results["tasks"]:
        base = task["summary"].get("torch-lr-finder")
        if base is not None:
            lines += _baseline_table(task, base)
    lines += [
        "Spread of the suggestions over the range tests of seeds "
        f"{results['tasks'][0]['spread_seeds']} (largest / smallest):",
        "",
        "| task | suggested_lr per seed | spread | one-cycle peak per seed | spread | trained |",
        "|---|---|---|---|---|---|",
    ]
    for task in results["tasks"]:
        rows = [f for f in task["found"] if f["seed"] in task["spread_seeds"]]
        sug = ", ".join(f"{f['suggested_lr']:.3g}" for f in rows)
        peak = ", ".join(f"{f['peak']:.3g}" for f in rows)
        lines.append(
            f"| {task['task']} | {sug} | {task['suggested_lr_spread']:.2f} | {peak} "
            f"| {task['peak_spread']:.2f} | {task['trained']}, {task['train_wall_s']} s |"
        )
    return "\n".join(lines) + "\n"


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default="100,101,102")
    parser.add_argument("--spread-seeds", default="100,101,102,103,104")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--name", default="suggestions", help="Files NAME.json and NAME.md.")
    parser.add_argument("--epochs", type=int, default=None, help="Budget (default: 150).")
    parser.add_argument(
        "--render", type=Path, default=None, help="Only re-tabulate this suggestions.json."
    )
    args = parser.parse_args(argv)
    if args.render is not None:
        results = json.loads(args.render.read_text())
        for task in results["tasks"]:
            task["summary"] = _summarise(task["trials"])
    else:
        import torch

        torch.set_num_threads(1)  # small models; the machine is shared
        tasks, seeds, spread = args.tasks.split(","), _ints(args.seeds), _ints(args.spread_seeds)
        results = run(tasks, seeds, spread, args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (args.out / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
