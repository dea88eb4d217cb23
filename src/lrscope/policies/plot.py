"""Drawing policies: learning rate (and momentum) against the step, side by side.

matplotlib is imported inside :func:`draw_policies` only (object API, Agg
canvas, no global backend switch), so ``import lrscope.policies`` stays light.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from lrscope._plaintext import plain_text
from lrscope.policies.base import MAX_LISTED_STEPS, Policy
from lrscope.policies.compose import Piecewise
from lrscope.policies.onecycle import OneCycle
from lrscope.policies.warmup import InverseSqrt

__all__ = ["default_steps", "draw_policies"]


def default_steps(policy: Policy) -> int:
    """A horizon that shows a policy's shape: its length, two cycles, or 1000 steps.

    At most :data:`~lrscope.policies.base.MAX_LISTED_STEPS` (what
    :meth:`~lrscope.policies.Policy.values` lists at once).
    """
    return min(_natural_steps(policy), MAX_LISTED_STEPS)


def _natural_steps(policy: Policy) -> int:
    if isinstance(policy, OneCycle):
        return policy.total_steps
    if isinstance(policy, InverseSqrt):  # no end: down to a fifth of max_lr after the warmup
        return policy.warmup_steps + 24 * policy.tau
    total = policy.params.get("total_steps")
    if isinstance(total, int):  # the warmup schedules: the run and a tenth more at min_lr
        return total + max(1, total // 10)
    if isinstance(policy, Piecewise):
        return policy.boundaries[-1] + _natural_steps(policy.pieces[-1])
    params = policy.params
    cycle = policy.cycle_length()
    if cycle is not None:
        return 2 * cycle
    if "period" in params:  # sgdr with growing periods: the first two
        ends: list[int] = policy.cycle_ends(10**9)
        return ends[1]
    milestones = params.get("milestones")
    if isinstance(milestones, tuple):
        return int(milestones[-1]) + max(1, int(milestones[-1]) // 4)
    for key in ("steps", "stepsize", "l"):
        length = params.get(key)
        if isinstance(length, int):
            return length if policy.family == "ramp" else 2 * length
    return 1000


def draw_policies(
    policies: Sequence[Policy], path: str | os.PathLike[str], steps: int | None = None
) -> Path:
    """Plot the curves side by side (one column each): lr, and momentum when present.

    ``steps`` is the horizon ``t = 0 .. steps - 1`` of every column (default:
    :func:`default_steps` of each policy). The format follows the suffix of
    ``path`` (``.png``, ``.pdf``, ``.svg``). Returns the path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = 2 if any(p.has_momentum for p in policies) else 1
    fig = Figure(figsize=(4.2 * len(policies), 3.0 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, len(policies), squeeze=False, sharex="col")
    for column, policy in enumerate(policies):
        count = steps if steps is not None else default_steps(policy)
        ts = list(range(count))
        ax = axes[0][column]
        ax.plot(ts, policy.values(count), color="tab:blue")
        ax.set_title(plain_text(policy.spec), fontsize=7, wrap=True)
        ax.set_ylabel("learning rate")
        ax.set_xlabel("step t")
        ax.tick_params(labelbottom=True)
        if rows == 1:
            continue
        axm = axes[1][column]
        momentum = policy.momentum_values(count)
        if momentum is None:
            axm.set_axis_off()
            axm.text(
                0.5, 0.5, "no momentum cycling", ha="center", va="center", transform=axm.transAxes
            )
            continue
        axm.plot(ts, [math.nan if m is None else m for m in momentum], color="tab:red")
        axm.set_ylabel("momentum")
        axm.set_xlabel("step t")
    target = Path(path)
    fig.savefig(target, dpi=110)
    return target
