"""Lightning glue: a PolicyScheduler that Lightning steps once per optimizer step.

lrscope policies count optimizer steps. Lightning steps a scheduler once per
*epoch* unless told otherwise, and the short form ``return [optimizer],
[scheduler]`` of ``configure_optimizers`` is exactly that case, so the schedule
would run epochs where it means steps (a :class:`~lrscope.torch.PolicyScheduler`
notices and warns once). Return :func:`configure_optimizers` instead::

    import lrscope.lightning

    class Model(lightning.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
            return lrscope.lightning.configure_optimizers(
                optimizer, "warmup_cosine(max_lr=0.001, total_steps=5000, warmup_steps=250)"
            )

It is the dictionary ``{"optimizer": ..., "lr_scheduler": {"scheduler":
PolicyScheduler(...), "interval": "step", "frequency": 1}}``; under
``accumulate_grad_batches`` Lightning then steps the scheduler after each
optimizer step, as the policy expects. ``LearningRateMonitor`` logs it under
``name`` (default: Lightning's ``lr-<optimizer>``).

Nothing here imports Lightning; install it with ``pip install "lrscope[lightning]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.optim import Optimizer

from lrscope.torch.scheduler import PolicyLike, PolicyScheduler

__all__ = ["configure_optimizers", "scheduler_config"]


def scheduler_config(
    optimizer: Optimizer,
    policy: PolicyLike | Sequence[PolicyLike],
    *,
    name: str | None = None,
) -> dict[str, Any]:
    """Lightning's ``lr_scheduler`` config for a :class:`PolicyScheduler` stepped every step.

    ``{"scheduler": PolicyScheduler(optimizer, policy), "interval": "step",
    "frequency": 1, "name": name}``. ``policy`` is a policy, a spec string or
    one per param group, as for :class:`~lrscope.torch.PolicyScheduler` (whose
    errors it raises).
    """
    return {
        "scheduler": PolicyScheduler(optimizer, policy),
        "interval": "step",
        "frequency": 1,
        "name": name,
    }


def configure_optimizers(
    optimizer: Optimizer,
    policy: PolicyLike | Sequence[PolicyLike],
    *,
    name: str | None = None,
) -> dict[str, Any]:
    """What ``LightningModule.configure_optimizers`` returns to follow ``policy`` step by step.

    ``{"optimizer": optimizer, "lr_scheduler": scheduler_config(optimizer, policy, name=name)}``.
    """
    return {"optimizer": optimizer, "lr_scheduler": scheduler_config(optimizer, policy, name=name)}
