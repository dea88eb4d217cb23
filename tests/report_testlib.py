"""Synthetic results written through the real Store API, for the report tests.

Trials are ``TrialResult.to_dict()``-shaped dicts (what ``finish_trial``
takes) with plausible learning curves; range tests are real
:class:`~lrscope.rangetest.result.RangeTestResult` objects with suggestions
from the real :func:`lrscope.rangetest.suggest.suggest`; interpolations are
``InterpolationResult.to_dict()`` documents. Nothing here trains a model.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from lrscope.engine.result import TrialKey
from lrscope.store import Store

SPECS = (
    "onecycle(max_lr=0.5, total_steps=2000)",
    "TRI2(k0=0.001, k1=0.06, l=250)",
    "COS(k0=0.001, k1=0.1, l=500)",
    "STEP(k0=0.1, gamma=0.5, l=500)",
    "FIX(k0=0.01)",
    "EXP(k0=0.1, gamma=0.999)",
    "SIN2(k0=0.001, k1=0.05, l=200)",
    "POLY(k0=0.1, p=1.2, l=2000)",
    "FIX(k0=0.001)",
    "INV(k0=0.1, gamma=0.001, p=0.75)",
)

METADATA = {
    "dataset": "mnist1d",
    "model_family": "cnn",
    "input_shape": [40],
    "train_size": 4000,
    "num_classes": 10,
    "extra": {},
}


def trial_dict(
    task: str,
    spec: str,
    seed: int,
    *,
    quality: float,
    steps: int = 2000,
    eval_every: int = 100,
    diverged: bool = False,
    rng: random.Random,
) -> dict[str, Any]:
    """A finished trial: top-1 rises towards ``quality`` with seed noise."""
    tau = 300 + 400 * (1 - quality)
    last = steps // 2 if diverged else steps
    curve = []
    for step in range(eval_every, last + 1, eval_every):
        top1 = 0.1 + (quality - 0.1) * (1 - math.exp(-step / tau)) + rng.gauss(0, 0.006)
        loss = 2.3 * math.exp(-step / tau) + 0.2
        curve.append(
            {
                "step": step,
                "lr": 0.01,
                "train_loss": loss,
                "test_loss": loss + 0.05,
                "top1": top1,
                "top5": min(1.0, top1 + 0.08),
            }
        )
    best = max(curve, key=lambda p: p["top1"])
    final = curve[-1]
    return {
        "task": task,
        "spec": spec,
        "seed": seed,
        "steps": steps,
        "eval_every": eval_every,
        "top1": final["top1"],
        "top5": final["top5"],
        "best_top1": best["top1"],
        "best_iter": best["step"],
        "ac": 0.55 + 0.4 * quality,
        "cd": 0.2 - 0.1 * quality,
        "cdac": 0.05 + 0.01 * seed,
        "ld": 0.05 + 0.02 * seed,
        "n_params": 3,
        "wall_s": 1.5 + 0.1 * seed,
        "steps_done": last,
        "diverged": diverged,
        "diverged_at": last if diverged else None,
        "curve": curve,
    }


def add_trials(
    store: Store,
    task: str,
    specs: Sequence[str] = SPECS,
    *,
    seeds: int = 3,
    steps: int = 2000,
    eval_every: int = 100,
    seed: int = 0,
    diverge: Sequence[tuple[str, int]] = (),
) -> int:
    """Store ``len(specs) * seeds`` finished trials of ``task``; returns how many."""
    rng = random.Random(seed)
    store.put_task(task, METADATA)
    count = 0
    for i, spec in enumerate(specs):
        quality = 0.92 - 0.5 * i / max(1, len(specs))
        for s in range(seeds):
            trial_id = store.start_trial(TrialKey(task, spec, s, steps, eval_every))
            assert trial_id is not None
            data = trial_dict(
                task,
                spec,
                s,
                quality=quality,
                steps=steps,
                eval_every=eval_every,
                diverged=(spec, s) in diverge,
                rng=rng,
            )
            store.finish_trial(trial_id, data)
            count += 1
    return count


def range_test_result(task: str, *, steps: int = 300, seed: int = 0) -> Any:
    """A plausible exponential range test, with the real suggestions."""
    from lrscope.rangetest.result import RangeEvalPoint, RangeTestResult
    from lrscope.rangetest.suggest import suggest

    rng = random.Random(seed)
    start, end = 1e-5, 10.0
    lrs = [start * (end / start) ** (i / (steps - 1)) for i in range(steps)]
    losses, smoothed, average = [], [], 0.0
    for i, lr in enumerate(lrs):
        x = math.log10(lr)
        base = 2.3 - 1.6 / (1 + math.exp(-(x + 2.5) * 3)) + max(0.0, x + 0.7) ** 2 * 8
        loss = base + rng.gauss(0, 0.08)
        losses.append(loss)
        average = 0.98 * average + 0.02 * loss
        smoothed.append(average / (1 - 0.98 ** (i + 1)))
    evals = tuple(
        RangeEvalPoint(
            step=i,
            lr=lrs[i],
            test_loss=smoothed[i],
            top1=max(0.1, min(0.9, 0.1 + 0.8 / (1 + math.exp(-(math.log10(lrs[i]) + 3) * 2.5))))
            if math.log10(lrs[i]) < -0.7
            else 0.1,
        )
        for i in range(0, steps, 20)
    )
    result = RangeTestResult(
        mode="exp",
        start_lr=start,
        end_lr=end,
        steps=steps,
        smooth=0.98,
        diverge_factor=4.0,
        lr=tuple(lrs),
        loss=tuple(losses),
        smoothed_loss=tuple(smoothed),
        task=task,
        seed=seed,
        eval_every=20,
        eval_samples=512,
        evals=evals,
    )
    from dataclasses import replace

    return replace(result, suggestions=suggest(result))


def interpolation_dict(task: str, label: str, points: int = 29) -> dict[str, Any]:
    """An ``InterpolationResult.to_dict()`` with a barrier between two minima."""

    def point(alpha: float) -> dict[str, float]:
        bump = 1.5 * (alpha * (1 - alpha)) ** 1 if 0 <= alpha <= 1 else 0.0
        wall = 3 * (min(alpha, 0) ** 2 + max(alpha - 1, 0) ** 2)
        train = 0.25 + bump + wall
        return {
            "alpha": alpha,
            "train_loss": train,
            "train_top1": max(0.1, 0.95 - 0.8 * bump - wall),
            "test_loss": train + 0.1,
            "top1": max(0.1, 0.9 - 0.8 * bump - wall),
            "top5": 0.99,
        }

    alphas = [-0.2 + 1.4 * i / (points - 1) for i in range(points)]
    return {
        "task": task,
        "source_a": "runs/a/step_000500.pt",
        "source_b": "runs/a/step_001000.pt",
        "label": label,
        "recompute_bn": False,
        "train_samples": 2048,
        "end_a": point(0.0),
        "end_b": point(1.0),
        "points": [point(a) for a in alphas],
    }


def realistic_store(url: str, task: str = "mnist1d-cnn") -> Store:
    """A store with one task that has everything the report can show."""
    store = Store.open(url)
    add_trials(store, task, diverge=[(SPECS[6], 1)])
    store.put_range_test(task, range_test_result(task).to_dict())
    store.put_interpolation(task, interpolation_dict(task, "cycle 2 to cycle 4 of TRI2"))
    return store
