"""The Python face of rnn-tuner: what the ``tuner`` command does, as functions that return values.

Each function checks its arguments the way the command checks its flags: a mistake raises
``tuner.BadInput`` with the same one-line message (naming the argument, what was expected and what
was found). Storage defaults as on the command line: ``storage``, else ``$TUNER_STORAGE``, else the
study file's ``storage``, else ``sqlite:///tuner.db`` in the working folder.

    import tuner

    result = tuner.run("studies/quickstart.yaml", trials=4)
    result.best_value, result.best_params
    curves = tuner.epochs(result.name)                  # one row per trial and epoch
    model = tuner.train(tuner.export(result.name))      # retrain the best trial
    model.evaluate("my_text.txt")
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import BadInput, positive

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from tuner.config.export_file import TrainFile
    from tuner.config.studies import StudySpec
    from tuner.orchestration.runner import RunSummary
    from tuner.training import TrainResult
    from tuner.training.final import FinalScores
    from tuner.training.model_file import Model


def _storage(storage: str | None, *studies: str) -> str:
    """The storage URL to read (it must exist and hold ``studies``)."""
    import optuna

    from tuner.storage.engine import choose_storage
    from tuner.storage.queries import check_study

    url = choose_storage(storage, "storage")
    for name in studies:
        check_study(url, name, flag="study")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return url


@dataclass
class StudyResult:
    """What ``run`` returns: the study's name and storage, its best trial, and its tables on demand."""

    name: str
    storage: str
    summary: RunSummary = field(repr=False)

    @property
    def best_trials(self) -> list[optuna.trial.FrozenTrial]:
        """The front of a multi-objective study (its feasible COMPLETE trials no other dominates), as
        Optuna's ``best_trials``; for one objective, the best trial alone (or none)."""
        if self.summary.front is not None:
            return list(self.summary.front)
        return [] if self.summary.best is None else [self.summary.best]

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial | None:
        """The best COMPLETE trial (Optuna's), or None when no trial completed."""
        return self._single().best

    @property
    def best_value(self) -> float | None:
        best = self._single().best
        return None if best is None else best.value

    @property
    def best_params(self) -> dict[str, Any]:
        """The searched knobs of the best trial (``export`` gives every knob)."""
        best = self._single().best
        return {} if best is None else dict(best.params)

    def _single(self) -> RunSummary:
        """The summary of a one-objective study; a multi-objective one has a front, not a best trial."""
        if self.summary.front is not None:
            raise RuntimeError(
                f"study {self.name} has several objectives: its best trials are a front (best_trials), "
                "not one best_trial, best_value or best_params"
            )
        return self.summary

    @property
    def test_result(self) -> dict[str, Any] | None:
        """The best trial scored on the study's test data (when it has some), beside the trivial predictor."""
        return self.summary.test_result

    @property
    def trials(self) -> pd.DataFrame:
        """Every trial of the study, as ``tuner.trials(name)``."""
        return trials(self.name, storage=self.storage)

    @property
    def epochs(self) -> pd.DataFrame:
        """Every epoch of every trial, as ``tuner.epochs(name)``."""
        return epochs(self.name, storage=self.storage)


