"""A stored regression trial as the ranking reads it (shared by the ranking and table tests)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class RegressionRecord:
    """A regression trial as the ranking sees it: LRBench's columns NaN, its own metrics."""

    spec: str
    seed: int
    metrics: dict[str, float]
    best_iter: int
    task: str = "r"
    steps: int = 100
    eval_every: int = 10
    status: str = "done"
    n_params: int | None = 1
    diverged: bool = False
