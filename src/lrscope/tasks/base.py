"""The :class:`Task`: everything a trial needs to train and evaluate a model."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from lrscope.metrics import CLASSIFICATION_SCORING, Scoring
from lrscope.tasks.batches import (
    TARGET_KEYS,
    BatchSteps,
    EvalStep,
    LossFn,
    SplitFn,
    TrainingStep,
)
from lrscope.tasks.scoring import (
    Scorer,
    TaskMetric,
    classification_loss,
    make_scorer,
    regression_loss,
)
from lrscope.validation import COUNT, Interval, OrNone, Text, check

__all__ = ["Task", "TaskMetadata", "default_loss", "default_optimizer"]

ModelFactory = Callable[[], nn.Module]
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]

default_loss = classification_loss
"""Mean cross-entropy of logits (N, C) against integer labels (N,): a classification task's loss."""

_NUM_CLASSES = OrNone(Interval(int, 2, None, "left"))


def default_optimizer(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """SGD with momentum 0.9 and weight decay 5e-4 (Wu, Liu et al. 2019, Table II).

    The learning rate given here is a placeholder: the policy sets it before
    every step.
    """
    return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)


@dataclass(frozen=True)
class TaskMetadata:
    """What describes a task for similarity search (``lrscope recommend``) and the store.

    ``input_shape`` excludes the batch dimension (``()`` when the samples are
    not ``(input, target)`` tensors); ``train_size`` counts samples;
    ``batch_size`` (samples per step) gives the epoch length in steps, by
    which recommendations rescale step counts; ``num_classes`` is None for a
    task that is not classification; ``scoring`` holds the definitions of
    the task's metrics and its primary metric, recorded as ``metrics`` and
    ``primary_metric``. A classification scored as LRBench scores it
    (:data:`lrscope.metrics.CLASSIFICATION_SCORING`) records none: metadata
    without metric definitions is a classification's
    (:meth:`lrscope.metrics.Scoring.from_metadata`), so the metadata, and the
    store's fingerprint of it, of every task stored before tasks declared
    their metrics stay what they were. :class:`Task` fills it in.
    """

    dataset: str
    model_family: str
    input_shape: tuple[int, ...]
    train_size: int
    num_classes: int | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int | None = None
    scoring: Scoring | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "dataset": self.dataset,
            "model_family": self.model_family,
            "input_shape": list(self.input_shape),
            "train_size": self.train_size,
            "num_classes": self.num_classes,
            "batch_size": self.batch_size,
            "extra": dict(self.extra),
        }
        if self.scoring is not None and self.scoring != CLASSIFICATION_SCORING:
            data.update(self.scoring.to_metadata())
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskMetadata:
        classes = data.get("num_classes")
        return cls(
            dataset=str(data["dataset"]),
            model_family=str(data["model_family"]),
            input_shape=tuple(int(v) for v in data["input_shape"]),
            train_size=int(data["train_size"]),
            num_classes=None if classes is None else int(classes),
            extra=dict(data.get("extra", {})),
            batch_size=None if data.get("batch_size") is None else int(data["batch_size"]),
            scoring=Scoring.from_metadata(data),
        )


def _input_shape(sample: Any) -> tuple[int, ...]:
    """The shape of the input of one sample: ``(x, y)`` -> ``x.shape``; ``()`` if unknown."""
    if isinstance(sample, Mapping):
        inputs = [v for k, v in sample.items() if k not in TARGET_KEYS]
        first = inputs[0] if inputs else None
    elif isinstance(sample, (tuple, list)) and sample:
        first = sample[0]
    else:
        first = sample
    shape = getattr(first, "shape", None)
    return tuple(int(v) for v in shape) if shape is not None else ()


def _check_callable(owner: str, name: str, value: object, *, optional: bool) -> None:
    from lrscope.errors import ParameterError

    if (value is None and not optional) or (value is not None and not callable(value)):
        allowed = "None or a callable" if optional else "a callable"
        raise ParameterError(owner, name, allowed, value)