def run_spec(
    spec: StudySpec,
    *,
    trials: int | None = None,
    workers: int = 2,
    storage: str | None = None,
    address: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> StudyResult:
    """``run`` for a study file already read (the command line reads it first, to check its flags)."""
    from tuner.orchestration.runner import run_study
    from tuner.storage.engine import choose_storage

    url = choose_storage(storage, "storage", spec.storage, spec.source, must_exist=False)
    summary = run_study(spec, url, trials or spec.trials, workers, address, show_progress=progress, force=force)
    return StudyResult(summary.study_name, url, summary)


def run(
    study_file: str | Path,
    *,
    trials: int | None = None,
    workers: int = 2,
    storage: str | None = None,
    address: str | None = None,
    force: bool = False,
    progress: bool = False,
) -> StudyResult:
    """Run a study file (``tuner run``): its trials in parallel on Ray, recorded in the storage.

    Args:
        study_file: a study YAML file (``studies/*.yaml``).
        trials: the study's budget of trials (default: the file's ``trials``); trials already in the
            storage count, so running again goes on where the study stopped.
        workers: trials at once.
        storage: a SQLAlchemy URL (default: as the command line chooses).
        address: an existing Ray cluster (``host:port``) instead of a local Ray.
        force: start a new study under a new name when the stored one has another space or settings.
        progress: show the progress table while it runs.
    """
    from tuner.config.studies import load_study

    spec = load_study(study_file)
    positive("trials", trials)
    positive("workers", workers)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return run_spec(
        spec, trials=trials, workers=workers, storage=storage, address=address, force=force, progress=progress
    )


def status(storage: str | None = None) -> pd.DataFrame:
    """Every study in the storage: trials by state, best value, elapsed seconds (``tuner status``)."""
    from tuner.storage.queries import studies_frame

    return studies_frame(_storage(storage))


def trials(study: str, storage: str | None = None) -> pd.DataFrame:
    """One row per trial: state, value, every hyperparameter, stop reason, best epoch, errors (``tuner trials``)."""
    from tuner.storage.queries import trials_frame

    return trials_frame(_storage(storage, study), study)


def epochs(study: str, trials: list[int] | None = None, storage: str | None = None) -> pd.DataFrame:
    """One row per trial and epoch: train and validation loss, the task's metrics, gradient norms, seconds."""
    from tuner.storage.queries import epochs_frame

    return epochs_frame(_storage(storage, study), study, trials)


def export(
    study: str,
    trial: int | None = None,
    storage: str | None = None,
    best_for: str | None = None,
    where: Sequence[str] = (),
) -> dict[str, Any]:
    """The best (or ``trial``) trial as the document ``tuner export`` writes and ``train`` retrains; on a
    multi-objective study, ``trial`` or the front member best for the objective ``best_for`` (among
    those meeting each ``where`` condition, such as ``"params<=100000"``)."""
    from tuner.insight.export import export_document

    return export_document(_storage(storage, study), study, trial, best_for, where)


def importance(study: str, storage: str | None = None) -> pd.DataFrame:
    """Each searched knob's share of the objective's variance (fANOVA and PED-ANOVA; ``tuner importance``)."""
    from tuner.insight.curves import importance_table

    return importance_table(_storage(storage, study), study).values


def read_config(config: str | Path | dict[str, Any]) -> TrainFile:
    """An export: a file ``tuner export`` wrote, or the dict ``export`` returns (checked alike)."""
    from tuner.config.export_file import FileFormat, read_train_file, render

    if not isinstance(config, dict):
        return read_train_file(config)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(render(config, FileFormat.YAML), encoding="utf-8")
        return read_train_file(path)


def retrain(
    train_file: TrainFile, *, threads: int, device: str = "cpu", on_epoch: list | None = None
) -> tuple[TrainResult, FinalScores, TrainResult]:
    """Train an export's configuration alone (no Ray, no Optuna) and score it (validation, test, trivial).

    Returns (the selection run, the scores, the final network's run): the same run, or with ``refit:
    train_val`` a second one on training + validation data for the epochs the first chose.
    """
    from tuner.training.final import final_scores
    from tuner.training.trial_run import refit_training, run_training

    where = {"cpus": threads, "gpus": 1.0 if device == "cuda" else 0.0, "precision": train_file.precision}
    settings, hp, seed = train_file.settings, train_file.hyperparameters, train_file.seed
    result = run_training(settings, hp, seed, on_epoch=on_epoch, **where)
    if settings.get("refit", "none") != "train_val":
        return result, final_scores(result, settings["task"]), result
    # selection chose the epoch count; the final network learns from training + validation data for it
    refitted = refit_training(settings, hp, seed, result.best_epoch, **where)
    return result, final_scores(result, settings["task"], refitted), refitted


def train(
    config: str | Path | dict[str, Any],
    out: str | Path | None = None,
    *,
    threads: int | None = None,
    device: str = "cpu",
    on_epoch: list[Any] | None = None,
) -> Model:
    """Retrain an exported trial (``tuner train``) and return the network, ready to evaluate and predict.

    Args:
        config: an export file's path, or the dict ``export`` returns.
        out: also write the model file here (as ``tuner train --out``); ``load_model`` reads it back.
        threads: torch threads (default: as many as the trial had, which repeats its value on a CPU).
        device: ``cpu`` or ``cuda``.
        on_epoch: callables given each epoch's ``EpochMetrics`` as it ends.
    """
    import os

    from tuner.training.checkpoint import save_checkpoint
    from tuner.training.model_file import load_model

    train_file = read_config(config)
    positive("threads", threads)
    if device not in ("cpu", "cuda"):
        raise BadInput("device", None, "cpu or cuda", device)
    result, scores, final = retrain(
        train_file, threads=threads or train_file.threads or os.cpu_count() or 1, device=device, on_epoch=on_epoch
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(out) if out is not None else Path(folder) / "model.pt"
        save_checkpoint(path, final, train_file, scores.as_dict(), selection=result)
        return load_model(path)


def load_model(path: str | Path) -> Model:
    """A model file (``tuner train --out``, ``tuner export --model``, ``train(..., out=)``) ready to use."""
    from tuner.training.model_file import load_model as load

    return load(path)


__all__ = [
    "StudyResult",
    "epochs",
    "export",
    "importance",
    "load_model",
    "run",
    "status",
    "train",
    "trials",
]
