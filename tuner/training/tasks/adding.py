"""The adding problem (Hochreiter & Schmidhuber 1997).

Each time step carries a random number in [0, 1] and a marker; exactly two
steps are marked, one in each half of the sequence. The target is the sum of
the two marked numbers, read at the last step. Always predicting 1 gives an
MSE of about 0.167; solving it needs memory across the whole sequence, which
plain RNNs lose at long lengths and LSTMs (with a forget bias) keep.
"""

from __future__ import annotations

import torch

from tuner.config.task import TASKS
from tuner.data.options import AddingOptions
from tuner.training.tasks.base import SequenceData, Target, Task, TaskData, full_lengths


class Adding(Task):
    options = AddingOptions
    metrics = TASKS["adding"].metrics

    def load(self, data: str | None, options: AddingOptions) -> TaskData:
        generator = torch.Generator().manual_seed(options.seed)
        return TaskData(
            target=Target.VALUES,
            train=adding_sequences(options.train_sequences, options.length, generator),
            val=adding_sequences(options.val_sequences, options.length, generator),
            input_size=2,
            output_size=1,
        )


def adding_sequences(count: int, length: int, generator: torch.Generator) -> SequenceData:
    values = torch.rand(count, length, generator=generator)
    half = length // 2  # length >= 2 (the study parser checks it): one marked step in each half
    first = torch.randint(0, half, (count,), generator=generator)
    second = torch.randint(half, length, (count,), generator=generator)
    markers = torch.zeros(count, length)
    rows = torch.arange(count)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    inputs = torch.stack([values, markers], dim=2)  # (N, T, 2)
    targets = (values * markers).sum(dim=1, keepdim=True)  # (N, 1)
    return SequenceData(inputs, targets, full_lengths(inputs))
