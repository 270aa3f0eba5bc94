"""The driver keeps the model files of a study's best trials, registered as Optuna artifacts of those trials.

Workers hand Tune a model file (``tuner train``'s format) whenever a trial reaches its best epoch so
far (``trainable.KeptWeights``). Tune persists it in its temporary experiment folder; ``CheckpointCopier``
copies it at once into the study's models folder as ``trial-N.pt`` (one file per running trial, replaced
at each new best epoch). When a trial ends COMPLETE among the best ``keep_best`` so far, its file is
uploaded as an artifact of that trial (``optuna.artifacts``, a file-system store in the same folder), so
Optuna's API and optuna-dashboard list it; a trial that later falls out of the best K loses its artifact
(file and record). So a finished study holds at most K models, plus one per running trial while it runs.
The study's ``models`` user attr says where they are and which trial holds which artifact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import TrialState
from ray.tune import Callback

from tuner import attrs
from tuner.errors import BadInput
from tuner.orchestration import shared_data
from tuner.storage.artifacts import artifact_store
from tuner.storage.trial_attrs import delete_system_attr, set_user_attrs
from tuner.storage.trial_attrs import trial_id as trial_id_of

MODEL_FILE = "model.pt"  # the files a worker's checkpoint holds (trainable.KeptWeights.FILE, .STATE)
STATE_FILE = "resume.pt"


def check_folder(folder: Path, where: str) -> None:
    """The models folder exists (made now) and can be written: else one line, before any trial starts."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(
            where, "checkpoints.path", "a folder that can be created", str(folder), error.strerror or ""
        ) from None
    if not os.access(folder, os.W_OK):
        raise BadInput(where, "checkpoints.path", "a folder this process can write", str(folder), "permission denied")


class KeptModels:
    """Which trials' model files a study keeps; driver only."""

    def __init__(self, study: optuna.Study, storage_url: str, folder: Path, keep_best: int, resumable: bool = True):
        self.study = study
        self.storage_url = storage_url
        self.folder = folder
        self.keep_best = keep_best
        self.resumable = resumable  # workers also hand in their state after every epoch
        self._holders: dict[int, Any] = {}  # trial number -> the actor holding the state it resumes from
        self.store = artifact_store(folder)
        record = study.user_attrs.get(attrs.MODELS) or {}
        self.kept: dict[int, str] = {int(n): a for n, a in record.get("kept", {}).items()}  # trial -> artifact id
        self._save()
        running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        for copy in folder.glob("trial-*.pt"):  # working copies a dead driver left (its states stay: they resume)
            if not copy.stem.endswith("-resume") and int(copy.stem.removeprefix("trial-")) not in running:
                copy.unlink()

    def path(self, number: int) -> Path:
        return self.folder / f"trial-{number}.pt"

    def state_path(self, number: int) -> Path:
        return self.folder / f"trial-{number}-resume.pt"

    def take(self, number: int, checkpoint_dir: str) -> None:
        """A running trial's new best model file and latest state, from the checkpoint Tune persisted."""
        for name, target in ((MODEL_FILE, self.path(number)), (STATE_FILE, self.state_path(number))):
            if (Path(checkpoint_dir) / name).exists():
                partial = target.with_suffix(".partial")  # renamed when whole: never half a file
                shutil.copyfile(Path(checkpoint_dir) / name, partial)
                os.replace(partial, target)

    def resume_from(self, trial: optuna.Trial) -> str | None:
        """For a trial queued again after an interruption: an actor holding the state its first run left."""
        earlier = trial.user_attrs.get(attrs.RETRY_OF)
        state = self.state_path(earlier) if earlier is not None else None
        if state is None or not state.exists():
            return None
        name, self._holders[trial.number] = shared_data.hold(state.read_bytes())
        state.unlink()  # the new trial writes its own from here on
        return name

    def trial_ended(self, trial: optuna.Trial, value: float | None, queued_again: bool = False) -> dict[str, Any]:
        """Before the trial is told: register its model if it ranks among the best K; user attrs to store.

        A trial queued to run again keeps its last state, which the new run resumes from.
        """
        if (holder := self._holders.pop(trial.number, None)) is not None:
            shared_data.release(holder)
        if not queued_again:
            self.state_path(trial.number).unlink(missing_ok=True)
        path, ended = self.path(trial.number), {}
        if value is not None and path.exists() and self._ranks(value):
            artifact_id = upload_artifact(artifact_store=self.store, file_path=str(path), study_or_trial=trial)
            self.kept[trial.number] = artifact_id
            ended[attrs.MODEL] = artifact_id
        path.unlink(missing_ok=True)  # the artifact store holds the kept copy; the rest is not kept
        return ended

    def _ranks(self, value: float) -> bool:
        """Whether ``value`` would be among the best K of the study's COMPLETE trials."""
        values = [t.value for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        maximize = self.study.direction == optuna.study.StudyDirection.MAXIMIZE
        better = sum(1 for v in values if (v > value if maximize else v < value))
        return better < self.keep_best

    def model_bytes(self, number: int) -> bytes | None:
        """The kept model file of trial ``number``, read from the artifact store, if it has one."""
        artifact_id = self.kept.get(number)
        if artifact_id is None:
            return None
        try:
            with self.store.open_reader(artifact_id) as reader:
                return reader.read()
        except ArtifactNotFound:
            return None

    def trim(self) -> None:
        """Drop the artifacts of trials no longer among the best K (after a trial is told)."""
        best = set(best_numbers(self.study, self.keep_best))
        for number in [n for n in self.kept if n not in best]:
            artifact_id = self.kept.pop(number)
            with contextlib.suppress(ArtifactNotFound):  # already gone: nothing to free
                self.store.remove(artifact_id)
            trial_id = trial_id_of(self.storage_url, self.study.study_name, number)
            delete_system_attr(self.storage_url, trial_id, f"artifacts:{artifact_id}")  # Optuna's own record of it
            set_user_attrs(self.storage_url, trial_id, {attrs.MODEL: None})
        self._save()

    def _save(self) -> None:
        record = {"folder": str(self.folder.resolve()), "keep_best": self.keep_best, "kept": self.kept}
        self.study.set_user_attr(attrs.MODELS, record)


class CheckpointCopier(Callback):
    """Tune callback in the driver: each checkpoint a trial reports becomes that trial's model file."""

    def __init__(self, bridge: Any, kept: KeptModels):  # (StudyBridge, KeptModels)
        self.bridge = bridge
        self.kept = kept

    def __getstate__(self) -> dict:
        return {}  # Tune pickles callbacks into its folder; the live objects stay in the driver

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        ids = self.bridge.optuna_trial_id(trial.trial_id)
        if ids is not None:
            with checkpoint.as_directory() as directory:
                self.kept.take(ids[1], directory)


def best_numbers(study: optuna.Study, keep_best: int) -> list[int]:
    """Numbers of the best ``keep_best`` COMPLETE trials, best first, by the study's direction."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ranked = sorted(complete, key=lambda t: t.value, reverse=study.direction == optuna.study.StudyDirection.MAXIMIZE)
    return [t.number for t in ranked[:keep_best]]
