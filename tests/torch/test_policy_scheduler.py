"""PolicyScheduler: closed form, momentum targets, errors, state and resume, compile."""

from __future__ import annotations

import io
import math
import warnings
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.lr_scheduler import LRScheduler

from lrscope.errors import LRScopeError, ParameterError, SpecError
from lrscope.policies import parse
from lrscope.torch import PolicyScheduler

TRI_SPEC = "TRI(k0=0.001, k1=0.006, l=4)"
ONECYCLE_SPEC = "onecycle(max_lr=0.1, total_steps=12)"
SGDR_SPEC = "sgdr(max_lr=0.1, period=3, mult=2, min_lr=0.001)"


def _params(n_groups: int = 1) -> list[dict[str, Any]]:
    return [{"params": [torch.nn.Parameter(torch.zeros(2))]} for _ in range(n_groups)]


def _sgd(n_groups: int = 1, **kwargs: Any) -> torch.optim.SGD:
    return torch.optim.SGD(_params(n_groups), lr=0.5, momentum=0.5, **kwargs)


def _step(opt: torch.optim.Optimizer, sched: PolicyScheduler) -> None:
    opt.step()
    sched.step()


def _snapshot(opt: torch.optim.Optimizer) -> list[tuple[float, float | None]]:
    """(lr, momentum-or-beta1) of every group, as plain floats."""
    out: list[tuple[float, float | None]] = []
    for g in opt.param_groups:
        if "betas" in g:
            mom: float | None = float(g["betas"][0])
        elif "momentum" in g:
            mom = float(g["momentum"])
        else:
            mom = None
        out.append((float(g["lr"]), mom))
    return out


# -- the closed form ------------------------------------------------------------


def test_is_an_lr_scheduler_and_first_step_uses_policy_zero() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, TRI_SPEC)
    policy = parse(TRI_SPEC)
    assert isinstance(sched, LRScheduler)
    assert sched.last_epoch == 0
    assert opt.param_groups[0]["lr"] == policy(0)
    assert sched.get_last_lr() == [policy(0)]
    for k in range(1, 20):
        _step(opt, sched)
        assert opt.param_groups[0]["lr"] == policy(k)
        assert sched.get_last_lr() == [policy(k)]
        assert sched.get_lr() == [policy(k)]  # closed form, no side effects
    assert opt.param_groups[0]["momentum"] == 0.5  # TRI schedules no momentum


def test_policy_object_and_spec_string_are_equivalent() -> None:
    opt_a, opt_b = _sgd(), _sgd()
    sched_a = PolicyScheduler(opt_a, parse(SGDR_SPEC))
    sched_b = PolicyScheduler(opt_b, SGDR_SPEC)
    for _ in range(15):
        assert _snapshot(opt_a) == _snapshot(opt_b)
        _step(opt_a, sched_a)
        _step(opt_b, sched_b)
    assert sched_a.state_dict() == sched_b.state_dict()


def test_one_policy_per_group_and_shared_policy() -> None:
    specs = [TRI_SPEC, SGDR_SPEC, "EXP(k0=0.1, gamma=0.9)"]
    opt = _sgd(3)
    sched = PolicyScheduler(opt, specs)
    policies = [parse(s) for s in specs]
    for k in range(10):
        assert [g["lr"] for g in opt.param_groups] == [p(k) for p in policies]
        _step(opt, sched)
    shared_opt = _sgd(3)
    PolicyScheduler(shared_opt, SGDR_SPEC)
    assert [g["lr"] for g in shared_opt.param_groups] == [parse(SGDR_SPEC)(0)] * 3


def test_epoch_argument_jumps_in_closed_form() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, SGDR_SPEC)
    policy = parse(SGDR_SPEC)
    opt.step()
    sched.step(7)
    assert opt.param_groups[0]["lr"] == policy(7)
    sched.step()
    assert opt.param_groups[0]["lr"] == policy(8)
    with pytest.raises(ParameterError, match="epoch"):
        sched.step(-1)


