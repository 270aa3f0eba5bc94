"""Many-to-one classification of sequences from a long-format CSV or Parquet file.

Sequences may differ in length: they are padded at the end and the class is
read at each one's last real step. Features are standardised with the mean
and spread of the training split only (``normalize: global``), or each
sequence by its own (``per_sequence``), or not at all; class labels may be
integers or text and come back as they are in the file. ``class_weight:
balanced`` weighs the training loss by the training split's class counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from tuner.config.task import TASKS, data_path
from tuner.data import folds, tabular
from tuner.data.options import SequenceClassificationOptions
from tuner.errors import BadInput
from tuner.training.tasks.base import Prepared, SequenceData, Target, Task, TaskData


class SequenceClassification(Task):
    options = SequenceClassificationOptions
    metrics = TASKS["sequence_classification"].metrics

    def load(self, data: str | None, options: SequenceClassificationOptions) -> TaskData:
        table = tabular.read_long_sequences(data_path(data or "builtin:control_charts"), options)
        split = tabular.split_indices(len(table.ids), options.val_fraction, options.split_seed, options.test_fraction)
        return self._task_data(table, options, split.train, split.val, split.train, str(data))

    def fold_data(self, data: str | None, options: SequenceClassificationOptions) -> list[TaskData]:
        """Stratified folds of the sequences left after the test part; the preparation (standardisation)
        is of all of them, so the K networks of an ensemble read inputs prepared the same way."""
        table = tabular.read_long_sequences(data_path(data or "builtin:control_charts"), options)
        split = tabular.split_indices(len(table.ids), options.val_fraction, options.split_seed, options.test_fraction)
        selection = np.sort(np.r_[split.train, split.val])
        parts = folds.stratified_folds(table.labels[selection], options.folds, options.split_seed)
        return [
            self._task_data(
                table, options, np.setdiff1d(selection, selection[part]), selection[part], selection, str(data)
            )
            for part in parts
        ]

    def _task_data(
        self,
        table: tabular.LongSequences,
        options: SequenceClassificationOptions,
        train: np.ndarray,
        val: np.ndarray,
        prepared_on: np.ndarray,
        where: str,
    ) -> TaskData:
        """Sequences ``train`` and ``val``, standardised with the statistics of sequences ``prepared_on``."""
        train_steps = table.sequence_features(prepared_on)
        preparation = {
            "id_column": options.id_column,
            "step_column": options.step_column,
            "label_column": options.label_column,
            "feature_columns": table.feature_names,
            "mean": train_steps.mean(axis=0).tolist(),
            "std": (train_steps.std(axis=0) + 1e-8).tolist(),
            "classes": [tabular.plain(c) for c in np.unique(table.labels)],
            "normalize": options.normalize,
        }
        targets = class_indices(table.labels, preparation, where)
        classes = len(preparation["classes"])
        return TaskData(
            target=Target.CLASS,
            train=sequences(table, preparation, targets, train),
            val=sequences(table, preparation, targets, val),
            input_size=len(table.feature_names),
            output_size=classes,
            preparation=preparation,
            class_weights=balanced_weights(targets[train], classes) if options.class_weight else None,
        )

    def held_out_test(
        self, data: str | None, options: SequenceClassificationOptions, preparation: dict
    ) -> SequenceData:
        table = tabular.read_long_sequences(data_path(data or "builtin:control_charts"), options)
        split = tabular.split_indices(len(table.ids), options.val_fraction, options.split_seed, options.test_fraction)
        return sequences(table, preparation, class_indices(table.labels, preparation, str(data)), split.test)

    def prepare(self, source: str | Path | pd.DataFrame, preparation: dict, labelled: bool) -> Prepared:
        options = format_options(preparation)
        where = "data frame" if isinstance(source, pd.DataFrame) else str(source)
        table = tabular.read_long_sequences(source, options, labelled=labelled, where=where, min_classes=1)
        targets = class_indices(table.labels, preparation, where) if labelled else np.zeros(len(table.ids), np.int64)
        rows = np.arange(len(table.ids))
        keys = pd.DataFrame({options.id_column: table.ids})
        return Prepared(sequences(table, preparation, targets, rows), keys)

    def predictions(self, outputs: Tensor, prepared: Prepared, preparation: dict) -> pd.DataFrame:
        """One row per sequence: its id, the predicted label (as in the training file), one probability per class."""
        classes = preparation["classes"]
        probabilities = torch.softmax(outputs.float(), dim=-1).numpy()
        frame = prepared.keys.copy()
        frame["predicted"] = [classes[i] for i in probabilities.argmax(axis=1)]
        for column, label in enumerate(classes):
            frame[f"p_{label}"] = probabilities[:, column]
        return frame


def format_options(preparation: dict) -> SequenceClassificationOptions:
    """The columns a file of this model's data has, as the reader's options."""
    return SequenceClassificationOptions(
        id_column=preparation["id_column"],
        step_column=preparation["step_column"],
        label_column=preparation["label_column"],
        feature_columns=list(preparation["feature_columns"]),
    )


def class_indices(labels: np.ndarray, preparation: dict, where: str) -> np.ndarray:
    """Labels as in the file -> class indices 0..C-1; a label the model never saw is named."""
    classes = np.asarray(preparation["classes"], dtype=object)
    known = np.isin(labels.astype(object), classes)
    if not known.all():
        shown = ", ".join(map(str, preparation["classes"]))
        raise BadInput(
            where,
            f"column {preparation['label_column']!r}",
            f"labels the model was trained on ({shown})",
            tabular.plain(labels[~known][0]),
        )
    lookup = {label: index for index, label in enumerate(preparation["classes"])}
    return np.array([lookup[tabular.plain(label)] for label in labels], dtype=np.int64)


def balanced_weights(train_targets: np.ndarray, classes: int) -> torch.Tensor:
    """scikit-learn's "balanced" class weights: n / (classes * count of the class); a class absent from
    the training split weighs 0 (it has no loss to weigh)."""
    counts = np.bincount(train_targets, minlength=classes).astype(np.float64)
    weights = np.divide(len(train_targets), classes * counts, out=np.zeros_like(counts), where=counts > 0)
    return torch.from_numpy(weights.astype(np.float32))


def sequences(table: tabular.LongSequences, preparation: dict, targets: np.ndarray, rows: np.ndarray) -> SequenceData:
    """Sequences ``rows``, normalised as ``preparation`` says (``normalized``), padded with zeros to the longest."""
    lengths = table.lengths[rows]
    longest = int(lengths.max()) if len(rows) else 1
    valid = np.arange(longest)[None, :] < lengths[:, None]  # (N, L)
    inputs = normalized(table.values[rows, :longest].astype(np.float32), valid, preparation)
    inputs[~valid] = 0.0  # padding stays zero
    return SequenceData(
        torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)),
        torch.from_numpy(targets[rows]).long(),
        torch.from_numpy(lengths).long(),
    )


def normalized(values: np.ndarray, valid: np.ndarray, preparation: dict) -> np.ndarray:
    """values (N, L, F), ``valid`` (N, L) marking real steps: ``global`` standardises each feature by the
    training split's mean and spread, ``per_sequence`` by each sequence's own over its real steps (a
    constant sequence becomes zeros), ``none`` leaves them. Model files from before the option: global."""
    how = preparation.get("normalize", "global")
    if how == "none":
        return values.copy()
    if how == "global":
        mean, std = np.asarray(preparation["mean"], np.float32), np.asarray(preparation["std"], np.float32)
        return (values - mean) / std
    steps = np.maximum(valid.sum(axis=1), 1)[:, None]  # (N, 1)
    mask = valid[:, :, None]
    mean = np.where(mask, values, 0.0).sum(axis=1) / steps  # (N, F)
    spread = np.sqrt(np.where(mask, (values - mean[:, None, :]) ** 2, 0.0).sum(axis=1) / steps)
    return ((values - mean[:, None, :]) / (spread[:, None, :] + 1e-8)).astype(np.float32)
