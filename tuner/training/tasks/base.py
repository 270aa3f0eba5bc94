"""The small interface every task implements, and the tensors it hands the training loop.

A task turns its data file (or a generator) into padded sequences and says
what the targets are; the loop knows nothing else about it. A user's own
task subclasses ``Task`` and is named in a study as ``module:ClassName``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import torch
from torch import Tensor


class Target(StrEnum):
    NEXT_TOKEN = "next_token"  # a class at every step (character language model)
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
