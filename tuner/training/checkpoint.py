"""Checkpoints that load with ``torch.load(weights_only=True)``: tensors and plain values only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from tuner.errors import BadInput
from tuner.hyperparams import Hyperparameters
from tuner.training.models import RecurrentNet

if TYPE_CHECKING:
    from tuner.trainfile import TrainFile
    from tuner.training.loop import TrainResult

CHECKPOINT_FORMAT = "rnn-tuner/checkpoint/v1"


def save_checkpoint(path: str | Path, result: TrainResult, train_file: TrainFile) -> None:
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "hyperparameters": train_file.hyperparameters,
            "settings": train_file.settings,
            "vocab": result.data.vocab,
            "target": str(result.data.target),
            "input_size": result.data.input_size,
            "output_size": result.data.output_size,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "metric": result.monitor,
            "best_value": result.best_value,
            "state_dict": result.model.state_dict(),
        },
        path,
    )


def load_checkpoint(path: str | Path) -> tuple[RecurrentNet, dict[str, Any]]:
    """The model with its best weights, and the checkpoint's other fields.

    A file that is not a checkpoint written by ``tuner train`` is BadInput (one line), not a traceback.
    """
    expected = "a checkpoint written by tuner train"
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a file that is not its own
        raise BadInput(str(path), None, expected, f"a file torch cannot load ({type(error).__name__})") from None
    found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
    if found != CHECKPOINT_FORMAT:
        raise BadInput(str(path), "format", f"{CHECKPOINT_FORMAT} ({expected})", found)
    hp = Hyperparameters.from_dict(checkpoint["hyperparameters"], str(path), "hyperparameters")
    model = RecurrentNet(checkpoint["input_size"], checkpoint["output_size"], hp)
    model.load_state_dict(checkpoint["state_dict"])
    return model, checkpoint
