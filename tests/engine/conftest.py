"""Fixtures for the engine tests: one torch thread and a tiny synthetic task."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from torch.utils.data import TensorDataset

from lrscope.tasks import Task


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Train on one thread (the machine is shared) and restore the setting afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(n: int, seed: int, classes: int = 4, dim: int = 6) -> TensorDataset:
    """Gaussian blobs around fixed class centres (the centres do not depend on ``seed``)."""
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(99)) * 2
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = centres[y] + torch.randn(n, dim, generator=g)
    return TensorDataset(x, y)


class SmallNet(torch.nn.Module):
    """6 -> 16 -> 4 with dropout, so the torch RNG matters for resumption."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(16, 4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


@pytest.fixture
def make_task() -> Callable[..., Task]:
    """``make_task(**overrides)``: 200 train / 80 test samples, batch 16 (13 steps/epoch)."""

    def build(**overrides: object) -> Task:
        fields: dict[str, object] = {
            "name": "blobs",
            "model": SmallNet,
            "train_data": blobs(200, 0),
            "test_data": blobs(80, 1),
            "num_classes": 4,
            "batch_size": 16,
        }
        fields.update(overrides)
        return Task(**fields)  # type: ignore[arg-type]

    return build