def test_last_epoch_argument_follows_torch_semantics() -> None:
    # as in torch, the constructor's initial step advances last_epoch by one
    opt = _sgd()
    sched = PolicyScheduler(opt, SGDR_SPEC, last_epoch=5)
    assert sched.last_epoch == 6
    assert opt.param_groups[0]["lr"] == parse(SGDR_SPEC)(6)
    with pytest.raises(ParameterError, match="last_epoch"):
        PolicyScheduler(_sgd(), SGDR_SPEC, last_epoch=-2)


def test_stepping_past_the_end_of_onecycle_holds_the_final_value() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, ONECYCLE_SPEC)
    policy = parse(ONECYCLE_SPEC)
    for _ in range(30):
        _step(opt, sched)
    assert sched.last_epoch == 30
    assert opt.param_groups[0]["lr"] == policy(11) == policy(30)
    assert opt.param_groups[0]["momentum"] == policy.momentum(11)


def test_tensor_lr_is_filled_in_place_and_last_lr_is_a_copy() -> None:
    lr = torch.tensor(0.5)
    # a tensor momentum on purpose: torch takes one, its annotation says float
    opt = torch.optim.SGD(_params(), lr=lr, momentum=torch.tensor(0.5))  # type: ignore[arg-type]
    sched = PolicyScheduler(opt, ONECYCLE_SPEC)
    policy = parse(ONECYCLE_SPEC)
    _step(opt, sched)
    assert opt.param_groups[0]["lr"] is lr
    assert lr.item() == pytest.approx(policy(1), rel=1e-6)
    assert float(opt.param_groups[0]["momentum"]) == pytest.approx(policy.momentum(1), rel=1e-6)
    last = sched.get_last_lr()[0]
    assert isinstance(last, torch.Tensor)
    assert last is not lr
    assert last.item() == lr.item()
    beta1, beta2 = torch.tensor(0.5), torch.tensor(0.999)
    adam = torch.optim.Adam(_params(), lr=torch.tensor(0.5), betas=(beta1, beta2))
    adam_sched = PolicyScheduler(adam, ONECYCLE_SPEC)
    _step(adam, adam_sched)
    assert adam.param_groups[0]["betas"][0] is beta1
    assert beta1.item() == pytest.approx(policy.momentum(1), rel=1e-6)
    assert beta2.item() == pytest.approx(0.999)


# -- momentum targets -----------------------------------------------------------


def test_momentum_goes_to_sgd_momentum_and_adam_beta1() -> None:
    policy = parse(ONECYCLE_SPEC)
    sgd = _sgd()
    PolicyScheduler(sgd, ONECYCLE_SPEC)
    assert sgd.param_groups[0]["momentum"] == policy.momentum(0)
    adam = torch.optim.Adam(_params(), lr=0.01, betas=(0.5, 0.777))
    sched = PolicyScheduler(adam, ONECYCLE_SPEC)
    for k in range(1, 5):
        _step(adam, sched)
        assert adam.param_groups[0]["betas"] == (policy.momentum(k), 0.777)
    rms = torch.optim.RMSprop(_params(), lr=0.01)
    PolicyScheduler(rms, ONECYCLE_SPEC)
    assert rms.param_groups[0]["momentum"] == policy.momentum(0)


def test_momentum_policy_needs_momentum_or_betas() -> None:
    opt = torch.optim.Adagrad(_params(), lr=0.01)
    with pytest.raises(ParameterError, match=r"'momentum' or 'betas'.*Adagrad"):
        PolicyScheduler(opt, ONECYCLE_SPEC)
    sched = PolicyScheduler(opt, "onecycle(max_lr=0.1, total_steps=12, cycle_momentum=false)")
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0]


# -- errors ---------------------------------------------------------------------


