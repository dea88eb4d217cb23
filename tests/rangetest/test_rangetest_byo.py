"""Range tests on your own model: any batch, a training step, accumulation, precision, device."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from byo_tasks import DictData, KeywordMLP, regression, squared_error, waves
from lrscope.engine import DeviceError, Runtime
from lrscope.engine.device import cuda_available
from lrscope.errors import ParameterError
from lrscope.rangetest import lr_range_test, range_test


def _dict_loader() -> DataLoader[Any]:
    x, y = waves(96, 0)
    return DataLoader(DictData(x, y), batch_size=16)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return copy.deepcopy(model.state_dict())


def test_dict_batches_with_a_training_step_and_the_loss_only_curve() -> None:
    model = KeywordMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = _state(model)
    x, y = waves(64, 1)
    result = lr_range_test(
        model,
        optimizer,
        loader=_dict_loader(),
        training_step=squared_error,
        eval_data=DictData(x, y),
        eval_every=10,
        steps=30,
        end_lr=0.1,
    )
    assert result.steps_done == 30
    assert all(0 < p.test_loss < 1 for p in result.evals)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_dict_batches_read_by_default_give_the_same_curve_as_the_step() -> None:
    model = KeywordMLP()
    with_step = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        loader=_dict_loader(),
        training_step=squared_error,
        steps=20,
        end_lr=0.5,
    )
    by_default = lr_range_test(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        nn.functional.mse_loss,
        _dict_loader(),
        steps=20,
        end_lr=0.5,
    )
    assert with_step.loss == by_default.loss


def test_accumulation_records_the_mean_of_the_micro_batches_per_ramp_step() -> None:
    """2 micro-batches of 16 give the loss and the update of one batch of 32 (float64)."""
    x, y = waves(128, 0)
    data = TensorDataset(x.double(), y.double())

    def run(batch_size: int, accumulation: int) -> tuple[float, ...]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
        result = lr_range_test(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            nn.functional.mse_loss,
            DataLoader(data, batch_size=batch_size),
            runtime=Runtime(grad_accum_steps=accumulation),
            steps=12,
            end_lr=1.0,
        )
        return result.loss

    assert run(16, 2) == pytest.approx(run(32, 1), rel=1e-12)
    assert run(16, 1) != pytest.approx(run(32, 1), rel=1e-6)


def test_a_task_range_test_in_bf16_and_with_accumulation() -> None:
    task = regression()
    plain = range_test(task, steps=20, end_lr=0.1)
    half = range_test(task, steps=20, end_lr=0.1, runtime=Runtime(device="cpu", precision="bf16"))
    assert half.steps_done == 20
    assert half.loss != plain.loss
    assert half.loss == pytest.approx(plain.loss, rel=0.05)
    # one epoch is 12 micro-batches: 6 optimizer steps, so the default stays the 300 minimum
    accumulated = range_test(task, end_lr=0.1, runtime=Runtime(grad_accum_steps=2))
    assert accumulated.steps == 300


@pytest.mark.skipif(cuda_available(), reason="checks the machine without CUDA")
def test_cuda_without_cuda_is_a_device_error_before_training() -> None:
    with pytest.raises(DeviceError, match="sees no CUDA device"):
        range_test(regression(), steps=10, runtime=Runtime(device="cuda"))


def test_your_model_trains_where_it_is() -> None:
    model = KeywordMLP()
    with pytest.raises(ParameterError, match=r"a runtime on the model's device \(cpu\)"):
        lr_range_test(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            loader=_dict_loader(),
            training_step=squared_error,
            runtime=Runtime(device="cuda"),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loader": [1]}, r"'loss_fn' parameter of lr_range_test must be a loss function"),
        ({"loss_fn": nn.functional.mse_loss}, r"'loader' parameter of lr_range_test"),
    ],
)
def test_a_loss_and_a_loader_are_required(kwargs: dict[str, Any], message: str) -> None:
    model = nn.Linear(4, 1)
    with pytest.raises(ParameterError, match=message):
        lr_range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_the_figure_of_a_regression_draws_its_test_loss() -> None:
    import matplotlib

    matplotlib.use("Agg")
    result = range_test(regression(), steps=20, end_lr=0.1, eval_every=5)
    ax = result.plot()
    (twin,) = [other for other in ax.figure.axes if other is not ax]
    assert twin.get_ylabel() == "test-subset loss"
    (line,) = twin.get_lines()
    assert list(np.asarray(line.get_ydata())) == [p.test_loss for p in result.evals]


def _batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = waves(8 * n, 3)
    return [(x[i : i + 8], y[i : i + 8]) for i in range(0, 8 * n, 8)]


class _FirstPassOnly:
    """An iterable whose __iter__ starts afresh but whose data is gone after one pass."""

    def __init__(self, batches: list[Any]) -> None:
        self.left = list(batches)

    def __iter__(self) -> Any:
        taken, self.left = self.left, []
        return iter(taken)


def _run_on(loader: Any, steps: int = 12) -> Any:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = _state(model)
    try:
        return lr_range_test(
            model,
            optimizer,
            nn.functional.mse_loss,
            loader,
            steps=steps,
            start_lr=1e-4,
            end_lr=1e-2,
        )
    finally:
        after = _state(model)
        assert all(torch.equal(before[k], after[k]) for k in before)  # restored, also on errors


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: (b for b in _batches(5)),
            r"yields its batches again on every pass \(a DataLoader, a list of batches, .*"
            r"or an endless iterator; the range test needs more batches than one pass, and "
            r"the generator given is a one-shot iterator: it yielded 5 batches and cannot "
            r"start a second pass",
        ),
        (
            lambda: iter(_batches(3)),
            r"the list_iterator given is a one-shot iterator: it yielded 3 batches",
        ),
        (
            lambda: _FirstPassOnly(_batches(4)),
            r"the _FirstPassOnly given yielded 4 batches in a pass and none in the next",
        ),
        (list, r"must be an iterable that yields batches\. Got \[\] instead"),
    ],
    ids=["generator", "iterator", "first pass only", "empty"],
)
def test_a_loader_that_cannot_start_again_says_so(make: Any, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        _run_on(make())


def test_a_generator_long_enough_or_endless_is_a_fine_loader() -> None:
    listed = _run_on(_batches(5))  # a list: started again after each pass
    enough = _run_on(b for b in _batches(12))
    endless = _run_on(itertools.cycle(_batches(5)))
    assert len(enough.loss) == len(endless.loss) == len(listed.loss) == 12
    assert endless.loss == listed.loss  # the same batches in the same order