@dataclass
class Task:
    """A learning problem and the model that learns it.

    Attributes:
        name: unique name; built-in names such as ``"mnist1d-cnn"`` or the
            ``module:function`` / ``file.py:function`` reference of a user task.
        model: builds a fresh model; called after the trial's seed is set, so
            the initial weights depend on the seed only.
        train_data, test_data: map-style datasets. A sample is ``(input,
            target)``, a tuple of several inputs and a target, a dict, ...:
            anything :func:`torch.utils.data.default_collate` collates (see
            :mod:`lrscope.tasks.batches` for how a batch is read).
        num_classes: number of classes of a classification task (integer
            labels ``0 .. num_classes - 1``; scored with the LRBench metrics,
            top-1 primary); None for a regression task (scored with MSE,
            MAE and R², MSE primary) or one scored by its loss.
        batch_size: samples per optimizer step (per micro-batch under
            gradient accumulation).
        optimizer: builds the optimizer from the model's parameters; its
            learning rate (and momentum, for cycling policies) is overwritten
            by the policy before every step.
        loss: ``loss(outputs, targets) -> scalar``, used for training and
            for the reported train and test losses. Default: cross-entropy
            with ``num_classes``, else mean squared error
            (:func:`lrscope.tasks.scoring.regression_loss`); unused for training
            when a ``training_step`` is given.
        metadata: dataset, model family, input shape, train size, classes;
            the scoring is filled in from the task.
        metrics: the task's own metrics (:func:`lrscope.custom_metric`) or
            names of built-in ones (``"mse"``, ``"mae"``, ``"r2"``, ...), scored
            besides those of its kind.
        primary_metric: the metric that picks a trial's best evaluation and
            ranks by default (default: ``top1``, ``mse``, or the first of
            ``metrics``, else ``test_loss``).
        batch: ``batch(batch) -> (inputs, targets)`` for batches that are not
            ``(inputs..., target)`` or a dict with ``labels``.
        training_step: ``training_step(model, batch) -> loss`` (a scalar
            tensor, the batch's mean loss) in place of ``loss`` and ``batch``.
        eval_step: ``eval_step(model, batch) -> (outputs, targets)`` for the
            metrics of a task with a ``training_step``; without one (and
            without ``batch``) such a task is scored by its test loss alone.

    Raises:
        ParameterError: an empty name, ``num_classes`` < 2, ``batch_size`` < 1,
            a step that is not callable, an unknown or misplaced metric.
    """

    name: str
    model: ModelFactory
    train_data: Dataset[Any]
    test_data: Dataset[Any]
    num_classes: int | None = None
    batch_size: int = 128
    optimizer: OptimizerFactory = default_optimizer
    loss: LossFn | None = None
    metadata: TaskMetadata | None = None
    metrics: Sequence[TaskMetric | str] | None = None
    primary_metric: str | None = None
    batch: SplitFn | None = None
    training_step: TrainingStep | None = None
    eval_step: EvalStep | None = None
    scorer: Scorer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.name = check("the task", "name", self.name, Text(strip=True))
        owner = f"the task {self.name!r}"
        self.num_classes = check(owner, "num_classes", self.num_classes, _NUM_CLASSES)
        self.batch_size = check(owner, "batch_size", self.batch_size, COUNT)
        _check_callable(owner, "model", self.model, optional=False)
        _check_callable(owner, "optimizer", self.optimizer, optional=False)
        for name in ("loss", "batch", "training_step", "eval_step"):
            _check_callable(owner, name, getattr(self, name), optional=True)
        if self.loss is None and self.training_step is None:
            self.loss = default_loss if self.num_classes is not None else regression_loss
        steps = BatchSteps(self.loss, self.batch, self.training_step, self.eval_step)
        self.scorer = make_scorer(
            steps,
            num_classes=self.num_classes,
            metrics=self.metrics,
            primary=self.primary_metric,
            owner=owner,
        )
        if self.metadata is None:
            self.metadata = TaskMetadata(
                dataset=self.name,
                model_family="custom",
                input_shape=_input_shape(self.train_data[0]),
                train_size=len(self.train_data),  # type: ignore[arg-type]
                num_classes=self.num_classes,
            )
        if (self.metadata.batch_size, self.metadata.scoring) != (self.batch_size, self.scoring):
            self.metadata = dataclasses.replace(
                self.metadata, batch_size=self.batch_size, scoring=self.scoring
            )

    @property
    def batch_steps(self) -> BatchSteps:
        """How a batch trains and evaluates (:class:`lrscope.tasks.batches.BatchSteps`)."""
        return self.scorer.steps

    @property
    def scoring(self) -> Scoring:
        """The definitions of the task's metrics and its primary metric."""
        return self.scorer.scoring

    @property
    def train_size(self) -> int:
        return len(self.train_data)  # type: ignore[arg-type]

    @property
    def steps_per_epoch(self) -> int:
        """Micro-batches in one pass over the training set (last batch kept).

        An optimizer step under gradient accumulation takes several; see
        :meth:`lrscope.engine.Runtime.optimizer_steps`.
        """
        return math.ceil(self.train_size / self.batch_size)