def test_list_length_must_match_param_groups() -> None:
    with pytest.raises(ParameterError, match=r"exactly 2 policies.*Got 'a list of 3 policies'"):
        PolicyScheduler(_sgd(2), [TRI_SPEC, TRI_SPEC, TRI_SPEC])


@pytest.mark.parametrize("bad", [0.1, None, [TRI_SPEC, 3]])
def test_policy_must_be_a_policy_or_spec(bad: Any) -> None:
    n = len(bad) if isinstance(bad, list) else 1
    with pytest.raises(ParameterError, match="a Policy, a spec string"):
        PolicyScheduler(_sgd(n), bad)


def test_bad_spec_and_bad_optimizer() -> None:
    with pytest.raises(SpecError):
        PolicyScheduler(_sgd(), "NOPE(k0=1)")
    with pytest.raises(LRScopeError, match=r"torch\.optim\.Optimizer"):
        PolicyScheduler(object(), TRI_SPEC)  # type: ignore[arg-type]


def test_adding_a_param_group_later_is_a_clear_error() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, TRI_SPEC)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))]})
    opt.step()
    with pytest.raises(ParameterError, match="1 param groups the scheduler was built with"):
        sched.step()


def test_warns_when_scheduler_steps_before_optimizer() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, TRI_SPEC)
    with pytest.warns(UserWarning, match=r"before optimizer.step\(\)"):
        sched.step()
    opt2 = _sgd()
    sched2 = PolicyScheduler(opt2, TRI_SPEC)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            _step(opt2, sched2)


# -- state ----------------------------------------------------------------------


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded: dict[str, Any] = torch.load(buf, weights_only=True)
    return loaded


def test_state_dict_is_plain_data_loadable_with_weights_only() -> None:
    opt = _sgd(2)
    sched = PolicyScheduler(opt, [ONECYCLE_SPEC, TRI_SPEC])
    for _ in range(5):
        _step(opt, sched)
    state = sched.state_dict()
    assert set(state) == {"specs", "last_epoch", "_step_count", "base_lrs", "_last_lr"}
    assert state["specs"] == [parse(ONECYCLE_SPEC).spec, parse(TRI_SPEC).spec]
    assert state["last_epoch"] == 5
    assert _roundtrip(state) == state


def _sequence(opt: torch.optim.Optimizer, sched: PolicyScheduler, n: int) -> list[Any]:
    seq = []
    for _ in range(n):
        seq.append(_snapshot(opt))
        _step(opt, sched)
    return seq


@pytest.mark.parametrize(
    "specs",
    [
        [ONECYCLE_SPEC],
        ["triangular2(base_lr=0.01, max_lr=0.1, stepsize=3, cycle_momentum=true)", SGDR_SPEC],
    ],
)
@pytest.mark.parametrize("use_from_state_dict", [False, True])
def test_resumed_scheduler_continues_exactly(specs: list[str], use_from_state_dict: bool) -> None:
    k = 9
    straight_opt = _sgd(len(specs))
    straight = _sequence(straight_opt, PolicyScheduler(straight_opt, specs), 2 * k)

    first_opt = _sgd(len(specs))
    first_sched = PolicyScheduler(first_opt, specs)
    first = _sequence(first_opt, first_sched, k)
    saved = _roundtrip(first_sched.state_dict())

    second_opt = _sgd(len(specs))  # fresh optimizer: its lr/momentum are not the saved ones
    if use_from_state_dict:
        second_sched = PolicyScheduler.from_state_dict(second_opt, saved)
    else:
        second_sched = PolicyScheduler(second_opt, specs)
        second_sched.load_state_dict(saved)
    assert second_sched.last_epoch == k
    second = _sequence(second_opt, second_sched, k)
    assert first + second == straight


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(0, 60),
    extra=st.integers(0, 30),
    stepsize=st.integers(1, 9),
    gamma=st.floats(0.8, 1.0),
)
def test_resume_property_exp_range(k: int, extra: int, stepsize: int, gamma: float) -> None:
    spec = (
        f"exp_range(base_lr=0.001, max_lr=0.01, stepsize={stepsize}, gamma={gamma!r}, "
        "cycle_momentum=true)"
    )
    opt = _sgd()
    straight = _sequence(opt, PolicyScheduler(opt, spec), k + extra)
    opt_a = _sgd()
    sched_a = PolicyScheduler(opt_a, spec)
    head = _sequence(opt_a, sched_a, k)
    opt_b = _sgd()
    tail = _sequence(opt_b, PolicyScheduler.from_state_dict(opt_b, sched_a.state_dict()), extra)
    assert head + tail == straight


