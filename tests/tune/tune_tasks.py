"""Two small, related tasks for the tuning and recommendation tests.

Both learn the same four Gaussian blobs in 10 dimensions (dataset "blobs4");
``make_mlp`` uses a two-layer MLP, ``make_linear`` a linear model with a
larger batch, so they are similar (same dataset, input and classes) but not
the same task. A trial of 100 steps takes a few tens of milliseconds.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from lrscope.tasks import Task, TaskMetadata


def _data() -> tuple[TensorDataset, TensorDataset]:
    generator = torch.Generator().manual_seed(7)
    centers = 1.5 * torch.randn(4, 10, generator=generator)
    labels = torch.randint(0, 4, (320,), generator=generator)
    inputs = centers[labels] + torch.randn(320, 10, generator=generator)
    return TensorDataset(inputs[:256], labels[:256]), TensorDataset(inputs[256:], labels[256:])


def _metadata(family: str) -> TaskMetadata:
    return TaskMetadata(
        dataset="blobs4", model_family=family, input_shape=(10,), train_size=256, num_classes=4
    )


def make_mlp() -> Task:
    train, test = _data()
    return Task(
        name="blobs4-mlp",
        model=lambda: nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4)),
        train_data=train,
        test_data=test,
        num_classes=4,
        batch_size=32,
        metadata=_metadata("mlp"),
    )


def make_linear() -> Task:
    train, test = _data()
    return Task(
        name="blobs4-linear",
        model=lambda: nn.Linear(10, 4),
        train_data=train,
        test_data=test,
        num_classes=4,
        batch_size=64,
        metadata=_metadata("linear"),
    )
