"""lrscope: find, compare and apply learning-rate policies for PyTorch.

``import lrscope`` is light: it loads the pure-Python policies and nothing that
imports torch, matplotlib or ray. The torch-facing names (``Task``,
``run_trial``, ``range_test``, ...) are resolved lazily on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrscope._lazy import lazy_exports
from lrscope.errors import (
    LRScopeError,
    ParameterError,
    SpecError,
)
from lrscope.policies import Policy, parse

__version__ = "0.1.0"

# name -> module that defines it; imported on first attribute access (PEP 562).
_LAZY: dict[str, str] = {
    "Task": "lrscope.tasks",
    "TaskMetric": "lrscope.tasks",
    "custom_metric": "lrscope.tasks",
    "get_task": "lrscope.tasks",
    "Runtime": "lrscope.engine",
    "run_trial": "lrscope.engine",
    "TrialResult": "lrscope.engine",
    "PolicyScheduler": "lrscope.torch",
    "range_test": "lrscope.rangetest",
    "lr_range_test": "lrscope.rangetest",
    "RangeTestResult": "lrscope.rangetest",
}

__all__ = [
    "LRScopeError",
    "ParameterError",
    "Policy",
    "PolicyScheduler",
    "RangeTestResult",
    "Runtime",
    "SpecError",
    "Task",
    "TaskMetric",
    "TrialResult",
    "__version__",
    "custom_metric",
    "get_task",
    "lr_range_test",
    "parse",
    "range_test",
    "run_trial",
]

if TYPE_CHECKING:  # pragma: no cover
    from lrscope.engine import Runtime, TrialResult, run_trial
    from lrscope.rangetest import RangeTestResult, lr_range_test, range_test
    from lrscope.tasks import Task, TaskMetric, custom_metric, get_task
    from lrscope.torch import PolicyScheduler


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
