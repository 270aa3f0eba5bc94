"""The network a study ends with, trained again on training + validation data (``refit: train_val``).

Selection (the search, early stopping) chose a configuration and an epoch count on the validation
split; as scikit-learn's ``refit``, the final network then learns from every sequence it may: a new
network of that configuration, with the same seed, trains on the training and validation splits
together for that many epochs and keeps its last weights. Its validation value means nothing any more
(it trained on those sequences): the validation figure reported beside it is the selection run's, and
its honest score is on test data no trial read.
"""

from __future__ import annotations

import dataclasses

import torch

from tuner.config.hyperparams import Hyperparameters
from tuner.training.loop import TrainResult, TrainSettings, train
from tuner.training.tasks import SequenceData, Target, TaskData


def merged(first: SequenceData, second: SequenceData, target: Target) -> SequenceData:
    """Two splits as one, padded with zeros to the longer one's length (per-step targets too)."""
    steps = max(first.inputs.shape[1], second.inputs.shape[1])

    def padded(tensor: torch.Tensor, per_step: bool) -> torch.Tensor:
        if not per_step or tensor.shape[1] == steps:
            return tensor
        shape = (tensor.shape[0], steps - tensor.shape[1], *tensor.shape[2:])
        return torch.cat([tensor, tensor.new_zeros(shape)], dim=1)

    return SequenceData(
        torch.cat([padded(first.inputs, True), padded(second.inputs, True)]),
        torch.cat([padded(first.targets, target.every_step), padded(second.targets, target.every_step)]),
        torch.cat([first.lengths, second.lengths]),
    )


def refit(hp: Hyperparameters, data: TaskData, settings: TrainSettings, epochs: int) -> TrainResult:
    """A new network of ``hp`` trained ``epochs`` epochs on training + validation data, its last weights kept."""
    both = dataclasses.replace(data, train=merged(data.train, data.val, data.target))
    once = dataclasses.replace(settings, max_epochs=max(1, epochs), patience=max(1, epochs) + 1, keep_last=True)
    return train(hp, both, once)
