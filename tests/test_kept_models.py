"""Trials keep their weights: the best K models kept as Optuna artifacts, exported without retraining."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch
from optuna.artifacts import get_all_artifact_meta

from tests.conftest import tiny_study, write_yaml
from tests.test_bad_input import assert_one_line_error, run_cli
from tuner.cli import main
from tuner.storage.engine import optuna_storage
from tuner.training.model_file import load_model


def lowest_three(study: optuna.Study) -> set[int]:
    """The three COMPLETE trials of lowest validation loss: the default keep_best of a minimised study."""
    complete = [t for t in study.trials if t.state is optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4  # the small study: none pruned, so one model is dropped
    return {t.number for t in sorted(complete, key=lambda t: t.value)[:3]}


def test_a_study_keeps_exactly_its_best_k_models_as_artifacts_optuna_lists(small_study):
    url, name = small_study
    study = optuna.load_study(study_name=name, storage=url)
    folder = Path(url.removeprefix("sqlite:///")).with_name("small-models")
    storage = optuna_storage(url, create_tables=False)
    with_artifacts = {t.number for t in study.trials if get_all_artifact_meta(t, storage=storage)}
    assert with_artifacts == lowest_three(study)
    assert len(list((folder / "artifacts").iterdir())) == 3  # dropped trials' files are gone
    assert not list(folder.glob("trial-*.pt"))  # no working copies nor resume states once the trials ended


def test_export_model_is_the_network_tuner_train_gets_from_the_exported_config(small_study, tmp_path, capsys):
    url, name = small_study
    assert (
        main(
            [
                "export",
                name,
                "--storage",
                url,
                "--model",
                str(tmp_path / "kept.pt"),
                "--out",
                str(tmp_path / "best.yaml"),
            ]
        )
        == 0
    )
    assert main(["train", str(tmp_path / "best.yaml"), "--out", str(tmp_path / "trained.pt")]) == 0
    kept, trained = (
        load_model(tmp_path / "kept.pt").net.state_dict(),
        load_model(tmp_path / "trained.pt").net.state_dict(),
    )
    assert kept.keys() == trained.keys()
    for key in kept:
        torch.testing.assert_close(kept[key], trained[key], rtol=0, atol=0)


def test_a_trial_whose_model_was_not_kept_is_one_line_naming_those_that_were(small_study, tmp_path, capsys):
    url, name = small_study
    study = optuna.load_study(study_name=name, storage=url)
    dropped = next(t.number for t in study.trials if t.number not in lowest_three(study))
    code, err = run_cli(
        capsys, "export", name, "--storage", url, "--trial", str(dropped), "--model", str(tmp_path / "m.pt")
    )
    kept = ", ".join(map(str, sorted(lowest_three(study))))
    assert_one_line_error(code, err, "--trial", f"trials with one: {kept}", f"trial {dropped}")
    assert not (tmp_path / "m.pt").exists()


def test_a_models_folder_that_cannot_be_written_is_refused_before_anything_is_written(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file, not a folder")
    study = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, checkpoints={"path": "taken/models"}))
    code, err = run_cli(capsys, "run", str(study), "--storage", f"sqlite:///{tmp_path / 'never.db'}")
    assert_one_line_error(code, err, "s.yaml: checkpoints.path", "a location this machine can write", "Not a directory")
    assert not (tmp_path / "never.db").exists()


@pytest.mark.parametrize(
    ("checkpoints", "needles"),
    [
        ({"keep_best": -1}, ["checkpoints.keep_best", "an integer >= 0"]),
        ({"keeep": 1}, ["checkpoints.keeep", "keep_best"]),
    ],
)
def test_bad_checkpoint_settings_are_one_line(tmp_path, capsys, checkpoints, needles):
    study = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, checkpoints=checkpoints))
    code, err = run_cli(capsys, "run", str(study), "--storage", f"sqlite:///{tmp_path / 'never.db'}")
    assert_one_line_error(code, err, *needles)


def test_a_truncated_state_trains_from_epoch_1_with_a_warning_instead_of_failing(ray_session, tmp_path):
    """The state a killed trial left, cut short on disk: the trial it resumes starts again, and says why."""
    import io

    from tuner.orchestration import shared_data
    from tuner.orchestration.trainable import resume_state

    buffer = io.BytesIO()
    torch.save({"epoch": 2, "model": torch.zeros(1000)}, buffer)
    whole = buffer.getvalue()
    name, holder = shared_data.hold(whole)
    try:
        state, warning = resume_state({"resume_from": name})
        assert state["epoch"] == 2 and warning == ""
    finally:
        shared_data.release(holder)
    name, holder = shared_data.hold(whole[: len(whole) // 2])
    try:
        state, warning = resume_state({"resume_from": name})
    finally:
        shared_data.release(holder)
    assert state is None and "could not be read" in warning and "trained from epoch 1" in warning


def test_a_dropped_model_reads_the_same_in_the_driver_and_in_a_fresh_reader(tmp_path):
    """The record of kept models is the study's own user attr: after a model is dropped, the driver's
    cached study and a fresh process agree on which trials hold one, and no finished trial's own
    attributes were rewritten behind Optuna's cache."""
    from tuner import attrs
    from tuner.orchestration.kept_models import KeptModels
    from tuner.storage.artifacts import kept_model

    url = f"sqlite:///{tmp_path / 'k.db'}"
    driver = optuna.create_study(study_name="k", storage=optuna_storage(url))
    kept = KeptModels(driver, url, str(tmp_path / "models"), keep_best=1, resumable=False)
    for value in (1.0, 0.5):  # the second trial is better: the first one's model is dropped
        trial = driver.ask()
        kept.path(trial.number).write_bytes(f"model of trial {trial.number}".encode())
        kept.trial_ended(trial, value)
        driver.tell(trial, value)
        kept.trim()
    fresh = optuna.load_study(study_name="k", storage=url)
    record = fresh.user_attrs[attrs.MODELS]
    assert record == driver.user_attrs[attrs.MODELS] and set(record["kept"]) == {"1"}
    assert kept_model(record, 1) == b"model of trial 1" and kept_model(record, 0) is None
    assert [t.user_attrs for t in fresh.trials] == [t.user_attrs for t in driver.trials]
    storage = optuna_storage(url, create_tables=False)
    assert [len(get_all_artifact_meta(t, storage=storage)) for t in fresh.trials] == [0, 1]
    kept.close()
