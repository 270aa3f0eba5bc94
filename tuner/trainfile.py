"""The exported training-config file: one self-contained YAML or JSON that retrains a trial.

Written by ``tuner export`` (and the dashboard's download button, byte for
byte the same), read by ``tuner train``. Imports neither optuna nor ray.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from tuner.errors import BadInput, check_keys
from tuner.hyperparams import Hyperparameters
from tuner.taskspec import parse_task
from tuner.yamlfile import load_mapping

FORMAT = "rnn-tuner/train-config/v1"


class FileFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


@dataclass(frozen=True)
class TrainFile:
    """What ``tuner train`` needs: task settings, every hyperparameter, the seed, and the value to reproduce."""

    settings: dict[str, Any]  # task, metric, direction, max_epochs, early_stopping
    hyperparameters: dict[str, Any]
    seed: int
    expected_value: float | None
    source: str
    threads: int | None = None  # torch threads the trial trained with (None: not recorded)


def render(document: dict[str, Any], file_format: FileFormat) -> str:
    """The exact text of an export: the same bytes wherever it is written from."""
    if file_format is FileFormat.JSON:
        return json.dumps(document, indent=2) + "\n"
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def train_document(
    study: str,
    trial: int,
    state: str,
    settings: dict[str, Any],
    hyperparameters: dict[str, Any],
    seed: int,
    value: float | None,
    best_epoch: int | None,
    epochs_run: int | None,
    threads: int | None = None,
) -> dict[str, Any]:
    """The document ``render`` writes; field order is the order a reader wants."""
    return {
        "format": FORMAT,
        "study": study,
        "trial": trial,
        "state": state,
        "result": {
            "metric": settings["metric"],
            "direction": settings["direction"],
            "value": value,
            "best_epoch": best_epoch,
            "epochs_run": epochs_run,
        },
        "task": settings["task"],
        "hyperparameters": hyperparameters,
        "training": {
            "max_epochs": settings["max_epochs"],
            "early_stopping": settings["early_stopping"],
            "seed": seed,
            **({"threads": threads} if threads is not None else {}),
        },
    }


def read_train_file(path: str | Path) -> TrainFile:
    """Read an exported file (YAML or JSON; JSON is YAML too) and check every field."""
    where = str(path)
    raw = load_mapping(path)
    check_keys(where, "", raw, {"format", "study", "trial", "state", "result", "task", "hyperparameters", "training"})
    if raw.get("format") != FORMAT:
        raise BadInput(where, "format", FORMAT, raw.get("format"))
    for key in ("result", "task", "hyperparameters", "training"):
        if not isinstance(raw.get(key), dict):
            raise BadInput(where, key, "a mapping", raw.get(key))
    task = parse_task(raw["task"], where, Path(where).parent)
    hp = Hyperparameters.from_dict(raw["hyperparameters"], where, "hyperparameters")
    result, training = raw["result"], raw["training"]
    check_keys(where, "training", training, {"max_epochs", "early_stopping", "seed", "threads"})
    metric = result.get("metric", "val_loss")
    if metric not in task.metrics():
        raise BadInput(where, "result.metric", "a metric of task " + task.name, metric)
    max_epochs, seed = training.get("max_epochs"), training.get("seed", 0)
    if not isinstance(max_epochs, int) or max_epochs < 1:
        raise BadInput(where, "training.max_epochs", "an integer >= 1", max_epochs)
    if not isinstance(seed, int):
        raise BadInput(where, "training.seed", "an integer", seed)
    threads = training.get("threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise BadInput(where, "training.threads", "an integer >= 1", threads)
    early = training.get("early_stopping") or {}
    if not isinstance(early, dict) or not isinstance(early.get("patience", 1), int):
        raise BadInput(where, "training.early_stopping", "a mapping with patience and min_delta", early)
    settings = {
        "task": task.to_dict(),
        "metric": metric,
        "direction": result.get("direction", task.metrics()[metric]),
        "max_epochs": max_epochs,
        "early_stopping": {
            "patience": early.get("patience", max_epochs),
            "min_delta": float(early.get("min_delta", 0.0)),
        },
        "seed": seed,
    }
    value = result.get("value")
    return TrainFile(settings, hp.to_dict(), seed, float(value) if value is not None else None, where, threads)
