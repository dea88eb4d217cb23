"""The built-in tasks: name -> (data loader, model, batch size, metadata).

- ``mnist1d-cnn`` / ``mnist1d-mlp``: MNIST-1D (generated), :class:`MNIST1DCNN`
  on inputs ``(1, 40)`` / :class:`MNIST1DMLP` on ``(40,)``; batch 128.
- ``digits-lenet`` / ``digits-mlp``: scikit-learn's digits (shipped), LeNet
  with 3x3 kernels / MLP 64-128-10 on ``(1, 8, 8)``; batch 64.
- ``cifar10-cnn3``: CIFAR-10 (files under ``data_dir``), :class:`CNN3` on
  ``(3, 32, 32)``; batch 100.
- ``cifar10-resnet20`` / ``32`` / ``56``: CIFAR-10, :class:`CifarResNet`;
  batch 128.
- ``mnist-lenet``: MNIST (IDX files under ``data_dir``), Caffe's
  :class:`LeNet` on ``(1, 28, 28)``; batch 100.

All use the default optimizer (SGD, momentum 0.9, weight decay 5e-4; Wu, Liu
et al. 2019, Table II) and cross-entropy. The batch sizes follow LRBench (100 for LeNet and
CNN3, 128 for ResNets). MNIST-1D uses 128 rather than the paper's 100 (which
trained with Adam): with SGD at a fixed learning rate of 0.1 the final accuracy
fluctuates less from one evaluation to the next.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn
from torch.utils.data import TensorDataset

from lrscope.tasks import datasets, models
from lrscope.tasks.base import Task, TaskMetadata

__all__ = ["BUILTIN_TASKS", "BuiltinSpec", "builtin_task_names", "make_builtin"]

DataDir = str | os.PathLike[str] | None


@dataclass(frozen=True)
class BuiltinSpec:
    """How to build one built-in task."""

    dataset: str
    model_family: str
    load: Callable[[DataDir], datasets.Split]
    model: Callable[[], nn.Module]
    batch_size: int
    input_shape: tuple[int, ...]
    needs_files: bool


def _mnist1d(_: DataDir) -> datasets.Split:
    return datasets.load_mnist1d()


def _digits(_: DataDir) -> datasets.Split:
    return datasets.load_digits_split()


def _resnet(depth: int) -> BuiltinSpec:
    return BuiltinSpec(
        dataset="cifar10",
        model_family=f"resnet{depth}",
        load=datasets.load_cifar10,
        model=partial(models.CifarResNet, depth),
        batch_size=128,
        input_shape=(3, 32, 32),
        needs_files=True,
    )


BUILTIN_TASKS: dict[str, BuiltinSpec] = {
    "mnist1d-cnn": BuiltinSpec("mnist1d", "cnn", _mnist1d, models.MNIST1DCNN, 128, (1, 40), False),
    "mnist1d-mlp": BuiltinSpec("mnist1d", "mlp", _mnist1d, models.MNIST1DMLP, 128, (40,), False),
    "digits-lenet": BuiltinSpec(
        "digits", "lenet", _digits, partial(models.LeNet, 10, True), 64, (1, 8, 8), False
    ),
    "digits-mlp": BuiltinSpec(
        "digits", "mlp", _digits, partial(models.MLP, (64, 128, 10)), 64, (1, 8, 8), False
    ),
    "cifar10-cnn3": BuiltinSpec(
        "cifar10", "cnn3", datasets.load_cifar10, models.CNN3, 100, (3, 32, 32), True
    ),
    "cifar10-resnet20": _resnet(20),
    "cifar10-resnet32": _resnet(32),
    "cifar10-resnet56": _resnet(56),
    "mnist-lenet": BuiltinSpec(
        "mnist", "lenet", datasets.load_mnist, models.LeNet, 100, (1, 28, 28), True
    ),
}


def builtin_task_names() -> list[str]:
    """The names of the built-in tasks, sorted."""
    return sorted(BUILTIN_TASKS)


def make_builtin(name: str, data_dir: DataDir = None) -> Task:
    """Build the built-in task ``name`` (a key of :data:`BUILTIN_TASKS`)."""
    spec = BUILTIN_TASKS[name]
    split = spec.load(data_dir)
    shape = spec.input_shape
    x_train = split.x_train.reshape(-1, *shape)
    x_test = split.x_test.reshape(-1, *shape)
    return Task(
        name=name,
        model=spec.model,
        train_data=TensorDataset(x_train, split.y_train),
        test_data=TensorDataset(x_test, split.y_test),
        num_classes=10,
        batch_size=spec.batch_size,
        metadata=TaskMetadata(
            dataset=spec.dataset,
            model_family=spec.model_family,
            input_shape=shape,
            train_size=int(x_train.shape[0]),
            num_classes=10,
            extra={"test_size": int(x_test.shape[0])},
        ),
    )
