"""Any batch: reading, calling the model with, and moving batches of every structure."""

from __future__ import annotations

import functools
from collections import UserDict
from typing import Any, NamedTuple

import pytest
import torch
from torch import nn

from lrscope.errors import TaskError
from lrscope.tasks import BatchSteps, call_model, move_to, split_batch
from lrscope.tasks.batches import batch_length, check_broadcast, output_tensor

META = torch.device("meta")  # a second device every CPU machine has: moves are visible


class Pair(NamedTuple):
    x: torch.Tensor
    y: torch.Tensor


class Encoding(UserDict[str, Any]):
    """A mapping type of its own, like transformers' BatchEncoding."""


def test_split_reads_pairs_tuples_lists_and_dicts_with_labels() -> None:
    x, x2, y = torch.ones(2, 3), torch.zeros(2, 5), torch.tensor([0, 1])
    assert split_batch((x, y)) == (x, y)
    assert split_batch([x, y]) == (x, y)
    inputs, target = split_batch((x, x2, y))
    assert inputs == (x, x2)
    assert target is y
    inputs, target = split_batch(([x, x2], y))
    assert inputs == [x, x2]
    assert target is y
    inputs, target = split_batch({"input_ids": x, "mask": x2, "labels": y})
    assert inputs == {"input_ids": x, "mask": x2}
    assert target is y
    inputs, target = split_batch({"pixels": x, "label": y})
    assert inputs == {"pixels": x}
    assert target is y
    assert split_batch(Pair(x, y)) == (x, y)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"input_ids": torch.ones(2)}, r"no 'labels' or 'label' entry.*batch=fn"),
        (torch.ones(2, 3), r"batch of type Tensor is not \(inputs, targets\)"),
        (("only one",), r"batch of type tuple is not \(inputs, targets\)"),
        ("text", r"batch of type str"),
    ],
)
def test_split_says_how_to_describe_other_batches(batch: Any, message: str) -> None:
    with pytest.raises(TaskError, match=message):
        split_batch(batch)


