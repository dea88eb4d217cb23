"""The baseline: the training loop a typical PyTorch user writes, with torch's own schedulers.

For each of the 16 policies of :data:`PLAN` (an lrscope spec and the torch
scheduler with the same learning rate, and momentum where the policy cycles
it), one trial: ``torch.manual_seed(seed)``, the task's model, ``SGD(lr, momentum=0.9,
weight_decay=5e-4)`` (the task's optimizer), a ``DataLoader`` over the
``TensorDataset`` with ``shuffle=True``, ``scheduler.step()`` after every
``optimizer.step()``, and one evaluation of the test set at the end. Torch
runs with its default number of threads unless ``threads`` is given.

What differs from lrscope's trials with the same seed is the data order
(``DataLoader`` shuffling draws from torch's global generator); the initial
weights are the same. So accuracies agree statistically, not sample by sample.

    python benchmarks/plain_loop.py [--steps 1000] [--threads N]

``run(...) -> dict`` is the importable entry point (used by ``benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import SGD
from torch.optim import lr_scheduler as sch
from torch.utils.data import DataLoader

__all__ = ["PLAN", "PlainPolicy", "plan_specs", "run", "test_top1", "train_one", "train_recipe"]

SchedulerFactory = Callable[[SGD, int], sch.LRScheduler]


@dataclass(frozen=True)
class PlainPolicy:
    """An lrscope spec (``{steps}`` filled in) and the torch scheduler a user would write."""

    spec: str
    base_lr: float
    scheduler: SchedulerFactory


def _lambda(formula: Callable[[int], float], base_lr: float) -> SchedulerFactory:
    return lambda opt, steps: sch.LambdaLR(opt, lambda t: formula(t) / base_lr)


def _cyclic(mode: str, **kw: Any) -> SchedulerFactory:
    return lambda opt, steps: sch.CyclicLR(
        opt, base_lr=0.01, max_lr=0.1, step_size_up=steps // 8, mode=mode, **kw
    )


# Sixteen policies for mnist1d-cnn (SGD, momentum 0.9); l and milestones scale with steps.
PLAN: tuple[PlainPolicy, ...] = (
    PlainPolicy("FIX(k0=0.05)", 0.05, _lambda(lambda t: 0.05, 0.05)),
    PlainPolicy("FIX(k0=0.1)", 0.1, _lambda(lambda t: 0.1, 0.1)),
    PlainPolicy(
        "STEP(k0=0.1, gamma=0.5, l={q})",
        0.1,
        lambda opt, steps: sch.StepLR(opt, step_size=steps // 4, gamma=0.5),
    ),
    PlainPolicy(
        "NSTEP(k0=0.1, gamma=0.1, milestones=[{h}, {tq}])",
        0.1,
        lambda opt, steps: sch.MultiStepLR(opt, [steps // 2, 3 * steps // 4], gamma=0.1),
    ),
    PlainPolicy(
        "EXP(k0=0.1, gamma={g})",
        0.1,
        lambda opt, steps: sch.ExponentialLR(opt, gamma=_exp_gamma(steps)),
    ),
    PlainPolicy(
        "INV(k0=0.1, gamma=0.001, p=0.75)",
        0.1,
        _lambda(lambda t: 0.1 * (1 + 0.001 * t) ** -0.75, 0.1),
    ),
    PlainPolicy(
        "POLY(k0=0.1, p=1.2, l={steps})",
        0.1,
        lambda opt, steps: sch.PolynomialLR(opt, total_iters=steps, power=1.2),
    ),
    PlainPolicy(
        "COS(k0=0.005, k1=0.1, l={steps})",
        0.1,
        lambda opt, steps: sch.CosineAnnealingLR(opt, T_max=steps, eta_min=0.005),
    ),
    PlainPolicy("TRI(k0=0.01, k1=0.1, l={e})", 0.1, _cyclic("triangular", cycle_momentum=False)),
    PlainPolicy("TRI2(k0=0.01, k1=0.1, l={e})", 0.1, _cyclic("triangular2", cycle_momentum=False)),
    PlainPolicy(
        "exp_range(base_lr=0.01, max_lr=0.1, stepsize={e}, gamma=0.999)",
        0.1,
        _cyclic("exp_range", gamma=0.999, cycle_momentum=False),
    ),
    PlainPolicy(
        "triangular(base_lr=0.01, max_lr=0.1, stepsize={e}, cycle_momentum=true)",
        0.1,
        _cyclic("triangular", cycle_momentum=True, base_momentum=0.8, max_momentum=0.9),
    ),
    PlainPolicy(
        "SIN(k0=0.01, k1=0.1, l={e})",
        0.1,
        lambda opt, steps: sch.LambdaLR(
            opt, lambda t: (0.01 + 0.09 * abs(math.sin(math.pi * t / (2 * (steps // 8))))) / 0.1
        ),
    ),
    PlainPolicy(
        "onecycle(max_lr=0.2, total_steps={steps})",
        0.2,
        lambda opt, steps: sch.OneCycleLR(opt, max_lr=0.2, total_steps=steps),
    ),
    PlainPolicy(
        "onecycle(max_lr=0.1, total_steps={steps}, anneal=linear)",
        0.1,
        lambda opt, steps: sch.OneCycleLR(
            opt, max_lr=0.1, total_steps=steps, anneal_strategy="linear"
        ),
    ),
    PlainPolicy(
        "sgdr(max_lr=0.1, period={q})",
        0.1,
        lambda opt, steps: sch.CosineAnnealingWarmRestarts(opt, T_0=steps // 4),
    ),
)


def _exp_gamma(steps: int) -> float:
    """EXP's gamma: the lr falls 100-fold over the run (rounded to 6 digits)."""
    return round(0.01 ** (1 / steps), 6)