def test_load_refuses_a_different_spec() -> None:
    opt = _sgd()
    sched = PolicyScheduler(opt, TRI_SPEC)
    state = sched.state_dict()
    other = PolicyScheduler(_sgd(), "TRI(k0=0.001, k1=0.007, l=4)")
    with pytest.raises(ParameterError, match="from_state_dict"):
        other.load_state_dict(state)
    # equal policies written differently are the same policy
    same = PolicyScheduler(_sgd(), "tri(l=4, k1=6e-3, k0=1e-3)")
    same.load_state_dict(state)


def test_load_rejects_incomplete_state() -> None:
    sched = PolicyScheduler(_sgd(), TRI_SPEC)
    state = sched.state_dict()
    del state["last_epoch"]
    with pytest.raises(ParameterError, match="missing"):
        sched.load_state_dict(state)
    with pytest.raises(ParameterError, match="spec strings"):
        PolicyScheduler.from_state_dict(_sgd(), {**sched.state_dict(), "specs": [1]})


# -- torch.compile ----------------------------------------------------------------

# torch's own compile stack still touches torch.jit.script_method; not ours to fix.
_TORCH_JIT_DEPRECATION = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)


def _tiny_regression() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    x = torch.randn(32, 4)
    y = x.sum(dim=1, keepdim=True)
    return model, x, y


@_TORCH_JIT_DEPRECATION
@pytest.mark.parametrize(
    "backend",
    # aot_eager traces with dynamo and AOTAutograd (fast); inductor also generates
    # C++ kernels, which takes 15 s or more on a cold CPU cache.
    ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)],
)
def test_compiled_model_with_eager_optimizer_loop(backend: str) -> None:
    model, x, y = _tiny_regression()
    compiled = torch.compile(model, backend=backend)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = PolicyScheduler(opt, ONECYCLE_SPEC)
    policy = parse(ONECYCLE_SPEC)
    losses = []
    for k in range(8):
        assert opt.param_groups[0]["lr"] == policy(k)
        assert opt.param_groups[0]["momentum"] == policy.momentum(k)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(compiled(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]


@_TORCH_JIT_DEPRECATION
@pytest.mark.slow
def test_compiled_optimizer_step_with_tensor_lr() -> None:
    """Tensor lr/momentum let a compiled optimizer step follow the schedule without recompiling."""
    model, x, y = _tiny_regression()
    compiled = torch.compile(model)
    momentum = torch.tensor(0.9)  # torch takes a tensor momentum; its annotation says float
    opt = torch.optim.SGD(model.parameters(), lr=torch.tensor(0.01), momentum=momentum)  # type: ignore[arg-type]
    sched = PolicyScheduler(opt, ONECYCLE_SPEC)
    policy = parse(ONECYCLE_SPEC)

    @torch.compile
    def opt_step() -> None:
        opt.step()

    losses = []
    for k in range(8):
        assert opt.param_groups[0]["lr"].item() == pytest.approx(policy(k), rel=1e-6)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(compiled(x), y)
        loss.backward()
        if k < 2:
            opt_step()  # compiles twice: without, then with momentum buffers
        else:
            # new lr and momentum values must not trigger a recompilation
            with torch._dynamo.config.patch(error_on_recompile=True):
                opt_step()
        sched.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
