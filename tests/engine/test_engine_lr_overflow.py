"""An lr with no representable update is divergence, never a crash, in both engines.

torch's SGD turns ``-lr`` into a scalar of the parameters' dtype, so an lr
above ``finfo(float32).max`` (about 3.4e38) raised "value cannot be converted
to type float without overflow"; the stacked update wrote infinities instead.
Both now stop such a trial as diverged at the step of that lr, its update not
applied, as they do for a non-finite loss. The batched engine's cases are in
``test_batched_trainer.py``, against these unbatched trials.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from lrscope.engine import run_trial
from lrscope.engine.device import lr_ceiling, step_lr
from lrscope.engine.trial import diverges
from lrscope.policies import parse
from lrscope.tasks import Task

MakeTask = Callable[..., Task]
F32_MAX = float(torch.finfo(torch.float32).max)
F64_MAX = float(torch.finfo(torch.float64).max)

# lr 0.05 for six steps, then one far above float32's largest value
JUMP = "piecewise([FIX(k0=0.05), FIX(k0=1e39)], boundaries=[6])"
# grows by x38.9 per step: above float32's largest value from step 26 on
GROWING = "exp_ramp(start_lr=0.01, end_lr=1e60, steps=40)"


def _first_unrepresentable(spec: str, steps: int) -> int:
    policy = parse(spec)
    return next(t for t in range(steps) if policy(t) > F32_MAX)


def test_lr_ceiling_is_the_least_max_of_the_floating_dtypes() -> None:
    f32 = torch.zeros(2)
    f64 = torch.zeros(2, dtype=torch.float64)
    f16 = torch.zeros(2, dtype=torch.float16)
    counts = torch.zeros(2, dtype=torch.long)
    assert lr_ceiling([f32]) == F32_MAX
    assert lr_ceiling([f64]) == F64_MAX
    assert lr_ceiling([f64, f32, counts]) == F32_MAX
    assert lr_ceiling([f32, f16]) == float(torch.finfo(torch.float16).max)
    assert lr_ceiling([counts]) == math.inf
    assert lr_ceiling([]) == math.inf


def test_step_lr_is_the_largest_scalar_an_optimizer_derives_from_its_lr() -> None:
    """SGD steps by lr; Adam-style optimizers by up to ``lr / (1 - beta1)`` (bias correction)."""
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    sgd = torch.optim.SGD([{"params": [a], "lr": 0.5}, {"params": [b], "lr": 2.0}])
    assert step_lr(sgd) == 2.0
    adam = torch.optim.Adam([a], lr=1e-3, betas=(0.9, 0.999))
    assert step_lr(adam) == pytest.approx(1e-2)
    adam.param_groups[0]["betas"] = (0.95, 0.999)  # as a policy cycling momentum sets it
    assert step_lr(adam) == pytest.approx(2e-2)
    sgd.param_groups[1]["lr"] = math.nan
    assert math.isnan(step_lr(sgd))


@pytest.mark.parametrize(
    ("loss", "lr", "expected"),
    [
        (1.0, 0.1, False),
        (1.0, F32_MAX, False),
        (1.0, 1e39, True),
        (1.0, math.inf, True),
        (1.0, math.nan, True),
        (math.nan, 0.1, True),
        (math.inf, 0.1, True),
        (10.5, 0.1, True),  # above 10 x the first loss
        (9.5, 0.1, False),
    ],
)
def test_diverges_covers_the_loss_and_the_lr(loss: float, lr: float, expected: bool) -> None:
    assert diverges(loss, 1.0, lr, F32_MAX) is expected


def _adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-3)


def _sgd(params: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)


def _adamw(params: Any) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=1e-3)


@pytest.mark.parametrize(
    ("optimizer", "spec"),
    [
        (_sgd, "FIX(k0=1e39)"),
        (_adam, "FIX(k0=1e39)"),
        # Adam's first step is 10 x lr (bias correction, beta1 0.9): above float32's max
        (_adam, "FIX(k0=1e38)"),
        (_adamw, "FIX(k0=1e38)"),
    ],
    ids=["sgd", "adam", "adam-bias-corrected", "adamw-bias-corrected"],
)
def test_an_lr_with_no_float32_update_diverges_at_its_first_step(
    make_task: MakeTask, optimizer: Callable[[Any], torch.optim.Optimizer], spec: str
) -> None:
    result = run_trial(make_task(optimizer=optimizer), spec, steps=20, seed=0)
    assert result.diverged
    assert result.diverged_at == 0
    assert result.steps_done == 0
    assert [p.step for p in result.curve] == [0]
    assert math.isfinite(result.curve[-1].test_loss)  # the update was not applied


def test_a_jump_above_float32_max_diverges_at_the_jump(make_task: MakeTask) -> None:
    result = run_trial(make_task(), JUMP, steps=20, seed=0, eval_every=3)
    assert result.diverged_at == 6
    assert result.steps_done == 6
    assert [p.step for p in result.curve] == [3, 6]
    assert all(math.isfinite(p.test_loss) for p in result.curve)


def test_growth_past_float32_max_diverges_no_later_than_the_crossing(
    make_task: MakeTask,
) -> None:
    result = run_trial(make_task(), GROWING, steps=40, seed=0)
    assert result.diverged
    assert result.diverged_at is not None
    assert result.diverged_at <= _first_unrepresentable(GROWING, 40)
