"""What a trial trains: :class:`Task`, the built-in tasks and the user-task loader.

>>> task = get_task("mnist1d-cnn")        # generated locally, no network
>>> task.train_size, task.batch_size
(4000, 128)
"""

from __future__ import annotations

from lrscope.tasks.base import Task, TaskMetadata, default_loss, default_optimizer
from lrscope.tasks.builtin import builtin_task_names
from lrscope.tasks.loader import get_task, load_user_task

__all__ = [
    "Task",
    "TaskMetadata",
    "builtin_task_names",
    "default_loss",
    "default_optimizer",
    "get_task",
    "load_user_task",
]
