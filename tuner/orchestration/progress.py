"""Live progress for `tuner run`: trials done, pruned and failed, and the best value so far.

On a terminal it is a rich progress bar; in a log or a pipe, one line per finished trial.
If the pipe's reader exits (`tuner run ... 2>&1 | head`), the lines stop and the study goes on:
a reader that has seen enough is no reason to stop the trials.
"""

from __future__ import annotations

from typing import Any

from ray.tune import Callback
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tuner.orchestration.bridge import StudyBridge
from tuner.streams import discard_writes


class LinesMayStopConsole(Console):
    """A rich console that goes quiet when its reader exits, instead of rich's way: exit the program."""

    def on_broken_pipe(self) -> None:
        # rich's default raises SystemExit inside Tune's callback: the run would end like a Ctrl-C
        self.quiet = True  # rich writes nothing more
        discard_writes(self.file)


class ProgressBar(Callback):
    """Redrawn as each trial ends; a context manager around ``Tuner.fit``."""

    def __init__(self, bridge: StudyBridge, total: int, console: Console | None = None, before: int = 0) -> None:
        """``total``: the study's budget; ``before``: its trials that count already (a continued study
        shows 3/8, not 1/6)."""
        self.bridge = bridge
        self.total = total
        self.before = before
        self.console = console or LinesMayStopConsole(stderr=True)
        self.progress: Progress | None = None
        if self.console.is_terminal:
            self.progress = Progress(
                TextColumn("[bold]trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.task = self.progress.add_task(self._describe(), total=total, completed=before)

    def __getstate__(self) -> dict:
        return {}  # Tune pickles callbacks; a live display stays in the driver

    def __enter__(self) -> ProgressBar:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress:
            self.progress.stop()

    def _describe(self) -> str:
        counts = self.bridge.outcomes.by_state
        best = self.bridge.outcomes.best_value
        best_text = f"{best:.4f}" if best is not None else "-"
        front = self.bridge.outcomes.front
        front_text = f"  front {front}" if front is not None else ""  # a multi-objective study
        return (
            f"complete {counts['COMPLETE']}  pruned {counts['PRUNED']}  failed {counts['FAIL']}  best {best_text}"
            + front_text
        )

    def _update(self) -> None:
        done = self.before + sum(self.bridge.outcomes.by_state.values())
        if self.progress:
            self.progress.update(self.task, completed=done, description=self._describe())
        else:
            self.console.print(f"trials {done}/{self.total}  {self._describe()}", highlight=False)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._update()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._update()
