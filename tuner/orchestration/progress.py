"""A live progress bar for `tuner run`: trials done, pruned and failed, and the best value so far."""

from __future__ import annotations

from typing import Any

from ray.tune import Callback
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tuner.orchestration.bridge import StudyBridge


class ProgressBar(Callback):
    """Redrawn as each trial ends; works as a context manager around ``Tuner.fit``."""

    def __init__(self, bridge: StudyBridge, total: int, console: Console | None = None):
        self.bridge = bridge
        self.progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.task = self.progress.add_task(self._describe(), total=total)

    def __getstate__(self) -> dict:
        return {}

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def _describe(self) -> str:
        counts = self.bridge.outcomes.by_state
        best = self.bridge.outcomes.best_value
        best_text = f"{best:.4f}" if best is not None else "-"
        return f"complete {counts['COMPLETE']}  pruned {counts['PRUNED']}  failed {counts['FAIL']}  best {best_text}"

    def _update(self) -> None:
        done = sum(self.bridge.outcomes.by_state.values())
        self.progress.update(self.task, completed=done, description=self._describe())

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._update()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._update()