def plan_specs(steps: int) -> list[str]:
    """The 16 lrscope specs of :data:`PLAN` for a run of ``steps`` steps."""
    fill = {
        "steps": steps,
        "q": steps // 4,
        "h": steps // 2,
        "tq": 3 * steps // 4,
        "e": steps // 8,
        "g": _exp_gamma(steps),
    }
    return [p.spec.format(**fill) for p in PLAN]


def train_one(task: Any, policy: PlainPolicy, steps: int, seed: int = 0) -> float:
    """One plain trial; the final test top-1 accuracy (fraction)."""
    torch.manual_seed(seed)
    model = task.model()
    optimizer = SGD(model.parameters(), lr=policy.base_lr, momentum=0.9, weight_decay=5e-4)
    scheduler = policy.scheduler(optimizer, steps)
    loader = DataLoader(task.train_data, batch_size=task.batch_size, shuffle=True)
    model.train()
    done = 0
    while done < steps:
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            done += 1
            if done == steps:
                break
    return test_top1(model, task)


def test_top1(model: torch.nn.Module, task: Any) -> float:
    """Final test top-1 of ``model`` on the task's test set (a non-finite row counts as wrong)."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in DataLoader(task.test_data, batch_size=1000):
            logits = model(x)
            finite = torch.isfinite(logits).all(dim=1)
            correct += int(((logits.argmax(1) == y) & finite).sum())
            total += len(y)
    return correct / total


OptimizerFactory = Callable[[torch.nn.Module], torch.optim.Optimizer]
RecipeScheduler = Callable[[torch.optim.Optimizer, int], Any]


def train_recipe(
    task: Any,
    make_optimizer: OptimizerFactory,
    make_scheduler: RecipeScheduler | None,
    steps: int,
    seed: int,
) -> float:
    """One trial of any recipe in the loop a PyTorch user writes; the final test top-1.

    ``torch.manual_seed(seed)`` before the model is built; a ``DataLoader``
    shuffled by a generator seeded with ``seed``; ``make_optimizer(model)``
    and ``make_scheduler(optimizer, steps)`` (None: no scheduler), stepped
    after every optimizer step; cross-entropy; one evaluation at the end.
    Optimizers with ``train()`` and ``eval()`` (schedule-free ones) are put in
    the matching mode around training and evaluation.
    """
    torch.manual_seed(seed)
    model = task.model()
    optimizer = make_optimizer(model)
    scheduler = None if make_scheduler is None else make_scheduler(optimizer, steps)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(task.train_data, batch_size=task.batch_size, shuffle=True,
                        generator=generator)  # fmt: skip
    modes = hasattr(optimizer, "train") and hasattr(optimizer, "eval")
    model.train()
    if modes:
        optimizer.train()
    done = 0
    while done < steps:
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            done += 1
            if done == steps:
                break
    if modes:
        optimizer.eval()
    return test_top1(model, task)


def run(
    task_name: str = "mnist1d-cnn",
    steps: int = 1000,
    seed: int = 0,
    threads: int | None = None,
    policies: Sequence[PlainPolicy] = PLAN,
) -> dict[str, Any]:
    """Train every policy once; wall time (task build excluded), trials per hour, top-1s."""
    from lrscope.tasks import get_task

    task = get_task(task_name)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        used = torch.get_num_threads()
        start = time.perf_counter()
        top1 = [train_one(task, p, steps, seed) for p in policies]
        wall_s = time.perf_counter() - start
    finally:
        torch.set_num_threads(before)
    return {
        "task": task_name,
        "steps": steps,
        "threads": used,
        "trials": len(top1),
        "wall_s": wall_s,
        "trials_per_hour": 3600.0 * len(top1) / wall_s,
        "top1": top1,
        "specs": plan_specs(steps)[: len(top1)],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--task", default="mnist1d-cnn")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    report = run(args.task, args.steps, args.seed, args.threads)
    report["load_avg"] = os.getloadavg()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
