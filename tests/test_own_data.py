"""A user's own data in, a model out that can be trusted and used: test data the search never sees,
model files that carry their preparation, tuner evaluate / predict / load_model, trivial baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests.conftest import tiny_study, write_yaml
from tests.test_bad_input import assert_one_line_error, run_cli
from tuner.cli import main
from tuner.config.export_file import train_document
from tuner.config.studies import load_study
from tuner.data.options import SequenceClassificationOptions
from tuner.training.model_file import load_model

CLASSES = ("calm", "rising", "falling")


def variable_length_frame(sequences: int, seed: int) -> pd.DataFrame:
    """Sequences of 3 to 40 steps, two features, text labels: a rising, falling or flat trend in x."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(sequences):
        label = CLASSES[i % 3]
        slope = {"calm": 0.0, "rising": 0.3, "falling": -0.3}[label]
        for t in range(int(rng.integers(3, 41))):
            rows.append(
                {
                    "sequence_id": f"s{seed}-{i}",
                    "step": t,
                    "x": slope * t + rng.normal(0, 0.3),
                    "y": rng.normal(),
                    "label": label,
                }
            )
    return pd.DataFrame(rows)


def export_file(tmp_path, study_document: dict, hyperparameters: dict, name: str = "best.yaml"):
    """What tuner export writes for a trial of this study (without running the study)."""
    spec = load_study(write_yaml(tmp_path / "study.yaml", study_document))
    document = train_document(
        spec.name, 0, "COMPLETE", spec.settings(), hyperparameters, 0, None, None, None, threads=1
    )
    return write_yaml(tmp_path / name, document)


