"""What a caller attached to its model and optimizer does not see of a range test.

The range test trains the caller's own model with the caller's own optimizer.
Schedulers built on that optimizer beforehand (lrscope's, which counts
optimizer steps to catch a once-per-epoch ``step()``, and torch's, which
checks that ``optimizer.step()`` ran before ``lr_scheduler.step()``) and every
buffer of the model, persistent or not, must be as if the test never ran,
however the test ends.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR, StepLR
from torch.utils.data import DataLoader

from lrscope.errors import LRScopeWarning
from lrscope.policies import parse
from lrscope.rangetest import lr_range_test
from lrscope.torch import PolicyScheduler

from .tiny import blobs, bn_model

SPEC = "onecycle(max_lr=0.1, total_steps=40)"
ENDINGS = ["completed", "diverged", "interrupted", "raised"]


class _Stop(Exception):
    pass


def _loader() -> DataLoader[Any]:
    train, _ = blobs()
    return DataLoader(train, batch_size=16, shuffle=False)


def _range_test(model: nn.Module, optimizer: torch.optim.Optimizer, ending: str) -> None:
    """A range test on ``model`` that completes, diverges, is interrupted or raises."""
    calls = [0]

    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if ending == "raised" and calls[0] == 9:
            raise _Stop("from the loss")
        return nn.functional.cross_entropy(outputs, targets)

    def on_progress(done: int, total: int) -> None:
        if ending == "interrupted" and done == 7:
            raise KeyboardInterrupt

    end_lr = 1e8 if ending == "diverged" else 0.1
    if ending in ("interrupted", "raised"):
        with pytest.raises(KeyboardInterrupt if ending == "interrupted" else _Stop):
            lr_range_test(model, optimizer, loss_fn, _loader(), steps=30, on_progress=on_progress)
        return
    found = lr_range_test(model, optimizer, loss_fn, _loader(), steps=60, end_lr=end_lr)
    assert found.diverged == (ending == "diverged")


def _train(
    model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: LRScheduler, steps: int
) -> list[tuple[float, float]]:
    """``steps`` correct steps (optimizer, then scheduler); lr and momentum of each."""
    batches = list(_loader())
    used = []
    for x, y in batches[:steps]:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        used.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]))
        optimizer.step()
        scheduler.step()
    return used


def _sgd(model: nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_policy_scheduler_built_before_does_not_count_the_tests_steps(ending: str) -> None:
    torch.manual_seed(0)
    model = bn_model()
    optimizer = _sgd(model)
    scheduler = PolicyScheduler(optimizer, SPEC)
    _train(model, optimizer, scheduler, 2)
    _range_test(model, optimizer, ending)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "ran once for N optimizer steps"
        used = _train(model, optimizer, scheduler, 5)
    policy = parse(SPEC)
    momenta = policy.momentum_values(7)
    assert momenta is not None  # one-cycle also cycles momentum
    assert used == list(zip(policy.values(7)[2:], momenta[2:], strict=True))
    # the warning is still armed for a real mistake: three optimizer steps per scheduler step
    for _ in range(3):
        optimizer.step()
    with pytest.warns(LRScopeWarning, match="ran once for 3 optimizer steps"):
        scheduler.step()


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_torch_scheduler_built_before_continues_as_without_the_test(ending: str) -> None:
    runs = []
    for with_test in (False, True):
        torch.manual_seed(0)
        model = bn_model()
        optimizer = _sgd(model)
        scheduler = OneCycleLR(optimizer, max_lr=0.1, total_steps=20)
        _train(model, optimizer, scheduler, 2)
        if with_test:
            _range_test(model, optimizer, ending)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            used = _train(model, optimizer, scheduler, 6)
        runs.append((used, [p.detach().clone() for p in model.parameters()], scheduler))
    (used, params, plain), (used_after, params_after, tested) = runs
    assert used_after == used
    assert all(torch.equal(a, b) for a, b in zip(params, params_after, strict=True))
    assert tested.state_dict() == plain.state_dict()


Factory = Callable[[torch.optim.Optimizer], LRScheduler]
SCHEDULERS: dict[str, Factory] = {
    "PolicyScheduler": lambda opt: PolicyScheduler(opt, SPEC),
    "OneCycleLR": lambda opt: OneCycleLR(opt, max_lr=0.1, total_steps=20),
    "StepLR": lambda opt: StepLR(opt, step_size=3),
}


@pytest.mark.parametrize("ending", ["completed", "interrupted"])
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_a_scheduler_stepped_before_the_optimizer_after_the_test_still_warns(
    name: str, ending: str
) -> None:
    torch.manual_seed(0)
    model = bn_model()
    optimizer = _sgd(model)
    scheduler = SCHEDULERS[name](optimizer)
    _range_test(model, optimizer, ending)  # its optimizer steps are not the caller's
    with pytest.warns(UserWarning, match=r"before `?optimizer\.step\(\)"):
        scheduler.step()


class _Counting(nn.Module):
    """:func:`bn_model` with buffers its forward pass changes in every way a module can."""

    calls: torch.Tensor
    seen: torch.Tensor
    sizes: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.body = bn_model()
        self.register_buffer("calls", torch.zeros(()), persistent=False)  # in place
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))  # re-bound
        self.register_buffer("sizes", torch.zeros(0), persistent=False)  # resized in place
        self.register_buffer("unset", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.seen = self.seen + x.shape[0]
        self.sizes.resize_(self.sizes.numel() + 1)[-1] = x.shape[0]
        if not hasattr(self, "first_mean"):  # registered lazily, on the first pass
            self.register_buffer("first_mean", x.mean().detach())
        return self.body(x)  # type: ignore[no-any-return]


def _buffer_table(model: nn.Module) -> list[tuple[nn.Module, str, torch.Tensor | None]]:
    return [(m, n, t) for m in model.modules() for n, t in m._buffers.items()]


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("history", [0, 3], ids=["fresh", "after-3-passes"])
def test_every_buffer_is_the_same_tensor_with_the_same_value(ending: str, history: int) -> None:
    torch.manual_seed(0)
    model = _Counting()
    for x, _ in list(_loader())[:history]:
        model(x)
    table = _buffer_table(model)
    values = {(id(m), n): None if t is None else t.clone() for m, n, t in table}
    non_persistent = [set(m._non_persistent_buffers_set) for m in model.modules()]
    keys = list(model.state_dict())
    _range_test(model, _sgd(model), ending)
    assert float(model.calls) == history  # the non-persistent counter, not 300
    assert int(model.seen) == 16 * history
    assert model.sizes.tolist() == [16.0] * history
    assert hasattr(model, "first_mean") == (history > 0)
    after = _buffer_table(model)
    assert [(m, n) for m, n, _ in after] == [(m, n) for m, n, _ in table]
    for (_, name, tensor), (module, _, now) in zip(table, after, strict=True):
        assert now is tensor, name  # the caller's own tensor objects
        value = values[(id(module), name)]
        assert (value is None and now is None) or torch.equal(value, now), name  # type: ignore[arg-type]
    assert [set(m._non_persistent_buffers_set) for m in model.modules()] == non_persistent
    assert list(model.state_dict()) == keys
