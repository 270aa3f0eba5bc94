"""Pruners of our own, usable by name in a study file like Optuna's.

``GroupedPruner`` (any pruner's ``group_by`` option) judges a trial only
against the trials that drew the same values of some parameters, such as
``cell``. One pruner over all trials compares a plain RNN with an LSTM at
epoch 1, where the plain RNN leads, though it ends behind; the gated
networks are stopped at the first rung, and TPE, which ranks every finished
trial above every pruned one, then learns from plain RNNs alone. Within its
own group each kind of network keeps its best share going.

``OverfittingPruner`` stops a trial whose validation loss has risen for
``patience`` epochs in a row while its training loss kept falling: the
network is memorising, and more epochs will only widen the gap. It reads the
two loss curves the driver stores on each trial (user attr ``loss_curve``),
so it watches validation *loss* whatever the study optimises. Wrapped around
another pruner, a trial is pruned when either says so.

Private Optuna API, kept to this module on purpose: the grouped pruner reads ``study._storage``
to build its per-group view of the study (a ``Study`` over a storage that lists only the trials
of one group). Optuna has no public way to hand a pruner a filtered study, and every pruner,
Hyperband's bracket studies included, reads trials through the study's storage.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from tuner import attrs


class OverfittingPruner(BasePruner):
    """Prune after ``patience`` consecutive epochs of rising validation loss and falling training loss."""

    def __init__(self, patience: int = 2, wrapped_pruner: BasePruner | None = None) -> None:
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, but got {patience!r}")
        self.patience = patience
        self.wrapped_pruner = wrapped_pruner

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        if self.overfitting(trial):
            return True
        return self.wrapped_pruner.prune(study, trial) if self.wrapped_pruner else False

    def overfitting(self, trial: optuna.trial.FrozenTrial) -> bool:
        curve = trial.user_attrs.get(attrs.LOSS_CURVE) or {}
        train, val = curve.get("train_loss", []), curve.get("val_loss", [])
        if min(len(train), len(val)) < self.patience + 1:
            return False
        recent_train, recent_val = train[-self.patience - 1 :], val[-self.patience - 1 :]
        rising = all(b > a for a, b in zip(recent_val, recent_val[1:], strict=False))
        falling = all(b < a for a, b in zip(recent_train, recent_train[1:], strict=False))
        return rising and falling


class GroupedPruner(BasePruner):
    """Ask ``wrapped_pruner`` about a trial as if the study held only the trials that drew the same
    values of the ``group_by`` parameters (a trial without one of them groups under None)."""

    def __init__(self, wrapped_pruner: BasePruner, group_by: Sequence[str]) -> None:
        if not group_by:
            raise ValueError("group_by must name at least one parameter")
        self.wrapped_pruner = wrapped_pruner
        self.group_by = tuple(group_by)
        self._views: dict[tuple[str, tuple[Any, ...]], optuna.Study] = {}  # one per group, asked every epoch

    def group_of(self, trial: FrozenTrial) -> tuple[Any, ...]:
        return tuple(trial.params.get(name) for name in self.group_by)

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        group = self.group_of(trial)
        key = (study.study_name, group)
        if key not in self._views:
            alike = _TrialsAlike(study._storage, lambda other: self.group_of(other) == group)  # private: see above
            # A real Study over the filtered storage, so every Optuna pruner (Hyperband's bracket
            # studies included) reads its trials through it; rung values are still written for real.
            self._views[key] = optuna.Study(
                study.study_name, storage=alike, sampler=study.sampler, pruner=self.wrapped_pruner
            )
        return self.wrapped_pruner.prune(self._views[key], trial)


class _TrialsAlike:
    """A study's storage that lists only the trials ``keep`` accepts; everything else passes through."""

    def __init__(self, storage: BaseStorage, keep: Callable[[FrozenTrial], bool]) -> None:
        self._storage = storage
        self._keep = keep

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return [t for t in self._storage.get_all_trials(study_id, deepcopy=deepcopy, states=states) if self._keep(t)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)
