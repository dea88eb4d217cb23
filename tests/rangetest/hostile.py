"""Hostile inputs for the range test, one builder per class of misread curve.

- :func:`blobs_range_test`: a 5-class MLP on Gaussian blobs, the default
  ``lr_range_test``, with chosen batches made hostile (inputs multiplied, as
  an outlier or a badly augmented batch; labels shuffled, as label noise).
- :func:`random_labels_task`: the tiny blobs with labels drawn at random, a
  curve that never falls (``tiny.make_random_labels_task``).
- :func:`trained_model`: the tiny network trained to a low loss, whose curve
  rises from its first point.
- :func:`bn_digits_task`: a BatchNorm CNN on scikit-learn's digits with SGD
  momentum 0.9 (the test is run with 200 steps, where the lag of the
  recorded smoothed loss is 1.5 decades).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lrscope.rangetest import RangeTestResult, lr_range_test
from lrscope.tasks import Task, get_task

from .tiny import bn_model, make_random_labels_task, make_task

BATCH = 32


def blob_data(seed: int = 0, n: int = 2000, dim: int = 10, classes: int = 5) -> TensorDataset:
    """``n`` samples of ``classes`` Gaussian blobs in ``dim`` dimensions (overlapping a little)."""
    generator = torch.Generator().manual_seed(seed)
    centers = 2.0 * torch.randn(classes, dim, generator=generator)
    labels = torch.randint(0, classes, (n,), generator=generator)
    inputs = centers[labels] + 1.5 * torch.randn(n, dim, generator=generator)
    return TensorDataset(inputs, labels)


class HostileLoader:
    """Shuffled batches of :data:`BATCH`; ``scaled[step]`` multiplies that step's inputs.

    ``shuffled`` lists steps whose labels are permuted at random. The order
    of the batches is the same with and without hostile steps.
    """

    def __init__(
        self,
        data: TensorDataset,
        *,
        seed: int = 0,
        scaled: Mapping[int, float] | None = None,
        shuffled: tuple[int, ...] = (),
    ) -> None:
        self.inputs, self.labels = data.tensors
        self.seed = seed
        self.scaled = dict(scaled or {})
        self.shuffled = set(shuffled)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)
        step = 0
        while True:
            perm = torch.randperm(len(self.inputs), generator=generator)
            for start in range(0, len(perm) - BATCH + 1, BATCH):
                index = perm[start : start + BATCH]
                x, y = self.inputs[index], self.labels[index]
                if step in self.scaled:
                    x = x * self.scaled[step]
                if step in self.shuffled:
                    y = y[torch.randperm(BATCH, generator=torch.Generator().manual_seed(step))]
                step += 1
                yield x, y


def mlp5(seed: int = 0) -> nn.Module:
    """10 -> 64 -> 64 -> 5, ReLU; weights drawn with ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 5)
    )


def blobs_range_test(
    *,
    seed: int = 0,
    scaled: Mapping[int, float] | None = None,
    shuffled: tuple[int, ...] = (),
    steps: int = 300,
) -> RangeTestResult:
    """The default range test (1e-5 to 10) of :func:`mlp5` with SGD momentum 0.9."""
    model = mlp5(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = HostileLoader(blob_data(), seed=seed, scaled=scaled, shuffled=shuffled)
    return lr_range_test(model, optimizer, nn.functional.cross_entropy, loader, steps=steps)


def trained_model(
    seed: int = 0, epochs: int = 30
) -> tuple[nn.Module, torch.optim.Optimizer, DataLoader[tuple[torch.Tensor, ...]]]:
    """The tiny network trained at lr 0.1 to a training loss near zero, its optimizer and loader."""
    task = make_task()
    torch.manual_seed(seed)
    model = bn_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(
        task.train_data, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    return model, optimizer, loader


def bn_cnn() -> nn.Module:
    """conv-BN-ReLU x2, max-pool, conv-BN-ReLU, global average pool, linear (8x8 inputs)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


def _sgd_momentum(params: object) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)  # type: ignore[arg-type]


def bn_digits_task() -> Task:
    """:func:`bn_cnn` on scikit-learn's digits (batch 64), SGD momentum 0.9, no weight decay."""
    digits = get_task("digits-lenet")
    return dataclasses.replace(digits, name="digits-bn-cnn", model=bn_cnn, optimizer=_sgd_momentum)


random_labels_task = make_random_labels_task
