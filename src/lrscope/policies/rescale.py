r"""Carry a policy over to another task: scale its learning rates and its time axis.

``rescale(policy, lr_factor=a, step_factor=b)`` returns the policy whose
learning rates are ``a`` times larger and whose schedule runs ``b`` times
longer, so that (up to rounding of step counts)

.. math::

    \eta'(t) \approx a \, \eta(t / b).

Parameters are rescaled by what they mean, not by position:

- learning rates (``k0 k1 base_lr max_lr min_lr start_lr end_lr
  warmup_start_lr``): times ``a``;
- step counts (``l stepsize total_steps period steps milestones boundaries
  warmup_steps decay_steps timescale``): times ``b``, rounded, at least 1 (0
  stays 0: no warmup, the default timescale), lists kept strictly increasing;
  the phases of the warmup schedules still fit in ``total_steps`` (a WSD decay
  keeps ending at ``total_steps``: where it starts is rescaled);
- per-step rates: ``gamma`` of ``gamma^t`` policies (EXP, TRIEXP, SINEXP,
  exp_range) becomes ``gamma^(1/b)``; INV's ``gamma`` becomes ``gamma / b``;
  the per-drop ``gamma`` of STEP and NSTEP is unchanged;
- shapes (``p``, momenta, ``pct_start``, ``div_factor``, ``mult``, ``decay``,
  choices) are unchanged. Piecewise pieces are rescaled one by one.

Used by :mod:`lrscope.recommend`, which takes ``a`` from the ratio of two
tasks' range-test suggestions and ``b`` from the ratio of their epoch lengths.
"""

from __future__ import annotations

import dataclasses
from typing import cast

from lrscope.policies.base import Policy
from lrscope.policies.rounding import round_decay, round_sig
from lrscope.validation import COUNT, POSITIVE_FLOAT, OrNone, check

__all__ = ["LR_PARAMS", "STEP_PARAMS", "rescale"]

LR_PARAMS = frozenset(
    {"k0", "k1", "base_lr", "max_lr", "min_lr", "start_lr", "end_lr", "warmup_start_lr"}
)
STEP_PARAMS = frozenset(
    {
        "l",
        "stepsize",
        "total_steps",
        "period",
        "steps",
        "milestones",
        "boundaries",
        "warmup_steps",
        "decay_steps",
        "timescale",
    }
)
_POWER_GAMMA = frozenset({"EXP", "TRIEXP", "SINEXP", "exp_range"})
_INVERSE_GAMMA = frozenset({"INV"})


def _steps(value: int, factor: float) -> int:
    return 0 if value == 0 else max(1, round(value * factor))


def _fit_phases(policy: Policy, changes: dict[str, object], step_factor: float) -> None:
    """Rounded warmup and decay lengths must still fit: ``W' < T'``, ``W' + D' <= T'``.

    Rounding each length on its own could break that; the decay of ``wsd``
    is placed by rescaling where it starts (it still ends at ``total_steps``).
    """
    old = {k: cast(int, v) for k, v in policy.params.items() if k.endswith("_steps")}
    total = _steps(old["total_steps"], step_factor)
    last_start = total - 1  # the decay keeps at least one step
    if "decay_steps" in old:
        start = _steps(old["total_steps"] - old["decay_steps"], step_factor)
        last_start = min(start, last_start)
        changes["decay_steps"] = total - last_start
    changes["warmup_steps"] = min(_steps(old["warmup_steps"], step_factor), last_start)


def _increasing(values: tuple[int, ...], factor: float) -> tuple[int, ...]:
    out: list[int] = []
    for value in values:
        scaled = _steps(value, factor)
        out.append(max(scaled, out[-1] + 1) if out else scaled)
    return tuple(out)


def _round(value: float, significant: int | None) -> float:
    return value if significant is None else round_sig(value, significant)


def _scaled(
    policy: Policy,
    name: str,
    value: object,
    lr_factor: float,
    step_factor: float,
    significant: int | None,
) -> object:
    if name in LR_PARAMS:
        return _round(float(value) * lr_factor, significant)  # type: ignore[arg-type]
    if name in STEP_PARAMS:
        if isinstance(value, tuple):
            return _increasing(value, step_factor)
        return _steps(int(value), step_factor)  # type: ignore[call-overload]
    if name == "gamma" and policy.name in _POWER_GAMMA:
        gamma = float(value) ** (1.0 / step_factor)  # type: ignore[arg-type]
        return gamma if significant is None else round_decay(gamma, significant)
    if name == "gamma" and policy.name in _INVERSE_GAMMA:
        return _round(float(value) / step_factor, significant)  # type: ignore[arg-type]
    if name == "pieces":
        return tuple(
            rescale(p, lr_factor=lr_factor, step_factor=step_factor, significant=significant)
            for p in value  # type: ignore[attr-defined]
        )
    return value


def rescale(
    policy: Policy,
    *,
    lr_factor: float = 1.0,
    step_factor: float = 1.0,
    significant: int | None = None,
) -> Policy:
    """``policy`` with learning rates times ``lr_factor`` and time stretched by ``step_factor``.

    ``significant`` rounds the scaled learning rates and rates of decay to that
    many significant digits (a per-step ``gamma`` near 1 by ``1 - gamma``; a
    factor read off noisy range tests carries no more), which keeps
    carried-over specs readable; None keeps them exact.

    >>> from lrscope.policies import TRI
    >>> rescale(TRI(k0=0.01, k1=0.1, l=100), lr_factor=2.0, step_factor=1.5).spec
    'TRI(k0=0.02, k1=0.2, l=150)'
    """
    lr_factor = check("rescale", "lr_factor", lr_factor, POSITIVE_FLOAT)
    step_factor = check("rescale", "step_factor", step_factor, POSITIVE_FLOAT)
    significant = check("rescale", "significant", significant, OrNone(COUNT))
    changes = {
        name: _scaled(policy, name, value, lr_factor, step_factor, significant)
        for name, value in policy.params.items()
    }
    if "warmup_steps" in changes and "total_steps" in changes:
        _fit_phases(policy, changes, step_factor)
    return dataclasses.replace(policy, **changes)
