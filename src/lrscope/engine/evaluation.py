r"""Evaluation: loss, accuracy and the LRBench confidence metrics (Wu, Liu et al. 2019, III).

For test samples :math:`i = 1..N` with label :math:`y_i`, logits :math:`z_i`
and softmax probabilities :math:`p_i = \mathrm{softmax}(z_i)`:

- top-1: fraction of samples with :math:`\arg\max_c p_{ic} = y_i` (ties go to
  the lowest class index); top-k (k = 5, or the number of classes if smaller):
  fraction with :math:`y_i` among the k largest probabilities. A sample whose
  logits are not all finite counts as wrong.
- confidence of a correctly classified sample: :math:`q_i = p_{i y_i}`. With
  :math:`S` the correctly classified samples,
  AC :math:`= \frac{1}{|S|}\sum_{i\in S} q_i` and
  CD :math:`= \sqrt{\frac{1}{|S|}\sum_{i\in S}(q_i - \mathrm{AC})^2}`
  (population standard deviation); both NaN when :math:`S` is empty.
- CDAC: with :math:`\mathrm{AC}_c` the mean of :math:`q_i` over
  :math:`i \in S` with :math:`y_i = c`, the population standard deviation of
  :math:`\{\mathrm{AC}_c\}` over the classes that have at least one correct
  sample (NaN when there is none).
- loss: ``task.loss`` on all logits at once (mean cross-entropy, in nats, by
  default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from lrscope.engine.data import iter_batches
from lrscope.tasks.base import default_loss

__all__ = ["Evaluation", "evaluate", "evaluation_from_logits", "predict"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a model on a dataset (definitions in the module docstring).

    ``loss`` in nats (for cross-entropy); ``top1``, ``top5`` fractions in
    [0, 1]; ``ac``, ``cd``, ``cdac`` probabilities in [0, 1] or NaN;
    ``samples`` is the number of samples evaluated.
    """

    loss: float
    top1: float
    top5: float
    ac: float
    cd: float
    cdac: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _population_std(values: torch.Tensor) -> float:
    if values.numel() == 0:
        return math.nan
    return float(values.double().std(unbiased=False)) if values.numel() > 1 else 0.0


def evaluation_from_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    loss: LossFn = default_loss,
    num_classes: int | None = None,
) -> Evaluation:
    """The metrics of logits ``(N, C)`` against integer labels ``(N,)``."""
    if logits.dim() != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(
            f"need logits (N, C) and targets (N,), got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    count, classes = logits.shape
    classes = num_classes or classes
    if count == 0:
        return Evaluation(math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    targets = targets.long()
    finite = torch.isfinite(logits).all(dim=1)
    correct = (logits.argmax(dim=1) == targets) & finite
    k = min(5, logits.shape[1])
    in_top_k = (logits.topk(k, dim=1).indices == targets.unsqueeze(1)).any(dim=1) & finite
    probs = torch.softmax(logits.double(), dim=1)
    confidence = probs.gather(1, targets.unsqueeze(1)).squeeze(1)[correct]
    ac = float(confidence.mean()) if confidence.numel() else math.nan
    right_labels = targets[correct]
    per_class_sum = torch.zeros(classes, dtype=torch.float64).index_add_(
        0, right_labels, confidence
    )
    per_class_count = torch.bincount(right_labels, minlength=classes)
    present = per_class_count > 0
    per_class_mean = per_class_sum[present] / per_class_count[present]
    return Evaluation(
        loss=float(loss(logits, targets)),
        top1=float(correct.double().mean()),
        top5=float(in_top_k.double().mean()),
        ac=ac,
        cd=_population_std(confidence),
        cdac=_population_std(per_class_mean),
        samples=count,
    )


def predict(
    model: nn.Module, data: Dataset[Any], batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, labels)`` of the whole dataset, in eval mode, without gradients.

    The model's train/eval mode is restored afterwards.
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    outputs: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for x, y in iter_batches(data, batch_size):
                outputs.append(model(x.to(device)).float().cpu())
                labels.append(y)
    finally:
        model.train(was_training)
    if not outputs:
        return torch.zeros(0, 0), torch.zeros(0, dtype=torch.long)
    return torch.cat(outputs), torch.cat(labels)


def evaluate(
    model: nn.Module,
    data: Dataset[Any],
    num_classes: int | None = None,
    loss: LossFn = default_loss,
    *,
    batch_size: int = 1000,
) -> Evaluation:
    """Loss, top-1, top-5, AC, CD and CDAC of ``model`` on ``data``.

    Runs in eval mode under :func:`torch.no_grad` (the previous mode is
    restored), in batches of ``batch_size`` samples.
    """
    logits, labels = predict(model, data, batch_size)
    with torch.no_grad():
        return evaluation_from_logits(logits, labels, loss, num_classes)