def classification_study(tmp_path, **task_extra) -> dict:
    variable_length_frame(150, seed=0).to_csv(tmp_path / "train.csv", index=False)
    variable_length_frame(60, seed=1).to_csv(tmp_path / "test.csv", index=False)
    # a hold-out split, as these tests read it (cross-validation: test_folds.py)
    options = {"val_fraction": 0.2, **task_extra.pop("options", {})}
    task = {"name": "sequence_classification", "data": "train.csv", "options": options, **task_extra}
    space = {"parameters": {"learning_rate": 0.03, "hidden_size": 16, "depth": 1, "batch_size": 16, "tbptt_length": 40}}
    return tiny_study(tmp_path, name="own", task=task, space=space, objective={"metric": "val_accuracy"}, max_epochs=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """One small classifier trained by tuner train on a variable-length CSV with a separate test file."""
    folder = tmp_path_factory.mktemp("own-data")
    config = export_file(
        folder,
        classification_study(folder, test_data="test.csv"),
        {"learning_rate": 0.03, "hidden_size": 16, "depth": 1, "batch_size": 16, "tbptt_length": 40},
    )
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", str(config), "--out", str(folder / "model.pt")]) == 0
    return {"folder": folder, "output": out.getvalue(), "model": folder / "model.pt"}


def test_train_prints_validation_and_test_beside_the_trivial_predictor(trained):
    output = trained["output"]
    assert "validation accuracy" in output and "test       accuracy" in output
    assert "selection optimism" in output and "trivial (class frequencies" in output


def test_evaluate_agrees_with_the_accuracy_of_predicts_file(trained, capsys):
    folder = trained["folder"]
    assert main(["evaluate", str(trained["model"]), "--data", str(folder / "test.csv"), "--format", "json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["sequences"] == 60
    assert (
        main(["predict", str(trained["model"]), "--data", str(folder / "test.csv"), "--out", str(folder / "p.csv")])
        == 0
    )
    predictions = pd.read_csv(folder / "p.csv")
    truth = pd.read_csv(folder / "test.csv").groupby("sequence_id")["label"].first()
    accuracy = (
        predictions.set_index("sequence_id")["predicted"] == truth.loc[predictions["sequence_id"]].to_numpy()
    ).mean()
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert metrics["accuracy"] > 0.6  # the trend is easy: the network learned it
    # the per-class view is predict's labels against the truth, counted
    actual = truth.loc[predictions["sequence_id"]].astype(str).to_numpy()
    predicted = predictions["predicted"].astype(str).to_numpy()
    labels = metrics["confusion"]["labels"]
    expected = [[int(((actual == t) & (predicted == p)).sum()) for p in labels] for t in labels]
    assert metrics["confusion"]["matrix"] == expected
    recalls = [metrics["per_class"][t]["recall"] for t in labels if (actual == t).any()]
    assert metrics["balanced_accuracy"] == pytest.approx(sum(recalls) / len(recalls))
    for label in labels:
        said = (predicted == label).sum()
        precision = ((predicted == label) & (actual == label)).sum() / said if said else 0.0
        assert metrics["per_class"][label]["precision"] == pytest.approx(precision)


def test_evaluate_prints_each_class_and_the_confusion_matrix_on_the_given_thread_count(trained, capsys):
    import torch

    folder = trained["folder"]
    assert main(["evaluate", str(trained["model"]), "--data", str(folder / "test.csv"), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert torch.get_num_threads() == 1
    assert "balanced_accuracy" in out and "macro_f1" in out and "per class:" in out
    assert "confusion (rows: true label, columns: predicted):" in out and "precision" in out and "recall" in out


def test_scoring_threads_leave_the_busy_cores_alone_with_a_faked_load_average(monkeypatch):
    from tuner.training.inference import idle_cores

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    for load, threads in ((0.0, 4), (1.4, 3), (3.6, 1), (9.0, 1)):
        monkeypatch.setattr("os.getloadavg", lambda load=load: (load, load, load))
        assert idle_cores() == threads


def test_text_labels_survive_the_round_trip_and_probabilities_sum_to_one(trained):
    model = load_model(trained["model"])
    assert model.classes == sorted(CLASSES)
    frame = pd.read_csv(trained["folder"] / "test.csv").drop(columns=["label"])  # predict needs no label
    predictions = model.predict(frame)
    assert set(predictions["predicted"]) <= set(CLASSES)
    assert np.allclose(predictions[[f"p_{c}" for c in sorted(CLASSES)]].sum(axis=1), 1.0, atol=1e-5)


def test_the_model_file_loads_with_weights_only_and_keeps_its_preparation(trained):
    checkpoint = torch.load(trained["model"], weights_only=True)
    preparation = checkpoint["preparation"]
    assert preparation["feature_columns"] == ["x", "y"] and preparation["classes"] == sorted(CLASSES)
    assert len(preparation["mean"]) == 2 and checkpoint["scores"]["test"] is not None


def test_train_says_when_no_test_data_was_given(tmp_path, capsys):
    config = export_file(tmp_path, classification_study(tmp_path), {"hidden_size": 8, "depth": 1, "tbptt_length": 40})
    assert main(["train", str(config), "--out", str(tmp_path / "m.pt")]) == 0
    assert "no test data was given" in capsys.readouterr().out


def test_test_fraction_holds_sequences_out_of_training_and_validation(tmp_path):
    from tuner.training.trial_run import task_data

    spec = load_study(write_yaml(tmp_path / "s.yaml", classification_study(tmp_path, options={"test_fraction": 0.2})))
    data = task_data(spec.task.to_dict())
    assert data.train.sequences + data.val.sequences == 150 - 30
    from tuner.training.tasks import task_for

    test = task_for(spec.task.name).load_test(spec.task.data, None, spec.task.parsed_options(), data.preparation)

    def seen(split) -> set[bytes]:  # each sequence's real steps, as bytes
        return {x[: int(n)].numpy().tobytes() for x, n in zip(split.inputs, split.lengths, strict=True)}

    assert test.sequences == 30
    held_out, searched = seen(test), seen(data.train) | seen(data.val)
    assert len(held_out) == 30 and not held_out & searched  # no held-out sequence is trained or validated on
    assert not seen(data.train) & seen(data.val)


def test_regression_forecasts_come_back_in_the_datas_units(tmp_path):
    """A hand computation on a tiny series: the network's output times the training spread, plus the offset."""
    series = pd.DataFrame({"value": 100 + 3.0 * np.arange(80) + np.sin(np.arange(80))})
    series.to_csv(tmp_path / "series.csv", index=False)
    for scaling in ("standard", "window"):
        task = {"name": "regression", "data": "series.csv", "options": {"window": 6, "horizon": 2, "scaling": scaling}}
        config = export_file(
            tmp_path, tiny_study(tmp_path, task=task), {"hidden_size": 8, "depth": 1, "tbptt_length": 6}
        )
        assert main(["train", str(config), "--out", str(tmp_path / "r.pt")]) == 0
        model = load_model(tmp_path / "r.pt")
        predictions = model.predict(series.head(10))  # windows ending at rows 5 .. 9
        train = series["value"].to_numpy()[: int(80 * 0.8)]
        mean, std = train.mean(), train.std() + 1e-8
        window = series["value"].to_numpy()[:6]  # the first window, rows 0 .. 5
        offset = window[-1] if scaling == "window" else mean
        x = torch.tensor((window - offset) / std, dtype=torch.float32)[None, :, None]
        with torch.no_grad():
            expected = model.net(x)[0][0, -1].numpy() * std + offset
        first = predictions[predictions["window_end"] == 5]
        assert list(first["position"]) == [6, 7] and list(first["steps_ahead"]) == [1, 2]
        assert first["forecast_value"].to_numpy() == pytest.approx(expected, rel=1e-4)
        assert predictions["position"].max() == 11  # the last window forecasts past the data's end


def test_window_scaling_beats_standard_and_the_trivial_forecast_on_a_trending_series(tmp_path, capsys):
    """A generated series with trend and season: levels later in time were never seen in training."""
    t = np.arange(240)
    noise = np.random.default_rng(0).normal(0, 0.5, len(t))
    pd.DataFrame({"value": 0.5 * t + 8 * np.sin(2 * np.pi * t / 12) + noise}).to_csv(
        tmp_path / "trend.csv", index=False
    )
    mae = {}
    for scaling in ("standard", "window"):
        task = {"name": "regression", "data": "trend.csv", "options": {"window": 12, "scaling": scaling, "season": 12}}
        study = tiny_study(
            tmp_path, task=task, objective={"metric": "val_mae"}, max_epochs=30, early_stopping={"patience": 30}
        )
        hp = {"hidden_size": 16, "depth": 1, "tbptt_length": 12, "batch_size": 16, "learning_rate": 0.01}
        config = export_file(tmp_path, study, hp)
        capsys.readouterr()
        assert main(["train", str(config), "--out", str(tmp_path / f"{scaling}.pt")]) == 0
        scores = load_model(tmp_path / f"{scaling}.pt").scores
        mae[scaling] = scores["validation"]["mae"]
        trivial = scores["trivial"]["validation"]["metrics"]["mae"]
    assert mae["window"] < trivial and mae["window"] < mae["standard"], (mae, trivial)


def test_trivial_baselines_follow_their_definitions():
    from tuner.training.tasks import SequenceData, Target, TaskData
    from tuner.training.trivial import trivial_baseline

    train = SequenceData(torch.zeros(4, 3, 1), torch.tensor([0, 0, 0, 1]), torch.full((4,), 3))
    val = SequenceData(torch.zeros(2, 3, 1), torch.tensor([0, 1]), torch.full((2,), 3))
    trivial = trivial_baseline(TaskData(Target.CLASS, train, val, input_size=1, output_size=2))
    assert trivial.metrics["val_accuracy"] == 0.5
    assert trivial.metrics["val_loss"] == pytest.approx(-(np.log(0.75) + np.log(0.25)) / 2, rel=1e-3)
    series = torch.arange(10.0)[None, :, None].expand(3, -1, -1)
    last = SequenceData(series, torch.full((3, 1), 10.0), torch.full((3,), 10))
    values = TaskData(Target.VALUES, last, last, input_size=1, output_size=1, naive_lags=(1,))
    assert trivial_baseline(values).metrics["val_mae"] == pytest.approx(1.0)  # predicts 9, the truth is 10


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (lambda f: f.drop(columns=["y"]), ["column 'y'", "no such column"]),
        (
            lambda f: f.assign(label=f["label"].replace("calm", "stormy")),
            ["column 'label'", "labels the model was trained on", "stormy"],
        ),
        (lambda f: f.assign(x=f["x"].astype(object).where(f.index != 2, "abc")), ["column 'x'", "abc", "row 4"]),
        (lambda f: f.drop(columns=["sequence_id"]), ["column 'sequence_id'", "no such column"]),
    ],
)
def test_bad_data_for_evaluate_is_one_line(trained, tmp_path, capsys, change, needles):
    frame = change(pd.read_csv(trained["folder"] / "test.csv"))
    frame.to_csv(tmp_path / "bad.csv", index=False)
    code, err = run_cli(capsys, "evaluate", str(trained["model"]), "--data", str(tmp_path / "bad.csv"))
    assert_one_line_error(code, err, "bad.csv", *needles)


def test_a_file_that_is_not_a_model_and_a_text_for_a_classifier_are_one_line(trained, tmp_path, capsys):
    (tmp_path / "notes.pt").write_text("not a model")
    code, err = run_cli(
        capsys, "predict", str(tmp_path / "notes.pt"), "--data", "x.csv", "--out", str(tmp_path / "p.csv")
    )
    assert_one_line_error(code, err, "notes.pt", "a model file written by tuner train")
    (tmp_path / "text.txt").write_text("To be, or not to be\n")
    code, err = run_cli(capsys, "evaluate", str(trained["model"]), "--data", str(tmp_path / "text.txt"))
    assert_one_line_error(code, err, "text.txt", "column 'sequence_id'")
    assert not (tmp_path / "p.csv").exists()


def test_a_first_format_model_file_of_a_classifier_says_to_retrain(trained, tmp_path, capsys):
    checkpoint = torch.load(trained["model"], weights_only=True)
    old = {k: v for k, v in checkpoint.items() if k not in ("preparation", "task", "scores", "target_scale")}
    torch.save({**old, "format": "rnn-tuner/checkpoint/v1"}, tmp_path / "old.pt")
    code, err = run_cli(capsys, "evaluate", str(tmp_path / "old.pt"), "--data", str(trained["folder"] / "test.csv"))
    assert_one_line_error(code, err, "old.pt", "retrain it with tuner train")


@pytest.mark.parametrize(
    ("task_extra", "needles"),
    [
        ({"options": {"test_fraction": 1.5}}, ["task.options.test_fraction", "a number in (0, 1)"]),
        ({"options": {"test_fraction": 0.001}}, ["leave sequences for training, validation and test", "0 of 150"]),
        ({"options": {"test_fraction": 0.2}, "test_data": "test.csv"}, ["task.test_data", "not both"]),
        ({"test_data": "other.csv"}, ["task.test_data", "the training file's columns", "sequence_id, step, x"]),
        ({"test_data": "missing.csv"}, ["task.test_data", "an existing data file"]),
    ],
)
def test_bad_test_data_settings_are_one_line_before_anything_is_written(tmp_path, capsys, task_extra, needles):
    document = classification_study(tmp_path, **task_extra)
    pd.DataFrame({"sequence_id": [1], "step": [0], "z": [1.0], "label": [0]}).to_csv(
        tmp_path / "other.csv", index=False
    )
    study = write_yaml(tmp_path / "study.yaml", document)
    url = f"sqlite:///{tmp_path / 'never.db'}"
    code, err = run_cli(capsys, "run", str(study), "--storage", url)
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "never.db").exists()


@pytest.fixture(scope="module")
def maximize_study(ray_session, tmp_path_factory) -> dict:
    """A real val_accuracy study through Ray Tune: 4 trials with its test file removed once the study is
    parsed, then, with the file back, a fifth trial, after which the best trial is scored on it."""
    import shutil

    from tuner.orchestration.runner import run_study

    folder = tmp_path_factory.mktemp("maximize")
    document = classification_study(folder, test_data="test.csv")
    document["space"]["parameters"]["learning_rate"] = {"type": "float", "low": 0.001, "high": 0.05, "log": True}
    document.update(trials=4, max_epochs=2, sampler={"type": "random", "seed": 3})
    spec = load_study(write_yaml(folder / "study.yaml", document))
    shutil.move(folder / "test.csv", folder / "kept.csv")  # the search never reads it
    url = f"sqlite:///{folder / 'own.db'}"
    without_test_file = run_study(spec, url, trials=4, workers=1, show_progress=False)
    shutil.move(folder / "kept.csv", folder / "test.csv")
    with_test_file = run_study(spec, url, trials=5, workers=1, show_progress=False)
    return {"folder": folder, "url": url, "summary": without_test_file, "scored": with_test_file}


@pytest.mark.slow
def test_a_study_finishes_without_its_test_file_and_train_then_names_it(maximize_study, capsys):
    import shutil

    summary = maximize_study["summary"]
    assert summary.outcomes.by_state["COMPLETE"] == 4 and summary.test_result is None
    assert "test.csv" in summary.test_problem and "\n" not in summary.test_problem
    url, folder = maximize_study["url"], maximize_study["folder"]
    assert main(["export", "own", "--out", str(folder / "best.yaml"), "--storage", url]) == 0
    shutil.move(folder / "test.csv", folder / "away.csv")
    try:
        code, err = run_cli(capsys, "train", str(folder / "best.yaml"))
    finally:
        shutil.move(folder / "away.csv", folder / "test.csv")
    assert_one_line_error(code, err, "task.test_data", "test.csv")


@pytest.mark.slow
def test_the_best_trial_is_scored_on_test_data_and_export_and_report_show_it(maximize_study, tmp_path, capsys):
    import optuna
    import yaml

    url = maximize_study["url"]
    result = maximize_study["scored"].test_result
    best = maximize_study["scored"].best
    assert result["trial"] == best.number
    assert result["validation"]["val_accuracy"] == pytest.approx(best.value)  # retrained as the trial trained
    assert main(["export", "own", "--out", str(tmp_path / "best.yaml"), "--storage", url]) == 0
    exported = yaml.safe_load((tmp_path / "best.yaml").read_text())["result"]["test"]
    assert exported["value"] == result["test"]["val_accuracy"]
    assert exported["selection_optimism"] == pytest.approx(best.value - exported["value"])
    # tuner train scores its own weights of the same config: the same test value
    capsys.readouterr()
    assert main(["train", str(tmp_path / "best.yaml"), "--out", str(tmp_path / "m.pt")]) == 0
    assert f"test       accuracy {exported['value']:.4f}" in capsys.readouterr().out
    assert main(["report", "own", "--out", str(tmp_path), "--storage", url]) == 0
    page = (tmp_path / "own-report.html").read_text()
    import re

    top_table = page.split("<h2>Top ")[1].split("</table>")[0]
    numbers = [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", top_table)]
    trials = optuna.load_study(study_name="own", storage=url).trials
    values = [trials[n].value for n in numbers]
    assert numbers[0] == best.number and values == sorted(values, reverse=True)  # highest accuracy first
    assert f"best trial {best.number} (kept model), scored on the test data" in page
    assert "selection optimism" in page
    # the best trial's confusion matrices: on validation (its 30 sequences) and on the 60 test sequences
    confusions = page.split("<h2>Confusion matrices of the best trial</h2>")[1].split("<h2>")[0]
    assert f"trial {best.number} on validation" in confusions and f"trial {best.number} on test" in confusions
    stored = trials[best.number].user_attrs["confusion"]
    assert stored["labels"] == sorted(CLASSES) and sum(map(sum, stored["matrix"])) == 30
    assert sum(map(sum, result["confusion"]["test"])) == 60
    accuracy_from_counts = sum(stored["matrix"][k][k] for k in range(3)) / 30
    assert accuracy_from_counts == pytest.approx(best.value)  # the kept weights' validation accuracy


@pytest.mark.slow
def test_trials_shows_the_trivial_predictor_beside_the_best(maximize_study, capsys):
    import optuna

    url = maximize_study["url"]
    trivial = optuna.load_study(study_name="own", storage=url).user_attrs["trivial"]
    assert trivial["predictor"].startswith("class frequencies")
    assert trivial["metrics"]["val_accuracy"] == pytest.approx(1 / 3, abs=0.1)
    assert main(["trials", "own", "--storage", url]) == 0
    assert "trivial predictor (class frequencies" in capsys.readouterr().out


@pytest.mark.slow
def test_the_dashboard_opens_a_maximize_study_on_its_best_trials(maximize_study, monkeypatch):
    from tests.test_dashboard import open_page
    from tuner.storage.queries import trials_frame

    url = maximize_study["url"]
    trials = trials_frame(url, "own")
    complete = trials[trials["state"] == "COMPLETE"]
    # the highest accuracy first; tied accuracies (a small validation split) by the lower validation loss
    ranked = complete.sort_values(["value", "best_val_loss", "number"], ascending=[False, True, True])
    best_three = list(ranked["number"].head(3))
    app = open_page(monkeypatch, url, "overfitting")
    assert app.multiselect[0].value == best_three
    labels = app.dataframe[0].value
    assert list(labels["trial"]) == best_three and len(trials) == 5  # each label's rule: test_dashboard.py
    export = open_page(monkeypatch, url, "export")
    assert export.selectbox[0].value == best_three[0]  # the best trial by accuracy, highest first
    studies = open_page(monkeypatch, url)  # the Studies page: the best trial's confusion matrices
    titles = [m.value for m in studies.markdown if m.value.startswith("**Confusion matrix")]
    assert titles[0].startswith(f"**Confusion matrix, trial {best_three[0]} on validation**")
    shown = studies.dataframe[1].value  # after the studies table
    assert list(shown.index) == sorted(CLASSES) and int(shown.to_numpy().sum()) == 30
    studies = open_page(monkeypatch, url)
    captions = [caption.value for caption in studies.caption]
    assert any("scored on the test data" in c for c in captions) and any(c.startswith("test ") for c in captions)


def test_the_own_data_pages_python_block_runs_as_written(trained, monkeypatch):
    import re

    from tests.conftest import REPO

    page = (REPO / "docs/own-data.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "tuner.load_model" in b)
    folder = trained["folder"]
    assert trained["model"] == folder / "model.pt"  # the name the page uses
    pd.read_csv(folder / "test.csv").drop(columns=["label"]).to_csv(folder / "new.csv", index=False)
    monkeypatch.chdir(folder)
    namespace: dict = {}
    exec(compile(block, "docs/own-data.md", "exec"), namespace)  # noqa: S102 - the manual's own example
    assert len(namespace["predictions"]) == 60 and namespace["model"].classes == sorted(CLASSES)


def test_the_line_beside_the_trivial_predictor_says_how_much_better_and_when_it_is_not():
    from tuner.insight.score_lines import versus_trivial

    frequencies = {"predictor": "class frequencies", "metrics": {"val_accuracy": 0.25, "val_loss": 1.6}}
    assert versus_trivial("val_accuracy", False, 0.75, frequencies).endswith("the best is 0.5000 higher")
    assert versus_trivial("val_loss", True, 0.8, frequencies).endswith("the best is 50.0% lower")
    assert versus_trivial("val_loss", True, 1.59, frequencies).endswith(
        "the best network (1.5900) is no better than trivial"
    )
    assert versus_trivial("val_mae", True, 1.0, frequencies) is None  # a metric the trivial predictor was not scored on


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        ({"scaling": "window", "mode": "many_to_many"}, ["task.options.scaling", "standard with mode many_to_many"]),
        ({"season": 24, "window": 12}, ["task.options.season", "at most the window (12 steps)", "24"]),
        ({"scaling": "relative"}, ["task.options.scaling", "one of standard, window", "relative"]),
    ],
)
def test_bad_series_options_are_one_line(tmp_path, capsys, options, needles):
    task = {"name": "regression", "data": "builtin:mackey_glass", "options": options}
    study = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, task=task))
    code, err = run_cli(capsys, "run", str(study), "--storage", f"sqlite:///{tmp_path / 'never.db'}")
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "never.db").exists()


