r"""A thin :class:`torch.optim.lr_scheduler.LRScheduler` driven by lrscope policies.

The scheduler uses the closed form only. After ``k`` calls of :meth:`step`
(the constructor's initial step not counted), param group ``g`` holds

.. math::

    \mathrm{lr}_g = \pi_g(k), \qquad m_g = \pi_g.\mathrm{momentum}(k)

where :math:`\pi_g` is the policy of group ``g`` (learning rates in the
optimizer's units, momentum dimensionless). The constructor performs torch's
initial step, which sets ``t = 0``, so the first training step runs with
``policy(0)``, exactly like torch's own schedulers. There is no recursive
update: the state of the scheduler is its spec strings plus its step counter,
and a resumed scheduler continues exactly where it stopped.

Policies count optimizer steps, so the scheduler must step once per
``optimizer.step()``. A scheduler stepped less often (once per epoch, as
Lightning does for ``return [optimizer], [scheduler]``) would stretch the
schedule silently; the scheduler counts the optimizer's steps with a step
post-hook and warns once (:class:`~lrscope.errors.LRScopeWarning`) when more
than one optimizer step passed between two of its own. Gradient accumulation
is fine: the optimizer and the scheduler then both step once per N batches.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrscope.errors import LRScopeWarning, ParameterError
from lrscope.policies import Policy, parse
from lrscope.validation import STEP, Interval, check

__all__ = ["PolicyLike", "PolicyScheduler"]

PolicyLike = Policy | str
"""A policy object or its spec string, e.g. ``"TRI2(k0=0.001, k1=0.006, l=2000)"``."""

_OWNER = "PolicyScheduler"
_LAST_EPOCH = Interval(int, -1, None, "left", exact=True)
"""``last_epoch``: -1 for a fresh scheduler, else the step index to resume at."""
_STATE_KEYS = ("specs", "last_epoch", "_step_count", "base_lrs", "_last_lr")


def _as_policy(item: object) -> Policy:
    """Return ``item`` as a Policy: policies pass through, strings are parsed."""
    if isinstance(item, Policy):
        return item
    if isinstance(item, str):
        return parse(item)
    raise ParameterError(
        _OWNER, "policy", "a Policy, a spec string, or a list of them", type(item).__name__
    )


def _resolve_policies(policy: PolicyLike | Sequence[PolicyLike], n_groups: int) -> list[Policy]:
    """One policy per param group: a single policy is shared by all groups."""
    if isinstance(policy, (Policy, str)):
        return [_as_policy(policy)] * n_groups
    if not isinstance(policy, Sequence):
        raise ParameterError(
            _OWNER, "policy", "a Policy, a spec string, or a list of them", type(policy).__name__
        )
    policies = [_as_policy(item) for item in policy]
    if len(policies) != n_groups:
        raise ParameterError(
            _OWNER,
            "policy",
            f"a single policy or a list of exactly {n_groups} policies "
            f"(one per param group of the optimizer)",
            f"a list of {len(policies)} policies",
        )
    return policies


def _momentum_key(group: dict[str, Any], policy: Policy, optimizer: Optimizer) -> str | None:
    """The hyperparameter a momentum schedule writes to, or None without one.

    ``betas`` (its first entry, beta1) for the Adam family, ``momentum`` for SGD,
    RMSprop and the like. An optimizer with neither cannot follow the schedule.
    """
    if not policy.has_momentum:
        return None
    if "betas" in group:
        return "betas"
    if "momentum" in group:
        return "momentum"
    raise ParameterError(
        _OWNER,
        "optimizer",
        f"an optimizer with a 'momentum' or 'betas' hyperparameter (SGD, RMSprop, Adam, "
        f"AdamW, ...) because the policy {policy.spec!r} schedules momentum; "
        f"use a policy without momentum (e.g. cycle_momentum=false) for this optimizer",
        type(optimizer).__name__,
    )


def _no_momentum(t: int) -> None:
    """Momentum hook of a policy that schedules none (keeps the table slot-indexed)."""


def _write_momentum(group: dict[str, Any], key: str, value: float) -> None:
    """Set ``group["momentum"]`` or beta1 in ``group["betas"]`` (tensors filled in place)."""
    current = group[key]
    if key == "betas":
        if isinstance(current[0], Tensor):
            current[0].fill_(value)
        else:
            group["betas"] = (value, *current[1:])
    elif isinstance(current, Tensor):
        current.fill_(value)
    else:
        group[key] = value


class StepCounter:
    """An optimizer step post-hook counting ``optimizer.step()`` calls between scheduler steps.

    The optimizer holds only this small object, not the scheduler. A range test
    on the optimizer (:func:`lrscope.rangetest.lr_range_test`) finds it among the
    optimizer's hooks and puts its count back afterwards.
    """

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, optimizer: Optimizer, args: object, kwargs: object) -> None:
        self.count += 1


class PolicyScheduler(LRScheduler):
    """Drive an optimizer's learning rate (and momentum) from lrscope policies.

    After ``k`` calls of :meth:`step`, param group ``g`` holds ``lr = policy_g(k)``
    and, when the policy schedules momentum, ``momentum = policy_g.momentum(k)``
    (SGD, RMSprop) or ``betas[0] = policy_g.momentum(k)`` (Adam family). The
    constructor's initial step sets ``t = 0``, so the first training step uses
    ``policy(0)``. Past the end of a finite policy (e.g. ``onecycle`` beyond
    ``total_steps``) the policy holds its final value; stepping never fails.

    Args:
        optimizer: the wrapped optimizer.
        policy: a :class:`~lrscope.policies.Policy`, a spec string, or a list with
            one of them per param group.
        last_epoch: index of the last step taken, as in torch (``-1`` starts the
            schedule). Prefer :meth:`load_state_dict` or :meth:`from_state_dict`
            to resume.

    Warns:
        LRScopeWarning: once, when ``step()`` runs less often than
            ``optimizer.step()`` (e.g. once per epoch); see the module docstring.

    Raises:
        ParameterError: the list length differs from the number of param groups,
            an item is neither a Policy nor a string, or a policy schedules
            momentum for an optimizer without ``momentum``/``betas``.
        SpecError: a spec string cannot be parsed.

    Example:
        >>> import torch
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> sched = PolicyScheduler(opt, "TRI(k0=0.001, k1=0.006, l=4)")
        >>> opt.param_groups[0]["lr"]
        0.001
    """

    def __init__(
        self,
        optimizer: Optimizer,
        policy: PolicyLike | Sequence[PolicyLike],
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise ParameterError(
                _OWNER, "optimizer", "a torch.optim.Optimizer", type(optimizer).__name__
            )
        groups = optimizer.param_groups
        policies = _resolve_policies(policy, len(groups))
        self.policies: tuple[Policy, ...] = tuple(policies)
        self.specs: list[str] = [p.spec for p in policies]
        self._momentum_keys: tuple[str | None, ...] = tuple(
            _momentum_key(g, p, optimizer) for g, p in zip(groups, policies, strict=True)
        )
        # Distinct policies are evaluated once per step and shared by their groups.
        # The step counter is validated here and in step()/load_state_dict(), so
        # the per-step path calls the policies' unchecked hooks (_lr, _momentum).
        index: dict[Policy, int] = {}
        self._slots: tuple[int, ...] = tuple(index.setdefault(p, len(index)) for p in policies)
        distinct = list(index)
        self._lr_hooks: tuple[Callable[[int], float], ...] = tuple(p._lr for p in distinct)
        self._momentum_hooks: tuple[Callable[[int], float | None], ...] | None = None
        if any(k is not None for k in self._momentum_keys):
            self._momentum_hooks = tuple(
                p._momentum if p.has_momentum else _no_momentum for p in distinct
            )
        last_epoch = check(_OWNER, "last_epoch", last_epoch, _LAST_EPOCH)
        # torch's base class requires initial_lr when resuming; the closed form does not.
        for group in groups:
            group.setdefault("initial_lr", group["lr"])
        self._optimizer_steps = StepCounter()
        self._optimizer_hook = optimizer.register_step_post_hook(self._optimizer_steps)
        super().__init__(optimizer, last_epoch)

    # -- the closed form ------------------------------------------------------

    def lr_at(self, t: int) -> list[float]:
        """Learning rate of every param group at iteration ``t`` (no side effects)."""
        return [p(t) for p in self.policies]

    def momentum_at(self, t: int) -> list[float | None]:
        """Momentum (or beta1) of every param group at iteration ``t``, None if unscheduled."""
        return [
            None if key is None else p.momentum(t)
            for p, key in zip(self.policies, self._momentum_keys, strict=True)
        ]

    def get_lr(self) -> list[float | Tensor]:
        """Learning rates for the current ``last_epoch`` (closed form, no side effects).

        Unlike torch's recursive schedulers this is safe to call outside
        :meth:`step`; to read what the optimizer uses, prefer :meth:`get_last_lr`.
        """
        return list(self.lr_at(self.last_epoch))

    def _get_closed_form_lr(self) -> list[float | Tensor]:
        return self.get_lr()

    def _apply(self, t: int) -> None:
        """Write lr (and momentum) for the validated iteration ``t`` to the param groups.

        This runs on every training step, so it is written for speed: each distinct
        policy is evaluated once, plain-float hyperparameters are set directly and
        tensor ones (compiled optimizers) are filled in place.
        """
        groups = self.optimizer.param_groups
        if len(groups) != len(self._slots):
            raise ParameterError(
                _OWNER,
                "optimizer",
                f"an optimizer with the {len(self._slots)} param groups the scheduler was "
                f"built with (build a new scheduler after add_param_group)",
                f"{len(groups)} param groups",
            )
        if len(self._lr_hooks) == 1:
            self._apply_shared(groups, t)
        else:
            self._apply_each(groups, t)

    def _apply_shared(self, groups: list[dict[str, Any]], t: int) -> None:
        """One policy drives every group: evaluate it once (the common case)."""
        lr = self._lr_hooks[0](t)
        hooks = self._momentum_hooks
        momentum = None if hooks is None else hooks[0](t)
        last: list[float | Tensor] = []
        for group, key in zip(groups, self._momentum_keys, strict=True):
            current = group["lr"]
            if isinstance(current, Tensor):
                current.fill_(lr)
                last.append(current.clone())
            else:
                group["lr"] = lr
                last.append(lr)
            if key is not None and momentum is not None:
                _write_momentum(group, key, momentum)
        self._last_lr = last

    def _apply_each(self, groups: list[dict[str, Any]], t: int) -> None:
        """Several policies: evaluate each distinct one once, then write per group."""
        lrs = [hook(t) for hook in self._lr_hooks]
        hooks = self._momentum_hooks
        momenta = None if hooks is None else [hook(t) for hook in hooks]
        last: list[float | Tensor] = []
        for group, slot, key in zip(groups, self._slots, self._momentum_keys, strict=True):
            lr = lrs[slot]
            current = group["lr"]
            if isinstance(current, Tensor):
                current.fill_(lr)
                last.append(current.clone())
            else:
                group["lr"] = lr
                last.append(lr)
            momentum = None if momenta is None else momenta[slot]
            if key is not None and momentum is not None:
                _write_momentum(group, key, momentum)
        self._last_lr = last

    def step(self, epoch: int | None = None) -> None:
        """Advance one iteration (or jump to iteration ``epoch``) and write lr/momentum.

        Call it after ``optimizer.step()``. ``epoch`` (deprecated in torch) is
        supported exactly, since the schedule is a closed form: the groups get
        ``policy(epoch)`` and the next plain call continues from there.
        """
        if self._step_count == 1:
            self._check_step_order()
        if self._optimizer_steps.count > 1 and epoch is None:
            self._warn_stepped_less_often(self._optimizer_steps.count)
        self._optimizer_steps.count = 0
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
        else:
            self.last_epoch = check("PolicyScheduler.step", "epoch", epoch, STEP)
        self._apply(self.last_epoch)

    def _check_step_order(self) -> None:
        """Warn once, on the first real step, if optimizer.step() was not called first."""
        opt_step = self.optimizer.step
        if not hasattr(opt_step, "_wrapped_by_lr_sched"):
            warnings.warn(
                "optimizer.step was replaced after the scheduler was built, so lrscope "
                "cannot check that optimizer.step() runs before scheduler.step().",
                UserWarning,
                stacklevel=3,
            )
        elif not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                "scheduler.step() was called before optimizer.step(); the first value of "
                "the schedule (policy(0)) is then skipped. Call optimizer.step() first.",
                UserWarning,
                stacklevel=3,
            )

    def _warn_stepped_less_often(self, optimizer_steps: int) -> None:
        """Warn (once; the counting hook is removed) that the schedule runs too slowly."""
        self._optimizer_hook.remove()
        warnings.warn(
            f"PolicyScheduler.step() ran once for {optimizer_steps} optimizer steps. lrscope "
            "policies count optimizer steps (the update t uses policy(t)), so this stretches "
            "the schedule, e.g. to epochs. Call scheduler.step() after every optimizer.step(); "
            'in Lightning, return the scheduler with "interval": "step" from '
            "configure_optimizers (lrscope.lightning.configure_optimizers does). "
            "This warning is shown once.",
            LRScopeWarning,
            stacklevel=3,
        )

    # -- state ----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain data only: the specs, the step counters and torch's lr bookkeeping.

        Safe for ``torch.load(..., weights_only=True)``: no callables are stored.
        """
        return {
            "specs": list(self.specs),
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "base_lrs": list(self.base_lrs),
            "_last_lr": list(self._last_lr),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step from ``state_dict`` and write its lr/momentum to the optimizer.

        The specs in the state must equal the policies this scheduler was built
        with (compared as parsed policies); to build a scheduler from a saved
        state use :meth:`from_state_dict`.

        Raises:
            ParameterError: a key is missing, or the stored specs differ.
            SpecError: a stored spec cannot be parsed.
        """
        specs = _state_specs(state_dict)
        stored = [parse(s) for s in specs]
        if stored != list(self.policies):
            raise ParameterError(
                "PolicyScheduler.load_state_dict",
                "state_dict['specs']",
                f"the specs this scheduler was built with ({self.specs}); "
                f"use PolicyScheduler.from_state_dict to build one from a saved state",
                specs,
            )
        self.last_epoch = check(
            "PolicyScheduler.load_state_dict",
            "state_dict['last_epoch']",
            state_dict["last_epoch"],
            STEP,
        )
        self._step_count = int(state_dict["_step_count"])
        self._optimizer_steps.count = 0  # count from the restored step on
        self.base_lrs = list(state_dict["base_lrs"])
        self._apply(self.last_epoch)

    @classmethod
    def from_state_dict(cls, optimizer: Optimizer, state_dict: dict[str, Any]) -> PolicyScheduler:
        """Build a scheduler for ``optimizer`` from a saved :meth:`state_dict`.

        The policies come from the stored specs; the optimizer's groups get the
        lr (and momentum) of the stored step.
        """
        scheduler = cls(optimizer, _state_specs(state_dict))
        scheduler.load_state_dict(state_dict)
        return scheduler


def _state_specs(state_dict: dict[str, Any]) -> list[str]:
    """The spec list of a saved state, checking that the state is complete."""
    if not isinstance(state_dict, dict):
        raise ParameterError(
            "PolicyScheduler.load_state_dict",
            "state_dict",
            "a dict returned by PolicyScheduler.state_dict()",
            type(state_dict).__name__,
        )
    missing = [k for k in _STATE_KEYS if k not in state_dict]
    if missing:
        raise ParameterError(
            "PolicyScheduler.load_state_dict",
            "state_dict",
            f"a dict with the keys {list(_STATE_KEYS)} (missing {missing})",
            sorted(state_dict),
        )
    specs = state_dict["specs"]
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise ParameterError(
            "PolicyScheduler.load_state_dict",
            "state_dict['specs']",
            "a list of spec strings",
            specs,
        )
    return specs
