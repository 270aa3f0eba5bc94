"""The training budget a study gets when its file names none: epochs, and early stopping's patience.

Ten epochs with a patience of three suit a data set of 500 sequences or more. On a small one an
epoch is a handful of optimiser steps: 43 training sequences at a batch of 32 make 2, so ten epochs stop a
network after 20 updates, long before it has learnt (docs/own-data.md: on ItalyPowerDemand the same four
trials chose a network scoring 0.725 on test with 10 epochs, 0.921 with this rule's 93). So a classifier
study that names no ``max_epochs`` trains each network on about as many sequences as ten epochs of
``SEQUENCES_PER_DEFAULT_EPOCH`` would show it:

    max_epochs = ceil(10 * 500 / training sequences), between 10 and ``MAX_DEFAULT_EPOCHS``

and, when ``early_stopping.patience`` is not named either, a patience of a tenth of that (at least 3), as
scikit-learn's MLPClassifier pairs 200 epochs with 10 without improvement. "Training sequences" are those
one network learns from: a fold's training part under cross-validation, else the training split.
Other tasks (a text, a series' windows) keep 10 epochs: their data sets are long enough or their
budgets named by the study. ``tuner run`` says which budget it used and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tuner.config.early_stopping import EarlyStopping

DEFAULT_EPOCHS = 10
DEFAULT_PATIENCE = EarlyStopping.patience  # early stopping's own default
SEQUENCES_PER_DEFAULT_EPOCH = 500  # a data set this large or larger keeps the 10 epochs
MAX_DEFAULT_EPOCHS = 200


@dataclass(frozen=True)
class Budget:
    """Epochs and patience a study trains with, and why (empty when the study file named them)."""

    max_epochs: int
    patience: int
    reason: str = ""

    def describe(self) -> str:
        return f"up to {self.max_epochs} epochs, patience {self.patience} ({self.reason})"


def is_small_data(training_sequences: int | None) -> bool:
    """Whether a classifier's networks learn from fewer sequences than ten default epochs suit; the
    default budget and the default space (config/studies.py ``default_space``) both follow it."""
    return training_sequences is not None and training_sequences < SEQUENCES_PER_DEFAULT_EPOCH


def study_budget(max_epochs_named: int | None, patience_named: int | None, training_sequences: int | None) -> Budget:
    """What the study file names, else the default rule (module docstring) for ``training_sequences``."""
    if max_epochs_named is not None or not is_small_data(training_sequences):
        return Budget(max_epochs_named or DEFAULT_EPOCHS, patience_named or DEFAULT_PATIENCE)
    wanted = DEFAULT_EPOCHS * SEQUENCES_PER_DEFAULT_EPOCH
    epochs = min(MAX_DEFAULT_EPOCHS, max(DEFAULT_EPOCHS, math.ceil(wanted / max(1, training_sequences))))
    patience = patience_named or max(DEFAULT_PATIENCE, epochs // 10)
    return Budget(
        epochs,
        patience,
        f"a network trains on {training_sequences} sequences, so {epochs} epochs show it "
        f"{epochs * training_sequences:,} sequences (10 epochs of {SEQUENCES_PER_DEFAULT_EPOCH} show {wanted:,}); "
        "name max_epochs to choose",
    )
