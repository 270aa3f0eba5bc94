"""A stored trial -> the self-contained training-config file ``tuner train`` takes."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from tuner import attrs
from tuner.errors import BadInput
from tuner.storage.queries import load_study
from tuner.trainfile import FileFormat, render, train_document


def pick_trial(study: optuna.Study, number: int | None) -> optuna.trial.FrozenTrial:
    """The best COMPLETE trial, or trial ``number`` (COMPLETE or PRUNED)."""
    if number is None:
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            raise BadInput(study.study_name, None, "a study with at least one COMPLETE trial", "none complete yet")
        return study.best_trial
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise BadInput("--trial", None, f"a trial number of study {study.study_name} (0 to {len(trials) - 1})", number)
    trial = trials[number]
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED) or attrs.HYPERPARAMETERS not in trial.user_attrs:
        raise BadInput("--trial", None, "a COMPLETE or PRUNED trial", f"trial {number} is {trial.state.name}")
    return trial


def export_text(storage_url: str, study_name: str, number: int | None, file_format: FileFormat) -> str:
    """The export file's text for a study's best trial, or trial ``number``."""
    study = load_study(storage_url, study_name)
    trial = pick_trial(study, number)
    settings = study.user_attrs[attrs.SETTINGS]
    value = trial.value if trial.state is TrialState.COMPLETE else None
    document = train_document(
        study=study_name,
        trial=trial.number,
        state=trial.state.name,
        settings=settings,
        hyperparameters=trial.user_attrs[attrs.HYPERPARAMETERS],
        seed=trial.user_attrs[attrs.SEED],
        value=value,
        best_epoch=trial.user_attrs.get(attrs.BEST_EPOCH),
        epochs_run=trial.user_attrs.get(attrs.EPOCHS_RUN),
    )
    return render(document, file_format)
