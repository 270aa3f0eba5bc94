"""Pruning a multi-objective study without losing its front (Optuna cannot: ``trial.report`` raises there).

The rule. A multi-objective study has one validation objective, reported every epoch, and cost
objectives (``params``, ``latency_ms``, ``train_seconds``). The costs of a network are known early:
its parameter count and latency depend on its shape, not its weights, so the worker measures both before
the first epoch; its training time so far is a lower bound of its total. At each epoch, a trial is
judged only against the *reference*: the finished (COMPLETE) trials that cost no more on every cost
objective (no more parameters, no slower; a total training time no longer than this trial's time so
far). The study's own pruner (median, percentile, patient, none: config.algorithms.FRONT_PRUNERS) then decides on the validation curve
as if the study held the reference and this trial alone. So a trial is stopped only when cheaper-or-
equal networks were already better at this epoch by the pruner's rule: it is dominated at that epoch.

What follows from it: a trial that costs less than every finished one has an empty reference and runs
to the end, so the cheap end of the front is never pruned; a trial that beats its reference at every
epoch (the best validation value among networks of its cost, which is how it gets on the front) is
never stopped by a median or percentile rule. A trial whose known costs already break a constraint
(``params`` above its ``max``) is stopped at its first epoch: it can never be exported.

Each stop is recorded on the trial (user attr ``pruned_because``) in one line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import optuna
from optuna.pruners import BasePruner
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

from tuner import attrs
from tuner.config.objectives import Objectives, from_settings
from tuner.storage import queries


@dataclass
class Progress:
    """What is known of one trial at an epoch: its validation curve and its costs so far."""

    number: int
    curve: dict[int, float] = field(default_factory=dict)  # epoch -> validation objective
    costs: dict[str, float] = field(default_factory=dict)  # cost metric -> value (train_seconds: so far)


def costs_no_more(reference: Mapping[str, float], judged: Mapping[str, float], metrics: Iterable[str]) -> bool:
    """Whether a finished trial with ``reference`` costs is no costlier than ``judged`` on every metric
    (for ``train_seconds`` the judged trial's time so far, a lower bound of its total)."""
    for metric in metrics:
        if metric not in reference or metric not in judged:
            return False  # not measured: not known to cost no more
        if reference[metric] > judged[metric]:
            return False
    return True


class FrontPruner:
    """The study's pruner, asked about a trial against the finished trials that cost no more."""

    def __init__(self, wrapped: BasePruner, kind: str, objectives: Objectives) -> None:
        self.wrapped = wrapped
        self.kind = kind
        self.objectives = objectives
        self.cost_metrics = [m for m in objectives.metrics if m != objectives.validation.metric]
        self._direction = StudyDirection.MAXIMIZE if objectives.validation.maximize else StudyDirection.MINIMIZE

    def verdict(self, judged: Progress, finished: Iterable[Progress]) -> str | None:
        """Why to stop ``judged`` at its last epoch (one line), or None to let it go on."""
        if not judged.curve:
            return None
        epoch = max(judged.curve)
        if broken := self.objectives.broken(judged.costs, running=True):
            return f"at epoch {epoch}: infeasible ({'; '.join(broken)})"
        reference = [f for f in finished if f.curve and costs_no_more(f.costs, judged.costs, self.cost_metrics)]
        if not reference or self.kind == "none":
            return None
        study = self._view(reference, judged)
        if not self.wrapped.prune(study, study.get_trials(deepcopy=False)[-1]):
            return None
        costs = ", ".join(f"{m} <= {judged.costs[m]:g}" for m in self.cost_metrics)
        metric = self.objectives.validation.metric
        return (
            f"at epoch {epoch} ({metric} {judged.curve[epoch]:.4g}), the {self.kind} rule over "
            f"{len(reference)} finished trials costing no more ({costs}) said stop"
        )

    def _view(self, reference: list[Progress], judged: Progress) -> optuna.Study:
        """An in-memory single-objective study holding the reference (COMPLETE) and the judged trial (RUNNING)."""
        storage = InMemoryStorage()
        storage.create_new_study([self._direction], "front-reference")
        study = optuna.load_study(study_name="front-reference", storage=storage)
        better = max if self._direction is StudyDirection.MAXIMIZE else min
        for trial in reference:
            finite = {e: v for e, v in trial.curve.items() if math.isfinite(v)}
            if finite:
                study.add_trial(
                    create_trial(state=TrialState.COMPLETE, value=better(finite.values()), intermediate_values=finite)
                )
        study.add_trial(create_trial(state=TrialState.RUNNING, intermediate_values=dict(judged.curve)))
        return study


def finished_progress(study: optuna.Study, storage_url: str) -> dict[int, Progress]:
    """What the study's COMPLETE trials reached, from the database: the front pruner's reference when a
    study is resumed (this driver adds the trials it finishes itself)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return {}
    metric = from_settings(study.user_attrs[attrs.SETTINGS]).validation.metric
    epochs = queries.epochs_frame(storage_url, study.study_name, [t.number for t in complete])
    curves = {
        int(number): dict(zip(rows["epoch"].astype(int), rows[metric].astype(float), strict=True))
        for number, rows in epochs.groupby("trial_number")
    }
    return {
        t.number: Progress(t.number, curves.get(t.number, {}), dict(t.user_attrs.get(attrs.COSTS, {})))
        for t in complete
    }
