"""The driver keeps the model files of a study's best trials, registered as Optuna artifacts of those trials.

Workers hand Tune a model file (``tuner train``'s format) whenever a trial reaches its best epoch so
far (``trainable.KeptWeights``). Tune persists it where every node can write (``tune_storage``);
``CheckpointCopier`` copies it at once into a working folder of the driver's as ``trial-N.pt`` (one file
per running trial, replaced at each new best epoch). When a trial ends COMPLETE among the best
``keep_best`` so far, its file is uploaded as an artifact of that trial (``optuna.artifacts``, a store in
the study's models location: a folder or a bucket, ``storage.locations``), so Optuna's API and
optuna-dashboard list it; a trial that later falls out of the best K loses its artifact (file and
record). Resume states (``trial-N-resume.pt``) live in the models location too, so a driver on another
machine resumes them.

The study's ``models`` user attr (written through Optuna's API) is the one record of where the models
are and which trial holds which artifact; nothing is written on a finished trial's own attributes,
which Optuna caches in the driver. The one exception is removing Optuna's artifact record of a dropped
model from a COMPLETE trial: the driver's cached copy of that trial keeps listing it, which is safe
because the driver never reads it (every kept model is looked up in the study's record) and every
other reader (``tuner export``, the dashboard, optuna-dashboard) loads the trial afresh.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import optuna
import pyarrow.fs as pafs
from optuna.artifacts import upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound
from ray.tune import Callback

from tuner import attrs
from tuner.orchestration import shared_data
from tuner.orchestration.served_files import local_folder
from tuner.storage import ranking
from tuner.storage.artifacts import artifact_store, kept_model
from tuner.storage.locations import Location
from tuner.storage.trial_attrs import delete_system_attr
from tuner.storage.trial_attrs import trial_id as trial_id_of

MODEL_FILE = "model.pt"  # the files a worker's checkpoint holds (trainable.KeptWeights.FILE, .STATE)
STATE_FILE = "resume.pt"


class KeptModels:
    """Which trials' model files a study keeps; driver only."""

    def __init__(
        self, study: optuna.Study, storage_url: str, location: str, keep_best: int, resumable: bool = True
    ) -> None:
        self.study = study
        self.storage_url = storage_url
        self.location = Location(location)  # a folder or a bucket URI: artifacts and resume states
        self.keep_best = keep_best
        self.resumable = resumable  # workers also hand in their state after every epoch
        self._holders: dict[int, Any] = {}  # trial number -> the actor holding the state it resumes from
        self.store = artifact_store(location)
        # running trials' best models so far: worth nothing once this driver is gone, so on its own disk
        self.working = Path(tempfile.mkdtemp(prefix="tuner-models-"))
        record = study.user_attrs.get(attrs.MODELS) or {}
        self.kept: dict[int, str] = {int(n): a for n, a in record.get("kept", {}).items()}  # trial -> artifact id
        self._save()

    def close(self) -> None:
        """After the run: the working copies go (the kept ones are artifacts by now)."""
        shutil.rmtree(self.working, ignore_errors=True)

    def path(self, number: int) -> Path:
        return self.working / f"trial-{number}.pt"

    @staticmethod
    def state_name(number: int) -> str:
        return f"trial-{number}-resume.pt"

    def take(self, number: int, filesystem: pafs.FileSystem, folder: str) -> None:
        """A running trial's new best model file and latest state, from the checkpoint Tune persisted in
        ``folder`` of ``filesystem`` (the driver's disk, a shared mount or a bucket)."""
        model, state = f"{folder}/{MODEL_FILE}", f"{folder}/{STATE_FILE}"
        if filesystem.get_file_info(model).type == pafs.FileType.File:
            partial = self.path(number).with_suffix(".partial")  # renamed when whole: never half a file
            with filesystem.open_input_stream(model) as stream:
                partial.write_bytes(stream.read())
            partial.replace(self.path(number))
        if filesystem.get_file_info(state).type == pafs.FileType.File:
            self.location.copy_from(filesystem, state, self.state_name(number))  # in a bucket: copied there

    def resume_from(self, trial: optuna.Trial) -> str | None:
        """For a trial queued again after an interruption: an actor holding the state its first run left."""
        earlier = trial.user_attrs.get(attrs.RETRY_OF)
        state = self.location.read_bytes(self.state_name(earlier)) if earlier is not None else None
        if state is None:
            return None
        name, self._holders[trial.number] = shared_data.hold(state)
        self.location.delete(self.state_name(earlier))  # the new trial writes its own from here on
        return name

    def trial_ended(
        self, trial: optuna.Trial, value: float | None, queued_again: bool = False, tie_loss: float | None = None
    ) -> None:
        """Before the trial is told: register its model if it ranks among the best K.

        A trial queued to run again keeps its last state, which the new run resumes from.
        """
        if (holder := self._holders.pop(trial.number, None)) is not None:
            shared_data.release(holder)
        if not queued_again:
            self.location.delete(self.state_name(trial.number))
        path = self.path(trial.number)
        if value is not None and path.exists() and self._ranks(value, tie_loss):
            artifact_id = upload_artifact(artifact_store=self.store, file_path=str(path), study_or_trial=trial)
            self.kept[trial.number] = artifact_id
            self._save()
        path.unlink(missing_ok=True)  # the artifact store holds the kept copy; the rest is not kept

    def _ranks(self, value: float, tie_loss: float | None) -> bool:
        """Whether a trial ending with ``value`` would be among the best K of the study's COMPLETE trials."""
        return ranking.ranked_above(self.study, value, tie_loss) < self.keep_best

    def model_bytes(self, number: int) -> bytes | None:
        """The kept model file of trial ``number``, read from the artifact store, if it has one."""
        return kept_model({"folder": self.location.uri, "kept": {str(n): a for n, a in self.kept.items()}}, number)

    def trim(self) -> None:
        """Drop the artifacts of trials no longer among the best K (after a trial is told)."""
        best = set(ranking.best_numbers(self.study, self.keep_best))
        for number in [n for n in self.kept if n not in best]:
            artifact_id = self.kept.pop(number)
            with contextlib.suppress(ArtifactNotFound):  # already gone: nothing to free
                self.store.remove(artifact_id)
            trial_id = trial_id_of(self.storage_url, self.study.study_name, number)
            # Optuna's own record of the artifact ("artifacts:" + id: Optuna's naming, which its artifact
            # API offers no way to remove), so optuna-dashboard stops listing a file that is gone
            delete_system_attr(self.storage_url, trial_id, f"artifacts:{artifact_id}")
        self._save()

    def _save(self) -> None:
        record = {"folder": self.location.uri, "keep_best": self.keep_best, "kept": self.kept}
        self.study.set_user_attr(attrs.MODELS, record)


class CheckpointCopier(Callback):
    """Tune callback in the driver: each checkpoint a trial reports becomes that trial's model file."""

    def __init__(self, bridge: Any, kept: KeptModels) -> None:  # (StudyBridge, KeptModels)
        self.bridge = bridge
        self.kept = kept

    def __getstate__(self) -> dict:
        return {}  # Tune pickles callbacks into its folder; the live objects stay in the driver

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any) -> None:
        ids = self.bridge.optuna_trial_id(trial.trial_id)
        if ids is None:
            return
        if (own := local_folder(checkpoint.filesystem, checkpoint.path)) is not None:
            self.kept.take(ids[1], pafs.LocalFileSystem(), str(own))  # the driver serves Tune's folder: its disk
            return
        self.kept.take(ids[1], checkpoint.filesystem, checkpoint.path)
