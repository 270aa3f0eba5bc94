"""Many-to-one classification of sequences from a long-format CSV or Parquet file.

Sequences may differ in length: they are padded at the end and the class is
read at each one's last real step. Features are standardised with the mean
and spread of the training split only.
"""

from __future__ import annotations

import numpy as np
import torch

from tuner import tabular
from tuner.taskoptions import SequenceClassificationOptions
from tuner.taskspec import TASKS, data_path
from tuner.training.tasks.base import SequenceData, Target, Task, TaskData


class SequenceClassification(Task):
    options = SequenceClassificationOptions
    metrics = TASKS["sequence_classification"].metrics

    def load(self, data: str | None, options: SequenceClassificationOptions) -> TaskData:
        table = tabular.read_long_sequences(data_path(data or "builtin:control_charts"), options)
        classes = np.unique(table.labels)
        labels = np.searchsorted(classes, table.labels)  # any integer labels -> 0..C-1
        train_idx, val_idx = tabular.split_indices(len(labels), options.val_fraction, options.split_seed)
        stacked = np.concatenate([table.features[i] for i in train_idx])
        mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-8
        standardised = [(f - mean) / std for f in table.features]
        return TaskData(
            target=Target.CLASS,
            train=padded(standardised, labels, train_idx),
            val=padded(standardised, labels, val_idx),
            input_size=stacked.shape[1],
            output_size=len(classes),
        )


def padded(features: list[np.ndarray], labels: np.ndarray, indices: np.ndarray) -> SequenceData:
    """Sequences ``indices`` padded with zeros at the end to the longest of them: (N, L, F)."""
    lengths = torch.tensor([len(features[i]) for i in indices], dtype=torch.long)
    inputs = torch.zeros(len(indices), int(lengths.max()), features[0].shape[1])
    for row, i in enumerate(indices):
        inputs[row, : len(features[i])] = torch.from_numpy(features[i])
    return SequenceData(inputs, torch.from_numpy(labels[indices]).long(), lengths)
