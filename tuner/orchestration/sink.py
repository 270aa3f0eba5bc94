"""Driver-side Tune callback that writes one row per trial epoch into our table."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from ray.tune import Callback

from tuner.orchestration.bridge import StudyBridge
from tuner.orchestration.trainable import EPOCH
from tuner.storage.engine import get_engine
from tuner.storage.tables import EPOCH_JSON, EPOCH_METRICS, EpochRow, FoldEpochRow


class EpochSink(Callback):
    """Stores every epoch result as it arrives, so curves show while a study runs."""

    def __init__(self, bridge: StudyBridge, storage_url: str, study_name: str) -> None:
        self.bridge = bridge
        self.storage_url = storage_url
        self.study_name = study_name

    def __getstate__(self) -> dict:
        return {"storage_url": self.storage_url, "study_name": self.study_name}

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        if result.get("kind") != EPOCH:
            return
        ids = self.bridge.optuna_trial_id(trial.trial_id)
        if ids is None:
            return
        trial_id, number = ids
        row = {
            "trial_id": trial_id,
            "study_name": self.study_name,
            "trial_number": number,
            "epoch": int(result["epoch"]),
            **{name: float(result[name]) for name in EPOCH_METRICS},
            **{name: result[name] for name in EPOCH_JSON},
        }
        keys = {name: row[name] for name in ("trial_id", "study_name", "trial_number", "epoch")}
        folds = [
            {**keys, "fold": k, **{name: fold[name] for name in ("train_loss", "val_loss", "seconds", "metrics")}}
            for k, fold in enumerate(json.loads(result.get("folds") or "[]"), start=1)
        ]
        # a Core insert, not an ORM session: this runs for every epoch of every trial
        with get_engine(self.storage_url).begin() as connection:
            connection.execute(sa.insert(EpochRow), row)
            if folds:
                connection.execute(sa.insert(FoldEpochRow), folds)
