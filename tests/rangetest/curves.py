"""Synthetic range-test curves with known shapes, and results built from them."""

from __future__ import annotations

import numpy as np

from lrscope.rangetest import RangeTestResult

STEPS = 301
LR = np.logspace(-5, 1, STEPS)  # 50 points per decade: x = -5, -4.98, ..., 1
X = np.log10(LR)
HIGH, LOW, CENTER, WIDTH = 2.3, 0.3, -2.0, 0.2


def sigmoid_curve(x: np.ndarray = X) -> np.ndarray:
    """Plateau at 2.3, sigmoid fall centred at lr 1e-2 down to 0.3, quadratic rise after lr 1."""
    fall = LOW + (HIGH - LOW) / (1 + np.exp((x - CENTER) / WIDTH))
    curve: np.ndarray = fall + 2.0 * np.clip(x, 0, None) ** 2
    return curve


def ema(values: np.ndarray, beta: float = 0.98) -> np.ndarray:
    """The range test's debiased exponential average."""
    out, average = [], 0.0
    for i, v in enumerate(values):
        average = beta * average + (1 - beta) * v
        out.append(average / (1 - beta ** (i + 1)))
    return np.asarray(out)


def result_of(
    lr: np.ndarray, loss: np.ndarray, smoothed: np.ndarray | None = None, steps: int | None = None
) -> RangeTestResult:
    """A result holding these curves (no suggestions attached)."""
    sm = ema(loss) if smoothed is None else smoothed
    return RangeTestResult(
        mode="exp",
        start_lr=float(lr[0]) if len(lr) else 1e-5,
        end_lr=float(lr[-1]) if len(lr) else 10.0,
        steps=max(len(lr), 5) if steps is None else steps,
        smooth=0.98,
        diverge_factor=4.0,
        lr=tuple(float(v) for v in lr),
        loss=tuple(float(v) for v in loss),
        smoothed_loss=tuple(float(v) for v in sm),
    )
