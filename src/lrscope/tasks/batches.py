"""Any batch: how a task turns what its data yields into model inputs, targets and a loss.

A batch is whatever a (collated) dataset yields: a pair ``(x, y)``, a tuple
of several tensors ``(x1, x2, y)``, a list of inputs and a target
``([x1, x2], y)``, a dict in the Hugging Face style ``{"input_ids": ...,
"labels": ...}``, or any nesting of these. A task says what its batches mean
in one of three ways (:class:`BatchSteps`):

1. nothing: :func:`split_batch` reads a sequence as ``(inputs..., target)``
   (the last item is the target) and a mapping with ``labels`` (or
   ``label``) as the model's keyword inputs and that target;
2. ``batch=fn``: ``fn(batch) -> (inputs, targets)``;
3. ``training_step=fn``: ``fn(model, batch) -> loss`` (a scalar tensor), with
   ``eval_step=fn(model, batch) -> (outputs, targets)`` for the metrics; without
   an ``eval_step`` the task is evaluated by its loss alone.

Model inputs call the model as :func:`call_model` says: a tensor ``x`` as
``model(x)``, a tuple or list as ``model(*x)``, a mapping as ``model(**x)``.
A model output that is not a tensor but carries ``logits`` (a Hugging Face
``ModelOutput``) stands for its logits (:func:`output_tensor`).
:func:`move_to` moves every tensor of a batch to a device whatever the
nesting (dicts, lists, tuples, namedtuples), leaving everything else as is.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from lrscope.errors import TaskError

__all__ = [
    "TARGET_KEYS",
    "BatchSteps",
    "EvalStep",
    "LossFn",
    "SplitFn",
    "TrainingStep",
    "batch_length",
    "call_model",
    "check_broadcast",
    "move_to",
    "output_tensor",
    "split_batch",
]

LossFn = Callable[[Any, Any], torch.Tensor]
"""``loss(outputs, targets) -> scalar tensor``, the mean over the batch."""
SplitFn = Callable[[Any], tuple[Any, Any]]
"""``split(batch) -> (model inputs, targets)``."""
TrainingStep = Callable[[nn.Module, Any], torch.Tensor]
"""``training_step(model, batch) -> loss``: the mean loss of the batch, a scalar tensor."""
EvalStep = Callable[[nn.Module, Any], tuple[Any, Any]]
"""``eval_step(model, batch) -> (outputs, targets)`` for the metrics."""

TARGET_KEYS = ("labels", "label")
"""Keys of a mapping batch that :func:`split_batch` reads as the target (Hugging Face's first)."""


def split_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` of a batch by convention.

    - a tuple or list of two items ``(x, y)``: ``x`` and ``y``;
    - of more items ``(x1, ..., xk, y)``: the tuple ``(x1, ..., xk)`` (the
      model is called with ``k`` arguments) and ``y``;
    - a mapping with a key of :data:`TARGET_KEYS`: the other entries (keyword
      arguments of the model) and that entry.

    Raises:
        TaskError: anything else, naming what the batch was and how to say
            what it means (``batch=`` or ``training_step=`` of the task).
    """
    if isinstance(batch, Mapping):
        key = next((k for k in TARGET_KEYS if k in batch), None)
        if key is not None:
            return {k: v for k, v in batch.items() if k != key}, batch[key]
        raise TaskError(
            f"a dict batch with keys {sorted(map(str, batch))} has no "
            f"{' or '.join(repr(k) for k in TARGET_KEYS)} entry: give the task "
            "batch=fn(batch) -> (inputs, targets) or training_step=fn(model, batch) -> loss"
        )
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        items = list(batch)
        inputs = items[0] if len(items) == 2 else tuple(items[:-1])
        return inputs, items[-1]
    raise TaskError(
        f"a batch of type {type(batch).__name__} is not (inputs, targets): give the task "
        "batch=fn(batch) -> (inputs, targets) or training_step=fn(model, batch) -> loss"
    )


def call_model(model: nn.Module, inputs: Any) -> Any:
    """``model(x)`` for a tensor (or any other object), ``model(*x)`` for a tuple or list,
    ``model(**x)`` for a mapping."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def output_tensor(output: Any) -> Any:
    """The tensor a loss and the metrics read from a model's output.

    A tensor is itself; an output carrying ``logits`` (a Hugging Face
    ``ModelOutput``, or a dict) gives them; anything else is returned as is
    (the task's own loss knows what it means).
    """
    if isinstance(output, torch.Tensor):
        return output
    logits = output.get("logits") if isinstance(output, Mapping) else None
    if logits is None:
        logits = getattr(output, "logits", None)
    return logits if isinstance(logits, torch.Tensor) else output


def _is_namedtuple(value: object) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def move_to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor on ``device``, whatever the nesting.

    Tensors already there are returned as they are (no copy). Dicts, lists,
    tuples and namedtuples are rebuilt with their own type (a mapping type
    that cannot be rebuilt from a dict becomes a dict); strings, numbers and
    other objects are left alone.
    """
    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device)
    if isinstance(batch, Mapping):
        moved = {key: move_to(value, device) for key, value in batch.items()}
        if type(batch) is dict:
            return moved
        try:
            return type(batch)(moved)  # type: ignore[call-arg]
        except TypeError:
            return moved
    if _is_namedtuple(batch):
        return type(batch)(*(move_to(item, device) for item in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(move_to(item, device) for item in batch)
    return batch


def _first_tensor(batch: Any) -> torch.Tensor | None:
    if isinstance(batch, torch.Tensor):
        return batch
    items = batch.values() if isinstance(batch, Mapping) else batch
    if isinstance(batch, (Mapping, tuple, list)):
        for item in items:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def batch_length(batch: Any) -> int:
    """Samples in ``batch``: the leading dimension of its first tensor (depth first).

    Raises:
        TaskError: the batch holds no tensor with a batch dimension.
    """
    tensor = _first_tensor(batch)
    if tensor is None or tensor.dim() == 0:
        raise TaskError(
            f"cannot tell how many samples a batch of type {type(batch).__name__} holds: "
            "it has no tensor with a batch dimension"
        )
    return int(tensor.shape[0])


@dataclasses.dataclass(frozen=True)
class BatchSteps:
    """How a task trains and evaluates on one batch (see the module docstring).

    ``loss(outputs, targets)`` is the training loss of a task without a
    ``training_step`` and the test loss of every task that has one (for a
    task with a ``training_step`` and no ``loss``, the test loss is the
    ``training_step`` loss averaged over the samples). ``split`` turns a
    batch into ``(inputs, targets)`` (None: :func:`split_batch`); a task with
    a ``training_step`` uses it for the outputs it is evaluated on, unless an
    ``eval_step`` gives them.
    """

    loss: LossFn | None = None
    split: SplitFn | None = None
    training_step: TrainingStep | None = None
    eval_step: EvalStep | None = None

    @property
    def loss_only(self) -> bool:
        """True when evaluation has no outputs to score, only the loss."""
        return self.training_step is not None and self.eval_step is None and self.split is None

    def split_batch(self, batch: Any) -> tuple[Any, Any]:
        """``(inputs, targets)`` of ``batch``: the task's ``split``, else :func:`split_batch`."""
        return (self.split or split_batch)(batch)

    def training_loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """The mean loss of ``batch`` (a scalar tensor with a graph), for ``backward``.

        Raises:
            TaskError: the training step gave something other than a scalar tensor.
        """
        if self.training_step is not None:
            loss = self.training_step(model, batch)
            where = "training_step"
        else:
            inputs, targets = self.split_batch(batch)
            loss = self.batch_loss(call_model(model, inputs), targets)
            where = "loss"
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise TaskError(f"the task's {where} must return a scalar tensor, got {shape}")
        return loss.reshape(())

    def batch_loss(self, output: Any, targets: Any) -> torch.Tensor:
        """``loss(output_tensor(output), targets)``.

        Raises:
            TaskError: the loss is one of torch's elementwise losses and would
                broadcast outputs against targets (:func:`check_broadcast`).
        """
        if self.loss is None:  # pragma: no cover - Task always resolves a loss or a step
            raise TaskError("the task has neither a loss nor a training_step")
        outputs = output_tensor(output)
        check_broadcast(self.loss, outputs, targets)
        return self.loss(outputs, targets)

    def outputs(self, model: nn.Module, batch: Any) -> tuple[Any, Any] | None:
        """``(outputs, targets)`` of ``batch`` for the metrics; None for a loss-only task."""
        if self.eval_step is not None:
            outputs, targets = self.eval_step(model, batch)
            return output_tensor(outputs), targets
        if self.loss_only:
            return None
        inputs, targets = self.split_batch(batch)
        return output_tensor(call_model(model, inputs)), targets

    def forward(self, model: nn.Module, batch: Any) -> None:
        """Run ``model`` on ``batch`` for its side effects (BatchNorm statistics)."""
        if self.training_step is not None:
            self.training_step(model, batch)
        else:
            call_model(model, self.split_batch(batch)[0])


_ELEMENTWISE_FUNCTIONS: tuple[Callable[..., torch.Tensor], ...] = (
    nn.functional.mse_loss,
    nn.functional.l1_loss,
    nn.functional.smooth_l1_loss,
    nn.functional.huber_loss,
)
_ELEMENTWISE_MODULES = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss)


def _elementwise_name(loss: Callable[..., Any]) -> str | None:
    """The name of ``loss`` if it is one of torch's elementwise losses (or a partial of one)."""
    if isinstance(loss, _ELEMENTWISE_MODULES):
        return f"torch.nn.{type(loss).__name__}()"
    base = loss.func if isinstance(loss, functools.partial) else loss
    if any(base is f for f in _ELEMENTWISE_FUNCTIONS):
        return f"torch.nn.functional.{getattr(base, '__name__', 'loss')}"
    return None


def check_broadcast(loss: Callable[..., Any], outputs: Any, targets: Any) -> None:
    """Refuse an elementwise torch loss that would compare every output with every target.

    ``torch.nn.functional.mse_loss`` (and ``l1_loss``, ``smooth_l1_loss``,
    ``huber_loss`` and their modules) broadcast their two arguments: a model
    that outputs ``(N, 1)`` against targets ``(N,)`` is scored against the
    ``(N, N)`` table of every pair, which trains the model towards the mean
    target (torch only warns). Costs a shape comparison per call.

    Raises:
        TaskError: ``loss`` is such a loss and broadcasting ``outputs`` and
            ``targets`` gives more elements than either has.
    """
    if not (isinstance(outputs, torch.Tensor) and isinstance(targets, torch.Tensor)):
        return
    if outputs.shape == targets.shape:
        return
    name = _elementwise_name(loss)
    if name is None:
        return
    try:
        shape = np.broadcast_shapes(tuple(outputs.shape), tuple(targets.shape))
    except ValueError:
        return  # no broadcast: torch's own error says what is wrong
    if math.prod(shape) > max(outputs.numel(), targets.numel()):
        raise TaskError(
            f"the task's loss {name} gets outputs of shape {tuple(outputs.shape)} and "
            f"targets of shape {tuple(targets.shape)} and broadcasts them to {tuple(shape)}, "
            "comparing every output with every target; give both one shape (e.g. the "
            "model's output .squeeze(-1)), or leave loss= out on a regression task "
            "(lrscope's regression loss pairs them sample by sample)"
        )
