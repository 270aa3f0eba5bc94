"""Turning a stored trial description (settings + hyperparameters + seed) into a training run.

Shared by Ray Tune workers and by ``tuner train``, so an exported trial
retrains exactly the way it was trained during the study. Torch-side only.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import torch

from tuner.attrs import torch_threads
from tuner.config.hyperparams import Hyperparameters, Precision
from tuner.config.task import TaskSpec
from tuner.errors import NoGpu
from tuner.training import TrainResult, TrainSettings, train
from tuner.training.tasks import TaskData, task_for

DATA_SEED = 0  # torch's RNG while a task loads its data


@functools.lru_cache(maxsize=4)
def _cached_splits(task_json: str) -> tuple[TaskData, ...]:
    # Reused Ray actors run many trials: read and encode the data once per process.
    spec = TaskSpec(**json.loads(task_json))
    # Every worker and `tuner train` must see the same data: a task (a user's own) that draws
    # from torch's global RNG gets the same draws wherever it loads, and the trial's seeded
    # training RNG is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(DATA_SEED)
        task = task_for(spec.name)
        if spec.folds():
            return tuple(task.fold_data(spec.data, spec.parsed_options()))
        return (task.load(spec.data, spec.parsed_options()),)


_LOCAL_COPIES: dict[str, str] = {}  # a study's data path -> this node's copy of the file (shared_data)


def use_local_copy(original: str, local: str) -> None:
    """Load ``original``'s data from ``local`` in this process (a worker on a node without the file)."""
    _LOCAL_COPIES[original] = local


def local_task(task: dict[str, Any]) -> dict[str, Any]:
    """The task with its data file replaced by this node's copy, where there is one."""
    return {**task, "data": _LOCAL_COPIES[task["data"]]} if task.get("data") in _LOCAL_COPIES else task


def task_splits(task: dict[str, Any]) -> tuple[TaskData, ...]:
    """The task's training/validation split, or its K folds' (``options.folds``), read and encoded once
    per process (from this node's copy of the data where there is one)."""
    return _cached_splits(json.dumps(local_task(task), sort_keys=True))


def task_data(task: dict[str, Any]) -> TaskData:
    """The task's data: its one split, or a cross-validated study's last fold, whose training and
    validation parts together hold every sequence (or point) its folds do (a refit trains on them)."""
    return task_splits(task)[-1]


def train_settings(
    settings: dict[str, Any], seed: int, cpus: float, gpus: float = 0.0, precision: str = Precision.FP32
) -> TrainSettings:
    """How a trial with ``gpus`` (a share of one GPU, or 0) trains; a GPU asked for must be there (``NoGpu``)."""
    early = settings["early_stopping"]
    use_gpu = gpus > 0
    if use_gpu and not torch.cuda.is_available():
        raise NoGpu(f"asked for {gpus:g} GPU but torch sees no CUDA device on this node ({no_cuda_reason()})")
    if use_gpu and gpus < 1:
        # resources: {gpu: 0.25} puts four trials on one GPU; each allocates at most its share
        # of the GPU's memory (torch raises out-of-memory beyond it, and the trial fails alone)
        torch.cuda.set_per_process_memory_fraction(gpus)
    return TrainSettings(
        max_epochs=settings["max_epochs"],
        patience=early["patience"],
        min_delta=early["min_delta"],
        # early stopping and the kept weights follow the objective, or the validation loss when asked
        monitor="val_loss" if early.get("monitor") == "val_loss" else settings["metric"],
        maximize=settings["direction"] == "maximize" and early.get("monitor") != "val_loss",
        seed=seed,
        num_threads=torch_threads(cpus),
        device="cuda" if use_gpu else "cpu",
        precision=Precision(precision),
    )


def no_cuda_reason() -> str:
    """Why torch has no CUDA here, in a few words."""
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build"
    return "the driver reports no device; check CUDA_VISIBLE_DEVICES and nvidia-smi"


def run_training(
    settings: dict[str, Any],
    hyperparameters: dict[str, Any],
    seed: int,
    cpus: float = 1.0,
    gpus: float = 0.0,
    precision: str = Precision.FP32,
    on_epoch: list[Any] | None = None,
    on_best: Any = None,
    on_state: Any = None,
    resume: dict | None = None,
    on_start: Any = None,
) -> TrainResult:
    """Train one configuration as a study trial would (the callbacks and ``resume``: see ``training.loop.train``)."""
    hp = Hyperparameters.from_dict(hyperparameters, "trial", "hyperparameters")
    train_as = train_settings(settings, seed, cpus, gpus, precision)
    return train(hp, task_splits(settings["task"]), train_as, on_epoch, on_best, on_state, resume, on_start)


def refit_training(
    settings: dict[str, Any],
    hyperparameters: dict[str, Any],
    seed: int,
    epochs: int,
    cpus: float = 1.0,
    gpus: float = 0.0,
    precision: str = Precision.FP32,
) -> TrainResult:
    """The configuration trained again on training + validation data for ``epochs`` (``refit: train_val``)."""
    from tuner.training.refit import refit

    hp = Hyperparameters.from_dict(hyperparameters, "trial", "hyperparameters")
    return refit(hp, task_data(settings["task"]), train_settings(settings, seed, cpus, gpus, precision), epochs)


def validation_confusion(result: TrainResult) -> dict[str, Any] | None:
    """A classifier's confusion matrix on validation, with the kept (best epoch's) weights: ``{labels,
    matrix}`` (row: the true label); None for other tasks. A cross-validated trial's counts each
    sequence once, by the fold network that did not train on it."""
    from tuner.training.inference import class_labels, validation_confusion_of
    from tuner.training.tasks import Target

    data = result.data
    if data.target is not Target.CLASS:
        return None
    return {"labels": class_labels(data.preparation, data.output_size), "matrix": validation_confusion_of(result)}


def trivial_on_validation(task: dict[str, Any]) -> dict[str, Any]:
    """The trivial predictor's validation metrics for a task's data (see ``training.trivial``); for K folds,
    the mean of its metrics on each fold's validation part (as a trial's are), the predictor chosen on the
    first fold (class frequencies learn from each fold's own training part)."""
    from tuner.training.trivial import trivial_over

    return trivial_over(task_splits(task)).as_dict()
