"""A stored trial -> the self-contained training-config file ``tuner train`` takes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import optuna
from optuna.trial import TrialState

from tuner import attrs
from tuner.config.export_file import FileFormat, render, train_document
from tuner.errors import BadInput
from tuner.insight import front
from tuner.storage import ranking
from tuner.storage.artifacts import kept_model
from tuner.storage.engine import optuna_storage
from tuner.storage.queries import check_study


def pick_trial(
    study: optuna.Study, number: int | None, best_metric: str | None = None, where: Sequence[str] = ()
) -> optuna.trial.FrozenTrial:
    """The best COMPLETE trial, or trial ``number`` (COMPLETE or PRUNED); on a multi-objective study,
    which has a front and no best trial, trial ``number`` or the front member best for ``best_metric``."""
    if where and best_metric is None:
        raise BadInput(
            "--where", None, "--best-for METRIC beside it (it narrows the front members looked at)", where[0]
        )
    if best_metric is not None and number is not None:
        raise BadInput("--best-for", None, "either --trial or --best-for", f"--trial {number} and --best-for")
    if number is None:
        if best_metric is not None and not ranking.is_multi_objective(study):
            raise BadInput("--best-for", None, "a multi-objective study (this one has one objective)", best_metric)
        if ranking.is_multi_objective(study):
            if best_metric is None:
                raise front.ask_for_a_member(study)
            return front.best_for(study, best_metric, where)
        best = ranking.best_trial(study)
        if best is None:
            raise BadInput(study.study_name, None, "a study with at least one COMPLETE trial", "none complete yet")
        if attrs.HYPERPARAMETERS not in best.user_attrs:
            raise BadInput(study.study_name, None, "a best trial run by tuner run", f"trial {best.number}")
        return best
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None:
        raise BadInput("--trial", None, f"a trial number of study {study.study_name}", number)
    if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED) or attrs.HYPERPARAMETERS not in trial.user_attrs:
        raise BadInput("--trial", None, "a COMPLETE or PRUNED trial", f"trial {number} is {trial.state.name}")
    return trial


def validation_value(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> float | None:
    """A COMPLETE trial's value of the study's (validation) objective; None for a pruned one."""
    if trial.state is not TrialState.COMPLETE:
        return None
    return trial.values[ranking.validation_index(study.user_attrs.get(attrs.SETTINGS))]


def export_document(
    storage_url: str, study_name: str, number: int | None, best_metric: str | None = None, where: Sequence[str] = ()
) -> dict:
    """The export of a study's best trial, or trial ``number`` (or a front member: ``pick_trial``), as the
    document ``tuner train`` reads."""
    check_study(storage_url, study_name)
    study = optuna.load_study(study_name=study_name, storage=optuna_storage(storage_url, create_tables=False))
    settings = study.user_attrs.get(attrs.SETTINGS)
    if settings is None:  # e.g. a study made with Optuna's own API in a shared storage
        raise BadInput(
            "STUDY", None, "a study made by tuner run", study_name, "it holds no tuner settings to retrain from"
        )
    trial = pick_trial(study, number, best_metric, where)
    value = validation_value(study, trial)
    return train_document(
        study=study_name,
        trial=trial.number,
        state=trial.state.name,
        settings=settings,
        hyperparameters=trial.user_attrs[attrs.HYPERPARAMETERS],
        seed=trial.user_attrs[attrs.SEED],
        threads=trial.user_attrs.get(attrs.THREADS),  # absent in trials run before it was stored
        value=value,
        best_epoch=trial.user_attrs.get(attrs.BEST_EPOCH),
        epochs_run=trial.user_attrs.get(attrs.EPOCHS_RUN),
        test_result=_test_result_of(study, trial.number),
        device=trial.user_attrs.get(attrs.DEVICE),  # absent in trials run before it was stored
    )


def export_text(
    storage_url: str,
    study_name: str,
    number: int | None,
    file_format: FileFormat,
    best_metric: str | None = None,
    where: Sequence[str] = (),
) -> str:
    """The export file's text for a study's best trial, or trial ``number`` (or a front member)."""
    return render(export_document(storage_url, study_name, number, best_metric, where), file_format)


def _test_result_of(study: optuna.Study, number: int) -> dict | None:
    """The study's test result when it is this trial's (only the best trial is scored on test data)."""
    result = study.user_attrs.get(attrs.TEST_RESULT)
    return result if result and result.get("trial") == number else None


def kept_model_of(storage_url: str, study_name: str, number: int) -> bytes | None:
    """Trial ``number``'s kept model file (from the study's models folder or bucket), or None."""
    study = optuna.load_study(study_name=study_name, storage=optuna_storage(storage_url, create_tables=False))
    return kept_model(study.user_attrs.get(attrs.MODELS), number)


def export_model(
    storage_url: str,
    study_name: str,
    number: int | None,
    out: Path,
    best_metric: str | None = None,
    where: Sequence[str] = (),
) -> int:
    """Write the kept model file of the best (or ``number``) trial to ``out``; returns the trial's number.

    The file is the one the trial's worker wrote at its best epoch, in ``tuner train``'s format.
    """
    check_study(storage_url, study_name)
    study = optuna.load_study(study_name=study_name, storage=optuna_storage(storage_url, create_tables=False))
    trial = pick_trial(study, number, best_metric, where)
    if (model := kept_model(study.user_attrs.get(attrs.MODELS), trial.number)) is not None:
        partial = out.with_name(f".{out.name}.partial")  # renamed when whole: never half a file
        partial.write_bytes(model)
        partial.replace(out)
        return trial.number
    kept = study.user_attrs.get(attrs.MODELS) or {}
    having = sorted(int(n) for n in kept.get("kept", {}))
    raise BadInput(
        "--trial" if number is not None else "STUDY",
        None,
        f"a trial whose model was kept (trials with one: {', '.join(map(str, having)) or 'none'})",
        f"trial {trial.number}",
        "or retrain it: tuner export --out best.yaml, then tuner train best.yaml",
    )