class _Recorder(nn.Module):
    def forward(self, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return args, kwargs


def test_call_model_spreads_tuples_lists_and_dicts() -> None:
    model, x = _Recorder(), torch.ones(1)
    assert call_model(model, x) == ((x,), {})
    assert call_model(model, (x, x)) == ((x, x), {})
    assert call_model(model, [x]) == ((x,), {})
    assert call_model(model, {"a": x}) == ((), {"a": x})


def test_move_to_reaches_every_tensor_and_keeps_the_structure() -> None:
    batch: dict[str, Any] = {
        "ids": torch.ones(2, 3),
        "nested": [torch.zeros(2), (torch.ones(1), "text", 3)],
        "pair": Pair(torch.ones(2), torch.zeros(2)),
        "encoding": Encoding(a=torch.ones(2)),
        "name": "kept",
    }
    moved = move_to(batch, META)
    assert moved["ids"].device == META
    assert moved["nested"][0].device == META
    assert isinstance(moved["nested"], list)
    inner = moved["nested"][1]
    assert isinstance(inner, tuple)
    assert inner[0].device == META
    assert inner[1:] == ("text", 3)
    assert isinstance(moved["pair"], Pair)
    assert moved["pair"].y.device == META
    assert isinstance(moved["encoding"], Encoding)
    assert moved["encoding"]["a"].device == META
    assert moved["name"] == "kept"
    assert batch["ids"].device.type == "cpu"  # the original is untouched


def test_move_to_the_same_device_copies_nothing() -> None:
    x = torch.ones(3)
    assert move_to((x, [x]), torch.device("cpu"))[1][0] is x


def test_batch_length_is_the_first_tensors_leading_dimension() -> None:
    assert batch_length({"labels": torch.zeros(5), "x": torch.ones(5, 2)}) == 5
    assert batch_length(([torch.ones(7, 1)], torch.zeros(7))) == 7
    with pytest.raises(TaskError, match="no tensor with a batch dimension"):
        batch_length({"text": ["a", "b"]})


class _Output:
    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


def test_output_tensor_reads_logits_of_model_outputs() -> None:
    logits = torch.ones(2, 3)
    assert output_tensor(logits) is logits
    assert output_tensor(_Output(logits)) is logits
    assert output_tensor({"logits": logits, "loss": torch.ones(())}) is logits
    other = (logits, logits)
    assert output_tensor(other) is other


def test_training_step_must_return_a_scalar() -> None:
    steps = BatchSteps(training_step=lambda model, batch: torch.ones(3))
    with pytest.raises(TaskError, match=r"training_step must return a scalar tensor, got \(3,\)"):
        steps.training_loss(nn.Identity(), None)
    steps = BatchSteps(training_step=lambda model, batch: 0.5)  # type: ignore[arg-type,return-value]
    with pytest.raises(TaskError, match="got float"):
        steps.training_loss(nn.Identity(), None)


def test_loss_only_without_outputs_and_with_a_split() -> None:
    def step(model: nn.Module, batch: Any) -> torch.Tensor:
        return torch.ones(())

    assert BatchSteps(training_step=step).loss_only
    assert BatchSteps(training_step=step).outputs(nn.Identity(), (1, 2)) is None
    with_split = BatchSteps(training_step=step, split=lambda b: (b["x"], b["y"]))
    assert not with_split.loss_only
    x, y = torch.ones(2, 1), torch.zeros(2)
    outputs, targets = with_split.outputs(nn.Identity(), {"x": x, "y": y})  # type: ignore[misc]
    assert outputs is x
    assert targets is y


@pytest.mark.parametrize(
    ("loss", "name"),
    [
        (nn.functional.mse_loss, "torch.nn.functional.mse_loss"),
        (nn.functional.l1_loss, "torch.nn.functional.l1_loss"),
        (functools.partial(nn.functional.huber_loss, delta=0.5), "huber_loss"),
        (nn.SmoothL1Loss(), "torch.nn.SmoothL1Loss()"),
        (nn.MSELoss(reduction="sum"), "torch.nn.MSELoss()"),
    ],
)
@pytest.mark.parametrize(
    ("outputs", "targets", "broadcast"),
    [((8, 1), (8,), (8, 8)), ((8,), (8, 1), (8, 8)), ((8, 1, 3), (8, 3), (8, 8, 3))],
)
def test_an_elementwise_loss_that_would_pair_every_output_with_every_target_is_refused(
    loss: Any, name: str, outputs: tuple[int, ...], targets: tuple[int, ...],
    broadcast: tuple[int, ...],
) -> None:  # fmt: skip
    steps = BatchSteps(loss=loss)
    with pytest.raises(TaskError, match="broadcasts them") as caught:
        steps.batch_loss(torch.zeros(outputs), torch.zeros(targets))
    message = str(caught.value)
    assert name in message
    assert f"outputs of shape {outputs}" in message
    assert f"targets of shape {targets}" in message
    assert f"to {broadcast}" in message
    assert "squeeze(-1)" in message


@pytest.mark.filterwarnings("ignore:Using a target size")  # torch's own, for (8, 3) vs (3,)
@pytest.mark.parametrize(
    ("loss", "outputs", "targets"),
    [
        (nn.functional.mse_loss, (8, 1), torch.zeros(8, 1)),  # one shape
        (nn.functional.mse_loss, (8, 3), torch.zeros(3)),  # broadcasting adds no element
        (nn.functional.cross_entropy, (8, 5), torch.zeros(8, dtype=torch.long)),  # not elementwise
        (lambda o, t: ((o.squeeze(-1) - t) ** 2).mean(), (8, 1), torch.zeros(8)),  # the user's own
    ],
)
def test_other_shapes_and_losses_are_left_alone(
    loss: Any, outputs: tuple[int, ...], targets: torch.Tensor
) -> None:
    check_broadcast(loss, torch.zeros(outputs), targets)
    assert BatchSteps(loss=loss).batch_loss(torch.zeros(outputs), targets).numel() == 1
