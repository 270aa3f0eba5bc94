"""Updaters (optimisers) by their Deeplearning4j names, with L2 on weights only."""

from __future__ import annotations

import torch

from tuner.config.hyperparams import Hyperparameters, Updater
from tuner.training.models import RecurrentNet


def make_optimizer(model: RecurrentNet, hp: Hyperparameters) -> torch.optim.Optimizer:
    """``weight_decay`` adds l2 * w to each weight's gradient: the gradient of 0.5 * l2 * ||w||^2."""
    groups = [
        {"params": model.weights(), "weight_decay": hp.l2},
        {"params": model.biases(), "weight_decay": 0.0},
    ]
    lr = hp.learning_rate
    match hp.updater:
        case Updater.SGD:
            return torch.optim.SGD(groups, lr=lr)
        case Updater.NESTEROVS:
            return torch.optim.SGD(groups, lr=lr, momentum=hp.momentum, nesterov=True)
        case Updater.ADAM:
            return torch.optim.Adam(groups, lr=lr)
        case Updater.NADAM:
            return torch.optim.NAdam(groups, lr=lr)
        case Updater.RMSPROP:
            return torch.optim.RMSprop(groups, lr=lr)
        case Updater.ADAGRAD:
            return torch.optim.Adagrad(groups, lr=lr)
    raise ValueError(f"unknown updater {hp.updater!r}")
