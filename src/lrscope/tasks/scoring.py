r"""What a task measures: its metrics, computed from the model's outputs and the targets.

A :class:`TaskMetric` is a :class:`lrscope.metrics.Metric` (name, label,
unit, direction) and the function that computes it from the outputs and the
targets of the whole test set (``compute(outputs, targets) -> float``). Every
task reports its test loss too (``test_loss``). The built-in metrics:

- classification (a task with ``num_classes``; Wu, Liu et al. 2019,
  section III), for logits :math:`z_i` (N, C), integer labels :math:`y_i` (N,)
  and :math:`p_i = \mathrm{softmax}(z_i)`:

  - ``top1``: the share of samples with :math:`\arg\max_c p_{ic} = y_i` (ties go
    to the lowest class index); ``top5``: with :math:`y_i` among the
    :math:`\min(5, C)` largest. A sample whose logits are not all finite counts
    as wrong.
  - with :math:`S` the correctly classified samples and :math:`q_i = p_{iy_i}`:
    ``ac`` :math:`= \frac{1}{|S|}\sum_{i\in S} q_i`, ``cd`` the population
    standard deviation of :math:`q_i` over :math:`S` (both NaN when :math:`S`
    is empty), ``cdac`` the population standard deviation over the classes of
    :math:`\mathrm{AC}_c`, the mean of :math:`q_i` over :math:`i \in S` with
    :math:`y_i = c` (classes without a correct sample left out).

- regression (outputs and targets with the same number of values per
  sample; computed in float64 over every value): ``mse`` :math:`=
  \frac{1}{n}\sum (o - t)^2`, ``mae`` :math:`= \frac{1}{n}\sum |o - t|`, ``r2``
  :math:`= 1 - \sum (o - t)^2 / \sum (t - \bar t)^2` per output column,
  averaged over the columns (scikit-learn's ``r2_score``; NaN when a column's
  targets are constant).

Targets are never cast: classification metrics require integer labels and
raise :class:`~lrscope.errors.TaskError` for anything else (a task whose
targets are real numbers is a regression task: no ``num_classes``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lrscope.errors import ParameterError, TaskError
from lrscope.metrics import (
    CLASSIFICATION_METRICS,
    METRICS,
    REGRESSION_METRICS,
    Direction,
    Metric,
    Scoring,
)
from lrscope.tasks.batches import BatchSteps
from lrscope.validation import Choice, check

__all__ = [
    "ComputeFn",
    "Scorer",
    "TaskMetric",
    "builtin_metric",
    "classification_loss",
    "classification_metrics",
    "custom_metric",
    "make_scorer",
    "regression_loss",
    "regression_metrics",
]

ComputeFn = Callable[[torch.Tensor, torch.Tensor], float]
"""``compute(outputs, targets) -> float`` over the whole test set."""


@dataclass(frozen=True)
class TaskMetric:
    """A metric of a task: its definition and how it is computed.

    ``compute(outputs, targets)`` gets the outputs of the whole evaluated set
    (concatenated along dimension 0, on the CPU, floating outputs in float32)
    and its targets, and returns a float (NaN when undefined).
    """

    metric: Metric
    compute: ComputeFn = field(compare=False)

    @property
    def name(self) -> str:
        return self.metric.name


def custom_metric(
    name: str,
    compute: ComputeFn,
    *,
    direction: Direction,
    label: str | None = None,
    unit: str = "",
    description: str = "",
    digits: int = 4,
) -> TaskMetric:
    """A task's own metric: ``compute(outputs, targets) -> float`` and which way is better.

    >>> mape = custom_metric(
    ...     "mape", lambda o, t: float(((o - t).abs() / t.abs()).mean()), direction="min"
    ... )

    Raises:
        ParameterError: a name that is not an identifier, a direction other
            than ``"max"`` or ``"min"``, a ``compute`` that is not callable.
    """
    if not callable(compute):
        raise ParameterError("custom_metric", "compute", "a callable (outputs, targets)", compute)
    metric = Metric(name, label or name, direction, unit, description, digits=digits)
    return TaskMetric(metric, compute)


# --------------------------------------------------------------- classification
def classification_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` (N, C) against integer ``target`` (N,)."""
    return nn.functional.cross_entropy(logits, target)


