r"""``torch.optim.SGD``'s update for K stacked members, each with its own lr and momentum.

For member ``k`` with learning rate :math:`\eta_k`, momentum :math:`\mu_k`
(both set by its policy before every step), and its parameter group's weight
decay :math:`\lambda`, dampening :math:`\tau`, ``nesterov`` and ``maximize``,
one step does, in torch's order (``torch.optim.SGD``, single-tensor path):

.. math::

    g &\leftarrow -g \text{ if maximize} \\
    d &= g + \lambda p \\
    b &\leftarrow d \text{ at the first step with } \mu_k \ne 0,
        \text{ else } \mu_k b + (1 - \tau) d \\
    d &\leftarrow d + \mu_k b \text{ (nesterov) or } b \\
    p &\leftarrow p - \eta_k d

A member whose momentum is 0 at a step skips the two momentum lines (its
buffer is kept unchanged), as torch does. Parameters without a gradient are
skipped. The only difference from torch is rounding: :math:`\eta_k d` is
formed by an elementwise product with the members' learning rates, so the
result can differ in the last bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

__all__ = ["SGDGroup", "StackedSGD", "sgd_groups"]


@dataclass(frozen=True)
class SGDGroup:
    """One parameter group of a ``torch.optim.SGD``: its parameter names and constants.

    ``momentum`` is the group's own value, used when the policy does not set one.
    """

    names: tuple[str, ...]
    momentum: float
    dampening: float
    weight_decay: float
    nesterov: bool
    maximize: bool


def sgd_groups(optimizer: torch.optim.Optimizer, names: Mapping[int, str]) -> list[SGDGroup] | str:
    """The groups of ``optimizer`` with parameters named by ``names`` (``id(p) -> name``).

    Returns a sentence saying why it cannot be batched instead when
    ``optimizer`` is not exactly ``torch.optim.SGD``, or holds tensors that are
    not the model's parameters, or leaves some of them out.
    """
    if type(optimizer) is not torch.optim.SGD:
        return (
            f"the task's optimizer is {type(optimizer).__name__}; batched trials implement "
            "torch.optim.SGD only"
        )
    groups: list[SGDGroup] = []
    seen: set[str] = set()
    for group in optimizer.param_groups:
        try:
            members = tuple(names[id(p)] for p in group["params"])
        except KeyError:
            return "the task's optimizer holds tensors that are not the model's parameters"
        seen.update(members)
        if isinstance(group["lr"], torch.Tensor) or group.get("differentiable", False):
            return "the task's SGD uses a tensor learning rate or differentiable=True"
        groups.append(
            SGDGroup(
                names=members,
                momentum=float(group["momentum"]),
                dampening=float(group["dampening"]),
                weight_decay=float(group["weight_decay"]),
                nesterov=bool(group["nesterov"]),
                maximize=bool(group.get("maximize", False)),
            )
        )
    missing = sorted(set(names.values()) - seen)
    if missing:
        return f"the task's optimizer does not update parameter {missing[0]!r}"
    return groups


def _shape(count: int, tensor: torch.Tensor) -> tuple[int, ...]:
    return (count,) + (1,) * (tensor.dim() - 1)


class _Rates:
    """One value per member as a ``(K, 1, ..., 1)`` view per (dimensions, dtype) asked for."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = torch.tensor(values, dtype=torch.float64)
        self.views: dict[tuple[int, torch.dtype], torch.Tensor] = {}

    def like(self, tensor: torch.Tensor) -> torch.Tensor:
        key = (tensor.dim(), tensor.dtype)
        view = self.views.get(key)
        if view is None:
            shape = _shape(len(self.values), tensor)
            view = self.views[key] = self.values.to(tensor.dtype).view(shape)
        return view


