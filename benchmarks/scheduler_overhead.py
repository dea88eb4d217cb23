"""Time one ``scheduler.step()`` of lrscope's PolicyScheduler against torch's own.

Only the scheduler's overhead is measured: an SGD optimizer with a few param
groups (one tiny tensor each, momentum on) is stepped by each scheduler with no
forward or backward pass. Each pair has the same semantics (learning rate and
momentum, per group):

* ``CyclicLR(mode="triangular", cycle_momentum=True)`` vs
  ``triangular(..., cycle_momentum=true)``;
* ``CyclicLR(mode="exp_range")`` vs ``exp_range(...)``;
* ``OneCycleLR`` vs ``onecycle(...)``.

The time per step is the best of ``rounds x repeat`` timeit runs of ``number``
steps each (microseconds; the two schedulers of a pair alternate round by
round); the ratio is lrscope / torch (goal: <= 1.0). By default the timer is
this process's CPU time, which other processes on a shared machine disturb
less than wall time (``--timer wall`` for the latter).

Usage::

    python benchmarks/scheduler_overhead.py [--groups 1 4] [--number 2000]
        [--repeat 5] [--rounds 3] [--timer cpu|wall] [--out results.json]

or, from Python, ``run(groups=(1, 4), number=2000, repeat=5, rounds=3) -> dict``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.optim.lr_scheduler import CyclicLR, LRScheduler, OneCycleLR

from lrscope.torch import PolicyScheduler

SchedulerFactory = Callable[[torch.optim.Optimizer], LRScheduler]


@dataclass(frozen=True)
class Pair:
    """A torch scheduler and the lrscope spec with the same semantics."""

    name: str
    torch_factory: SchedulerFactory
    spec: str


@dataclass(frozen=True)
class Timing:
    """Best time per ``step()`` in microseconds for one pair and group count."""

    name: str
    n_groups: int
    torch_us: float
    lrscope_us: float
    ratio: float


def _pairs(total_steps: int) -> list[Pair]:
    """The compared pairs; ``total_steps`` bounds OneCycleLR (it raises beyond it)."""
    return [
        Pair(
            "CyclicLR triangular + momentum",
            lambda opt: CyclicLR(opt, base_lr=1e-3, max_lr=0.1, step_size_up=2000),
            "triangular(base_lr=0.001, max_lr=0.1, stepsize=2000, cycle_momentum=true)",
        ),
        Pair(
            "CyclicLR exp_range, no momentum",
            lambda opt: CyclicLR(
                opt,
                base_lr=1e-3,
                max_lr=0.1,
                step_size_up=2000,
                mode="exp_range",
                gamma=0.9999,
                cycle_momentum=False,
            ),
            "exp_range(base_lr=0.001, max_lr=0.1, stepsize=2000, gamma=0.9999)",
        ),
        Pair(
            "OneCycleLR cos + momentum",
            lambda opt: OneCycleLR(opt, max_lr=0.1, total_steps=total_steps),
            f"onecycle(max_lr=0.1, total_steps={total_steps})",
        ),
    ]


def _optimizer(n_groups: int) -> torch.optim.Optimizer:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(4))]} for _ in range(n_groups)]
    return torch.optim.SGD(groups, lr=0.01, momentum=0.9)


TIMERS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def _time_step(
    factory: SchedulerFactory, n_groups: int, number: int, repeat: int, timer: str
) -> float:
    """Best seconds per ``step()`` over ``repeat`` runs of ``number`` steps."""
    opt = _optimizer(n_groups)
    sched = factory(opt)
    opt.step()  # no gradients: a no-op that satisfies the step-order check
    sched.step()
    runs = timeit.Timer(sched.step, timer=TIMERS[timer]).repeat(repeat=repeat, number=number)
    return min(runs) / number


def run(
    groups: Sequence[int] = (1, 4),
    number: int = 2000,
    repeat: int = 5,
    rounds: int = 3,
    timer: str = "cpu",
) -> dict[str, Any]:
    """Time every pair for every group count; return a JSON-ready dict.

    The two schedulers of a pair are measured in alternation, ``rounds`` times
    each (a fresh optimizer and scheduler every time), so that drifting machine
    load hits both alike; the best time of all is kept. ``timer="cpu"`` counts
    this process's CPU time (robust on a shared machine), ``"wall"`` wall time.
    """
    if timer not in TIMERS:
        raise ValueError(f"timer must be one of {sorted(TIMERS)}, got {timer!r}")
    total_steps = number * repeat + 10  # every measurement uses a fresh scheduler
    timings: list[Timing] = []
    for n_groups in groups:
        for pair in _pairs(total_steps):

            def ours(opt: torch.optim.Optimizer, spec: str = pair.spec) -> LRScheduler:
                return PolicyScheduler(opt, spec)

            torch_s = ours_s = float("inf")
            for _ in range(rounds):
                torch_s = min(
                    torch_s, _time_step(pair.torch_factory, n_groups, number, repeat, timer)
                )
                ours_s = min(ours_s, _time_step(ours, n_groups, number, repeat, timer))
            timings.append(
                Timing(pair.name, n_groups, torch_s * 1e6, ours_s * 1e6, ours_s / torch_s)
            )
    return {
        "benchmark": "scheduler_overhead",
        "unit": "microseconds per step()",
        "timer": timer,
        "number": number,
        "repeat": repeat,
        "rounds": rounds,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": [asdict(t) for t in timings],
        "max_ratio": max(t.ratio for t in timings),
    }


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of ``run``'s result."""
    lines = [
        f"{'scheduler':34} {'groups':>6} {'torch us':>9} {'lrscope us':>11} {'ratio':>6}",
    ]
    for row in result["results"]:
        lines.append(
            f"{row['name']:34} {row['n_groups']:>6} {row['torch_us']:>9.2f} "
            f"{row['lrscope_us']:>11.2f} {row['ratio']:>6.2f}"
        )
    lines.append(f"max ratio (lrscope / torch, goal <= 1.0): {result['max_ratio']:.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--number", type=int, default=2000, help="steps per timeit run")
    parser.add_argument("--repeat", type=int, default=5, help="timeit runs per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per pair")
    parser.add_argument("--timer", choices=sorted(TIMERS), default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = run(
        groups=args.groups,
        number=args.number,
        repeat=args.repeat,
        rounds=args.rounds,
        timer=args.timer,
    )
    print(format_table(result))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
