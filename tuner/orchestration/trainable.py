"""The function Ray Tune runs in a worker for one trial.

It trains, reports one result per epoch through ``ray.tune.report``, then one
summary result (``kind: summary``) with how the trial ended. Errors are caught
and reported as a summary, so the driver can store the traceback on the
Optuna trial; the worker never touches the database.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from typing import Any

import ray
from ray import tune

from tuner.attrs import StopReason
from tuner.errors import Diverged, NoGpu

EPOCH, SUMMARY = "epoch", "summary"


def placement() -> dict[str, Any]:
    """The Ray node and GPU ids this worker holds, for the trial's ``node`` record."""
    return {"node": ray.get_runtime_context().get_node_id(), "gpus": [str(g) for g in ray.get_gpu_ids()]}


def run_trial(config: dict[str, Any]) -> None:
    """Ray Tune function trainable; ``config`` comes from the searcher (see bridge)."""
    # imported here, not at the top: the trainables in arithmetic.py share this module's
    # constants and must not make every worker import torch (about 2 s each)
    from tuner.training.trial_run import run_training, trivial_on_validation

    settings = config["settings"]
    metric = settings["metric"]
    better = min if settings["direction"] == "minimize" else max
    best = math.nan

    kept = KeptWeights(config) if config.get("keep_models") else None
    resume, resume_warning = resume_state(config)
    costs = Costs(settings.get("measure", []))

    def report_epoch(metrics) -> None:  # noqa: ANN001 (EpochMetrics)
        nonlocal best
        value = metrics.value(metric)
        best = value if math.isnan(best) else better(best, value)
        costs.epoch_ended(metrics.seconds)
        result = {
            "kind": EPOCH,
            **epoch_fields(metrics.as_dict()),
            "objective": value,
            "best_objective": best,
            **costs.known(),
            **where,
        }
        with kept.checkpoint() if kept else contextlib.nullcontext() as checkpoint:
            tune.report(result, checkpoint=checkpoint)

    def replay(history: list[dict]) -> None:
        """A resumed trial first reports the epochs its interrupted run trained, so the study has its whole curve."""
        nonlocal best
        for epoch in history:
            value = epoch["metrics"].get(metric, epoch.get(metric))
            best = value if math.isnan(best) else better(best, value)
            costs.epoch_ended(float(epoch.get("seconds", 0.0)))
            tune.report(
                {"kind": EPOCH, **epoch_fields(epoch), "objective": value, "best_objective": best, "replayed": True}
            )

    where = placement()  # with every result: a trial the pruner stops records where it ran too
    summary: dict[str, Any] = {"kind": SUMMARY, "objective": best, "best_objective": best, **where}
    try:
        receive_data(config)
        if resume is not None:
            replay(resume["history"])
        # what a predictor that learns nothing scores on this validation data, for the study's summary
        # (as JSON text: Tune flattens nested dicts in results)
        summary["trivial"] = json.dumps(trivial_on_validation(settings["task"]))
        result = run_training(
            settings,
            config["hyperparameters"],
            config["seed"],
            config["cpus"],
            config["gpus"],
            config.get("precision", "fp32"),
            [report_epoch],
            on_best=kept.write if kept else None,
            on_state=kept.write_state if kept and config.get("resumable") else None,
            resume=resume,
            on_start=costs.measure if costs.metrics else None,
        )
        summary.update(how_it_ended(result, config), best_objective=best, **costs.known())
        if resume_warning:
            summary["warning"] = resume_warning
    except Diverged as error:
        summary.update(stop_reason=str(StopReason.DIVERGED), error=str(error))
    except NoGpu as error:
        summary.update(stop_reason=str(StopReason.NO_GPU), error=str(error))
    except Exception:  # noqa: BLE001 - a crashing trial must never take the study down
        summary.update(stop_reason=str(StopReason.FAILED), error=traceback.format_exc())
    tune.report(summary)


class Costs:
    """What a multi-objective trial's network costs (``settings.measure``, config.objectives): its
    parameter count and latency, measured before the first epoch (they depend on the network's shape,
    not its weights), and its training time so far; reported with every epoch and in the summary."""

    def __init__(self, metrics: list[str]) -> None:
        self.metrics = metrics
        self.values: dict[str, float] = {}
        self._seconds = 0.0

    def measure(self, model: Any, data: Any) -> None:  # (RecurrentNet, TaskData): training.loop's on_start
        from tuner.training.latency import latency_ms

        self.values["params"] = float(sum(p.numel() for p in model.parameters()))
        if "latency_ms" in self.metrics:
            self.values["latency_ms"] = latency_ms(model, data.val, data.input_size, model.hp.batch_size)

    def epoch_ended(self, seconds: float) -> None:
        self._seconds += seconds

    def known(self) -> dict[str, float]:
        known = dict(self.values, train_seconds=self._seconds)
        return {metric: known[metric] for metric in self.metrics if metric in known}


