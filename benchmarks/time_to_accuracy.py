"""Time to accuracy: how soon a tuned policy reaches what the default policies reach at best.

Three trials of the same task and seed, evaluated every ``eval_every`` steps:

- ``FIX``: the constant default, ``FIX(k0=0.01)`` (Caffe's MNIST default, Wu, Liu et al. 2019);
- ``NSTEP``: the step-down default, ``NSTEP(k0=0.1, gamma=0.1, milestones=[S/2, 3S/4])``
  (the ResNet schedule, scaled to ``S`` steps);
- ``tuned``: a given spec, or ``onecycle(max_lr=M, total_steps=S)`` with ``M``
  the one-cycle peak suggested by lrscope's range test on the task.

The target is the best test top-1 the two defaults reach (the larger of the
two). For each trial: the first evaluated step at which its top-1 reaches the
target, and the seconds of training (evaluations included) until then,
measured with the engine's progress callback. ``speedup_steps`` is
``default_steps / tuned_steps`` for the default that reached the target.

    python benchmarks/time_to_accuracy.py [--steps 1000] [--eval-every 25] [--tuned SPEC]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["default_specs", "run"]


def default_specs(steps: int) -> dict[str, str]:
    """The FIX and NSTEP defaults for a run of ``steps`` steps."""
    return {
        "FIX": "FIX(k0=0.01)",
        "NSTEP": f"NSTEP(k0=0.1, gamma=0.1, milestones=[{steps // 2}, {3 * steps // 4}])",
    }


def _timed_trial(task: Any, spec: str, steps: int, eval_every: int, seed: int) -> dict[str, Any]:
    from lrscope.engine import run_trial

    clock: dict[int, float] = {}
    start = time.perf_counter()

    def tick(done: int, _total: int) -> None:
        clock[done] = time.perf_counter() - start

    result = run_trial(task, spec, steps=steps, seed=seed, eval_every=eval_every, on_progress=tick)
    return {
        "spec": result.spec,
        "best_top1": result.best_top1,
        "best_iter": result.best_iter,
        "top1": result.top1,
        "wall_s": result.wall_s,
        "curve": [(p.step, p.top1) for p in result.curve],
        "clock": clock,
    }


def _reach(trial: dict[str, Any], target: float) -> tuple[int | None, float | None]:
    for step, top1 in trial["curve"]:
        if top1 >= target:
            return step, trial["clock"].get(step)
    return None, None


def tuned_spec(task: Any, steps: int, seed: int = 0) -> tuple[str, dict[str, Any]]:
    """``onecycle`` at the range test's one-cycle peak; the spec and the range test's numbers."""
    from lrscope.rangetest import range_test

    start = time.perf_counter()
    result = range_test(task, seed=seed)
    wall_s = time.perf_counter() - start
    assert result.suggestions is not None
    peak = result.suggestions.onecycle_max_lr.lr
    spec = f"onecycle(max_lr={peak:.3g}, total_steps={steps})"
    return spec, {"onecycle_max_lr": peak, "range_test_wall_s": wall_s}


def run(
    task_name: str = "mnist1d-cnn",
    steps: int = 1000,
    eval_every: int = 25,
    tuned: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The three trials, the target accuracy, and steps and seconds to reach it."""
    from lrscope.tasks import get_task

    task = get_task(task_name)
    range_info: dict[str, Any] = {}
    if tuned is None:
        tuned, range_info = tuned_spec(task, steps, seed)
    specs = {**default_specs(steps), "tuned": tuned}
    trials = {
        name: _timed_trial(task, spec, steps, eval_every, seed) for name, spec in specs.items()
    }
    target = max(trials["FIX"]["best_top1"], trials["NSTEP"]["best_top1"])
    rows: dict[str, dict[str, Any]] = {}
    for name, trial in trials.items():
        step, seconds = _reach(trial, target)
        rows[name] = {
            "spec": trial["spec"],
            "best_top1": trial["best_top1"],
            "best_iter": trial["best_iter"],
            "final_top1": trial["top1"],
            "steps_to_target": step,
            "seconds_to_target": seconds,
            "wall_s": trial["wall_s"],
        }
    tuned_steps = rows["tuned"]["steps_to_target"]
    speedups: dict[str, float | None] = {}
    for name in ("FIX", "NSTEP"):
        base = rows[name]["steps_to_target"]
        ok = base is not None and tuned_steps is not None
        speedups[name] = round(base / tuned_steps, 2) if ok else None
    return {
        "task": task_name,
        "steps": steps,
        "eval_every": eval_every,
        "seed": seed,
        "target_top1": target,
        "range_test": range_info,
        "trials": rows,
        "speedup_steps_vs": speedups,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--task", default="mnist1d-cnn")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--tuned", default=None, help="A spec (default: onecycle at the peak).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.task, args.steps, args.eval_every, args.tuned, args.seed)))


if __name__ == "__main__":
    main()