class StackedSGD:
    """SGD state (momentum buffers) for stacked parameters ``(K, *shape)``.

    A step updates each parameter group with a handful of ``torch._foreach_*``
    calls over all its tensors; the per-tensor path is taken only while some
    member has no momentum or no buffer yet.
    """

    def __init__(self, groups: Sequence[SGDGroup]) -> None:
        self.groups = list(groups)
        self.buffers: dict[str, torch.Tensor] = {}
        # Members (rows) whose buffer exists; absent key: no row has one yet.
        self.started: dict[str, torch.Tensor] = {}
        self.complete: set[str] = set()  # names whose buffer rows have all started

    def momenta(self, policy_momenta: Sequence[float | None]) -> list[list[float]]:
        """Per group, each member's momentum: its policy's value, else the group's."""
        return [
            [group.momentum if m is None else m for m in policy_momenta] for group in self.groups
        ]

    @torch.no_grad()
    def step(
        self,
        params: Mapping[str, torch.Tensor],
        lrs: Sequence[float],
        policy_momenta: Sequence[float | None],
    ) -> None:
        """Update every stacked parameter in place (``lrs[k]``: member ``k``'s lr)."""
        neg_lr = _Rates([-lr for lr in lrs])
        for group, momenta in zip(self.groups, self.momenta(policy_momenta), strict=True):
            names = [name for name in group.names if params[name].grad is not None]
            if not names:
                continue
            tensors = [params[name] for name in names]
            grads = [t.grad for t in tensors if t.grad is not None]
            ds = list(torch._foreach_neg(grads)) if group.maximize else grads
            if group.weight_decay != 0:
                ds = list(torch._foreach_add(ds, tensors, alpha=group.weight_decay))
            steps = self._momentum(names, ds, group, momenta)
            torch._foreach_addcmul_(tensors, steps, [neg_lr.like(t) for t in tensors])

    def _momentum(
        self, names: list[str], ds: list[torch.Tensor], group: SGDGroup, momenta: list[float]
    ) -> list[torch.Tensor]:
        """The directions after the momentum lines (buffers updated in place or replaced)."""
        active = [m != 0 for m in momenta]
        if not any(active):
            return ds
        mom = _Rates(momenta)
        views = [mom.like(d) for d in ds]
        if all(active) and self.complete.issuperset(names):
            bufs = [self.buffers[name] for name in names]
            torch._foreach_mul_(bufs, views)
            torch._foreach_add_(bufs, ds, alpha=1 - group.dampening)
        else:
            bufs = [
                self._buffer(name, d, group, view, active)
                for name, d, view in zip(names, ds, views, strict=True)
            ]
        stepped = list(torch._foreach_addcmul(ds, bufs, views)) if group.nesterov else bufs
        if all(active):
            return stepped
        on = torch.tensor(active)
        return [
            torch.where(on.view(_shape(len(active), d)), s, d)
            for s, d in zip(stepped, ds, strict=True)
        ]

    def _buffer(
        self, name: str, d: torch.Tensor, group: SGDGroup, view: torch.Tensor, active: list[bool]
    ) -> torch.Tensor:
        """One parameter's updated buffer when the group's fast path does not apply."""
        buf = self.buffers.get(name)
        if all(active) and buf is None:
            buf = self.buffers[name] = d.clone()
            self.started[name] = torch.ones(len(active), dtype=torch.bool)
        elif all(active) and name in self.complete:
            assert buf is not None
            buf.mul_(view).add_(d, alpha=1 - group.dampening)
        else:  # some members without momentum this step, or without a buffer yet
            buf = self._masked_buffer(name, d, group, view, active)
        if bool(self.started[name].all()):
            self.complete.add(name)
        return buf

    def _masked_buffer(
        self,
        name: str,
        d: torch.Tensor,
        group: SGDGroup,
        view: torch.Tensor,
        active: list[bool],
    ) -> torch.Tensor:
        count = len(active)
        old = self.buffers.get(name)
        if old is None:
            old = torch.zeros_like(d)
        started = self.started.get(name)
        if started is None:
            started = torch.zeros(count, dtype=torch.bool)
        shape = _shape(count, d)
        moved = torch.where(started.view(shape), old.mul(view).add(d, alpha=1 - group.dampening), d)
        on = torch.tensor(active)
        buf = torch.where(on.view(shape), moved, old)
        self.buffers[name] = buf
        self.started[name] = started | on
        return buf

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only the members at ``rows`` (a long tensor of row indices), in that order."""
        for name, buf in self.buffers.items():
            self.buffers[name] = buf.index_select(0, rows)
        for name, started in self.started.items():
            self.started[name] = started.index_select(0, rows)
        self.complete = {name for name, started in self.started.items() if bool(started.all())}
