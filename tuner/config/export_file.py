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

from tuner.config.early_stopping import parse_early_stopping
from tuner.config.hyperparams import Hyperparameters, Precision
from tuner.config.task import parse_refit, parse_task, selection_optimism
from tuner.config.yaml_file import load_mapping
from tuner.errors import BadInput, check_keys, int_at_least, integer, is_number

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
    device: str | None = None  # "cuda" or "cpu": where the trial trained (None: not recorded, so the CPU)
    precision: str = "fp32"  # what its recurrent layers computed in on that device


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
    test_result: dict[str, Any] | None = None,
    device: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The document ``render`` writes; field order is the order a reader wants.

    ``test_result``: this trial scored on the study's test data (``final_test``), shown under
    ``result.test``; informative only, ``tuner train`` scores its own weights again.
    """
    test = {}
    if test_result is not None and test_result.get("test") is not None:
        metric = settings["metric"]
        test = {
            "test": {
                "value": test_result["test"][metric],
                "validation": test_result["validation"][metric],
                "selection_optimism": selection_optimism(
                    test_result["validation"][metric],
                    test_result["test"][metric],
                    maximize=settings.get("direction") == "maximize",
                ),
                "trivial": test_result["trivial"]["test"]["metrics"][metric],
            }
        }
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
            **test,
        },
        "task": settings["task"],
        "hyperparameters": hyperparameters,
        "training": {
            "max_epochs": settings["max_epochs"],
            "early_stopping": settings["early_stopping"],
            "seed": seed,
            **({"refit": settings["refit"]} if settings.get("refit", "none") != "none" else {}),
            **({"threads": threads} if threads is not None else {}),
            **({"device": device["kind"], "precision": device["precision"]} if device else {}),
        },
    }


def read_train_file(path: str | Path) -> TrainFile:
    """Read an exported file (YAML or JSON; JSON is YAML too) and check every field."""
    where = str(path)
    raw = load_mapping(path)
    if raw.get("format") != FORMAT:  # checked first: a study file given by mistake gets this line, not a key list
        hint = "this is a study file: run it with tuner run" if {"space", "sampler"} & raw.keys() else ""
        raise BadInput(where, "format", f"{FORMAT} (a file tuner export writes)", raw.get("format"), hint)
    check_keys(where, "", raw, {"format", "study", "trial", "state", "result", "task", "hyperparameters", "training"})
    for key in ("result", "task", "hyperparameters", "training"):
        if not isinstance(raw.get(key), dict):
            raise BadInput(where, key, "a mapping", raw.get(key))
    task = parse_task(raw["task"], where, Path(where).parent, default_folds=False)
    hp = Hyperparameters.from_dict(raw["hyperparameters"], where, "hyperparameters")
    result, training = raw["result"], raw["training"]
    check_keys(where, "result", result, {"metric", "direction", "value", "best_epoch", "epochs_run", "test"})
    check_keys(
        where, "training", training, {"max_epochs", "early_stopping", "seed", "threads", "device", "precision", "refit"}
    )
    refit = parse_refit(training.get("refit"), where, "training.refit", task.folds())
    metric = result.get("metric", "val_loss")
    if metric not in task.metrics():
        raise BadInput(where, "result.metric", "a metric of task " + task.name, metric)
    direction = result.get("direction", task.metrics()[metric])
    if direction not in ("minimize", "maximize"):
        raise BadInput(where, "result.direction", "minimize or maximize", direction)
    value = result.get("value")
    if value is not None and not is_number(value):
        raise BadInput(where, "result.value", "a number (the trial's value) or null", value)
    max_epochs = int_at_least(training, "max_epochs", None, where, "training.max_epochs")
    seed = integer(training, "seed", 0, where, "training.seed")
    threads = training.get("threads")
    if threads is not None:
        threads = int_at_least(training, "threads", 1, where, "training.threads")
    device, precision = training.get("device"), training.get("precision", Precision.FP32.value)
    if device not in (None, "cpu", "cuda"):
        raise BadInput(where, "training.device", "cpu or cuda", device)
    if precision not in {p.value for p in Precision}:
        raise BadInput(where, "training.precision", "fp32 or bf16", precision)
    # no early_stopping key: the trial trained every epoch
    early = parse_early_stopping(training.get("early_stopping") or {}, where, "training.early_stopping", max_epochs)
    settings = {
        "task": task.to_dict(),
        "metric": metric,
        "direction": direction,
        "max_epochs": max_epochs,
        "early_stopping": early.as_settings(),
        "seed": seed,
        **({"refit": refit} if refit != "none" else {}),
    }
    expected = float(value) if value is not None else None
    return TrainFile(settings, hp.to_dict(), seed, expected, where, threads, device, precision)
