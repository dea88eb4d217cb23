"""What a range test on a caller's model and optimizer copies beforehand and puts back.

:func:`lrscope.rangetest.lr_range_test` trains the caller's own model with the
caller's own optimizer, so everything its steps change and the caller can see
is copied by :meth:`Saved.take` and put back by :meth:`Saved.restore`:

- the model's parameters (``state_dict``), every buffer, persistent or not
  (the same tensor objects with the same shapes and values, also when a
  ``forward`` re-bound or resized one; buffers a ``forward`` registered are
  removed), gradients and train/eval modes;
- the optimizer's state and param groups (``state_dict``, lr included);
- what counts the optimizer's steps: the counter of every
  :class:`~lrscope.torch.PolicyScheduler` built on the optimizer (so its
  once-per-epoch warning neither fires for the test's steps nor misses a later
  real mistake), and the optimizer's plain attributes (bool, int, float, str,
  None), among them the ``_opt_called`` flag with which torch's LR schedulers
  check that ``optimizer.step()`` ran before ``lr_scheduler.step()``; flags the
  test's steps added are removed;
- the Python, numpy and torch random generators.

Step hooks the caller registered still run during the test (they may be part
of how the model trains, e.g. a weight constraint); only lrscope's own counter
is known to count, so only its count is put back.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lrscope.engine.checkpoint import capture_rng, restore_rng
from lrscope.torch.scheduler import StepCounter

__all__ = ["Saved"]

_PLAIN = (bool, int, float, str, type(None))
"""Types of the optimizer attributes put back by value (flags and counters)."""


@dataclass(frozen=True)
class _ModuleBuffers:
    """One module's buffer table: the tensor objects, their values, the non-persistent names."""

    module: nn.Module
    tensors: dict[str, torch.Tensor | None]
    values: dict[str, torch.Tensor]
    non_persistent: set[str]

    @classmethod
    def take(cls, module: nn.Module) -> _ModuleBuffers:
        tensors = dict(module._buffers)
        values = {n: t.detach().clone() for n, t in tensors.items() if t is not None}
        return cls(module, tensors, values, set(module._non_persistent_buffers_set))

    def restore(self) -> None:
        table = self.module._buffers
        table.clear()  # also drops buffers the test's forward passes registered
        table.update(self.tensors)
        self.module._non_persistent_buffers_set.clear()
        self.module._non_persistent_buffers_set.update(self.non_persistent)
        with torch.no_grad():
            for name, tensor in self.tensors.items():
                if tensor is None:
                    continue
                value = self.values[name]
                if tensor.shape == value.shape and tensor.dtype == value.dtype:
                    tensor.copy_(value)
                else:  # resized or re-typed in place
                    tensor.data = value


def _step_counters(optimizer: torch.optim.Optimizer) -> list[StepCounter]:
    """The step counters of the PolicySchedulers built on ``optimizer``."""
    hooks = [
        *optimizer._optimizer_step_pre_hooks.values(),
        *optimizer._optimizer_step_post_hooks.values(),
    ]
    return [hook for hook in hooks if isinstance(hook, StepCounter)]


def _plain_attributes(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    return {k: v for k, v in vars(optimizer).items() if isinstance(v, _PLAIN)}


@dataclass
class Saved:
    """Copies of everything a range test changes on a caller's model and optimizer."""

    model: dict[str, Any]
    buffers: list[_ModuleBuffers]
    optimizer: dict[str, Any]
    attributes: dict[str, Any]
    counters: list[tuple[StepCounter, int]]
    grads: list[torch.Tensor | None]
    modes: list[bool]
    rng: dict[str, Any]

    @classmethod
    def take(cls, model: nn.Module, optimizer: torch.optim.Optimizer) -> Saved:
        """Copy the state of ``model`` and ``optimizer`` and the random generators."""
        return cls(
            model=copy.deepcopy(model.state_dict()),
            buffers=[_ModuleBuffers.take(m) for m in model.modules()],
            optimizer=copy.deepcopy(optimizer.state_dict()),
            attributes=_plain_attributes(optimizer),
            counters=[(c, c.count) for c in _step_counters(optimizer)],
            grads=[None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
            modes=[m.training for m in model.modules()],
            rng=capture_rng(),
        )

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Put everything :meth:`take` copied back (buffers before the state dict's keys)."""
        for buffers in self.buffers:
            buffers.restore()
        model.load_state_dict(self.model)
        optimizer.load_state_dict(self.optimizer)
        for name in _plain_attributes(optimizer).keys() - self.attributes.keys():
            delattr(optimizer, name)
        for name, value in self.attributes.items():
            setattr(optimizer, name, value)
        for counter, count in self.counters:
            counter.count = count
        for param, grad in zip(model.parameters(), self.grads, strict=True):
            param.grad = grad
        for module, training in zip(model.modules(), self.modes, strict=True):
            module.training = training
        restore_rng(self.rng)
