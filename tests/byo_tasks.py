"""User tasks of every kind for the bring-your-own tests (also loaded by the CLI tests).

Each factory is importable as ``tests/byo_tasks.py:<name>``:

- ``regression``: a small MLP learning ``y = sin(x1) + x2 / 2`` in (-1, 1) with
  MSE (float targets; the fault this module guards against read them as zeros);
- ``regression_by_mae``: the same task scored by its MAE (still trained on MSE);
- ``slipped_regression``: the same with targets ``(n,)`` against the model's
  ``(n, 1)`` and torch's ``mse_loss``, which would broadcast them to ``(n, n)``;
- ``dict_batches``: the same data as a map-style dataset of dicts
  ``{"features": x, "labels": y}`` (Hugging Face style), collated by torch;
- ``three_tensors``: ``TensorDataset(x1, x2, y)``, a model of two inputs;
- ``list_inputs``: samples ``([x1, x2], y)``, the same model;
- ``step_only``: dict batches trained and evaluated through a training step
  (loss-only evaluation);
- ``classes_by_balanced_accuracy``: a three-class classification of the same
  inputs whose primary metric is its own balanced accuracy (higher is better);
  ``classes_by_balanced_error``: the same, primary its balanced error (lower is
  better); ``classes_with_balanced_accuracy``: the balanced accuracy as a
  metric beside top-1, which stays primary.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from lrscope.tasks import Task, custom_metric

TRAIN, TEST = 192, 64


def waves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (n, 4) and float targets (n, 1) in (-1, 1)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 4, generator=generator) * 2 - 1
    y = (torch.sin(x[:, :1]) + x[:, 1:2] / 2) / 1.6
    return x, y


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))


def adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-3)


def _waves_task(name: str, **scoring: Any) -> Task:
    x, y = waves(TRAIN, 0)
    xt, yt = waves(TEST, 1)
    return Task(
        name=name,
        model=mlp,
        train_data=TensorDataset(x, y),
        test_data=TensorDataset(xt, yt),
        batch_size=16,
        loss=nn.functional.mse_loss,
        optimizer=adam,
        **scoring,
    )


def regression() -> Task:
    return _waves_task("byo-regression")


def regression_by_mae() -> Task:
    return _waves_task("byo-regression-mae", primary_metric="mae")


def slipped_regression(batch_size: int = 16) -> Task:
    x, y = waves(TRAIN, 0)
    xt, yt = waves(TEST, 1)
    return Task(
        name="byo-slipped",
        model=mlp,
        train_data=TensorDataset(x, y[:, 0]),
        test_data=TensorDataset(xt, yt[:, 0]),
        batch_size=batch_size,
        loss=nn.functional.mse_loss,
        optimizer=adam,
    )


class DictData(Dataset[dict[str, torch.Tensor]]):
    """Samples ``{"features": x, "labels": y}``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"features": self.x[index], "labels": self.y[index]}


class KeywordMLP(nn.Module):
    """``model(features=x)``, as a Hugging Face model is called with a dict batch."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(features)
        return out


def dict_batches() -> Task:
    x, y = waves(TRAIN, 0)
    xt, yt = waves(TEST, 1)
    return Task(
        name="byo-dict",
        model=KeywordMLP,
        train_data=DictData(x, y),
        test_data=DictData(xt, yt),
        batch_size=16,
        optimizer=adam,
    )


class TwoInputs(nn.Module):
    """``model(a, b)``: the first two features and the last two, joined."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(torch.cat([a, b], dim=1))
        return out


def three_tensors() -> Task:
    x, y = waves(TRAIN, 0)
    xt, yt = waves(TEST, 1)
    return Task(
        name="byo-three",
        model=TwoInputs,
        train_data=TensorDataset(x[:, :2], x[:, 2:], y),
        test_data=TensorDataset(xt[:, :2], xt[:, 2:], yt),
        batch_size=16,
        optimizer=adam,
    )


class ListData(Dataset[tuple[list[torch.Tensor], torch.Tensor]]):
    """Samples ``([x1, x2], y)``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        row = self.x[index]
        return [row[:2], row[2:]], self.y[index]


def list_inputs() -> Task:
    x, y = waves(TRAIN, 0)
    xt, yt = waves(TEST, 1)
    return Task(
        name="byo-list",
        model=TwoInputs,
        train_data=ListData(x, y),
        test_data=ListData(xt, yt),
        batch_size=16,
        optimizer=adam,
    )


def squared_error(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return nn.functional.mse_loss(model(features=batch["features"]), batch["labels"])


def step_only() -> Task:
    x, y = waves(TRAIN, 0)
    xt, yt = waves(TEST, 1)
    return Task(
        name="byo-step",
        model=KeywordMLP,
        train_data=DictData(x, y),
        test_data=DictData(xt, yt),
        batch_size=16,
        optimizer=adam,
        training_step=squared_error,
    )


def three_classes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (n, 4) and labels (n,) in {0, 1, 2}: which of three fixed directions is largest."""
    x, _ = waves(n, seed)
    directions = torch.tensor([[1.0, 0.0, -1.0], [0.5, -1.0, 0.5], [0.0, 1.0, 1.0], [-1.0, 0.5, 0]])
    return x, (x @ directions).argmax(dim=1)


def classifier() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))


def balanced_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The mean over the classes present of the share of their samples predicted right."""
    predicted = outputs.argmax(dim=1)
    recalls = [float((predicted[targets == c] == c).double().mean()) for c in set(targets.tolist())]
    return sum(recalls) / len(recalls)


def balanced_error(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return 1.0 - balanced_accuracy(outputs, targets)


def _classes_task(name: str, **scoring: Any) -> Task:
    x, y = three_classes(TRAIN, 0)
    xt, yt = three_classes(TEST, 1)
    return Task(
        name=name,
        model=classifier,
        train_data=TensorDataset(x, y),
        test_data=TensorDataset(xt, yt),
        num_classes=3,
        batch_size=16,
        **scoring,
    )


def classes_by_balanced_accuracy() -> Task:
    metric = custom_metric("bal_acc", balanced_accuracy, direction="max")
    return _classes_task("byo-classes-bal", metrics=[metric], primary_metric="bal_acc")


def classes_by_balanced_error() -> Task:
    metric = custom_metric("bal_err", balanced_error, direction="min")
    return _classes_task("byo-classes-err", metrics=[metric], primary_metric="bal_err")


def classes_with_balanced_accuracy() -> Task:
    metric = custom_metric("bal_acc", balanced_accuracy, direction="max")
    return _classes_task("byo-classes", metrics=[metric])
