"""Which sampler should tune's search use? TPE against random sampling, judged on held-out seeds.

    python benchmarks/sampler_choice.py [--task mnist1d-cnn] [--epochs 25] [--trials 48]
        [--repeats 3] [--heldout-seeds 300 301 302 303 304] [--out benchmarks/results]

writes ``OUT/sampler_choice.json`` and ``OUT/sampler_choice.md``.

For each repetition ``r`` (tune's ``seed``: its range test, search and
confirmation seeds), the whole of :func:`lrscope.tune.tune` runs twice on the
same task and budget, once with each sampler: ``tpe`` (Optuna's TPE,
multivariate with groups and the constant liar, the default) and ``random``
(Optuna's random sampler over the same space). Both start from the same
round of the range test's centres; they differ from the second round on.
Each winner (chosen on its confirmation seeds) then trains on the held-out
seeds (default 300 to 304), which no tune and no decision here ever saw. The
comparison is paired: the same repetition, the same range test and training
seeds, only the sampler differs. The budget is shorter than the peer table's
(25 epochs) to afford several repetitions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAMPLERS = ("tpe", "random")


def one(task: str, steps: int, trials: int, seed: int, sampler: str, heldout: Sequence[int],
        work: Path) -> dict[str, Any]:  # fmt: skip
    """One tune with ``sampler`` and its winner on the held-out seeds."""
    from lrscope.bench import run_trials
    from lrscope.engine.result import TrialKey
    from lrscope.store import Store
    from lrscope.tune import tune

    db = f"sqlite:///{work / f'{task}-{steps}-{trials}-{sampler}-{seed}.db'}"
    start = time.perf_counter()
    with Store.open(db) as store:
        result = tune(task, store, steps=steps, trials=trials, seed=seed, sampler=sampler)
        wall_s = time.perf_counter() - start
        keys = [TrialKey(result.task, result.winner_spec, s, steps, steps) for s in heldout]
        run_trials(task, keys, store)
        judged = {r.key: r for r in store.trials(result.task) if r.key in set(keys)}
    values = [judged[k].top1 for k in keys]
    search = [p.outcome.value for p in result.search if p.outcome.status == "done"]
    return {
        "seed": seed,
        "sampler": sampler,
        "winner": result.winner_spec,
        "confirmed_mean": result.winner.mean["top1"],
        "search_best": max(search),
        "search_top5_mean": statistics.fmean(sorted(search)[-5:]),
        "heldout": values,
        "heldout_mean": statistics.fmean(values),
        "heldout_median": statistics.median(values),
        "wall_s": wall_s,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--task", default="mnist1d-cnn")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--trials", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--heldout-seeds", type=int, nargs="+", default=[300, 301, 302, 303, 304])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lrscope-sampler-choice"))
    args = parser.parse_args(argv)
    from lrscope.tasks import get_task

    steps = args.epochs * get_task(args.task).steps_per_epoch
    args.work.mkdir(parents=True, exist_ok=True)
    runs = []
    for r in range(args.repeats):
        seed = 10 * r  # repetitions far apart: tune uses seed .. seed + 3
        for sampler in SAMPLERS:
            run = one(args.task, steps, args.trials, seed, sampler, args.heldout_seeds, args.work)
            runs.append(run)
            print(f"seed {seed} {sampler}: held-out mean {run['heldout_mean']:.4f} "
                  f"({run['winner']})", file=sys.stderr, flush=True)  # fmt: skip
    paired = [
        next(x for x in runs if x["seed"] == s and x["sampler"] == "tpe")["heldout_mean"]
        - next(x for x in runs if x["seed"] == s and x["sampler"] == "random")["heldout_mean"]
        for s in sorted({x["seed"] for x in runs})
    ]
    report = {
        "command": " ".join(["python", "benchmarks/sampler_choice.py", *(argv or sys.argv[1:])]),
        "task": args.task,
        "steps": steps,
        "trials": args.trials,
        "heldout_seeds": args.heldout_seeds,
        "runs": runs,
        "tpe_minus_random": paired,
        "load_avg": [round(v, 2) for v in os.getloadavg()],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sampler_choice.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"Sampler choice on `{args.task}`: {steps} steps per trial, {args.trials} search "
        f"points, winners judged on held-out seeds {args.heldout_seeds}.",
        "",
        "| tune seed | sampler | search best (1 seed) | winner | confirmed mean "
        "| held-out mean | held-out median |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['seed']} | {run['sampler']} | {run['search_best']:.4f} | `{run['winner']}` "
            f"| {run['confirmed_mean']:.4f} | {run['heldout_mean']:.4f} "
            f"| {run['heldout_median']:.4f} |"
        )
    for sampler in SAMPLERS:
        means = [x["heldout_mean"] for x in runs if x["sampler"] == sampler]
        lines.append(f"\n{sampler}: held-out mean over repetitions {statistics.fmean(means):.4f}")
    lines.append(
        "\nTPE minus random, paired by repetition: "
        + ", ".join(f"{d:+.4f}" for d in paired)
        + f" (mean {statistics.fmean(paired):+.4f})"
    )
    (args.out / "sampler_choice.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