def test_a_test_file_with_a_label_the_training_file_lacks_is_one_line_before_the_study_is_written(tmp_path, capsys):
    from tests.test_bad_input import assert_one_line_error, run_cli

    document = classification_study(tmp_path, test_data="test.csv")
    test = pd.read_csv(tmp_path / "test.csv")
    test.loc[test["sequence_id"] == test["sequence_id"].iloc[0], "label"] = "wobbling"  # a class never trained
    test.to_csv(tmp_path / "test.csv", index=False)
    study = write_yaml(tmp_path / "study.yaml", document)
    code, err = run_cli(capsys, "run", str(study), "--storage", f"sqlite:///{tmp_path / 'never.db'}")
    assert_one_line_error(code, err, "task.test_data", "labels the training file has", "wobbling", "calm")
    assert not (tmp_path / "never.db").exists()


def test_every_held_out_point_of_a_series_is_forecast_from_the_real_values_before_it(tmp_path, capsys):
    from tuner.training.tasks import task_for
    from tuner.training.tasks.regression import windows

    years = np.arange(1900, 2000)
    series = 50 + 0.5 * np.arange(100) + np.sin(np.arange(100))
    pd.DataFrame({"year": years, "value": series}).to_csv(tmp_path / "series.csv", index=False)
    options = {"window": 6, "test_fraction": 0.17, "val_fraction": 0.2}
    task = {"name": "regression", "data": "series.csv", "options": options}
    spec = load_study(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, task=task)))
    regression = task_for("regression")
    data = regression.load(spec.task.data, spec.task.parsed_options())
    test = regression.held_out_test(spec.task.data, spec.task.parsed_options(), data.preparation)
    assert test.sequences == 17  # the 17 held-out points, each forecast once
    # the first forecast's window is the 6 real values before the held-out part (rows 77 to 82)
    first = windows(series[77:84], data.preparation, 1, labelled=True)
    torch.testing.assert_close(test.inputs[0], first.inputs[0])
    torch.testing.assert_close(test.targets[0], first.targets[0])
    assert data.val.sequences == 17  # validation: 20% of the 83 points before the test part, each forecast
    # a file scored by evaluate: one forecast per point with a whole window before it, and so named
    config = export_file(tmp_path, tiny_study(tmp_path, task=task), {"hidden_size": 8, "depth": 1, "tbptt_length": 6})
    assert main(["train", str(config), "--out", str(tmp_path / "m.pt")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path / "series.csv"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["forecasts"] == 100 - 6
    # predict keeps the file's other columns beside each forecast: the year it forecasts
    assert (
        main(
            [
                "predict",
                str(tmp_path / "m.pt"),
                "--data",
                str(tmp_path / "series.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 0
    )
    predictions = pd.read_csv(tmp_path / "p.csv")
    inside = predictions[predictions["position"] < 100]
    assert list(inside["year"]) == [1900 + p for p in inside["position"]]
    assert predictions["year"].isna().sum() == 1  # the forecast past the end: a year the file does not have


def test_refit_trains_on_training_and_validation_for_the_chosen_epochs_and_its_model_file_predicts(tmp_path, capsys):
    import re

    from tuner.training.refit import merged, refit
    from tuner.training.tasks import task_for

    document = classification_study(tmp_path, test_data="test.csv")
    document["refit"] = "train_val"
    hp = {"learning_rate": 0.03, "hidden_size": 16, "depth": 1, "batch_size": 16, "tbptt_length": 40}
    config = export_file(tmp_path, document, hp)
    assert yaml.safe_load(config.read_text())["training"]["refit"] == "train_val"
    assert main(["train", str(config), "--out", str(tmp_path / "m.pt")]) == 0
    out = capsys.readouterr().out
    chosen = int(re.search(r"best val_accuracy \S+ at epoch (\d+)", out).group(1))
    assert f"refit: a new network trained {chosen} epochs on training + validation data" in out
    model = load_model(tmp_path / "m.pt")
    assert model.fit_on == "train+val" and model.scores["fit_on"] == "train+val"
    assert len(model.predict(tmp_path / "test.csv")) == 60
    # the refit itself: every training and validation sequence, the chosen number of epochs, the last weights
    data = task_for("sequence_classification").load(str(tmp_path / "train.csv"), SequenceClassificationOptions())
    both = merged(data.train, data.val, data.target)
    assert both.sequences == 150 and sorted(both.lengths.tolist()) == sorted(
        data.train.lengths.tolist() + data.val.lengths.tolist()
    )
    from tuner.config.hyperparams import Hyperparameters
    from tuner.training import TrainSettings

    result = refit(Hyperparameters(**hp), data, TrainSettings(max_epochs=10, patience=1), epochs=3)
    assert len(result.epochs) == 3 and result.best_epoch == 3  # no early stop, the last epoch's weights


def test_a_bad_refit_is_one_line(tmp_path, capsys):
    document = classification_study(tmp_path)
    document["refit"] = "yes"
    study = write_yaml(tmp_path / "study.yaml", document)
    code, err = run_cli(capsys, "run", str(study), "--storage", f"sqlite:///{tmp_path / 'never.db'}")
    assert_one_line_error(code, err, "refit", "train_val", "'yes'")


def test_a_refit_study_scores_the_network_trained_on_training_and_validation_on_test(ray_session, tmp_path):
    from tuner.orchestration.runner import run_study

    document = classification_study(tmp_path, test_data="test.csv")
    document.update(refit="train_val", trials=2, max_epochs=2)
    spec = load_study(write_yaml(tmp_path / "study.yaml", document))
    summary = run_study(spec, f"sqlite:///{tmp_path / 'r.db'}", trials=2, workers=1, show_progress=False)
    result = summary.test_result
    assert result["from"] == "refit on training + validation" and result["fit_on"] == "train+val"
    assert result["trial"] == summary.best.number
    assert result["validation"]["val_accuracy"] == pytest.approx(summary.best.value)  # the selection's, unchanged
    assert sum(map(sum, result["confusion"]["test"])) == 60
