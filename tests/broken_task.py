"""A user's task with a bug: its data loading raises in every trial (the study must go on regardless)."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.training.tasks import Task, TaskData


@dataclass(frozen=True)
class BrokenOptions:
    rows: int = 10


class BrokenTask(Task):
    options = BrokenOptions
    metrics = {"val_loss": "minimize"}

    def load(self, data: str | None, options: BrokenOptions) -> TaskData:
        raise RuntimeError("the corpus behind this task is gone (a bug in the user's loader)")
