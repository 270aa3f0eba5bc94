"""Pruners of our own, usable by name in a study file like Optuna's.

``OverfittingPruner`` stops a trial whose validation loss has risen for
``patience`` epochs in a row while its training loss kept falling: the
network is memorising, and more epochs will only widen the gap. It reads the
two loss curves the driver stores on each trial (user attr ``loss_curve``),
so it watches validation *loss* whatever the study optimises. Wrapped around
another pruner, a trial is pruned when either says so.
"""

from __future__ import annotations

import optuna
from optuna.pruners import BasePruner

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
