"""Running range tests: recorded curves, divergence, evaluation, exact state restoration."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from lrscope.errors import ParameterError
from lrscope.policies import exp_ramp, linear_ramp
from lrscope.rangetest import RangeTestResult, default_steps, lr_range_test, range_test, suggest
from lrscope.rangetest.reading import default_half_width

from .hostile import blobs_range_test
from .tiny import blobs, bn_model, make_task


# --- a caller's model, optimizer and loader, with some history ----------------
def _setup(optimizer_name: str) -> tuple[nn.Module, torch.optim.Optimizer, DataLoader[Any]]:
    torch.manual_seed(0)
    model = bn_model()
    if optimizer_name == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4
        )
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train, _ = blobs()
    loader = DataLoader(train, batch_size=16, shuffle=True)
    # a few real steps so that the optimizer has state (momentum buffers, Adam moments)
    for x, y in list(loader)[:3]:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()  # a mode the range test must not leave changed
    return model, optimizer, loader


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {
        "params": {k: v.detach().clone() for k, v in model.named_parameters()},
        "buffers": {k: v.detach().clone() for k, v in model.named_buffers()},
        "grads": {
            k: None if v.grad is None else v.grad.clone() for k, v in model.named_parameters()
        },
        "modes": [m.training for m in model.modules()],
        "state": {
            i: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
            for i, s in enumerate(optimizer.state[p] for p in model.parameters())
        },
        "groups": [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups],
        "torch_rng": torch.get_rng_state(),
        "python_next": random.getstate(),
        "numpy_next": np.random.get_state(legacy=False)["state"]["key"].copy(),
    }


def _assert_same(
    before: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    after = _snapshot(model, optimizer)
    assert before["params"].keys() == after["params"].keys()
    for name, value in before["params"].items():
        assert torch.equal(value, after["params"][name]), name
    assert before["buffers"].keys() == after["buffers"].keys()
    assert any("running_mean" in k for k in before["buffers"])  # BatchNorm buffers are checked
    for name, value in before["buffers"].items():
        assert torch.equal(value, after["buffers"][name]), name
    for name, grad in before["grads"].items():
        other = after["grads"][name]
        assert (grad is None and other is None) or torch.equal(grad, other), name
    assert before["modes"] == after["modes"]
    assert before["state"].keys() == after["state"].keys()
    for i, state in before["state"].items():
        assert state.keys() == after["state"][i].keys()
        assert state, "the optimizer had state to restore"
        for key, value in state.items():
            other = after["state"][i][key]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other
    assert before["groups"] == after["groups"]
    assert torch.equal(before["torch_rng"], after["torch_rng"])
    assert before["python_next"] == after["python_next"]
    assert np.array_equal(before["numpy_next"], after["numpy_next"])


class _Boom(Exception):
    pass


def _interrupt_at(
    step: int,
    error: BaseException,
    seen: list[bool],
    model: nn.Module,
    start: dict[str, torch.Tensor],
) -> Callable[[int, int], None]:
    def on_progress(done: int, total: int) -> None:
        # the test really changed the weights before it was interrupted
        seen.append(any(not torch.equal(p, start[n]) for n, p in model.named_parameters()))
        if done == step:
            raise error

    return on_progress


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_completed_test_restores_everything(optimizer_name: str) -> None:
    model, optimizer, loader = _setup(optimizer_name)
    before = _snapshot(model, optimizer)
    result = lr_range_test(
        model, optimizer, nn.functional.cross_entropy, loader, start_lr=1e-4, end_lr=1e-1, steps=40
    )
    assert result.steps_done == 40
    assert not result.diverged
    _assert_same(before, model, optimizer)


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_diverged_test_restores_everything(optimizer_name: str) -> None:
    model, optimizer, loader = _setup(optimizer_name)
    before = _snapshot(model, optimizer)
    result = lr_range_test(
        model, optimizer, nn.functional.cross_entropy, loader, start_lr=1e-3, end_lr=1e8, steps=100
    )
    assert result.diverged
    assert result.diverged_at is not None
    assert result.steps_done == result.diverged_at + 1 < 100
    _assert_same(before, model, optimizer)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), _Boom("stop")])
def test_interrupted_test_restores_everything_and_reraises(error: BaseException) -> None:
    model, optimizer, loader = _setup("sgd")
    before = _snapshot(model, optimizer)
    seen: list[bool] = []
    callback = _interrupt_at(7, error, seen, model, before["params"])
    with pytest.raises(type(error)):
        lr_range_test(
            model,
            optimizer,
            nn.functional.cross_entropy,
            loader,
            start_lr=1e-3,
            end_lr=1.0,
            steps=50,
            on_progress=callback,
        )
    assert len(seen) == 7
    assert all(seen)
    _assert_same(before, model, optimizer)


def test_error_from_the_loss_restores_everything() -> None:
    model, optimizer, loader = _setup("sgd")
    before = _snapshot(model, optimizer)
    calls = [0]

    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(logits, target)

    with pytest.raises(KeyboardInterrupt):
        lr_range_test(model, optimizer, loss_fn, loader, steps=20)
    _assert_same(before, model, optimizer)


# --- what is recorded ---------------------------------------------------------
def test_task_range_test_records_ramp_loss_and_debiased_average() -> None:
    task = make_task()
    result = range_test(task, start_lr=1e-4, end_lr=1.0, steps=60, seed=3, smooth=0.9)
    assert result.task == "tiny-blobs-bn"
    assert result.seed == 3
    assert list(result.lr) == pytest.approx(
        exp_ramp(start_lr=1e-4, end_lr=1.0, steps=60).values(60)
    )
    average = 0.0
    for i, (loss, smoothed) in enumerate(zip(result.loss, result.smoothed_loss, strict=True)):
        average = 0.9 * average + 0.1 * loss
        assert smoothed == pytest.approx(average / (1 - 0.9 ** (i + 1)))
    assert result.smoothed_loss[0] == result.loss[0]
    assert result.suggestions == suggest(result)
    assert min(result.loss) < result.loss[0]  # the tiny task learns over this range


def test_linear_mode_follows_the_linear_ramp() -> None:
    result = range_test(make_task(), mode="linear", start_lr=1e-3, end_lr=0.5, steps=30)
    expected = linear_ramp(start_lr=1e-3, end_lr=0.5, steps=30).values(30)
    assert list(result.lr) == pytest.approx(expected)
    assert result.mode == "linear"


def _diverging(result: RangeTestResult, i: int) -> bool:
    """The stopping rule: a non-finite loss, or the smoothed loss and the median of the
    last 2w + 1 batch losses both above 4x the smallest smoothed loss before step i."""
    if not math.isfinite(result.loss[i]):
        return True
    limit = 4.0 * min(result.smoothed_loss[:i])
    window = 2 * default_half_width(result.steps) + 1
    recent = result.loss[max(0, i + 1 - window) : i + 1]
    sustained = len(recent) == window and float(np.median(recent)) > limit
    return result.smoothed_loss[i] > limit and sustained


def test_divergence_stops_at_four_times_the_minimum() -> None:
    result = range_test(make_task(), start_lr=1e-3, end_lr=1e7, steps=200)
    at = result.diverged_at
    assert at is not None
    assert result.steps_done == at + 1
    assert result.diverged_lr == result.lr[at]
    assert _diverging(result, at)
    # and no earlier step met the rule
    for i in range(1, at):
        assert not _diverging(result, i)


def test_an_outlier_burst_at_the_start_does_not_end_the_test() -> None:
    """Three batches with inputs x30 at steps 1-3 lift the debiased average above 4x its
    minimum (it weighs step t by about 1 / (t + 1)); the median of the batch losses
    does not follow, so the test goes on to the real divergence."""
    hostile = blobs_range_test(scaled={1: 30.0, 2: 30.0, 3: 30.0})
    assert max(hostile.smoothed_loss[1:8]) > 4.0 * hostile.smoothed_loss[0]
    clean = blobs_range_test()
    assert hostile.diverged_at is not None
    assert clean.diverged_at is not None
    assert hostile.steps_done > 200
    assert abs(hostile.diverged_at - clean.diverged_at) <= 20


def test_same_seed_same_curve_and_global_rng_untouched() -> None:
    task = make_task()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = range_test(task, steps=40, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    b = range_test(task, steps=40, seed=5)
    c = range_test(task, steps=40, seed=6)
    assert a.loss == b.loss
    assert a.loss != c.loss


def test_evaluations_every_k_steps_on_the_test_subset() -> None:
    result = range_test(
        make_task(), start_lr=1e-3, end_lr=1.0, steps=40, eval_every=10, eval_samples=50
    )
    assert [p.step for p in result.evals] == [10, 20, 30, 40]
    assert [p.lr for p in result.evals] == [result.lr[s - 1] for s in (10, 20, 30, 40)]
    assert all(0.0 <= p.top1 <= 1.0 and p.test_loss > 0 for p in result.evals)
    assert result.evals[-1].top1 > 0.6  # three separable blobs are learned by lr ~1
    assert result.eval_samples == 50


def test_user_model_with_eval_data() -> None:
    model, optimizer, loader = _setup("sgd")
    _, test = blobs()
    result = lr_range_test(
        model,
        optimizer,
        nn.functional.cross_entropy,
        loader,
        steps=20,
        eval_data=test,
        num_classes=3,
        eval_every=5,
    )
    assert len(result.evals) == 4
    assert result.task is None
    assert result.seed is None


def test_default_steps_follow_the_epoch_within_bounds() -> None:
    assert default_steps(40) == 300
    assert default_steps(391) == 391
    assert default_steps(10_000) == 500
    assert default_steps(None) == 300
    assert range_test(make_task()).steps == 300  # 12 steps per epoch


def test_result_round_trips_through_json() -> None:
    import json

    result = range_test(make_task(), start_lr=1e-3, end_lr=1e7, steps=80, eval_every=20)
    data = json.loads(json.dumps(result.to_dict()))
    back = RangeTestResult.from_dict(data)
    assert back.lr == result.lr
    assert back.suggestions == result.suggestions
    assert back.diverged_at == result.diverged_at
    assert back.evals == result.evals
    finite = [v for v in result.loss if math.isfinite(v)]
    assert [v for v in back.loss if math.isfinite(v)] == finite


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mode": "cubic"}, "mode"),
        ({"start_lr": 0.0}, "start_lr"),
        ({"start_lr": 1.0, "end_lr": 0.5}, "end_lr"),
        ({"steps": 2}, "steps"),
        ({"smooth": 1.0}, "smooth"),
        ({"diverge_factor": 1.0}, "diverge_factor"),
        ({"eval_every": 0}, "eval_every"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ParameterError) as info:
        range_test(make_task(), **kwargs)
    assert info.value.name == name
    assert name in str(info.value)


def _adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-3)


@pytest.mark.parametrize(
    ("optimizer", "end_lr"),
    [
        (None, 1e45),  # the task's SGD: step 1's lr is 1.1e44
        (_adam, 9e38),  # step 1's lr is 1e38; Adam's first steps are up to 10x that
    ],
    ids=["sgd", "adam"],
)
def test_a_ramp_past_float32_max_diverges_where_the_lr_cannot_be_applied(
    optimizer: Callable[[Any], torch.optim.Optimizer] | None, end_lr: float
) -> None:
    """Linear from 1e-3 in 10 steps: step 1's update is above ``finfo(float32).max``
    (torch raised an overflow error), so the test stops there as diverged, its loss
    recorded, its update not applied."""
    task = make_task()
    if optimizer is not None:
        task = dataclasses.replace(task, optimizer=optimizer)
    result = range_test(task, mode="linear", start_lr=1e-3, end_lr=end_lr, steps=10)
    assert result.diverged_at == 1
    assert result.steps_done == 2
    assert result.diverged_lr == result.lr[1]
    assert all(math.isfinite(v) for v in result.loss)


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_a_caller_model_ramped_past_float32_max_is_restored(optimizer_name: str) -> None:
    model, optimizer, loader = _setup(optimizer_name)
    before = _snapshot(model, optimizer)
    result = lr_range_test(
        model, optimizer, nn.functional.cross_entropy, loader, start_lr=1e30, end_lr=1e45,
        steps=10, mode="linear",
    )  # fmt: skip
    assert result.diverged_at is not None
    assert result.diverged_at <= 1  # step 1's lr is 1.1e44
    _assert_same(before, model, optimizer)
