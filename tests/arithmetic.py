"""Trainables that train nothing, for testing and measuring the orchestration on its own.

``arithmetic_trial`` reports made-up learning curves computed from the
hyperparameters, as fast as Ray can carry them: the validation loss is
lowest near learning rate 0.01, and without dropout it turns upwards after
epoch 2 while the training loss keeps falling (overfitting, on purpose).
``dying_trial`` kills its own process on the first attempt of each trial,
the way the out-of-memory killer would. ``gathering_trial`` reports nothing
until a number of trials run at the same time (a test of how many Ray
places at once).
"""

from __future__ import annotations

import math
import os
import signal
import time
from typing import Any

import ray
from ray import tune

from tuner.orchestration.trainable import EPOCH, SUMMARY, placement

GATHERING = "tuner-gathering"  # the name of the Gathering actor gathering_trial looks up


def curve(hyperparameters: dict[str, Any], epoch: int) -> tuple[float, float]:
    """(train loss, validation loss) of an imaginary network at ``epoch``."""
    base = abs(math.log10(hyperparameters["learning_rate"]) + 2) + 1.0
    train = base + 2.0 / epoch
    overfit = 0.4 * max(0, epoch - 2) if hyperparameters.get("dropout", 0.0) < 0.1 else 0.0
    return train, train + 0.1 + overfit


def arithmetic_trial(config: dict[str, Any]) -> None:
    settings, hp = config["settings"], config["hyperparameters"]
    best = math.inf
    for epoch in range(1, settings["max_epochs"] + 1):
        train, val = curve(hp, epoch)
        best = min(best, val)
        tune.report(
            {
                "kind": EPOCH,
                "epoch": epoch,
                "train_loss": train,
                "val_loss": val,
                "objective": val,
                "best_objective": best,
                "metrics": {"val_loss": val},
                "layer_grad_norms": [1.0],
                "grad_norm": 1.0,
                "clipped_fraction": 0.0,
                "seconds": 0.0,
                "steps_per_sec": 0.0,
                "ends_training": epoch == settings["max_epochs"],
            }
        )
    tune.report(
        {
            "kind": SUMMARY,
            "objective": best,
            "best_objective": best,
            "stop_reason": "finished",
            "best_epoch": 1,
            "epochs_run": settings["max_epochs"],
            "parameter_count": 1,
            "training_examples": 1,
            **placement(),
        }
    )


def dying_trial(config: dict[str, Any]) -> None:
    """Dies by SIGKILL on a trial's first attempt; behaves like arithmetic_trial on a retry."""
    if config["attempt"] == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    arithmetic_trial(config)


@ray.remote(num_cpus=0)
class Gathering:
    """Counts the trials that have started; create it named GATHERING before the study runs."""

    def __init__(self, expected: int) -> None:
        self.expected, self.arrived = expected, 0

    def arrive(self) -> None:
        self.arrived += 1

    def everyone_here(self) -> bool:
        return self.arrived >= self.expected


def gathering_trial(config: dict[str, Any], timeout_s: float = 120.0) -> None:
    """Like arithmetic_trial, once the Gathering's expected number of trials have started.

    Raises (the trial errors) if they never all run at once, e.g. when Ray has
    room for fewer trials at a time than expected.
    """
    gathering = ray.get_actor(GATHERING)
    ray.get(gathering.arrive.remote())
    deadline = time.monotonic() + timeout_s
    while not ray.get(gathering.everyone_here.remote()):
        if time.monotonic() > deadline:
            raise TimeoutError("the other trials never ran at the same time as this one")
        time.sleep(0.1)
    arithmetic_trial(config)
