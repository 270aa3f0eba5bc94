"""K-fold cross-validation splits (``task.options.folds``), and the rule that chooses them by default.

Torch-free: the study parser applies the rule and checks a fold count here, before anything trains.

- Classification: stratified folds, as scikit-learn's ``StratifiedKFold(shuffle=True)``: each class's
  sequences, in a seeded order, are dealt to the folds in turn, so every fold holds every class (when
  it has at least K sequences) and the folds' sizes differ by at most one per class.
- Series: time-ordered folds, as scikit-learn's ``TimeSeriesSplit``: the part before the test part is
  cut into K + 1 blocks; fold k trains on blocks 0..k and is validated on block k + 1, so no fold learns
  from a point after the ones it is judged on.

The default (no ``folds`` and no ``val_fraction`` in the study): a classifier whose validation split
would hold fewer than ``FEW_VALIDATION_SEQUENCES`` sequences is cross-validated with
``DEFAULT_FOLDS`` folds (fewer when its smallest class has fewer sequences, none below 2); any other
study keeps its single hold-out split. On 13 validation sequences one sequence moves accuracy by 0.077,
so a hold-out picks among near-ties by chance; K folds judge each trial on every sequence once. A series
keeps its chronological hold-out unless ``folds`` is set: its early folds would train on a short history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_FOLDS = 5
FEW_VALIDATION_SEQUENCES = 50


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """The validation indices of each of ``folds`` folds (sorted), every index in exactly one."""
    rng = np.random.default_rng(seed)
    members: list[list[int]] = [[] for _ in range(folds)]
    start = 0  # the next class starts dealing where the last stopped: fold sizes stay within one
    for label in sorted(set(labels.tolist()), key=str):
        where = rng.permutation(np.flatnonzero(labels == label))
        for offset, index in enumerate(where):
            members[(start + offset) % folds].append(int(index))
        start = (start + len(where)) % folds
    return [np.array(sorted(fold), dtype=np.int64) for fold in members]


def time_ordered_blocks(length: int, folds: int) -> list[int]:
    """The ends of the K + 1 blocks a series part of ``length`` points is cut into (the last is ``length``)."""
    return [round(length * (k + 1) / (folds + 1)) for k in range(folds + 1)]


@dataclass(frozen=True)
class Selection:
    """How a study's trials are judged: ``folds`` (None: one hold-out split) and why, in a few words."""

    folds: int | None
    reason: str

    def describe(self) -> str:
        how = f"{self.folds}-fold cross-validation" if self.folds else "a single hold-out validation split"
        return f"{how} ({self.reason})"


def default_selection(labels: np.ndarray, validation: int, val_fraction: float) -> Selection:
    """The default rule (module docstring) for a classifier's sequences left for selection (``labels``),
    whose hold-out split of ``val_fraction`` would validate on ``validation`` of them (the split's own
    count: its share is of every sequence, the test part included)."""
    if validation >= FEW_VALIDATION_SEQUENCES:
        return Selection(None, f"its validation split holds {validation} sequences")
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    folds = min(DEFAULT_FOLDS, smallest)
    if folds < 2:
        return Selection(None, f"its smallest class has {smallest} sequence, too few to cross-validate")
    return Selection(
        folds,
        f"a validation split of {val_fraction:g} would hold {validation} sequences, "
        f"fewer than {FEW_VALIDATION_SEQUENCES}: every sequence is validated once instead",
    )
