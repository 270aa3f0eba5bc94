"""Tasks: the data a study trains on. One module per task; ``task_for`` finds built-in and user tasks."""

from __future__ import annotations

import importlib

from tuner.config.task import TASKS
from tuner.training.tasks.base import Prepared, SequenceData, Target, Task, TaskData

__all__ = ["Prepared", "SequenceData", "Target", "Task", "TaskData", "task_for"]


def task_for(name: str) -> Task:
    """An instance of the task called ``name`` (built-in: ``config.task.TASKS`` says where its code is)
    or ``module:Class`` (a user's)."""
    module_name, _, class_name = (TASKS[name].implementation if name in TASKS else name).partition(":")
    return getattr(importlib.import_module(module_name), class_name)()
