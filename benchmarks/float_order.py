"""How far does a trial's final top-1 move when only the float summation order changes?

    python benchmarks/float_order.py [--from benchmarks/results/suggestions-5-seeds.json]
        [--seeds 100,101,102] [--out DIR] [--name NAME]

writes ``DIR/NAME.json`` and ``DIR/NAME.md`` (default DIR: ``benchmarks/results``,
NAME ``float-order``).

The acceptance tables of ``benchmarks/suggestions.py`` and ``benchmarks/peers.py``
compare medians over 3 to 5 seeds to within 0.005 top-1. This measures the
floor under such comparisons: the same trial (task, policy, seed, steps; the
same initial weights and data order) trained three ways that differ only in
the order in which float32 sums are added up:

- lrscope's engine (:func:`lrscope.engine.run_trial`) at 1 torch thread;
- the same at 2 torch threads (MKL and oneDNN split the reductions);
- the batched engine (:func:`lrscope.batched.run_batched`, one stack, 1 thread),
  whose stacked layers multiply with ``bmm`` where a lone model uses ``mm``.

Nothing else differs; over a short run the three agree to about 1e-6 in the
loss. The trials are those at factor 1 (one-cycle at the found peak, FIX at
``suggested_lr``) of a ``benchmarks/suggestions.py`` result, full budget.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENGINES = ("1 thread", "2 threads", "batched")

__all__ = ["ENGINES", "markdown", "run"]


def _trials(source: dict[str, Any], seeds: Sequence[int]) -> list[dict[str, Any]]:
    """``(task, kind, seed, spec, steps)`` of every factor-1 trial of ``seeds`` in ``source``."""
    rows = []
    for task in source["tasks"]:
        for trial in task["trials"]:
            if trial["factor"] == 1.0 and trial["seed"] in seeds:
                rows.append({"task": task["task"], "kind": trial["kind"], "seed": trial["seed"],
                             "spec": trial["spec"], "steps": task["steps"]})  # fmt: skip
    return rows


def _plain(task: Any, row: dict[str, Any], threads: int) -> float:
    import torch

    from lrscope.engine import run_trial
    from lrscope.policies import parse

    torch.set_num_threads(threads)
    steps = row["steps"]
    result = run_trial(task, parse(row["spec"]), seed=row["seed"], steps=steps, eval_every=steps)
    return float(result.top1)


def _batched(task: Any, rows: list[dict[str, Any]]) -> list[float]:
    import torch

    from lrscope.batched import Member, run_batched
    from lrscope.policies import parse

    torch.set_num_threads(1)  # one stack: the one-thread order of the batched engine
    members = [Member(parse(r["spec"]), seed=r["seed"], steps=r["steps"], eval_every=r["steps"])
               for r in rows]  # fmt: skip
    return [float(result.top1) for result in run_batched(task, members)]


def run(source: dict[str, Any], seeds: Sequence[int]) -> dict[str, Any]:
    """Every factor-1 trial of ``source`` on ``seeds`` under the three engines."""
    from lrscope.tasks import get_task

    rows = _trials(source, seeds)
    for name in dict.fromkeys(r["task"] for r in rows):
        task = get_task(name)
        mine = [r for r in rows if r["task"] == name]
        start = time.perf_counter()
        for r, top1 in zip(mine, _batched(task, mine), strict=True):
            r["batched"] = top1
        for r in mine:
            r["1 thread"] = _plain(task, r, 1)
            r["2 threads"] = _plain(task, r, 2)
            values = [r[e] for e in ENGINES]
            r["range"] = max(values) - min(values)
            measured = ", ".join(f"{e} {r[e]:.3f}" for e in ENGINES)
            print(f"{name} {r['spec']} seed {r['seed']}: {measured}", file=sys.stderr, flush=True)
        print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return {"source": source.get("machine"), "seeds": list(seeds), "trials": rows}


def markdown(results: dict[str, Any]) -> str:
    """The table of every trial and, per task, the median and largest range."""
    rows = results["trials"]
    lines = [
        "The same trial (task, policy, seed: the same initial weights and data order) trained "
        "three ways that differ only in float32 summation order; final test top-1 "
        f"(seeds {', '.join(map(str, results['seeds']))}).",
        "",
        "| task | policy | seed | " + " | ".join(ENGINES) + " | largest - smallest |",
        "|---|---|---|" + "---|" * len(ENGINES) + "---|",
    ]
    for r in rows:
        cells = " | ".join(f"{r[e]:.3f}" for e in ENGINES)
        lines.append(f"| {r['task']} | `{r['spec']}` | {r['seed']} | {cells} | {r['range']:.3f} |")
    lines += ["", "| task | trials | median range | largest range |", "|---|---|---|---|"]
    for name in dict.fromkeys(r["task"] for r in rows):
        ranges = [r["range"] for r in rows if r["task"] == name]
        lines.append(f"| {name} | {len(ranges)} | {statistics.median(ranges):.3f} "
                     f"| {max(ranges):.3f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path,
                        default=HERE / "results" / "suggestions-5-seeds.json")  # fmt: skip
    parser.add_argument("--seeds", default="100,101,102")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--name", default="float-order")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    results = run(json.loads(args.source.read_text()), seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (args.out / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
