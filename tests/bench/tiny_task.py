"""A tiny classification task for the bench tests (loaded as ``tiny_task.py:make_task``).

Three Gaussian blobs in 8 dimensions, 96 training and 48 test samples, an MLP
with one hidden layer of 16 units: a trial of 100 steps takes a few tens of
milliseconds. ``make_flaky_task`` is the same task whose model factory raises
for seed 13, to exercise failed trials.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from lrscope.tasks import Task

FAILING_SEED = 13


def _data() -> tuple[TensorDataset, TensorDataset]:
    generator = torch.Generator().manual_seed(1234)
    centers = 2.0 * torch.randn(3, 8, generator=generator)
    labels = torch.randint(0, 3, (144,), generator=generator)
    inputs = centers[labels] + torch.randn(144, 8, generator=generator)
    return TensorDataset(inputs[:96], labels[:96]), TensorDataset(inputs[96:], labels[96:])


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def make_task() -> Task:
    train, test = _data()
    return Task(
        name="tiny-blobs",
        model=_model,
        train_data=train,
        test_data=test,
        num_classes=3,
        batch_size=16,
    )


def _flaky_model() -> nn.Module:
    if torch.initial_seed() == FAILING_SEED:
        raise RuntimeError(f"this model refuses seed {FAILING_SEED}")
    return _model()


def make_flaky_task() -> Task:
    train, test = _data()
    return Task(
        name="tiny-flaky",
        model=_flaky_model,
        train_data=train,
        test_data=test,
        num_classes=3,
        batch_size=16,
    )


CRASHING_SEED = 66


def _crashing_model() -> nn.Module:
    if torch.initial_seed() == CRASHING_SEED:
        import os

        os._exit(3)  # the worker process dies without a word, as if killed
    return _model()


def make_crashing_task() -> Task:
    train, test = _data()
    return Task(
        name="tiny-crash",
        model=_crashing_model,
        train_data=train,
        test_data=test,
        num_classes=3,
        batch_size=16,
    )
