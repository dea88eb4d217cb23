"""Evaluation: a model's loss and its task's metrics on a dataset.

:func:`evaluate` runs the model over the data in order (eval mode, no
gradients, on the runtime's device and under its autocast), gathers the
outputs and targets of every batch (:meth:`lrscope.tasks.batches.BatchSteps.outputs`;
floating outputs in float32 on the CPU; targets exactly as the data gives
them: never cast) and computes

- the loss: ``task.loss`` on all outputs at once (the mean cross-entropy in
  nats for classification, the mean squared error for regression); for a
  task without ``loss`` but with a ``training_step``, that step's loss
  averaged over the samples (a sample-weighted mean of the batch means);
- every metric of the task (:mod:`lrscope.tasks.scoring` has the formulas
  of the built-in ones: LRBench's top-1, top-5, AC, CD, CDAC; MSE, MAE, R²).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from lrscope.engine.data import iter_batches
from lrscope.engine.device import Compute, evaluating, resolve
from lrscope.errors import TaskError
from lrscope.tasks.base import Task, default_loss
from lrscope.tasks.batches import BatchSteps, LossFn, batch_length
from lrscope.tasks.scoring import Scorer, make_scorer

__all__ = ["Evaluation", "evaluate", "evaluation_from_logits", "evaluation_from_outputs", "predict"]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a model on a dataset.

    ``loss`` is the task's loss (nats for cross-entropy); ``metrics`` maps
    every metric of the task to its value (NaN when undefined, e.g. AC
    without a correct sample); ``samples`` counts the samples evaluated.
    The LRBench names (``top1``, ``top5``, ``ac``, ``cd``, ``cdac``) read as
    attributes too, NaN for a task that does not score them.
    """

    loss: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    samples: int = 0

    def value(self, name: str) -> float:
        """The metric ``name``; ``test_loss`` is :attr:`loss`; NaN when not scored."""
        if name == "test_loss":
            return self.loss
        return float(self.metrics.get(name, math.nan))

    def values(self) -> dict[str, float]:
        """Every metric and ``test_loss``, by name."""
        return {**self.metrics, "test_loss": self.loss}

    @property
    def top1(self) -> float:
        return self.value("top1")

    @property
    def top5(self) -> float:
        return self.value("top5")

    @property
    def ac(self) -> float:
        return self.value("ac")

    @property
    def cd(self) -> float:
        return self.value("cd")

    @property
    def cdac(self) -> float:
        return self.value("cdac")

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "metrics": dict(self.metrics), "samples": self.samples}


def _cat(parts: list[Any], what: str) -> torch.Tensor:
    if not all(isinstance(p, torch.Tensor) and p.dim() > 0 for p in parts):
        kinds = sorted({type(p).__name__ for p in parts})
        raise TaskError(
            f"evaluation gathers {what} that are tensors with a batch dimension, got "
            f"{', '.join(kinds)}; give the task an eval_step(model, batch) -> (outputs, targets)"
        )
    try:
        return torch.cat(parts)
    except RuntimeError as exc:
        raise TaskError(
            f"the {what} of the evaluation batches do not concatenate along dimension 0 ({exc}); "
            "give the task an eval_step(model, batch) -> (outputs, targets) that makes them"
        ) from None


@dataclass
class _Gathered:
    outputs: list[Any] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    loss_sum: float = 0.0
    samples: int = 0


def _on_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach()
        return (value.float() if value.is_floating_point() else value).cpu()
    return value


def _gather(
    model: nn.Module,
    data: Dataset[Any],
    steps: BatchSteps,
    compute: Compute,
    batch_size: int,
    step_loss: bool,
) -> _Gathered:
    gathered = _Gathered()
    with evaluating(model):
        for raw in iter_batches(data, batch_size):
            batch = compute.move(raw)
            with compute.autocast():
                pair = steps.outputs(model, batch)
                if step_loss:
                    n = batch_length(batch)
                    gathered.loss_sum += float(steps.training_loss(model, batch)) * n
                    gathered.samples += n
            if pair is not None:
                gathered.outputs.append(_on_cpu(pair[0]))
                gathered.targets.append(_on_cpu(pair[1]))
    return gathered


