"""A tiny user task with BatchNorm for the landscape tests (loaded as ``file.py:make_task``).

Eight features, three classes given by a fixed random linear map; a two-layer
network with ``BatchNorm1d`` so the running statistics (and
``num_batches_tracked``) are part of the state_dict.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from lrscope.tasks import Task

FEATURES = 8
CLASSES = 3


class TinyBNNet(nn.Module):
    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(FEATURES, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc2(torch.relu(self.bn(self.fc1(x))))
        return out


def _data(samples: int, seed: int) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    mapping = torch.randn(FEATURES, CLASSES, generator=torch.Generator().manual_seed(123))
    x = torch.randn(samples, FEATURES, generator=gen) * 2.0 + 0.5
    return TensorDataset(x, (x @ mapping).argmax(dim=1))


def make_task() -> Task:
    return Task(
        name="tiny-bn",
        model=TinyBNNet,
        train_data=_data(192, seed=1),
        test_data=_data(96, seed=2),
        num_classes=CLASSES,
        batch_size=32,
    )


def make_wide_task() -> Task:
    """Same data, a wider hidden layer: a different architecture."""
    return Task(
        name="tiny-bn-wide",
        model=lambda: TinyBNNet(hidden=24),
        train_data=_data(192, seed=1),
        test_data=_data(96, seed=2),
        num_classes=CLASSES,
        batch_size=32,
    )
