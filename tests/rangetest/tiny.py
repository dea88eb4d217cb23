"""Tiny tasks and models for the range-test tests (also loaded by the CLI tests).

``make_task`` (importable as ``tests/rangetest/tiny.py:make_task``): three
Gaussian blobs in 8 dimensions, 192 training and 96 test samples, an MLP with
a BatchNorm layer; a range test of 100 steps takes well under a second.
``make_random_labels_task``: the same with every training label drawn at
random, a range test whose loss never falls.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from lrscope.tasks import Task


def blobs(seed: int = 1234) -> tuple[TensorDataset, TensorDataset]:
    """Train and test sets: 3 classes, well separated, 8 features."""
    generator = torch.Generator().manual_seed(seed)
    centers = 2.0 * torch.randn(3, 8, generator=generator)
    labels = torch.randint(0, 3, (288,), generator=generator)
    inputs = centers[labels] + torch.randn(288, 8, generator=generator)
    return TensorDataset(inputs[:192], labels[:192]), TensorDataset(inputs[192:], labels[192:])


def bn_model() -> nn.Module:
    """Linear, BatchNorm (running-stat buffers), ReLU, Linear."""
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def make_task() -> Task:
    train, test = blobs()
    return Task(
        name="tiny-blobs-bn",
        model=bn_model,
        train_data=train,
        test_data=test,
        num_classes=3,
        batch_size=16,
    )


def make_random_labels_task(seed: int = 0) -> Task:
    """:func:`make_task` with every training label drawn at random (nothing to learn)."""
    train, test = blobs()
    inputs, labels = train.tensors
    generator = torch.Generator().manual_seed(seed)
    random = torch.randint(0, 3, labels.shape, generator=generator)
    return Task(
        name="tiny-random-labels",
        model=bn_model,
        train_data=TensorDataset(inputs, random),
        test_data=test,
        num_classes=3,
        batch_size=16,
    )