def predict(
    model: nn.Module,
    data: Dataset[Any],
    steps: BatchSteps | None = None,
    batch_size: int = 1000,
    *,
    compute: Compute | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(outputs, targets)`` of the whole dataset, in eval mode, without gradients.

    ``steps`` reads the batches (default: ``(inputs..., target)`` batches and
    the model's output). The model's train/eval mode is restored afterwards.

    Raises:
        TaskError: a loss-only task (no outputs), or outputs / targets that
            are not tensors of one shape per sample.
    """
    steps = steps if steps is not None else BatchSteps(default_loss)
    if steps.loss_only:
        raise TaskError("the task is evaluated by its loss alone: it has no outputs to predict")
    gathered = _gather(model, data, steps, compute or resolve(), batch_size, step_loss=False)
    if not gathered.outputs:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.long)
    return _cat(gathered.outputs, "outputs"), _cat(gathered.targets, "targets")


def evaluation_from_outputs(
    outputs: torch.Tensor, targets: torch.Tensor, scorer: Scorer, *, with_metrics: bool = True
) -> Evaluation:
    """The loss and metrics of ``outputs`` against ``targets`` (pure; the targets are not cast).

    Raises:
        TaskError: the task's loss would broadcast the outputs against the
            targets (:func:`lrscope.tasks.batches.check_broadcast`).
    """
    count = int(outputs.shape[0]) if outputs.dim() else 0
    if count == 0:
        names = [m.name for m in scorer.metrics] if with_metrics else []
        return Evaluation(math.nan, dict.fromkeys(names, math.nan), 0)
    loss = (
        math.nan if scorer.steps.loss is None else float(scorer.steps.batch_loss(outputs, targets))
    )
    metrics = scorer.score(outputs, targets) if with_metrics else {}
    return Evaluation(loss, metrics, count)


def evaluation_from_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    loss: LossFn = default_loss,
    num_classes: int | None = None,
) -> Evaluation:
    """Loss, top-1, top-5, AC, CD and CDAC of logits ``(N, C)`` against integer labels ``(N,)``.

    Raises:
        TaskError: logits that are not ``(N, C)``, labels that are not ``(N,)``
            integers (they are never cast).
    """
    classes = num_classes or (int(logits.shape[1]) if logits.dim() == 2 else 2)
    scorer = make_scorer(BatchSteps(loss), num_classes=max(classes, 2))
    if logits.dim() != 2 or targets.shape != (logits.shape[0],):
        raise TaskError(
            f"need logits (N, C) and targets (N,), got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    return evaluation_from_outputs(logits, targets, scorer)


def evaluate(
    model: nn.Module,
    data: Dataset[Any],
    scorer: Scorer | Task,
    *,
    batch_size: int = 1000,
    compute: Compute | None = None,
    with_metrics: bool = True,
) -> Evaluation:
    """The loss and every metric of a task (``scorer``: a Task or its ``scorer``).

    Runs in eval mode under :func:`torch.no_grad` (the previous mode is
    restored), in batches of ``batch_size`` samples, on ``compute``'s device
    under its autocast (default: the CPU, fp32). ``with_metrics=False``
    computes the loss only (the trial's train-subset evaluations).

    Raises:
        TaskError: outputs or targets that do not concatenate, targets a
            metric cannot read (e.g. float labels for top-1).
    """
    if isinstance(scorer, Task):
        scorer = scorer.scorer
    steps = scorer.steps
    step_loss = steps.loss is None or steps.loss_only
    chosen = compute or resolve()
    gathered = _gather(model, data, steps, chosen, batch_size, step_loss)
    if step_loss:
        loss = gathered.loss_sum / gathered.samples if gathered.samples else math.nan
        if not gathered.outputs or not with_metrics:
            names = [m.name for m in scorer.metrics] if with_metrics else []
            metrics = dict.fromkeys(names, math.nan)
            return Evaluation(loss, metrics, gathered.samples)
        outputs, targets = _cat(gathered.outputs, "outputs"), _cat(gathered.targets, "targets")
        return Evaluation(loss, scorer.score(outputs, targets), int(outputs.shape[0]))
    if not gathered.outputs:
        return evaluation_from_outputs(torch.zeros(0), torch.zeros(0), scorer)
    outputs, targets = _cat(gathered.outputs, "outputs"), _cat(gathered.targets, "targets")
    with torch.no_grad():
        return evaluation_from_outputs(outputs, targets, scorer, with_metrics=with_metrics)
