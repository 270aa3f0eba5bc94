"""The small interface every task implements, and the tensors it hands the training loop.

A task turns its data file (or a generator) into padded sequences and says
what the targets are; the loop knows nothing else about it. A user's own
task subclasses ``Task`` and is named in a study as ``module:ClassName``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch
from torch import Tensor

from tuner.config.task import data_path
from tuner.errors import BadInput


class Target(StrEnum):
    NEXT_TOKEN = "next_token"  # noqa: S105 - a target kind, not a password  # a class at every step (character language model)
    CLASS = "class"  # one class per sequence, read at its last valid step (many-to-one)
    VALUES = "values"  # real values per sequence, read at its last valid step (many-to-one regression)
    STEP_VALUES = "step_values"  # real values at every step (many-to-many regression)

    @property
    def classification(self) -> bool:
        return self in (Target.NEXT_TOKEN, Target.CLASS)

    @property
    def every_step(self) -> bool:
        return self in (Target.NEXT_TOKEN, Target.STEP_VALUES)


@dataclass(frozen=True)
class SequenceData:
    """N sequences padded to length L at the end.

    inputs:  (N, L) int64 token ids, or (N, L, F) float features
    targets: NEXT_TOKEN (N, L) int64 | CLASS (N,) int64 | VALUES (N, O) float | STEP_VALUES (N, L, O) float
    lengths: (N,) int64 valid steps of each sequence
    """

    inputs: Tensor
    targets: Tensor
    lengths: Tensor

    @property
    def sequences(self) -> int:
        return len(self.inputs)

    @property
    def steps(self) -> int:
        return int(self.lengths.sum())


def full_lengths(inputs: Tensor) -> Tensor:
    return torch.full((len(inputs),), inputs.shape[1], dtype=torch.long)


@dataclass(frozen=True)
class TaskData:
    """What the loop trains on."""

    target: Target
    train: SequenceData
    val: SequenceData
    input_size: int  # vocabulary size (token inputs, one-hot encoded) or feature count
    output_size: int  # classes, or values predicted
    vocab: str | None = None  # index -> character, for token tasks (sampling needs it)
    target_scale: float = 1.0  # regression targets were divided by this: errors are reported times it
    step_unit: str = "steps"  # what a time step is, for speed figures ("chars" for char_lm)
    # what turns the user's raw data into inputs the way training data was (vocabulary, feature names,
    # the training split's standardisation, class labels, window settings): plain values, kept in the
    # model file so new data is prepared the same way
    preparation: dict[str, Any] = field(default_factory=dict)
    # series tasks: input steps back from the end whose value is a naive forecast of every target
    # (1: the last value repeated; a season's length: the value one season back)
    naive_lags: tuple[int, ...] = ()
    # classification: each class's weight in the training loss (class_weight: balanced), None: all 1
    class_weights: Tensor | None = None

    def training_examples(self) -> int:
        """Targets the model learns from: every step for per-step tasks, one per sequence otherwise."""
        per = self.train.steps if self.target.every_step else self.train.sequences
        width = self.train.targets.shape[-1] if self.target in (Target.VALUES, Target.STEP_VALUES) else 1
        return per * width


class Task(ABC):
    """One kind of problem. Subclasses set ``options`` (a frozen dataclass) and ``metrics``."""

    options: ClassVar[type]
    metrics: ClassVar[dict[str, str]]  # validation metrics a study may optimise -> "minimize"/"maximize"

    @abstractmethod
    def load(self, data: str | None, options: Any) -> TaskData:
        """Read (or generate) the data; ``options`` is an instance of ``self.options``."""

    def fold_data(self, data: str | None, options: Any) -> list[TaskData]:
        """The K folds of ``options.folds`` (``data/folds.py``): one TaskData per fold, each with its own
        training and validation sequences and the same preparation. A task without folds has none."""
        raise BadInput("study", "task.options.folds", "a task with cross-validation folds", type(self).__name__)

    def load_test(
        self, data: str | None, test_data: str | None, options: Any, preparation: dict
    ) -> SequenceData | None:
        """The held-out test data (``test_data`` file, or ``options.test_fraction`` of ``data``), prepared
        with the training split's ``preparation``; None when the study has none. Never read by a trial."""
        if test_data is not None:
            return self.prepare(data_path(test_data), preparation, labelled=True).data
        if getattr(options, "test_fraction", None):
            return self.held_out_test(data, options, preparation)
        return None

    def held_out_test(self, data: str | None, options: Any, preparation: dict) -> SequenceData | None:
        """The ``test_fraction`` part of ``data``, which ``load`` left out; a task without that option has none."""
        return None

    def prepare(self, source: str | Path | pd.DataFrame, preparation: dict, labelled: bool) -> Prepared:
        """A user's raw data (a file or a frame in the task's format) prepared as training data was."""
        raise BadInput(
            "MODEL", "task", "a built-in task with a data format (evaluate and predict read it)", type(self).__name__
        )

    def predictions(self, outputs: Tensor, prepared: Prepared, preparation: dict) -> pd.DataFrame:
        """The network's outputs at each sequence's last step (N, O) as rows in the user's units and labels."""
        raise BadInput(
            "MODEL", "task", "a task whose networks predict (char_lm generates: tuner sample)", type(self).__name__
        )


@dataclass(frozen=True)
class Prepared:
    """New data prepared for the network, and what names each sequence in the user's terms."""

    data: SequenceData  # targets are empty when the data was unlabelled
    keys: pd.DataFrame  # one row per sequence: its id, or the position of its window
    # text: the characters the model never saw, which were left out (scored as language-model toolkits
    # score out-of-vocabulary tokens: not at all), and how many there were
    left_out: str = ""
    left_out_count: int = 0
    left_out_share: float = 0.0
    # series: the file's other columns (a date, a year), by row, to stand beside the forecasts of those rows
    other_columns: pd.DataFrame | None = None