def how_it_ended(result: Any, config: dict[str, Any]) -> dict[str, Any]:  # (TrainResult)
    """A finished training's summary fields: why it stopped, its best epoch, its size, where it ran,
    and a classifier's confusion counts on validation (nested values as JSON text: Tune flattens them)."""
    from tuner.training.trial_run import validation_confusion

    matrix = validation_confusion(result)
    return {
        "stop_reason": str(result.stop_reason),
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "epochs_run": len(result.epochs),
        "parameter_count": result.parameter_count,
        "training_examples": result.data.training_examples(),
        "device": json.dumps(device_used(config)),
        **({"confusion": json.dumps(matrix)} if matrix else {}),
    }


def epoch_fields(epoch: dict[str, Any]) -> dict[str, Any]:
    """An epoch's figures as a Tune result: a cross-validated trial's per-fold figures as JSON text (Tune
    flattens nested values), none for one split."""
    folds = epoch.get("folds") or ()
    return {**{k: v for k, v in epoch.items() if k != "folds"}, **({"folds": json.dumps(list(folds))} if folds else {})}


# What a trainable can do, said by the trainable: this one trains networks, so the runner keeps its models
# and scores the best on test data (a trainable that trains nothing, such as a benchmark's arithmetic
# one, has no such attribute: ``trains_networks``).
run_trial.trains_networks = True  # type: ignore[attr-defined]


def trains_networks(trainable: Any) -> bool:
    """Whether ``trainable`` trains networks (its models can be kept and the best scored on test)."""
    return bool(getattr(trainable, "trains_networks", False))


def device_used(config: dict[str, Any]) -> dict[str, Any]:
    """What the trial trained on and in (a trial with a GPU share never falls back to the CPU: NoGpu),
    and on a GPU the most memory it held (MiB), to compare with its share."""
    if config["gpus"] <= 0:
        return {"kind": "cpu", "precision": "fp32"}
    import torch

    peak = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return {"kind": "cuda", "precision": config.get("precision", "fp32"), "peak_memory_mib": peak}


def receive_data(config: dict[str, Any]) -> None:
    """This node's copy of the study's data file, when the driver shares it (shared_data)."""
    from tuner.orchestration.shared_data import local_copy
    from tuner.training.trial_run import use_local_copy

    data = config["settings"]["task"].get("data")
    if config.get("data_actor") and data:
        use_local_copy(data, local_copy(config["data_actor"], data))


class KeptWeights:
    """What a trial hands Tune with an epoch's result: a model file of its best weights so far
    (``model.pt``, when the epoch is the best) and, for a resumable study, the state that lets it
    go on after this epoch (``resume.pt``). The loop calls ``write`` and ``write_state`` before the
    epoch is reported; ``checkpoint`` then gives Tune those files once, as a checkpoint it persists
    and the driver keeps.
    """

    FILE = "model.pt"
    STATE = "resume.pt"

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.folder: str | None = None

    def _file(self, name: str) -> str:
        self.folder = self.folder or tempfile.mkdtemp(prefix="tuner-model-")
        return f"{self.folder}/{name}"

    def write(self, metrics: Any, model: Any) -> None:  # (EpochMetrics, RecurrentNet)
        from tuner.training.checkpoint import save_model_file
        from tuner.training.trial_run import task_data

        settings = self.config["settings"]
        best = (metrics.epoch, metrics.val_loss, settings["metric"], metrics.value(settings["metric"]))
        data = task_data(settings["task"])  # already loaded by this process: cached
        save_model_file(
            self._file(self.FILE),
            model,
            data,
            self.config["hyperparameters"],
            settings,
            best,
            validation=metrics.metrics,
        )

    def write_state(self, state: dict) -> None:
        import torch

        torch.save(state, self._file(self.STATE))

    @contextlib.contextmanager
    def checkpoint(self) -> Iterator[tune.Checkpoint | None]:
        """The checkpoint written since the last report (None if none); its folder goes once Tune has it."""
        folder, self.folder = self.folder, None
        try:
            yield tune.Checkpoint.from_directory(folder) if folder else None
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)


def resume_state(config: dict[str, Any]) -> tuple[dict | None, str]:
    """The state an interrupted trial left (shared by the driver), or None and why it cannot be used."""
    if not config.get("resume_from"):
        return None, ""
    import io

    import torch

    from tuner.orchestration.shared_data import fetch

    try:
        return torch.load(io.BytesIO(fetch(config["resume_from"])), map_location="cpu", weights_only=True), ""
    except Exception as error:  # noqa: BLE001 - truncated or not a state at all: start again, do not fail
        return (
            None,
            f"the interrupted trial's checkpoint could not be read ({type(error).__name__}): trained from epoch 1",
        )
