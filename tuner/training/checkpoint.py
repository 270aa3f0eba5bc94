"""Model files that load with ``torch.load(weights_only=True)``: tensors and plain values only.

A model file carries its own preparation: the task and its options, and what turns raw data
into the network's inputs and its outputs back into the user's units and labels (vocabulary,
feature columns, the training split's standardisation, target scaling, class labels, window
settings). Files of the first format (v1) kept only a character model's vocabulary: they still
load to sample text, and other tasks' are refused with a line that says to retrain.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from tuner.config.hyperparams import Hyperparameters
from tuner.errors import BadInput
from tuner.training.ensemble import Ensemble, fit_on
from tuner.training.models import RecurrentNet

if TYPE_CHECKING:
    from tuner.config.export_file import TrainFile
    from tuner.training.loop import TrainResult
    from tuner.training.tasks import TaskData

CHECKPOINT_FORMAT = "rnn-tuner/checkpoint/v2"
FIRST_FORMAT = "rnn-tuner/checkpoint/v1"  # before model files kept their data preparation


def save_model_file(
    path: str | Path,
    model: RecurrentNet | Ensemble,
    data: TaskData,
    hyperparameters: dict[str, Any],
    settings: dict[str, Any],
    best: tuple[int, float, str, float],
    scores: dict[str, Any] | None = None,
    learned_from: str | None = None,
    validation: dict[str, float] | None = None,
) -> None:
    """The model file of ``model``'s current weights; ``best`` is (epoch, validation loss, metric, its value)
    of the run that chose it; ``scores``: ``FinalScores.as_dict()`` (plain values: the file format does not
    know the scorer); ``learned_from``: what the weights learned from (default: as ``model`` trained, see
    ``ensemble.fit_on``); ``validation``: the chosen epoch's validation metrics (an ensemble's cannot be
    measured again: each member trained on the others' validation sequences)."""
    epoch, val_loss, metric, value = best
    members = {}
    if isinstance(model, Ensemble):
        members = {"members": len(model.members), "probabilities": model.probabilities}
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "task": settings["task"],
            "hyperparameters": hyperparameters,
            "settings": settings,
            "vocab": data.vocab,
            "target": str(data.target),
            "input_size": data.input_size,
            "output_size": data.output_size,
            "target_scale": data.target_scale,
            "preparation": data.preparation,
            "best_epoch": epoch,
            "best_val_loss": val_loss,
            "metric": metric,
            "best_value": value,
            "scores": scores,
            "fit_on": learned_from or fit_on(model, model),
            **members,
            **({"validation_metrics": dict(validation)} if validation is not None else {}),
            "state_dict": model.state_dict(),
        },
        path,
    )


def save_checkpoint(
    path: str | Path,
    result: TrainResult,
    train_file: TrainFile,
    scores: dict[str, Any] | None = None,
    selection: TrainResult | None = None,
) -> None:
    """What ``tuner train`` writes: the kept weights of ``result``, the network it ends with; ``selection``:
    the run that chose the epoch when ``result`` is a refit on training + validation data."""
    chose = selection or result
    best = (chose.best_epoch, chose.best_val_loss, chose.monitor, chose.best_value)
    validation = chose.epochs[chose.best_epoch - 1].metrics if chose.best_epoch else None
    save_model_file(
        path,
        result.model,
        result.data,
        train_file.hyperparameters,
        train_file.settings,
        best,
        scores,
        fit_on(chose.model, result.model),
        validation,
    )


def load_checkpoint(path: str | Path) -> tuple[RecurrentNet | Ensemble, dict[str, Any]]:
    """The model with its best weights, and the checkpoint's other fields.

    A file that is not a checkpoint written by ``tuner train`` is BadInput (one line), not a traceback.
    """
    expected = "a model file written by tuner train"
    if not Path(path).is_file():
        raise BadInput(str(path), None, expected, "no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a file that is not its own
        raise BadInput(str(path), None, expected, f"a file torch cannot load ({type(error).__name__})") from None
    found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
    if found not in (CHECKPOINT_FORMAT, FIRST_FORMAT):
        raise BadInput(str(path), "format", f"{CHECKPOINT_FORMAT} ({expected})", found)
    if found == FIRST_FORMAT:
        checkpoint = _upgraded(checkpoint, str(path))
    hp = Hyperparameters.from_dict(checkpoint["hyperparameters"], str(path), "hyperparameters")
    sizes = (checkpoint["input_size"], checkpoint["output_size"], hp)
    if checkpoint.get("members"):  # a cross-validated trial's fold networks (refit: ensemble)
        model = Ensemble.of(*sizes, checkpoint["members"], checkpoint["probabilities"])
    else:
        model = RecurrentNet(*sizes)
    model.load_state_dict(checkpoint["state_dict"])
    return model, checkpoint


def _upgraded(checkpoint: dict[str, Any], where: str) -> dict[str, Any]:
    """A v1 file in today's shape where it can be (a character model: its vocabulary is its preparation)."""
    task = checkpoint["settings"]["task"]
    if not checkpoint.get("vocab"):
        raise BadInput(
            where,
            "format",
            f"{CHECKPOINT_FORMAT} (a model file that keeps its data preparation)",
            FIRST_FORMAT,
            "retrain it with tuner train to evaluate or predict with it",
        )
    seq_length = task.get("options", {}).get("seq_length", 1000)
    preparation = {"vocab": checkpoint["vocab"], "seq_length": seq_length}
    return {**checkpoint, "task": task, "preparation": preparation, "target_scale": 1.0, "scores": None}
