"""The :class:`Task`: everything a trial needs to train and evaluate a model."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

__all__ = ["Task", "TaskMetadata", "default_loss", "default_optimizer"]

ModelFactory = Callable[[], nn.Module]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def default_optimizer(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """SGD with momentum 0.9 and weight decay 5e-4 (Wu, Liu et al. 2019, Table II).

    The learning rate given here is a placeholder: the policy sets it before
    every step.
    """
    return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)


def default_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` (N, C) against integer ``target`` (N,)."""
    return nn.functional.cross_entropy(logits, target)


@dataclass(frozen=True)
class TaskMetadata:
    """What describes a task for similarity search (``lrscope recommend``).

    ``input_shape`` excludes the batch dimension; ``train_size`` counts samples;
    ``batch_size`` (samples per step) gives the epoch length in steps, by which
    recommendations rescale step counts. :class:`Task` fills it in.
    """

    dataset: str
    model_family: str
    input_shape: tuple[int, ...]
    train_size: int
    num_classes: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "model_family": self.model_family,
            "input_shape": list(self.input_shape),
            "train_size": self.train_size,
            "num_classes": self.num_classes,
            "batch_size": self.batch_size,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskMetadata:
        return cls(
            dataset=str(data["dataset"]),
            model_family=str(data["model_family"]),
            input_shape=tuple(int(v) for v in data["input_shape"]),
            train_size=int(data["train_size"]),
            num_classes=int(data["num_classes"]),
            extra=dict(data.get("extra", {})),
            batch_size=None if data.get("batch_size") is None else int(data["batch_size"]),
        )


@dataclass
class Task:
    """A classification problem and the model that learns it.

    Attributes:
        name: unique name; built-in names such as ``"mnist1d-cnn"`` or the
            ``module:function`` / ``file.py:function`` reference of a user task.
        model: builds a fresh model; called after the trial's seed is set, so
            the initial weights depend on the seed only.
        train_data, test_data: map-style datasets of ``(input, label)``.
        num_classes: number of classes (labels are ``0 .. num_classes - 1``).
        batch_size: samples per optimizer step.
        optimizer: builds the optimizer from the model's parameters; its
            learning rate (and momentum, for cycling policies) is overwritten
            by the policy before every step.
        loss: ``loss(logits, target) -> scalar`` used for training and for the
            reported train and test losses.
        metadata: dataset, model family, input shape, train size, classes.
    """

    name: str
    model: ModelFactory
    train_data: Dataset[Any]
    test_data: Dataset[Any]
    num_classes: int
    batch_size: int = 128
    optimizer: OptimizerFactory = default_optimizer
    loss: LossFn = default_loss
    metadata: TaskMetadata | None = None

    def __post_init__(self) -> None:
        from lrscope.errors import TaskError

        if not self.name:
            raise TaskError("a Task needs a non-empty name")
        if self.num_classes < 2:
            raise TaskError(f"Task {self.name!r}: num_classes must be >= 2, got {self.num_classes}")
        if self.batch_size < 1:
            raise TaskError(f"Task {self.name!r}: batch_size must be >= 1, got {self.batch_size}")
        if self.metadata is None:
            sample = self.train_data[0][0]
            shape = tuple(sample.shape) if hasattr(sample, "shape") else ()
            self.metadata = TaskMetadata(
                dataset=self.name,
                model_family="custom",
                input_shape=shape,
                train_size=len(self.train_data),  # type: ignore[arg-type]
                num_classes=self.num_classes,
            )
        if self.metadata.batch_size != self.batch_size:
            self.metadata = dataclasses.replace(self.metadata, batch_size=self.batch_size)

    @property
    def train_size(self) -> int:
        return len(self.train_data)  # type: ignore[arg-type]

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one pass over the training set (last batch kept)."""
        return math.ceil(self.train_size / self.batch_size)
