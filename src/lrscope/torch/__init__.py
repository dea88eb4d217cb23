"""PyTorch adapter: drive any optimizer from lrscope policies.

:class:`PolicyScheduler` is a :class:`torch.optim.lr_scheduler.LRScheduler`, so
plain training loops, Lightning and ``torch.compile``d models accept it. It
sets ``lr`` (and ``momentum`` or Adam's ``betas[0]`` when the policy schedules
momentum) of each param group to the policy's closed form at the current step.
"""

from __future__ import annotations

from lrscope.torch.scheduler import PolicyLike, PolicyScheduler

__all__ = ["PolicyLike", "PolicyScheduler"]
