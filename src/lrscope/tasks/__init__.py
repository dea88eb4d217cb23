"""What a trial trains: :class:`Task`, the built-in tasks and the user-task loader.

>>> task = get_task("mnist1d-cnn")        # generated locally, no network
>>> task.train_size, task.batch_size
(4000, 128)
"""

from __future__ import annotations

from lrscope.tasks.base import Task, TaskMetadata, default_loss, default_optimizer
from lrscope.tasks.batches import BatchSteps, call_model, move_to, split_batch
from lrscope.tasks.builtin import builtin_task_names
from lrscope.tasks.loader import get_task, load_user_task
from lrscope.tasks.scoring import (
    Scorer,
    TaskMetric,
    custom_metric,
    regression_loss,
)

__all__ = [
    "BatchSteps",
    "Scorer",
    "Task",
    "TaskMetadata",
    "TaskMetric",
    "builtin_task_names",
    "call_model",
    "custom_metric",
    "default_loss",
    "default_optimizer",
    "get_task",
    "load_user_task",
    "move_to",
    "regression_loss",
    "split_batch",
]
