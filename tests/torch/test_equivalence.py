"""PolicyScheduler against PyTorch's own schedulers, step for step (rtol 1e-12).

Each test drives two identical optimizers, one by torch's scheduler and one by
a PolicyScheduler with the equivalent lrscope spec, and compares every param
group's ``lr`` and momentum (``momentum`` or ``betas[0]``) before the first
step and after each step, over several cycles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import pytest
import torch
from torch.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    LinearLR,
    LRScheduler,
    OneCycleLR,
    PolynomialLR,
    SequentialLR,
)

from lrscope.policies import parse
from lrscope.torch import PolicyScheduler

RTOL = 1e-12

OptFactory = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]


def _sgd(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=0.05, momentum=0.9)


def _adam(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=0.05, betas=(0.9, 0.99))


def _groups(n_groups: int) -> list[dict[str, Any]]:
    return [{"params": [torch.nn.Parameter(torch.zeros(3))]} for _ in range(n_groups)]


def _values(opt: torch.optim.Optimizer) -> list[tuple[float, float | None]]:
    out: list[tuple[float, float | None]] = []
    for group in opt.param_groups:
        if "betas" in group:
            momentum: float | None = group["betas"][0]
        else:
            momentum = group.get("momentum")
        out.append((group["lr"], momentum))
    return out


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0)


def assert_equivalent(
    make_torch: Callable[[torch.optim.Optimizer], LRScheduler],
    specs: str | list[str],
    steps: int,
    *,
    opt_factory: OptFactory = _sgd,
    n_groups: int = 1,
    compare_momentum: bool = True,
) -> int:
    """Step both schedulers ``steps`` times; return how many values were compared."""
    opt_torch = opt_factory(_groups(n_groups))
    opt_ours = opt_factory(_groups(n_groups))
    sched_torch = make_torch(opt_torch)
    sched_ours = PolicyScheduler(opt_ours, specs)
    compared = 0
    for k in range(steps + 1):
        for g, (theirs, ours) in enumerate(zip(_values(opt_torch), _values(opt_ours), strict=True)):
            assert _close(ours[0], theirs[0]), f"lr of group {g} at t={k}: {ours[0]} != {theirs[0]}"
            if compare_momentum:
                assert _close(ours[1], theirs[1]), (
                    f"momentum of group {g} at t={k}: {ours[1]} != {theirs[1]}"
                )
            compared += 1
        assert sched_ours.get_last_lr() == [v[0] for v in _values(opt_ours)]
        if k < steps:
            opt_torch.step()
            sched_torch.step()
            opt_ours.step()
            sched_ours.step()
    return compared


# -- CyclicLR ---------------------------------------------------------------------

CLR_CASES = [
    ("triangular", "", 1.0),
    ("triangular2", "", 1.0),
    ("exp_range", "gamma=0.97, ", 0.97),
]


@pytest.mark.parametrize(("mode", "extra", "gamma"), CLR_CASES)
@pytest.mark.parametrize("cycle_momentum", [False, True])
@pytest.mark.parametrize("stepsize", [1, 5])
def test_cyclic_lr(
    mode: Literal["triangular", "triangular2", "exp_range"],
    extra: str,
    gamma: float,
    cycle_momentum: bool,
    stepsize: int,
) -> None:
    spec = (
        f"{mode}(base_lr=0.001, max_lr=0.1, stepsize={stepsize}, {extra}"
        f"cycle_momentum={str(cycle_momentum).lower()}, base_momentum=0.8, max_momentum=0.95)"
    )

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        return CyclicLR(
            opt,
            base_lr=0.001,
            max_lr=0.1,
            step_size_up=stepsize,
            mode=mode,
            gamma=gamma,
            cycle_momentum=cycle_momentum,
            base_momentum=0.8,
            max_momentum=0.95,
        )

    steps = 9 * stepsize  # four and a half cycles
    assert assert_equivalent(make, spec, steps) == steps + 1


def test_cyclic_lr_with_adam_betas() -> None:
    spec = "triangular2(base_lr=0.001, max_lr=0.01, stepsize=4, cycle_momentum=true)"

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        return CyclicLR(opt, base_lr=0.001, max_lr=0.01, step_size_up=4, mode="triangular2")

    assert_equivalent(make, spec, 40, opt_factory=_adam)


def test_cyclic_lr_multi_group() -> None:
    specs = [
        "triangular(base_lr=0.001, max_lr=0.1, stepsize=3, cycle_momentum=true)",
        "triangular(base_lr=0.0001, max_lr=0.02, stepsize=3, cycle_momentum=true, "
        "base_momentum=0.7, max_momentum=0.99)",
    ]

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        return CyclicLR(
            opt,
            base_lr=[0.001, 0.0001],
            max_lr=[0.1, 0.02],
            step_size_up=3,
            # one momentum per group: torch takes lists, its annotations say float
            base_momentum=[0.8, 0.7],  # type: ignore[arg-type]
            max_momentum=[0.9, 0.99],  # type: ignore[arg-type]
        )

    assert assert_equivalent(make, specs, 30, n_groups=2) == 2 * 31


# -- OneCycleLR -------------------------------------------------------------------


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("opt_factory", [_sgd, _adam], ids=["sgd-momentum", "adam-betas"])
def test_one_cycle_lr(
    anneal: Literal["cos", "linear"], three_phase: bool, opt_factory: OptFactory
) -> None:
    total_steps = 40
    spec = (
        f"onecycle(max_lr=0.3, total_steps={total_steps}, pct_start=0.35, div_factor=20, "
        f"final_div_factor=1000, anneal={anneal}, three_phase={str(three_phase).lower()}, "
        f"base_momentum=0.8, max_momentum=0.97)"
    )

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        return OneCycleLR(
            opt,
            max_lr=0.3,
            total_steps=total_steps,
            pct_start=0.35,
            div_factor=20.0,
            final_div_factor=1000.0,
            anneal_strategy=anneal,
            three_phase=three_phase,
            base_momentum=0.8,
            max_momentum=0.97,
        )

    # torch's OneCycleLR extrapolates at t = total_steps and raises beyond; lrscope
    # holds the final value there, so the comparison covers t = 0 .. total_steps - 1.
    assert_equivalent(make, spec, total_steps - 1, opt_factory=opt_factory)


def test_one_cycle_lr_defaults_and_without_momentum() -> None:
    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        return OneCycleLR(opt, max_lr=0.1, total_steps=25)

    assert_equivalent(make, "onecycle(max_lr=0.1, total_steps=25)", 24)

    def make_no_momentum(opt: torch.optim.Optimizer) -> LRScheduler:
        return OneCycleLR(opt, max_lr=0.1, total_steps=25, cycle_momentum=False)

    assert_equivalent(
        make_no_momentum, "onecycle(max_lr=0.1, total_steps=25, cycle_momentum=false)", 24
    )


def test_one_cycle_lr_multi_group() -> None:
    specs = [
        "onecycle(max_lr=0.1, total_steps=30)",
        "onecycle(max_lr=0.02, total_steps=30, base_momentum=0.9, max_momentum=0.99)",
    ]

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        return OneCycleLR(
            opt,
            max_lr=[0.1, 0.02],
            total_steps=30,
            base_momentum=[0.85, 0.9],
            max_momentum=[0.95, 0.99],
        )

    assert_equivalent(make, specs, 29, n_groups=2, opt_factory=_adam)


# -- CosineAnnealingWarmRestarts --------------------------------------------------


@pytest.mark.parametrize(("period", "mult", "steps"), [(5, 1, 31), (3, 2, 50), (2, 3, 60)])
@pytest.mark.parametrize("min_lr", [0.0, 0.002])
def test_cosine_annealing_warm_restarts(period: int, mult: int, steps: int, min_lr: float) -> None:
    spec = f"sgdr(max_lr=0.05, period={period}, mult={mult}, min_lr={min_lr!r})"
    policy = parse(spec)
    assert len(policy.cycle_ends(steps)) >= 3  # several restarts are covered

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        # the optimizer's lr (0.05) is the peak, as torch takes it from the groups
        return CosineAnnealingWarmRestarts(opt, T_0=period, T_mult=mult, eta_min=min_lr)

    assert_equivalent(make, spec, steps, compare_momentum=True)


# -- training ---------------------------------------------------------------------


def _train(make: Callable[[torch.optim.Optimizer], LRScheduler], steps: int) -> Any:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    x = torch.randn(64, 5)
    y = (x[:, :1] * 2 - x[:, 1:2]).sin()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = make(opt)
    losses, lrs = [], []
    for k in range(steps):
        batch = slice((8 * k) % 64, (8 * k) % 64 + 8)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(sched.get_last_lr()[0])
    full_loss = torch.nn.functional.mse_loss(model(x), y).item()
    return losses, lrs, full_loss, [p.detach().clone() for p in model.parameters()]


def test_plain_training_loop_matches_torch_one_cycle() -> None:
    steps = 120
    spec = "onecycle(max_lr=0.2, total_steps=120)"
    ours = _train(lambda opt: PolicyScheduler(opt, spec), steps)
    theirs = _train(lambda opt: OneCycleLR(opt, max_lr=0.2, total_steps=steps), steps)
    policy = parse(spec)
    # get_last_lr after step k is the lr of step k + 1
    assert ours[1][:-1] == pytest.approx(policy.values(steps)[1:], rel=RTOL)
    assert ours[1] == pytest.approx([*theirs[1][: steps - 1], policy(steps - 1)], rel=RTOL)
    for p_ours, p_theirs in zip(ours[3], theirs[3], strict=True):
        torch.testing.assert_close(p_ours, p_theirs, rtol=1e-5, atol=1e-6)
    # the run learns: the loss on the whole set falls well below the first batches'
    assert ours[2] < 0.5 * sum(ours[0][:4]) / 4


# -- the warmup schedules, composed from torch's schedulers in SequentialLR -------

# (max_lr, warmup_steps, total_steps, min_lr, warmup_start_lr). torch's LinearLR
# cannot start from 0 (start_factor > 0), so every warmup here starts above it;
# the Hugging Face tests (tests/policies/test_warmup_references.py) cover 0.
WARMUP_CASES = [
    (0.1, 5, 100, 0.0, 0.01),
    (3e-4, 10, 1000, 1e-5, 1e-6),
    (1.0, 7, 50, 0.3, 0.5),
    (2e-3, 100, 2100, 0.0, 2e-4),
]


def _lr_sgd(max_lr: float) -> OptFactory:
    """SGD whose lr is the peak: torch's schedulers scale the optimizer's lr."""

    def make(groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        return torch.optim.SGD(groups, lr=max_lr, momentum=0.9)

    return make


def _warmup(opt: torch.optim.Optimizer, max_lr: float, start: float, steps: int) -> LRScheduler:
    return LinearLR(opt, start_factor=start / max_lr, end_factor=1.0, total_iters=steps)


@pytest.mark.parametrize(("max_lr", "warmup", "total", "min_lr", "start"), WARMUP_CASES)
def test_warmup_cosine_is_linear_then_cosine_annealing(
    max_lr: float, warmup: int, total: int, min_lr: float, start: float
) -> None:
    spec = (
        f"warmup_cosine(max_lr={max_lr!r}, total_steps={total}, warmup_steps={warmup}, "
        f"min_lr={min_lr!r}, warmup_start_lr={start!r})"
    )

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        cosine = CosineAnnealingLR(opt, T_max=total - warmup, eta_min=min_lr)
        return SequentialLR(opt, [_warmup(opt, max_lr, start, warmup), cosine], [warmup])

    # CosineAnnealingLR is periodic and climbs again after T_max; warmup_cosine
    # holds min_lr there (tests/policies/test_warmup_references.py shows both).
    assert_equivalent(make, spec, total, opt_factory=_lr_sgd(max_lr))


@pytest.mark.parametrize(("max_lr", "warmup", "total", "min_lr", "start"), WARMUP_CASES)
def test_linear_decay_is_two_linear_lrs(
    max_lr: float, warmup: int, total: int, min_lr: float, start: float
) -> None:
    spec = (
        f"linear_decay(max_lr={max_lr!r}, total_steps={total}, warmup_steps={warmup}, "
        f"min_lr={min_lr!r}, warmup_start_lr={start!r})"
    )

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        decay = LinearLR(opt, 1.0, end_factor=min_lr / max_lr, total_iters=total - warmup)
        return SequentialLR(opt, [_warmup(opt, max_lr, start, warmup), decay], [warmup])

    assert_equivalent(make, spec, total + 40, opt_factory=_lr_sgd(max_lr))  # past the end too


@pytest.mark.parametrize(("max_lr", "warmup", "total", "_", "start"), WARMUP_CASES)
@pytest.mark.parametrize("power", [0.5, 2.0, 3.0])
def test_poly_decay_is_linear_then_polynomial_lr(
    max_lr: float, warmup: int, total: int, _: float, start: float, power: float
) -> None:
    spec = (
        f"poly_decay(max_lr={max_lr!r}, total_steps={total}, warmup_steps={warmup}, "
        f"warmup_start_lr={start!r}, power={power!r})"
    )

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        decay = PolynomialLR(opt, total_iters=total - warmup, power=power)
        return SequentialLR(opt, [_warmup(opt, max_lr, start, warmup), decay], [warmup])

    assert_equivalent(make, spec, total + 40, opt_factory=_lr_sgd(max_lr))  # torch decays to 0


@pytest.mark.parametrize(("max_lr", "warmup", "total", "min_lr", "start"), WARMUP_CASES)
@pytest.mark.parametrize("decay_shape", ["linear", "cos"])
def test_wsd_is_linear_constant_then_decay(
    max_lr: float, warmup: int, total: int, min_lr: float, start: float, decay_shape: str
) -> None:
    decay_steps = (total - warmup) // 4
    spec = (
        f"wsd(max_lr={max_lr!r}, total_steps={total}, warmup_steps={warmup}, "
        f"decay_steps={decay_steps}, min_lr={min_lr!r}, warmup_start_lr={start!r}, "
        f"decay_shape={decay_shape})"
    )
    stable_end = total - decay_steps

    def make(opt: torch.optim.Optimizer) -> LRScheduler:
        stable = ConstantLR(opt, factor=1.0, total_iters=stable_end - warmup)
        decay: LRScheduler
        if decay_shape == "linear":
            decay = LinearLR(opt, 1.0, end_factor=min_lr / max_lr, total_iters=decay_steps)
        else:
            decay = CosineAnnealingLR(opt, T_max=decay_steps, eta_min=min_lr)
        phases = [_warmup(opt, max_lr, start, warmup), stable, decay]
        return SequentialLR(opt, phases, [warmup, stable_end])

    steps = total + 40 if decay_shape == "linear" else total  # cosine: as above
    assert_equivalent(make, spec, steps, opt_factory=_lr_sgd(max_lr))
