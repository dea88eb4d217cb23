"""The pure policies against PyTorch's schedulers stepped on a dummy SGD optimizer.

Only this test module imports torch; the policies themselves never do.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Literal

import pytest
import torch

from lrscope.policies import Policy, exp_range, onecycle, sgdr, triangular, triangular2

REL = 1e-12


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def torch_schedule(
    make: Callable[[torch.optim.Optimizer], Any], steps: int
) -> tuple[list[float], list[float]]:
    """lr and momentum of param group 0 at steps 0..steps-1 (one ``step()`` per step)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    scheduler = make(optimizer)
    lrs: list[float] = []
    momenta: list[float] = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    return lrs, momenta


def assert_close(ours: Sequence[float | None] | None, theirs: Sequence[float]) -> None:
    assert ours is not None
    assert len(ours) == len(theirs)
    for t, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == pytest.approx(b, rel=REL, abs=0.0), f"step {t}: {a} != {b}"


ONECYCLE_CASES = [
    (anneal, three_phase, total, pct)
    for anneal, three_phase in itertools.product(["cos", "linear"], [False, True])
    for total, pct in [(600, 0.3), (97, 0.25), (7, 0.3), (1, 0.3), (40, 0.45), (50, 0.0)]
]


@pytest.mark.parametrize(("anneal", "three_phase", "total", "pct"), ONECYCLE_CASES)
def test_onecycle_equals_onecyclelr(
    anneal: Literal["cos", "linear"], three_phase: bool, total: int, pct: float
) -> None:
    ours = onecycle(
        max_lr=0.8,
        total_steps=total,
        pct_start=pct,
        anneal=anneal,
        three_phase=three_phase,
        div_factor=20.0,
        final_div_factor=300.0,
        base_momentum=0.8,
        max_momentum=0.97,
    )
    lrs, momenta = torch_schedule(
        lambda opt: torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=0.8,
            total_steps=total,
            pct_start=pct,
            anneal_strategy=anneal,
            three_phase=three_phase,
            div_factor=20.0,
            final_div_factor=300.0,
            base_momentum=0.8,
            max_momentum=0.97,
        ),
        total,
    )
    assert_close(ours.values(total), lrs)
    assert_close(ours.momentum_values(total), momenta)


def test_onecycle_default_arguments_equal_onecyclelr_defaults() -> None:
    ours = onecycle(max_lr=0.1, total_steps=500)
    lrs, momenta = torch_schedule(
        lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=500), 500
    )
    assert_close(ours.values(500), lrs)
    assert_close(ours.momentum_values(500), momenta)


@pytest.mark.parametrize(("period", "mult"), [(10, 1), (7, 2), (3, 3), (1, 10), (50, 1)])
def test_sgdr_equals_cosine_annealing_warm_restarts(period: int, mult: int) -> None:
    steps = 800  # torch's peak is the optimizer's lr, 0.1 = max_lr
    ours = sgdr(max_lr=0.1, period=period, mult=mult, min_lr=0.001)
    lrs, _ = torch_schedule(
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=period, T_mult=mult, eta_min=0.001
        ),
        steps,
    )
    assert_close(ours.values(steps), lrs)


@pytest.mark.parametrize("cycle_momentum", [False, True])
@pytest.mark.parametrize(
    ("factory", "mode", "extra"),
    [
        (triangular, "triangular", {}),
        (triangular2, "triangular2", {}),
        (exp_range, "exp_range", {"gamma": 0.9994}),
    ],
    ids=["triangular", "triangular2", "exp_range"],
)
def test_clr_names_equal_cycliclr(
    factory: Callable[..., Policy],
    mode: Literal["triangular", "triangular2", "exp_range"],
    extra: dict[str, Any],
    cycle_momentum: bool,
) -> None:
    steps = 1200
    ours = factory(
        base_lr=0.001, max_lr=0.006, stepsize=100, cycle_momentum=cycle_momentum, **extra
    )
    lrs, momenta = torch_schedule(
        lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=0.001,
            max_lr=0.006,
            step_size_up=100,
            mode=mode,
            cycle_momentum=cycle_momentum,
            **extra,
        ),
        steps,
    )
    assert_close(ours.values(steps), lrs)
    if cycle_momentum:
        assert_close(ours.momentum_values(steps), momenta)
    else:
        assert ours.momentum_values(steps) is None
        assert set(momenta) == {0.9}  # CyclicLR leaves the optimizer's momentum alone


def test_cycliclr_momentum_bounds_are_parameters() -> None:
    ours = triangular(
        base_lr=0.01,
        max_lr=0.1,
        stepsize=20,
        cycle_momentum=True,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    lrs, momenta = torch_schedule(
        lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=0.01,
            max_lr=0.1,
            step_size_up=20,
            base_momentum=0.85,
            max_momentum=0.95,
        ),
        200,
    )
    assert_close(ours.values(200), lrs)
    assert_close(ours.momentum_values(200), momenta)
