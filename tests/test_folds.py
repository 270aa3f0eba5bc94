"""K-fold cross-validation of each trial (task.options.folds), the default rule that chooses it, and
the ensemble of a cross-validated trial's fold networks (refit: ensemble)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch

from tests.conftest import lines_before_a_fake_run, sqlite_dump, tiny_study, write_yaml
from tests.test_bad_input import assert_one_line_error, run_cli
from tuner.cli import main
from tuner.config.hyperparams import Hyperparameters
from tuner.config.studies import load_study
from tuner.data.folds import FEW_VALIDATION_SEQUENCES, stratified_folds
from tuner.data.options import RegressionOptions, SequenceClassificationOptions
from tuner.training.ensemble import Ensemble
from tuner.training.loop import TrainSettings, train
from tuner.training.models import RecurrentNet
from tuner.training.refit import refit
from tuner.training.tasks.regression import Regression
from tuner.training.tasks.sequence_classification import SequenceClassification

HP = Hyperparameters.from_dict(
    {"learning_rate": 0.03, "hidden_size": 8, "depth": 1, "batch_size": 8, "tbptt_length": 20}, "test", "hp"
)


def labelled_file(path: Path, counts: dict[str, int], steps: int = 6) -> Path:
    """Sequences whose only feature is their own number (so a test can tell which sequence went where);
    ``counts`` sequences of each label."""
    rows, number = [], 0
    for label, count in counts.items():
        for _ in range(count):
            rows += [{"sequence_id": number, "step": t, "x": float(number), "label": label} for t in range(steps)]
            number += 1
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def sequence_numbers(split) -> set[int]:
    return {int(round(v)) for v in split.inputs[:, 0, 0].tolist()}


def test_stratified_folds_hold_every_class_and_never_share_a_sequence(tmp_path):
    counts = {"a": 15, "b": 12, "c": 10}  # whatever the test part draws, at least 5 of each are left
    data = labelled_file(tmp_path / "d.csv", counts)
    options = SequenceClassificationOptions(folds=5, normalize="none", test_fraction=0.1)
    folds = SequenceClassification().fold_data(str(data), options)
    held_out = SequenceClassification().held_out_test(str(data), options, folds[0].preparation)
    test = sequence_numbers(held_out)
    validated: list[int] = []
    for fold in folds:
        train, val = sequence_numbers(fold.train), sequence_numbers(fold.val)
        assert not train & val  # no sequence both trained on and validated on in one fold
        assert not (train | val) & test  # the test part stays out of every fold
        assert len(train | val) == sum(counts.values()) - len(test)
        assert set(fold.val.targets.tolist()) == {0, 1, 2}  # every class in every fold's validation part
        validated += sorted(val)
    assert sorted(validated) == sorted(set(validated))  # each sequence validated exactly once
    assert len(validated) == sum(counts.values()) - len(test)
    # the index-level rule: class sizes in each fold within one of each other
    labels = np.array(["a"] * 12 + ["b"] * 7 + ["c"] * 5)
    for label in "abc":
        per_fold = [int((labels[part] == label).sum()) for part in stratified_folds(labels, 5, seed=3)]
        assert max(per_fold) - min(per_fold) <= 1


def test_time_ordered_folds_validate_only_on_points_after_those_they_train_on(tmp_path):
    pd.DataFrame({"value": np.arange(200, dtype=float)}).to_csv(tmp_path / "s.csv", index=False)
    options = RegressionOptions(window=10, folds=3, test_fraction=0.1)
    folds = Regression().fold_data(str(tmp_path / "s.csv"), options)
    scale, mean = folds[0].preparation["std"], folds[0].preparation["mean"]

    def positions(targets: torch.Tensor) -> set[int]:
        return {int(round(v * scale + mean)) for v in targets.flatten().tolist()}

    previous_end = None
    for fold in folds:
        trained, validated = positions(fold.train.targets), positions(fold.val.targets)
        assert max(trained) < min(validated)  # never a training target from the validation block's future
        if previous_end is not None:
            assert min(validated) == previous_end + 1  # blocks follow one another, nothing skipped
        previous_end = max(validated)
    assert previous_end == 179  # up to the test part (the last 20 points), never into it
    assert all(fold.preparation == folds[0].preparation for fold in folds)  # scaled alike (the first block's)


def small_folds(tmp_path: Path, folds: int = 3) -> list:
    data = labelled_file(tmp_path / "d.csv", {"a": 9, "b": 9})
    return SequenceClassification().fold_data(str(data), SequenceClassificationOptions(folds=folds))


def test_a_cross_validated_epoch_is_the_mean_of_its_folds_and_keeps_each_fold(tmp_path):
    folds = small_folds(tmp_path)
    result = train(HP, folds, TrainSettings(max_epochs=3, patience=5, monitor="val_accuracy", maximize=True))
    for epoch in result.epochs:
        assert len(epoch.folds) == 3
        assert epoch.val_loss == pytest.approx(np.mean([f["val_loss"] for f in epoch.folds]))
        assert epoch.train_loss == pytest.approx(np.mean([f["train_loss"] for f in epoch.folds]))
        for name in ("val_accuracy", "val_macro_f1"):
            assert epoch.metrics[name] == pytest.approx(np.mean([f["metrics"][name] for f in epoch.folds]))
    assert isinstance(result.model, Ensemble) and len(result.model.members) == 3
    # each member holds its own fold's network: its validation loss is that fold's row at the best epoch
    from tuner.training.inference import evaluate_split

    best = result.epochs[result.best_epoch - 1]
    for member, fold, row in zip(result.model.members, folds, best.folds, strict=True):
        measured = evaluate_split(member, fold.target, fold.val, fold.input_size)["val_loss"]
        assert measured == pytest.approx(row["val_loss"], rel=1e-5)
    assert result.parameter_count == sum(p.numel() for p in result.model.members[0].parameters())


def test_a_cross_validated_training_resumes_exactly(tmp_path):
    folds = small_folds(tmp_path, folds=2)
    settings = TrainSettings(max_epochs=3, patience=5)
    states: list[dict] = []
    whole = train(HP, folds, settings, on_state=lambda state: states.append(copy.deepcopy(state)))
    resumed = train(HP, folds, settings, resume=states[0])
    assert [e.val_loss for e in resumed.epochs] == [e.val_loss for e in whole.epochs]
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("probabilities", [True, False])
def test_an_ensemble_answers_with_the_mean_of_its_members(probabilities):
    members = [RecurrentNet(2, 3, HP) for _ in range(3)]
    ensemble = Ensemble(members, probabilities).eval()
    x = torch.randn(4, 7, 2)
    outputs, states = ensemble(x)
    answers = [m.eval()(x)[0] for m in members]
    if probabilities:
        expected = torch.stack([torch.softmax(a, dim=-1) for a in answers]).mean(dim=0)
        assert torch.allclose(torch.softmax(outputs, dim=-1), expected, atol=1e-6)
    else:
        assert torch.allclose(outputs, torch.stack(answers).mean(dim=0), atol=1e-6)
    # the state carries across windows as one network's does: two halves give the whole's outputs
    first, carried = ensemble(x[:, :4])
    second, _ = ensemble(x[:, 4:], carried)
    assert torch.allclose(torch.cat([first, second], dim=1), outputs, atol=1e-5)
    assert len(states) == 3 * HP.depth


def test_refit_of_a_cross_validated_trial_trains_on_every_sequence_for_the_chosen_epochs(tmp_path):
    folds = small_folds(tmp_path)
    final = refit(HP, folds[-1], TrainSettings(max_epochs=10, patience=2), epochs=2)
    assert len(final.epochs) == 2 and final.best_epoch == 2
    assert final.data.train.sequences == 18  # the folds' training and validation parts: every sequence
    assert isinstance(final.model, RecurrentNet)


def classification_document(tmp_path: Path, counts: dict[str, int], **task_options: object) -> dict:
    labelled_file(tmp_path / "d.csv", counts)
    task = {"name": "sequence_classification", "data": "d.csv", "options": dict(task_options)}
    space = {"parameters": dict(HP.to_dict())}
    return tiny_study(tmp_path, name="cv", task=task, space=space, objective={"metric": "val_accuracy"})


def test_the_default_rule_cross_validates_a_small_classifier_and_says_why(tmp_path):
    small = load_study(write_yaml(tmp_path / "s.yaml", classification_document(tmp_path, {"a": 20, "b": 20})))
    assert small.task.folds() == 5 and small.refit == "ensemble"
    assert "5-fold cross-validation" in small.task.selection and "8 sequences" in small.task.selection
    few = load_study(write_yaml(tmp_path / "f.yaml", classification_document(tmp_path, {"a": 20, "b": 3})))
    assert few.task.folds() == 3  # no more folds than the smallest class has sequences
    many = {"a": 3 * FEW_VALIDATION_SEQUENCES, "b": 2 * FEW_VALIDATION_SEQUENCES}
    large = load_study(write_yaml(tmp_path / "l.yaml", classification_document(tmp_path, many)))
    assert large.task.folds() is None and large.refit == "none"
    assert "hold-out" in large.task.selection and "50 sequences" in large.task.selection
    # with a test part, the hold-out's share is of every sequence: 300 make a validation split of 60, not
    # 0.2 of the 240 left after the test's 60 (48, below 50, which would have cross-validated)
    tested = classification_document(tmp_path, {"a": 150, "b": 150}, test_fraction=0.2)
    held_out = load_study(write_yaml(tmp_path / "t.yaml", tested))
    assert held_out.task.folds() is None and "holds 60 sequences" in held_out.task.selection
    asked = classification_document(tmp_path, {"a": 20, "b": 20}, val_fraction=0.3)
    held = load_study(write_yaml(tmp_path / "v.yaml", asked))
    assert held.task.folds() is None and "val_fraction in the study file" in held.task.selection


def test_a_small_classifier_without_max_epochs_trains_on_as_many_sequences_as_ten_epochs_of_500(tmp_path):
    """The default budget (config/budget.py): 40 sequences in 5 folds train each network on 32, so up to
    ceil(5000 / 32) = 157 epochs with a patience of 15; a named max_epochs or patience is kept."""

    def study(counts: dict[str, int], **changes: object) -> object:
        document = classification_document(tmp_path, counts)
        for key in ("max_epochs", "early_stopping"):
            document.pop(key)
        document.update(changes)
        return load_study(write_yaml(tmp_path / "b.yaml", document))

    small = study({"a": 20, "b": 20})
    assert (small.max_epochs, small.early_stopping.patience) == (157, 15)
    assert small.settings()["max_epochs"] == 157 and "trains on 32 sequences" in small.budget
    assert study({"a": 20, "b": 20}, early_stopping={"patience": 4}).early_stopping.patience == 4
    named = study({"a": 20, "b": 20}, max_epochs=7)
    assert (named.max_epochs, named.early_stopping.patience, named.budget) == (7, 3, "")
    tiny = study({"a": 5, "b": 5})  # 8 training sequences: capped at 200 epochs
    assert tiny.max_epochs == 200 and tiny.early_stopping.patience == 20
    large = study({"a": 400, "b": 300})  # a hold-out split of 0.2 leaves 560 to train on: the plain default
    assert (large.max_epochs, large.early_stopping.patience, large.budget) == (10, 3, "")
    text = tiny_study(tmp_path)
    for key in ("max_epochs", "early_stopping"):
        text.pop(key)
    words = load_study(write_yaml(tmp_path / "t.yaml", text))  # a text keeps 10 epochs, whatever its length
    assert (words.max_epochs, words.early_stopping.patience, words.budget) == (10, 3, "")


def test_a_small_classifier_without_a_space_searches_the_compact_one_and_a_large_or_a_text_the_whole_one(
    tmp_path, monkeypatch, capsys
):
    """The default space (config/studies.py default_space): one layer of 16-64 units below 500 training
    sequences; a named space is always the one searched."""

    def study(counts: dict[str, int] | None, **changes: object) -> object:
        document = classification_document(tmp_path, counts) if counts else tiny_study(tmp_path)
        for key in ("space", "max_epochs", "early_stopping"):
            document.pop(key)
        document.update(changes)
        return load_study(write_yaml(tmp_path / "b.yaml", document))

    def searched(spec: object) -> dict[str, object]:
        return {
            p.name: (p.value if p.value is not None else p.high)
            for p in spec.space.params
            if p.name in {"depth", "hidden_size"}
        }

    small = study({"a": 20, "b": 20})  # 32 training sequences a fold
    assert searched(small) == {"depth": 1, "hidden_size": 64}
    assert small.space_note.startswith("builtin:rnn_small") and "32 sequences" in small.space_note
    large = study({"a": 400, "b": 300})  # 560 training sequences
    assert searched(large) == {"depth": 4, "hidden_size": 512} and large.space_note == "builtin:rnn (no space named)"
    assert searched(study(None)) == {"depth": 4, "hidden_size": 512}  # a text
    named = study({"a": 20, "b": 20}, space={"path": "builtin:rnn"})
    assert searched(named) == {"depth": 4, "hidden_size": 512} and named.space_note == ""
    # `tuner run` says which space and budget it chose, and why, before it runs (a fake run stops it there)
    study({"a": 20, "b": 20})
    said = lines_before_a_fake_run(
        monkeypatch, capsys, tmp_path / "b.yaml", "--storage", f"sqlite:///{tmp_path / 'b.db'}"
    )
    assert f"search space: {small.space_note}\n" in said and "training budget: up to 157 epochs, patience 15" in said


def test_an_exported_hold_out_trial_is_not_cross_validated_by_the_default_rule(tmp_path):
    from tuner.config.export_file import read_train_file, train_document

    document = classification_document(tmp_path, {"a": 20, "b": 20})
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    settings = {**spec.settings(), "task": {**spec.settings()["task"], "options": {}}}
    settings.pop("refit")
    exported = train_document("cv", 0, "COMPLETE", settings, HP.to_dict(), 0, None, None, None, threads=1)
    train_file = read_train_file(write_yaml(tmp_path / "best.yaml", exported))
    assert "folds" not in train_file.settings["task"]["options"]
    assert "refit" not in train_file.settings


@pytest.mark.parametrize(
    ("options", "extra", "needles"),
    [
        ({"folds": 1}, {}, ["task.options.folds", "an integer >= 2", "found 1"]),
        ({"folds": 3, "val_fraction": 0.2}, {}, ["task.options.folds", "not both"]),
        ({"folds": 6}, {}, ["task.options.folds", "at most 5", "class 'b' has 5"]),
        ({"val_fraction": 0.3}, {"refit": "ensemble"}, ["refit", "ensemble needs task.options.folds"]),
        ({"folds": 3}, {"refit": "none"}, ["refit", "ensemble or train_val"]),
    ],
)
def test_bad_fold_settings_are_one_line_and_write_nothing(tmp_path, capsys, options, extra, needles):
    document = {**classification_document(tmp_path, {"a": 12, "b": 5}, **options), **extra}
    url = f"sqlite:///{tmp_path / 'cv.db'}"
    path = write_yaml(tmp_path / "study.yaml", document)
    code, err = run_cli(capsys, "run", str(path), "--storage", url)
    assert_one_line_error(code, err, "study.yaml", *needles)
    assert not (tmp_path / "cv.db").exists() or sqlite_dump(url) == []


def test_folds_on_a_text_or_too_many_for_a_series_are_one_line(tmp_path, capsys):
    text = tiny_study(tmp_path, task={"name": "char_lm", "options": {"folds": 3}})
    url = f"sqlite:///{tmp_path / 'x.db'}"
    code, err = run_cli(capsys, "run", str(write_yaml(tmp_path / "t.yaml", text)), "--storage", url)
    assert_one_line_error(code, err, "task.options", "folds")
    pd.DataFrame({"value": np.arange(60, dtype=float)}).to_csv(tmp_path / "s.csv", index=False)
    series = tiny_study(tmp_path, task={"name": "regression", "data": "s.csv", "options": {"window": 10, "folds": 5}})
    code, err = run_cli(capsys, "run", str(write_yaml(tmp_path / "r.yaml", series)), "--storage", url)
    assert_one_line_error(code, err, "task.options.folds", "each of the 6 blocks", "11 points")
    assert not (tmp_path / "x.db").exists()


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    """A tuner command's exit code and what it printed."""
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.slow
def test_a_cross_validated_study_stores_fold_rows_and_ends_with_an_ensemble(ray_session, tmp_path, capsys):
    """A real study through Ray: the selection line, fold rows whose mean is the stored epoch, the
    kept ensemble exported, evaluated and predicted with (the two agree), and scored on test."""
    document = classification_document(tmp_path, {"a": 15, "b": 15}, test_fraction=0.2)
    document.update(trials=2, max_epochs=2)
    url = f"sqlite:///{tmp_path / 'cv.db'}"
    address = ray_session.get_runtime_context().gcs_address
    code, out = cli(
        capsys,
        "run",
        str(write_yaml(tmp_path / "study.yaml", document)),
        "--storage",
        url,
        "--address",
        address,
        "--quiet",
    )
    assert code == 0
    assert "selection: 5-fold cross-validation" in out and "5 fold networks, their outputs averaged" in out
    assert "(kept model: 5 fold networks) scored on the test data" in out
    from tuner.storage.queries import epochs_frame, fold_epochs_frame

    rows, folds = epochs_frame(url, "cv"), fold_epochs_frame(url, "cv")
    assert len(rows) == 4 and len(folds) == 4 * 5
    for (trial, epoch), group in folds.groupby(["trial_number", "epoch"]):
        assert list(group["fold"]) == [1, 2, 3, 4, 5]
        stored = rows[(rows["trial_number"] == trial) & (rows["epoch"] == epoch)].iloc[0]
        assert stored["val_loss"] == pytest.approx(group["val_loss"].mean())
        assert stored["val_accuracy"] == pytest.approx(group["val_accuracy"].mean())
    # the trivial predictor beside the test score is judged on the folds as the study's trials were
    study = optuna.load_study(study_name="cv", storage=url)
    trivial = study.user_attrs["test_result"]["trivial"]["validation"]["metrics"]
    assert trivial == pytest.approx(study.user_attrs["trivial"]["metrics"])
    model = tmp_path / "best.pt"
    assert (
        cli(capsys, "export", "cv", "--storage", url, "--out", str(tmp_path / "b.yaml"), "--model", str(model))[0] == 0
    )
    checkpoint = torch.load(model, weights_only=True)
    assert checkpoint["members"] == 5 and checkpoint["fit_on"] == "folds"
    assert set(checkpoint["validation_metrics"]) >= {"val_loss", "val_accuracy"}
    new = labelled_file(tmp_path / "new.csv", {"a": 4, "b": 4})
    code, out = cli(capsys, "evaluate", str(model), "--data", str(new), "--format", "json")
    assert code == 0
    accuracy = json.loads(out)["accuracy"]
    assert cli(capsys, "predict", str(model), "--data", str(new), "--out", str(tmp_path / "p.csv"))[0] == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert np.allclose(predicted[["p_a", "p_b"]].sum(axis=1), 1.0, atol=1e-5)
    truth = {n: "a" if n < 4 else "b" for n in range(8)}
    assert accuracy == pytest.approx((predicted["predicted"] == predicted["sequence_id"].map(truth)).mean())


def test_a_cross_validated_studys_trivial_predictor_is_scored_as_its_trials_are_on_every_fold(tmp_path):
    from tuner.training.trial_run import trivial_on_validation
    from tuner.training.trivial import trivial_baseline

    folds = small_folds(tmp_path)
    task = {"name": "sequence_classification", "data": str(tmp_path / "d.csv"), "options": {"folds": 3}}
    trivial = trivial_on_validation(task)
    each = [trivial_baseline(fold).metrics["val_loss"] for fold in folds]
    assert trivial["metrics"]["val_loss"] == pytest.approx(float(np.mean(each)))
