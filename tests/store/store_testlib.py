"""Helpers of the store tests (imported by conftest.py and the test modules).

The PostgreSQL helpers live in ``tests/pg_testlib.py``, shared with the bench tests.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lrscope

WORKER = Path(__file__).with_name("store_worker.py")


@dataclass(frozen=True)
class Key:
    """A trial key with TrialKey's fields (the store reads them by name)."""

    task: str
    spec: str
    seed: int
    steps: int = 100
    eval_every: int = 50


def result_dict(key: Key, top1: float = 0.5, *, diverged: bool = False) -> dict[str, Any]:
    """A TrialResult.to_dict()-shaped result for ``key`` (no torch needed)."""
    return {
        "task": key.task,
        "spec": key.spec,
        "seed": key.seed,
        "steps": key.steps,
        "eval_every": key.eval_every,
        "top1": top1,
        "top5": min(1.0, top1 + 0.25),
        "best_top1": top1,
        "best_iter": key.steps,
        "ac": 0.75,
        "cd": 0.125,
        "cdac": 0.0625,
        "ld": 0.03125,
        "n_params": 1,
        "wall_s": 0.5,
        "steps_done": key.steps,
        "diverged": diverged,
        "diverged_at": key.steps // 2 if diverged else None,
        "curve": [
            {
                "step": step,
                "lr": 0.1,
                "train_loss": 1.0,
                "test_loss": 1.5,
                "top1": top1,
                "top5": top1,
            }
            for step in range(0, key.steps + 1, key.eval_every)
        ],
    }


def subprocess_env() -> dict[str, str]:
    """The environment of a worker process: it must import this very lrscope."""
    src = str(Path(lrscope.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def worker_command(*args: str) -> list[str]:
    return [sys.executable, str(WORKER), *args]