def _labels(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Integer labels (N,) matching logits (N, C); a TaskError for anything else."""
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.is_complex():
        kind = targets.dtype if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise TaskError(
            f"classification metrics need integer class labels, got targets of {kind}; "
            "a task whose targets are real numbers is a regression task (no num_classes)"
        )
    if outputs.dim() != 2 or targets.shape != (outputs.shape[0],):
        raise TaskError(
            f"classification metrics need logits (N, C) and labels (N,), got "
            f"{tuple(outputs.shape)} and {tuple(targets.shape)}"
        )
    return targets.to(torch.long)


def _correct(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    finite = torch.isfinite(outputs).all(dim=1)
    return (outputs.argmax(dim=1) == labels) & finite


def _confidence(outputs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q_i over the correct samples, their labels)``, in float64."""
    correct = _correct(outputs, labels)
    probs = torch.softmax(outputs.double(), dim=1)
    confidence = probs.gather(1, labels.unsqueeze(1)).squeeze(1)[correct]
    return confidence, labels[correct]


def _population_std(values: torch.Tensor) -> float:
    if values.numel() == 0:
        return math.nan
    return float(values.double().std(unbiased=False)) if values.numel() > 1 else 0.0


def _mean_or_nan(values: torch.Tensor) -> float:
    return float(values.double().mean()) if values.numel() else math.nan


def top1(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    labels = _labels(outputs, targets)
    return _mean_or_nan(_correct(outputs, labels))


def top5(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    labels = _labels(outputs, targets)
    if labels.numel() == 0:
        return math.nan
    finite = torch.isfinite(outputs).all(dim=1)
    k = min(5, outputs.shape[1])
    hit = (outputs.topk(k, dim=1).indices == labels.unsqueeze(1)).any(dim=1) & finite
    return _mean_or_nan(hit)


def average_confidence(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    confidence, _ = _confidence(outputs, _labels(outputs, targets))
    return _mean_or_nan(confidence)


def confidence_deviation(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    confidence, _ = _confidence(outputs, _labels(outputs, targets))
    return _population_std(confidence)


def _cdac(num_classes: int | None) -> ComputeFn:
    def cdac(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        confidence, right = _confidence(outputs, _labels(outputs, targets))
        classes = max(num_classes or 0, outputs.shape[1])
        sums = torch.zeros(classes, dtype=torch.float64).index_add_(0, right, confidence)
        counts = torch.bincount(right, minlength=classes)
        present = counts > 0
        return _population_std(sums[present] / counts[present])

    return cdac


def classification_metrics(num_classes: int | None = None) -> tuple[TaskMetric, ...]:
    """``top1``, ``top5``, ``ac``, ``cd``, ``cdac`` (LRBench; formulas in the module docstring)."""
    table = CLASSIFICATION_METRICS
    return (
        TaskMetric(table["top1"], top1),
        TaskMetric(table["top5"], top5),
        TaskMetric(table["ac"], average_confidence),
        TaskMetric(table["cd"], confidence_deviation),
        TaskMetric(table["cdac"], _cdac(num_classes)),
    )


# ------------------------------------------------------------------- regression
def _paired(outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs and targets as float64 ``(N, values per sample)`` of one shape, or a TaskError."""
    if not isinstance(targets, torch.Tensor) or not isinstance(outputs, torch.Tensor):
        raise TaskError(
            f"regression metrics need tensors, got outputs of {type(outputs).__name__} "
            f"and targets of {type(targets).__name__}"
        )
    n = outputs.shape[0] if outputs.dim() else 1
    same = targets.dim() > 0 and targets.shape[0] == n and targets.numel() == outputs.numel()
    if not same:
        raise TaskError(
            f"regression metrics need outputs and targets with the same values per sample, "
            f"got {tuple(outputs.shape)} and {tuple(targets.shape)} (a classification task "
            "needs num_classes)"
        )
    return outputs.reshape(n, -1).double(), targets.reshape(n, -1).double()


def regression_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error, with ``targets`` viewed in the shape of ``outputs``.

    Outputs ``(N, 1)`` against targets ``(N,)`` (the usual slip, which
    ``torch.nn.functional.mse_loss`` would broadcast to ``(N, N)``) compare
    sample by sample.

    Raises:
        TaskError: outputs and targets do not have the same values per sample.
    """
    _paired(outputs.detach(), targets)
    target = targets.reshape(outputs.shape)
    if not target.is_floating_point():
        target = target.to(outputs.dtype)  # integer-valued targets: exact in float
    return nn.functional.mse_loss(outputs, target)


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    o, t = _paired(outputs, targets)
    return float(((o - t) ** 2).mean()) if o.numel() else math.nan


def mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    o, t = _paired(outputs, targets)
    return float((o - t).abs().mean()) if o.numel() else math.nan


def r2(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    o, t = _paired(outputs, targets)
    if o.shape[0] < 2:
        return math.nan
    residual = ((o - t) ** 2).sum(dim=0)
    total = ((t - t.mean(dim=0)) ** 2).sum(dim=0)
    if bool((total == 0).any()):
        return math.nan
    return float((1 - residual / total).mean())


def regression_metrics() -> tuple[TaskMetric, ...]:
    """``mse``, ``mae``, ``r2`` (definitions in the module docstring)."""
    table = REGRESSION_METRICS
    return (
        TaskMetric(table["mse"], mse),
        TaskMetric(table["mae"], mae),
        TaskMetric(table["r2"], r2),
    )


def builtin_metric(name: str, num_classes: int | None = None) -> TaskMetric:
    """The built-in metric called ``name`` (``mse``, ``mae``, ``r2``, ``top1``, ...).

    Raises:
        ParameterError: an unknown name (the message lists the known ones).
    """
    known = {m.name: m for m in (*classification_metrics(num_classes), *regression_metrics())}
    if name not in known:
        raise ParameterError("the task", "metrics", f"a str among {sorted(known)}", name)
    return known[name]


# --------------------------------------------------------------------- scorer
@dataclass(frozen=True)
class Scorer:
    """Everything evaluation needs: the batch steps, the metrics and their definitions.

    ``scoring`` holds the definitions of :attr:`metrics` and ``test_loss``
    (every task reports its test loss) and the primary metric.
    """

    steps: BatchSteps
    metrics: tuple[TaskMetric, ...]
    scoring: Scoring

    @property
    def primary(self) -> str:
        return self.scoring.primary

    def score(self, outputs: Any, targets: Any) -> dict[str, float]:
        """Every metric of :attr:`metrics` on ``outputs`` and ``targets``, by name."""
        return {m.name: float(m.compute(outputs, targets)) for m in self.metrics}


def _metric_list(
    given: Iterable[TaskMetric | str] | None, num_classes: int | None
) -> list[TaskMetric]:
    chosen: list[TaskMetric] = []
    for item in given or ():
        if isinstance(item, str):
            chosen.append(builtin_metric(item, num_classes))
        elif isinstance(item, TaskMetric):
            chosen.append(item)
        else:
            raise ParameterError(
                "the task",
                "metrics",
                "a list of TaskMetric (lrscope.custom_metric) or built-in metric names",
                item,
            )
    return chosen


def make_scorer(
    steps: BatchSteps,
    *,
    num_classes: int | None,
    metrics: Iterable[TaskMetric | str] | None = None,
    primary: str | None = None,
    owner: str = "the task",
) -> Scorer:
    """The scorer of a task: its kind's built-in metrics, its own, ``test_loss`` and the primary.

    Classification (``num_classes`` given) scores the LRBench metrics, top-1
    primary; a task with outputs and no ``num_classes`` is regression (MSE,
    MAE, R², MSE primary); a loss-only task (a ``training_step`` without an
    ``eval_step``) its test loss. ``metrics`` adds the task's own (or names
    built-ins); ``primary`` names the primary metric among all of them.

    Raises:
        ParameterError: an unknown built-in name, two metrics of one name, a
            reserved name, a ``primary`` that is not one of the metrics, or
            metrics of outputs on a loss-only task.
    """
    if steps.loss_only:
        base: tuple[TaskMetric, ...] = ()
    elif num_classes is not None:
        base = classification_metrics(num_classes)
    else:
        base = regression_metrics()
    own = _metric_list(metrics, num_classes)
    if own and steps.loss_only:
        raise ParameterError(
            owner, "metrics", "None for a task evaluated by its loss alone (add an eval_step)", own
        )
    combined: dict[str, TaskMetric] = {m.name: m for m in base}
    for item in own:
        builtin = METRICS.get(item.name)
        twice = item.name in combined and combined[item.name].metric != item.metric
        if twice or (builtin is not None and builtin != item.metric):
            # A built-in's name means that metric everywhere (the result's best_top1,
            # the rank columns): a task's own may not take it with another meaning.
            raise ParameterError(
                owner,
                "metrics",
                f"metrics with distinct names, none a built-in's ({', '.join(sorted(METRICS))}) "
                "unless it is that built-in",
                item.name,
            )
        combined[item.name] = item
    if "test_loss" in combined:
        raise ParameterError(owner, "metrics", "metrics other than test_loss (always reported)", "")
    definitions = (*(m.metric for m in combined.values()), METRICS["test_loss"])
    default = base[0].name if base else (own[0].name if own else "test_loss")
    names = tuple(m.name for m in definitions)
    chosen = default if primary is None else check(owner, "primary_metric", primary, Choice(names))
    scoring = Scoring(metrics=definitions, primary=chosen)
    return Scorer(steps, tuple(combined.values()), scoring)
