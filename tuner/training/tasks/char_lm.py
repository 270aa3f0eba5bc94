"""Character-level language modelling on a text file (Tiny Shakespeare by default).

The split is deterministic: the first ``1 - val_fraction`` of the text trains,
the rest validates, so every trial and every retrain sees the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from tuner.errors import BadInput
from tuner.taskspec import CharLMOptions, TaskSpec, data_path


@dataclass(frozen=True)
class SequenceData:
    """Inputs and next-character targets cut into equal sequences: both (N, L) int64."""

    inputs: Tensor
    targets: Tensor

    @property
    def chars(self) -> int:
        return self.targets.numel()


@dataclass(frozen=True)
class CharCorpus:
    vocab: str  # index -> character
    train: SequenceData
    val: SequenceData


def load_corpus(task: TaskSpec) -> CharCorpus:
    """Read, encode and split the task's text file."""
    options = CharLMOptions(**task.options)
    path = data_path(task.data)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(str(path), None, "a readable UTF-8 text file", type(error).__name__) from None
    if options.max_chars is not None:
        text = text[: options.max_chars]
    vocab = "".join(sorted(set(text)))
    index = {ch: i for i, ch in enumerate(vocab)}
    encoded = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    split = int(len(encoded) * (1 - options.val_fraction))
    if split < 2 or len(encoded) - split < 2:
        raise BadInput(
            str(path), "task.options", "enough text for a train and a validation part", f"{len(encoded)} characters"
        )
    return CharCorpus(
        vocab=vocab,
        train=cut_sequences(encoded[:split], options.seq_length),
        val=cut_sequences(encoded[split:], options.seq_length),
    )


def cut_sequences(encoded: Tensor, seq_length: int) -> SequenceData:
    """Cut a stream into non-overlapping sequences; a stream shorter than one sequence is one shorter sequence."""
    length = min(seq_length, len(encoded) - 1)
    count = (len(encoded) - 1) // length
    inputs = encoded[: count * length].view(count, length)
    targets = encoded[1 : count * length + 1].view(count, length)
    return SequenceData(inputs, targets)
