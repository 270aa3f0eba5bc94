"""Tasks: the data a study trains on. One module per task; ``task_for`` finds built-in and user tasks."""

from __future__ import annotations

import importlib

from tuner.training.tasks.base import Prepared, SequenceData, Target, Task, TaskData

__all__ = ["Prepared", "SequenceData", "Target", "Task", "TaskData", "task_for"]

_BUILTIN = {
    "char_lm": "tuner.training.tasks.char_lm:CharLM",
    "sequence_classification": "tuner.training.tasks.sequence_classification:SequenceClassification",
    "regression": "tuner.training.tasks.regression:Regression",
    "adding": "tuner.training.tasks.adding:Adding",
}


def task_for(name: str) -> Task:
    """An instance of the task called ``name`` (built-in) or ``module:Class`` (a user's)."""
    module_name, _, class_name = _BUILTIN.get(name, name).partition(":")
    return getattr(importlib.import_module(module_name), class_name)()
