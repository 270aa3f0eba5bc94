"""The Python API (``import tuner``): the same study, tables, export and training as the command line."""

from __future__ import annotations

import pandas as pd
import pytest

import tuner
from tests.conftest import copy_of_small_study, tiny_study, write_yaml
from tuner.cli import main


def test_run_returns_the_best_trial_and_the_tables_the_commands_show(small_study, tmp_path, capsys):
    # the shared small study, copied: running its file again (its budget spent) returns the study's result
    url, study_file = copy_of_small_study(small_study, tmp_path, "api")
    result = tuner.run(study_file, storage=url)
    assert result.name == "small" and result.storage == url and result.summary.ran == 0
    frame = result.trials
    complete = frame[frame["state"] == "COMPLETE"]
    assert len(frame) == 4 and result.best_value == complete["value"].min()
    assert result.best_trial.number == int(complete.loc[complete["value"].idxmin(), "number"])
    assert set(result.best_params) == set(result.best_trial.params)
    # the same frames as the module functions, and the curves of every trial and epoch
    pd.testing.assert_frame_equal(frame, tuner.trials("small", storage=url))
    assert set(result.epochs["trial_number"]) == set(frame["number"])
    assert list(tuner.epochs("small", trials=[0], storage=url)["epoch"]) == [1, 2, 3]
    assert "small" in set(tuner.status(storage=url)["study"])
    # export is the document `tuner export` writes
    document = tuner.export("small", storage=url)
    assert document["trial"] == result.best_trial.number
    main(["export", "small", "--storage", url, "--format", "json"])
    import json

    assert json.loads(capsys.readouterr().out) == document
    # train retrains it alone and repeats its value; the model evaluates and reloads
    model = tuner.train(document, out=tmp_path / "m.pt")
    assert model.scores["validation"]["loss"] == pytest.approx(result.best_value, abs=1e-9)
    assert model.scores["metric"] == "loss" and "val_loss" not in model.scores["validation"]
    assert tuner.load_model(tmp_path / "m.pt").scores == model.scores
    assert isinstance(tuner.importance("small", storage=url), pd.DataFrame)


@pytest.mark.parametrize(
    ("call", "needles"),
    [
        (lambda tmp: tuner.run(tmp / "missing.yaml"), ["missing.yaml", "an existing YAML file"]),
        (lambda tmp: tuner.run(write_yaml(tmp / "s.yaml", tiny_study(tmp)), trials=0), ["trials", ">= 1", "0"]),
        (lambda tmp: tuner.trials("nope", storage=f"sqlite:///{tmp / 'none.db'}"), ["storage", "none.db"]),
        (lambda tmp: tuner.train({"format": "something else"}), ["format", "rnn-tuner/train-config/v1"]),
        (lambda tmp: tuner.load_model(tmp / "absent.pt"), ["absent.pt"]),
    ],
)
def test_bad_arguments_raise_bad_input_with_the_commands_one_line_message(tmp_path, call, needles):
    with pytest.raises(tuner.BadInput) as caught:
        call(tmp_path)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    for needle in needles:
        assert needle in message


def test_a_study_the_storage_lacks_is_named(small_study):
    url, _ = small_study
    with pytest.raises(tuner.BadInput, match="study: expected a study in the storage"):
        tuner.epochs("no-such-study", storage=url)


def test_the_public_names_are_documented_and_typed():
    import inspect

    for name in tuner.__all__:
        value = getattr(tuner, name)
        assert inspect.getdoc(value), name
        if inspect.isfunction(value):
            assert "return" in inspect.get_annotations(value), name
