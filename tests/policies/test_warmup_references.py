"""The warmup schedules against Hugging Face's, step for step on a real torch optimizer.

Each case builds the Hugging Face scheduler twice (``transformers.get_scheduler``
by name, and the named ``get_*_schedule*`` function) and compares the learning
rate of every optimizer step ``t = 0 .. n`` with the lrscope policy driving a
:class:`~lrscope.torch.PolicyScheduler`, at rtol 1e-12 (the decays are computed
with ``(T - t) / (T - W)`` where Hugging Face's polynomial computes
``1 - (t - W) / (T - W)``; they differ by a few ulps). The comparison runs past
``total_steps`` where Hugging Face holds its final rate; its cosines rise again
there, and the tests pin that difference down (lrscope holds ``min_lr``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import transformers
from torch.optim.lr_scheduler import LRScheduler

from lrscope.policies import Policy, inverse_sqrt, linear_decay, poly_decay, warmup_cosine, wsd
from lrscope.torch import PolicyScheduler

REL = 1e-12
PAST_END = 50

# (max_lr, warmup_steps, total_steps, min_lr)
CASES = [
    (0.1, 0, 100, 0.0),
    (3e-4, 10, 1000, 1e-5),
    (1.0, 7, 50, 0.3),
    (2e-3, 100, 2100, 2e-5),
]


def lrs(make: Callable[[torch.optim.Optimizer], LRScheduler], max_lr: float, n: int) -> list[float]:
    """The lr of the optimizer steps ``t = 0 .. n - 1`` (the optimizer's lr is the peak)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=max_lr)
    scheduler = make(optimizer)
    out: list[float] = []
    for _ in range(n):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def ours(policy: Policy, n: int) -> list[float]:
    max_lr = policy.params["max_lr"]
    assert isinstance(max_lr, float)
    values = lrs(lambda opt: PolicyScheduler(opt, policy), max_lr, n)
    assert values == policy.values(n)  # the scheduler sets the policy's values exactly
    return values


def assert_same(mine: list[float], theirs: list[float]) -> None:
    assert len(mine) == len(theirs)
    for t, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert a == pytest.approx(b, rel=REL, abs=0.0), f"t={t}: lrscope {a!r} != HF {b!r}"


def by_name(
    name: str, warmup: int, total: int | None, **kwargs: Any
) -> Callable[[torch.optim.Optimizer], LRScheduler]:
    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        scheduler: LRScheduler = transformers.get_scheduler(
            name,
            opt,
            num_warmup_steps=warmup,
            num_training_steps=total,
            scheduler_specific_kwargs=kwargs,
        )
        return scheduler

    return make


@pytest.mark.parametrize(("max_lr", "warmup", "total", "min_lr"), CASES)
def test_linear_equals_get_linear_schedule_with_warmup(
    max_lr: float, warmup: int, total: int, min_lr: float
) -> None:
    n = total + 1 + PAST_END
    policy = linear_decay(max_lr=max_lr, total_steps=total, warmup_steps=warmup)
    mine = ours(policy, n)
    assert_same(mine, lrs(by_name("linear", warmup, total), max_lr, n))
    named: Callable[..., LRScheduler] = transformers.get_linear_schedule_with_warmup
    assert_same(mine, lrs(lambda opt: named(opt, warmup, total), max_lr, n))
    assert mine[total:] == [0.0] * (PAST_END + 1)


@pytest.mark.parametrize(("max_lr", "warmup", "total", "min_lr"), CASES)
@pytest.mark.parametrize("power", [1.0, 0.5, 2.0, 3.0])
def test_poly_decay_equals_get_polynomial_decay_schedule_with_warmup(
    max_lr: float, warmup: int, total: int, min_lr: float, power: float
) -> None:
    n = total + 1 + PAST_END
    floor = min_lr or 1e-7  # Hugging Face's default lr_end
    policy = poly_decay(
        max_lr=max_lr, total_steps=total, warmup_steps=warmup, min_lr=floor, power=power
    )
    mine = ours(policy, n)
    make = by_name("polynomial", warmup, total, lr_end=floor, power=power)
    assert_same(mine, lrs(make, max_lr, n))
    named: Callable[..., LRScheduler] = transformers.get_polynomial_decay_schedule_with_warmup
    assert_same(mine, lrs(lambda opt: named(opt, warmup, total, floor, power), max_lr, n))


@pytest.mark.parametrize(("max_lr", "warmup", "total", "min_lr"), CASES)
def test_warmup_cosine_equals_the_cosine_schedules_up_to_total_steps(
    max_lr: float, warmup: int, total: int, min_lr: float
) -> None:
    n = total + 1 + PAST_END
    policy = warmup_cosine(max_lr=max_lr, total_steps=total, warmup_steps=warmup, min_lr=min_lr)
    mine = ours(policy, n)
    if min_lr == 0.0:
        theirs = lrs(by_name("cosine", warmup, total), max_lr, n)
        named = transformers.get_cosine_schedule_with_warmup
        assert_same(theirs, lrs(lambda opt: named(opt, warmup, total), max_lr, n))
    else:
        theirs = lrs(by_name("cosine_with_min_lr", warmup, total, min_lr=min_lr), max_lr, n)
        rate = by_name("cosine_with_min_lr", warmup, total, min_lr_rate=min_lr / max_lr)
        assert_same(theirs, lrs(rate, max_lr, n))
        named = transformers.get_cosine_with_min_lr_schedule_with_warmup
        assert_same(theirs, lrs(lambda opt: named(opt, warmup, total, min_lr=min_lr), max_lr, n))
    assert_same(mine[: total + 1], theirs[: total + 1])
    # Past the end Hugging Face's cosine is periodic and climbs again; lrscope holds min_lr.
    assert mine[total + 1 :] == [min_lr] * PAST_END
    assert theirs[total] < theirs[total + 1] < theirs[total + 2]


@pytest.mark.parametrize(
    ("max_lr", "warmup", "timescale"),
    [(0.1, 4, None), (3e-4, 100, None), (1.0, 7, 30), (2e-3, 0, 50)],
)
def test_inverse_sqrt_equals_get_inverse_sqrt_schedule(
    max_lr: float, warmup: int, timescale: int | None
) -> None:
    n = 20 * (warmup + (timescale or 0)) + 1
    policy = inverse_sqrt(max_lr=max_lr, warmup_steps=warmup, timescale=timescale or 0)
    mine = ours(policy, n)
    kwargs = {} if timescale is None else {"timescale": timescale}
    assert_same(mine, lrs(by_name("inverse_sqrt", warmup, None, **kwargs), max_lr, n))
    named = transformers.get_inverse_sqrt_schedule
    assert_same(mine, lrs(lambda opt: named(opt, warmup, timescale), max_lr, n))


HF_SHAPE = {"linear": "linear", "cos": "cosine", "sqrt": "1-sqrt"}


@pytest.mark.parametrize(("max_lr", "warmup", "total", "min_lr"), CASES)
@pytest.mark.parametrize("warmup_shape", ["linear", "cos", "sqrt"])
@pytest.mark.parametrize("decay_shape", ["linear", "cos", "sqrt"])
def test_wsd_equals_get_wsd_schedule(
    max_lr: float, warmup: int, total: int, min_lr: float, warmup_shape: str, decay_shape: str
) -> None:
    n = total + 1 + PAST_END
    decay = (total - warmup) // 3
    policy = wsd(
        max_lr=max_lr,
        total_steps=total,
        warmup_steps=warmup,
        decay_steps=decay,
        min_lr=min_lr,
        warmup_start_lr=min_lr,  # Hugging Face warms up from min_lr
        warmup_shape=warmup_shape,
        decay_shape=decay_shape,
    )
    mine = ours(policy, n)
    kwargs: dict[str, Any] = {  # Hugging Face's keywords, of several types
        "num_decay_steps": decay,
        "warmup_type": HF_SHAPE[warmup_shape],
        "decay_type": HF_SHAPE[decay_shape],
        "min_lr_ratio": min_lr / max_lr,
    }
    assert_same(mine, lrs(by_name("warmup_stable_decay", warmup, total, **kwargs), max_lr, n))
    stable = total - warmup - decay  # the other way to give the length: the stable phase
    named = transformers.get_wsd_schedule
    assert_same(
        mine, lrs(lambda opt: named(opt, warmup, num_stable_steps=stable, **kwargs), max_lr, n)
    )
    assert mine[total:] == [min_lr] * (PAST_END + 1)
