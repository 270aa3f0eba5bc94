"""Character-level language modelling on a text file (Tiny Shakespeare by default).

The split is deterministic: the first ``1 - val_fraction`` of the text trains,
the rest validates, so every trial and every retrain sees the same data.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tuner.taskoptions import CharLMOptions
from tuner.taskspec import TASKS, data_path
from tuner.textdata import read_text
from tuner.training.tasks.base import SequenceData, Target, Task, TaskData, full_lengths


class CharLM(Task):
    options = CharLMOptions
    metrics = TASKS["char_lm"].metrics

    def load(self, data: str | None, options: CharLMOptions) -> TaskData:
        text = read_text(data_path(data or "builtin:tinyshakespeare"), options)
        vocab = "".join(sorted(set(text)))
        index = {ch: i for i, ch in enumerate(vocab)}
        encoded = torch.tensor([index[ch] for ch in text], dtype=torch.long)
        split = int(len(encoded) * (1 - options.val_fraction))
        return TaskData(
            target=Target.NEXT_TOKEN,
            train=cut_sequences(encoded[:split], options.seq_length),
            val=cut_sequences(encoded[split:], options.seq_length),
            input_size=len(vocab),
            output_size=len(vocab),
            vocab=vocab,
            step_unit="chars",
        )


def cut_sequences(encoded: Tensor, seq_length: int) -> SequenceData:
    """Non-overlapping sequences of inputs and next-character targets; a short stream is one shorter sequence."""
    length = min(seq_length, len(encoded) - 1)
    count = (len(encoded) - 1) // length
    inputs = encoded[: count * length].view(count, length)
    targets = encoded[1 : count * length + 1].view(count, length)
    return SequenceData(inputs, targets, full_lengths(inputs))
