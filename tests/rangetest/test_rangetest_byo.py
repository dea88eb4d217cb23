"""Range tests on your own model: any batch, a training step, accumulation, precision, device."""

from __future__ import annotations

import copy
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
