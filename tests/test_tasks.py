"""Every built-in task on its shipped or generated data, a user's own task, and bad data files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import REPO, tiny_study, write_yaml
from tuner.config.hyperparams import Hyperparameters
from tuner.config.studies import load_study
from tuner.data import tabular
from tuner.data.options import AddingOptions, RegressionOptions, SequenceClassificationOptions
from tuner.errors import BadInput
from tuner.training import TrainSettings, train
from tuner.training.loop import evaluate
from tuner.training.models import RecurrentNet
from tuner.training.tasks import SequenceData, Target, TaskData, task_for
from tuner.training.tasks.sequence_classification import sequences


def small(**knobs) -> Hyperparameters:
    return Hyperparameters(
        **{"hidden_size": 16, "depth": 1, "batch_size": 16, "learning_rate": 0.02, "l2": 0.0, **knobs}
    )


def test_control_charts_sample_has_six_classes_of_600_series_and_normalises_on_train_only():
    data = task_for("sequence_classification").load("builtin:control_charts", SequenceClassificationOptions())
    assert data.target is Target.CLASS and data.output_size == 6 and data.input_size == 1
    assert data.train.sequences + data.val.sequences == 600
    assert data.train.inputs.shape[1:] == (60, 1)
    train_values = data.train.inputs.reshape(-1)
    assert float(train_values.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(train_values.std()) == pytest.approx(1.0, abs=1e-2)
    assert float(data.val.inputs.mean()) != pytest.approx(0.0, abs=1e-6)  # the validation split was not fitted


def test_sequence_classification_learns_far_above_chance():
    data = task_for("sequence_classification").load("builtin:control_charts", SequenceClassificationOptions())
    result = train(small(tbptt_length=60, cell="gru"), data, TrainSettings(max_epochs=6, patience=6))
    assert max(m.metrics["val_accuracy"] for m in result.epochs) > 0.6  # chance is 1/6


def test_padding_after_a_sequence_does_not_change_its_prediction():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        [
            {"sequence_id": i, "step": t, "a": rng.normal(), "b": rng.normal(), "label": i % 2}
            for i, n in enumerate((5, 9, 12))
            for t in range(n)
        ]
    )
    table = tabular.read_long_sequences(frame, SequenceClassificationOptions(), where="frame")
    preparation = {"mean": [0.0, 0.0], "std": [1.0, 1.0]}
    labels = table.labels.astype(np.int64)
    together = sequences(table, preparation, labels, np.array([0, 1, 2]))
    assert together.inputs.shape == (3, 12, 2) and together.lengths.tolist() == [5, 9, 12]
    assert together.inputs[0, 5:].abs().sum() == 0  # zeros after the first sequence's end
    hp = small(tbptt_length=4, batch_size=3)
    model = RecurrentNet(2, 2, hp)

    def loss(split) -> float:
        data = TaskData(Target.CLASS, split, split, input_size=2, output_size=2)
        return evaluate(model, data, hp, torch.device("cpu"), TrainSettings())["val_loss"]

    alone = [loss(sequences(table, preparation, labels, np.array([i]))) for i in range(3)]  # each unpadded
    assert loss(together) == pytest.approx(sum(alone) / 3, rel=1e-5)  # read at each one's own last step


def test_regression_windows_scale_and_errors_on_the_original_scale():
    options = RegressionOptions(window=20, horizon=3, stride=5)
    data = task_for("regression").load("builtin:mackey_glass", options)
    assert data.target is Target.VALUES and data.output_size == 3
    assert data.train.inputs.shape[1:] == (20, 1) and data.train.targets.shape[1] == 3
    series = pd.read_csv(REPO / "tuner/data/mackey_glass.csv")["value"].to_numpy()
    assert data.target_scale == pytest.approx(series[: int(len(series) * 0.8)].std(), rel=1e-3)
    result = train(small(tbptt_length=20), data, TrainSettings(max_epochs=3, patience=3))
    last = result.epochs[-1].metrics
    assert last["val_mse"] == pytest.approx(last["val_loss"] * data.target_scale**2)
    assert result.epochs[-1].train_loss < result.epochs[0].train_loss


def test_many_to_many_regression_predicts_at_every_step():
    data = task_for("regression").load(
        "builtin:mackey_glass", RegressionOptions(window=10, horizon=2, mode="many_to_many", stride=10)
    )
    assert data.target is Target.STEP_VALUES and data.train.targets.shape[1:] == (10, 2)
    assert data.training_examples() == data.train.sequences * 10 * 2
    result = train(small(tbptt_length=5), data, TrainSettings(max_epochs=2, patience=2))
    assert math.isfinite(result.best_val_loss)


def test_adding_problem_data_follows_its_definition():
    data = task_for("adding").load(None, AddingOptions(length=30, train_sequences=50, val_sequences=10, seed=3))
    inputs, targets = data.train.inputs, data.train.targets
    markers = inputs[:, :, 1]
    assert torch.all(markers.sum(dim=1) == 2)
    assert torch.all(markers[:, :15].sum(dim=1) == 1) and torch.all(markers[:, 15:].sum(dim=1) == 1)
    torch.testing.assert_close(targets[:, 0], (inputs[:, :, 0] * markers).sum(dim=1))
    again = task_for("adding").load(None, AddingOptions(length=30, train_sequences=50, val_sequences=10, seed=3))
    assert torch.equal(again.train.inputs, inputs)


# the manual's example of a user's own task (docs/own-data.md), as written there
MY_TASKS = """
from dataclasses import dataclass
import torch
from tuner.training.tasks import SequenceData, Target, Task, TaskData


@dataclass(frozen=True)
class ParityOptions:
    length: int = 8  # bits per sequence


class Parity(Task):
    options = ParityOptions
    metrics = {"val_loss": "minimize", "val_accuracy": "maximize"}

    def load(self, data, options):
        bits = torch.randint(0, 2, (1200, options.length))  # torch's RNG is seeded while a task loads
        lengths = torch.full((1200,), options.length)
        split = lambda rows: SequenceData(bits[rows].float()[..., None], bits[rows].sum(1) % 2, lengths[rows])
        return TaskData(Target.CLASS, split(slice(0, 1000)), split(slice(1000, None)), input_size=1, output_size=2)
"""


@pytest.fixture()
def my_tasks(tmp_path, monkeypatch) -> None:
    (tmp_path / "my_tasks.py").write_text(MY_TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_the_manual_documents_every_option_of_every_built_in_task():
    import dataclasses

    from tuner.config.task import TASKS

    table = (REPO / "docs/study-files.md").read_text().split("`task.options`, per task")[1].split("\n\n")[1]
    for name, info in TASKS.items():
        rows = table.split(f"| `{name}` |")[1].split("\n| `")[0]  # the task's row and its continuations
        for option in dataclasses.fields(info.options):
            assert f"`{option.name}`" in rows, f"docs/study-files.md: {name} option {option.name} is not in the table"


def test_the_manual_shows_the_own_task_example_as_tested():
    assert MY_TASKS.strip() in (REPO / "docs/own-data.md").read_text()


def test_a_users_own_task_is_named_module_colon_class(tmp_path, my_tasks):
    document = tiny_study(
        tmp_path, task={"name": "my_tasks:Parity", "options": {"length": 6}}, objective={"metric": "val_accuracy"}
    )
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    assert spec.direction == "maximize"
    from tuner.training.trial_run import run_training

    result = run_training(spec.settings(), {"hidden_size": 8, "depth": 1, "tbptt_length": 6}, seed=0)
    assert "val_accuracy" in result.epochs[0].metrics


def test_a_task_drawing_from_torchs_rng_loads_the_same_data_in_every_process(my_tasks):
    # each Ray worker and `tuner train` load the data afresh, with torch's RNG wherever the process left it
    from tuner.training.trial_run import _cached_splits, task_data

    task = {"name": "my_tasks:Parity", "data": None, "options": {"length": 6}}
    loaded = []
    for rng_state in (1, 2):
        _cached_splits.cache_clear()  # as in a new process
        torch.manual_seed(rng_state)
        loaded.append(task_data(task).train.inputs)
        drawn_after = torch.rand(3)
        torch.manual_seed(rng_state)
        assert torch.equal(drawn_after, torch.rand(3))  # the caller's RNG (the trial's seed) is left as it was
    assert torch.equal(loaded[0], loaded[1])


def csv_study(tmp_path, frame: pd.DataFrame, **options) -> object:
    frame.to_csv(tmp_path / "data.csv", index=False)
    task = {"name": "sequence_classification", "data": "data.csv", "options": options}
    return write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, task=task, objective={"metric": "val_accuracy"}))


def long_frame(lengths=(30, 30, 30, 30), label=None) -> pd.DataFrame:
    rows = [
        {"sequence_id": i, "step": t, "x": float(t), "label": i % 2 if label is None else label}
        for i, n in enumerate(lengths)
        for t in range(n)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("mutate", "options", "needles"),
    [
        (lambda f: f.drop(columns=["label"]), {}, ["column 'label'", "no such column", "sequence_id, step, x"]),
        (lambda f: f.assign(x=f["x"].where(f.index != 3)), {}, ["column 'x'", "no missing values", "row 5"]),
        (
            lambda f: f.assign(label=f["label"].map({0: "cat", 1: "dog"}).where(f.index != 4)),
            {},
            ["column 'label'", "no missing labels", "row 6"],
        ),
        (lambda f: f, {"feature_columns": ["y"]}, ["column 'y'", "no such column"]),
        (
            lambda f: f.assign(label=f["label"] + 0.5),
            {},
            ["column 'label'", "integer or text class labels", "found 0.5"],
        ),
        (
            lambda f: f.assign(x=f["x"].where(f.index != 3, np.inf)),
            {},
            ["column 'x'", "finite numbers", "inf at row 5"],
        ),
        # one stray text value turns the only feature column into text: name it, not "no numeric column"
        (lambda f: f.assign(x=f["x"].astype(object).where(f.index != 3, "abc")), {}, ["column 'x'", "'abc'", "row 5"]),
        (lambda f: f.assign(label=2), {}, ["column 'label'", "at least 2 classes", "only class 2"]),
        (
            lambda f: pd.concat([f, f.iloc[[31]]]),  # sequence 1's step 1 again, on the file's last line
            {},
            ["one row per sequence and step", "sequence 1 step 1 again at row 122"],
        ),
        (
            lambda f: f.assign(label=f["label"].where(f.index != 31, 0)),  # sequence 1's second step
            {},
            ["column 'label'", "one label per sequence", "several labels in sequence 1'"],
        ),
        (
            lambda f: f.assign(
                sequence_id=f["sequence_id"].map("run-{}".format), label=f["label"].where(f.index != 31, 0)
            ),
            {},
            ["several labels in sequence 'run-1'"],
        ),
    ],
)
def test_bad_csv_names_the_file_and_the_column(tmp_path, mutate, options, needles):
    path = csv_study(tmp_path, mutate(long_frame()), **options)
    with pytest.raises(BadInput) as caught:
        load_study(path)
    message = str(caught.value)
    assert "data.csv" in message and "\n" not in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    ("content", "options", "needles"),
    [
        (b"", {}, ["text.txt", "enough text for a training and a validation part", "'0 characters'"]),
        (b"To be, or not \xff to be", {}, ["text.txt", "a UTF-8 text file", "offset 14"]),
        (b"abcdefghij" * 100, {"max_chars": 10}, ["enough text", "'10 characters'"]),
    ],
)
def test_a_bad_text_file_is_refused_when_the_study_is_read(tmp_path, content, options, needles):
    # these trained before: every trial of the study failed in its worker
    (tmp_path / "text.txt").write_bytes(content)
    task = {"name": "char_lm", "data": "text.txt", "options": options}
    with pytest.raises(BadInput) as caught:
        load_study(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, task=task)))
    for needle in needles:
        assert needle in str(caught.value)


def test_the_label_as_a_feature_column_is_refused_in_the_study_file(tmp_path):
    path = csv_study(tmp_path, long_frame(), feature_columns=["x", "label"])  # it would leak the answer
    with pytest.raises(BadInput, match=r"s.yaml: task.options.feature_columns: .* other than the id, step and label"):
        load_study(path)


def test_an_adding_problem_shorter_than_its_two_marked_steps_is_refused(tmp_path):
    task = {"name": "adding", "options": {"length": 1}}
    with pytest.raises(BadInput, match=r"task.options.length: expected an integer >= 2, found 1"):
        load_study(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, task=task)))


def test_a_window_longer_than_the_shortest_sequence_is_accepted_and_trains(tmp_path):
    path = csv_study(tmp_path, long_frame(lengths=(30, 7, 30, 30, 9, 30)))  # the tiny space: tbptt_length 25
    spec = load_study(path)
    data = task_for(spec.task.name).load(spec.task.data, SequenceClassificationOptions(val_fraction=0.5))
    assert sorted(int(n) for n in torch.cat([data.train.lengths, data.val.lengths])) == [7, 9, 30, 30, 30, 30]
    result = train(small(tbptt_length=25), data, TrainSettings(max_epochs=1))
    assert math.isfinite(result.epochs[0].train_loss) and math.isfinite(result.epochs[0].val_loss)
    # every sequence's class is read, the short ones' too (inside the first window)
    from tuner.training.terms import Totals, whole_terms

    totals = Totals()
    outputs, _ = result.model(data.train.inputs)
    totals.add(whole_terms(Target.CLASS, outputs.detach(), data.train.targets, data.train.lengths))
    assert totals.count == data.train.sequences


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_windows_longer_than_the_sequences_give_the_gradient_of_full_bptt(cell):
    """Sequences of 3 to 40 steps, one batch, tbptt_length 40: the loop's gradient is plain full BPTT's."""
    from tuner.training.loop import _train_epoch

    generator = torch.Generator().manual_seed(3)
    lengths = torch.randint(3, 41, (12,), generator=generator)
    lengths[0], lengths[1] = 3, 40
    inputs = torch.randn(12, 40, 2, generator=generator) * (torch.arange(40)[None, :, None] < lengths[:, None, None])
    labels = torch.randint(0, 3, (12,), generator=generator)
    split = SequenceData(inputs, labels, lengths)
    data = TaskData(Target.CLASS, split, split, input_size=2, output_size=3)
    hp = small(cell=cell, tbptt_length=40, batch_size=12, updater="sgd", learning_rate=0.0)
    model = RecurrentNet(2, 3, hp)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # keeps the weights: only the gradient is compared
    _train_epoch(model, optimizer, data, hp, torch.Generator(), torch.device("cpu"), TrainSettings())
    loop_grads = [p.grad.clone() for p in model.parameters()]

    model.zero_grad()
    reference = sum(
        torch.nn.functional.cross_entropy(model(inputs[i : i + 1, : lengths[i]])[0][0, -1], labels[i], reduction="sum")
        for i in range(12)
    )
    (reference / 12).backward()
    for loop_grad, parameter in zip(loop_grads, model.parameters(), strict=True):
        torch.testing.assert_close(loop_grad, parameter.grad, rtol=1e-4, atol=1e-6)


def test_a_task_module_that_cannot_be_imported(tmp_path):
    path = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, task={"name": "no_such_pkg.tasks:Mine"}))
    with pytest.raises(BadInput, match=r"task.name: expected an importable task class.*No module named 'no_such_pkg'"):
        load_study(path)


@pytest.mark.parametrize(
    ("name", "metric"), [("control_charts", "val_accuracy"), ("mackey_glass", "val_mae"), ("adding", "val_mse")]
)
def test_each_shipped_task_study_reads_its_data_and_trains_an_epoch_on_its_metric(name, metric):
    from tuner.training.trial_run import task_splits

    spec = load_study(REPO / f"studies/{name}.yaml")
    assert spec.metric == metric
    (data,) = task_splits(spec.task.to_dict())  # one hold-out split: these sets are not small
    assert data.train.sequences > data.val.sequences > 0
    hp = Hyperparameters(hidden_size=8, depth=1, batch_size=64, tbptt_length=50)
    epoch = train(hp, data, TrainSettings(max_epochs=1, monitor=metric)).epochs[0]
    assert math.isfinite(epoch.val_loss) and math.isfinite(epoch.metrics[metric])


def test_parquet_files_load_like_csv(tmp_path):
    frame = pd.read_csv(REPO / "tuner/data/control_charts.csv")
    frame.to_parquet(tmp_path / "charts.parquet")
    from_parquet = task_for("sequence_classification").load(
        str(tmp_path / "charts.parquet"), SequenceClassificationOptions()
    )
    from_csv = task_for("sequence_classification").load("builtin:control_charts", SequenceClassificationOptions())
    assert torch.equal(from_parquet.train.inputs, from_csv.train.inputs)
    assert torch.equal(from_parquet.val.targets, from_csv.val.targets)


def test_early_stopping_and_the_kept_weights_follow_the_studys_metric_then_the_loss_among_ties(tmp_path):
    """Separable classes: accuracy reaches 1.000 early and stays there while the loss keeps falling."""
    rng = np.random.default_rng(0)
    rows = [
        {"sequence_id": i, "step": t, "x": rng.random() + 2 * (i % 2), "label": i % 2}
        for i in range(60)
        for t in range(5)
    ]
    (tmp_path / "easy.csv").write_text(pd.DataFrame(rows).to_csv(index=False))
    data = task_for("sequence_classification").load(str(tmp_path / "easy.csv"), SequenceClassificationOptions())
    hp = small(tbptt_length=5, batch_size=8, learning_rate=0.05)
    settings = TrainSettings(max_epochs=12, patience=3, monitor="val_accuracy", maximize=True)
    result = train(hp, data, settings)
    best = max(m.metrics["val_accuracy"] for m in result.epochs)
    tied = [m for m in result.epochs if m.metrics["val_accuracy"] == best]
    assert len(tied) >= 2 and result.best_value == best
    # among the epochs at the best accuracy, the one of lowest loss: not simply the first to get there
    assert result.best_epoch == min(tied, key=lambda m: m.val_loss).epoch > tied[0].epoch
    assert result.best_val_loss == min(m.val_loss for m in tied)
    # and a lower loss at a worse accuracy never wins: the study's metric comes first
    assert all(m.metrics["val_accuracy"] < best for m in result.epochs if m.val_loss < result.best_val_loss)
    kept = evaluate(result.model, data, hp, torch.device("cpu"), settings)["val_accuracy"]
    assert kept == pytest.approx(best)  # the weights kept are the best epoch's


def test_per_sequence_normalisation_is_each_sequences_own_z_score_over_its_real_steps(tmp_path):
    frame = long_frame(lengths=(5, 3, 4, 6))
    frame["x"] = frame["x"] * (frame["sequence_id"] + 1) + 10 * frame["sequence_id"]  # levels and scales differ
    frame.to_csv(tmp_path / "data.csv", index=False)
    options = SequenceClassificationOptions(normalize="per_sequence", val_fraction=0.5)
    data = task_for("sequence_classification").load(str(tmp_path / "data.csv"), options)
    for split in (data.train, data.val):
        for inputs, length in zip(split.inputs, split.lengths, strict=True):
            n = int(length)
            # the hand computation: x = (i+1) t + 10 i over t = 0..n-1 standardises to (t - mean t) / std t
            t = np.arange(n, dtype=np.float64)
            expected = (t - t.mean()) / t.std()
            np.testing.assert_allclose(inputs[:n, 0].numpy(), expected, rtol=1e-5, atol=1e-5)
            assert (inputs[n:] == 0).all()  # padding stays zero


def test_balanced_class_weights_follow_the_training_splits_counts_and_weigh_the_training_loss(tmp_path):
    frame = long_frame(lengths=(4,) * 12)
    frame["label"] = frame["sequence_id"].map(lambda i: 1 if i % 4 == 0 else 0)  # 9 of class 0, 3 of class 1
    frame.to_csv(tmp_path / "data.csv", index=False)
    options = SequenceClassificationOptions(class_weight="balanced", val_fraction=0.25)
    data = task_for("sequence_classification").load(str(tmp_path / "data.csv"), options)
    counts = np.bincount(data.train.targets.numpy(), minlength=2)
    expected = len(data.train.targets) / (2 * counts)
    np.testing.assert_allclose(data.class_weights.numpy(), expected, rtol=1e-6)
    assert data.class_weights[1] > data.class_weights[0]  # the rarer class weighs more
    plain = task_for("sequence_classification").load(str(tmp_path / "data.csv"), SequenceClassificationOptions())
    assert plain.class_weights is None
    # the weights change what training minimises: the same seed ends with other weights
    weighted, unweighted = (train(small(), d, TrainSettings(max_epochs=1)) for d in (data, plain))
    assert not torch.equal(weighted.model.head.weight, unweighted.model.head.weight)


def test_balanced_accuracy_and_macro_f1_are_validation_metrics_a_study_may_optimise(tmp_path):
    from tuner.training.terms import Totals, whole_terms

    # 4 of class 0 (3 right), 2 of class 1 (1 right): accuracy 4/6, balanced accuracy (3/4 + 1/2) / 2
    outputs = torch.tensor([[9.0, 0], [9, 0], [9, 0], [0, 9], [0, 9], [9, 0]])[:, None, :]
    targets = torch.tensor([0, 0, 0, 0, 1, 1])
    totals = Totals()
    totals.add(whole_terms(Target.CLASS, outputs, targets, torch.ones(6, dtype=torch.long)))
    metrics = totals.metrics(Target.CLASS)
    assert metrics["val_accuracy"] == pytest.approx(4 / 6)
    assert metrics["val_balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    f1_0, f1_1 = 2 * (3 / 4 * 3 / 4) / (3 / 4 + 3 / 4), 2 * (1 / 2 * 1 / 2) / (1 / 2 + 1 / 2)
    assert metrics["val_macro_f1"] == pytest.approx((f1_0 + f1_1) / 2)
    study = load_study(csv_study(tmp_path, long_frame(), class_weight="balanced"))
    for metric in ("val_balanced_accuracy", "val_macro_f1"):
        document = tiny_study(tmp_path, task=study.task.to_dict(), objective={"metric": metric})
        assert load_study(write_yaml(tmp_path / "m.yaml", document)).direction == "maximize"


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        ({"normalize": "zscore"}, ["task.options.normalize", "global", "per_sequence", "'zscore'"]),
        ({"class_weight": "auto"}, ["task.options.class_weight", "balanced", "'auto'"]),
    ],
)
def test_bad_normalise_or_class_weight_is_one_line(tmp_path, options, needles):
    with pytest.raises(BadInput) as error:
        load_study(csv_study(tmp_path, long_frame(), **options))
    assert all(n in str(error.value) for n in needles), str(error.value)


def test_class_weights_on_a_regression_task_are_refused(tmp_path):
    pd.DataFrame({"value": np.arange(200.0)}).to_csv(tmp_path / "series.csv", index=False)
    task = {"name": "regression", "data": "series.csv", "options": {"window": 5, "class_weight": "balanced"}}
    with pytest.raises(BadInput) as error:
        load_study(write_yaml(tmp_path / "r.yaml", tiny_study(tmp_path, task=task)))
    assert "task.options.class_weight" in str(error.value)


def test_text_with_characters_the_model_never_saw_is_scored_on_the_rest_and_refused_under_strict(tmp_path, capsys):
    import json

    from tests.test_own_data import export_file
    from tuner.cli import main

    (tmp_path / "train.txt").write_text("abcab cabca bcabc " * 40)
    task = {"name": "char_lm", "data": "train.txt", "options": {"seq_length": 30}}
    hp = {"hidden_size": 8, "depth": 1, "batch_size": 4, "tbptt_length": 15}
    config = export_file(tmp_path, tiny_study(tmp_path, task=task, max_epochs=1), hp)
    assert main(["train", str(config), "--out", str(tmp_path / "m.pt")]) == 0
    (tmp_path / "other.txt").write_text("abcZab cab Qca" * 5)  # 10 unseen of 70
    (tmp_path / "known.txt").write_text("abcab cab ca" * 5)  # the same text without them
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path / "other.txt"), "--format", "json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["left_out"] == 10 and scored["left_out_share"] == pytest.approx(10 / 70)
    assert scored["left_out_characters"] == "QZ"
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path / "known.txt"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == pytest.approx(scored["loss"])  # the rest, as it is
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path / "other.txt")]) == 0
    assert "left out 10 characters the model never saw (14.29% of the text: 'QZ')" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path / "other.txt"), "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only characters the model was trained on (--strict)" in err[0] and "'QZ'" in err[0]


@pytest.mark.parametrize(
    ("write", "needles"),
    [
        (lambda f, p: f.to_json(p, orient="records"), ["expected a CSV or Parquet table", "'JSON'"]),
        (lambda f, p: f.to_csv(p, sep="\t", index=False), ["column 'sequence_id'", "tab-separated?"]),
        (lambda f, p: f.iloc[:0].to_csv(p, index=False), ["at least one row", "only a header"]),
    ],
)
def test_a_file_that_is_not_a_csv_table_is_one_short_line_naming_the_likely_cause(tmp_path, capsys, write, needles):
    from tests.test_bad_input import assert_one_line_error, run_cli

    frame = pd.DataFrame(
        [{"sequence_id": i, "step": t, "x0": t * 1.0, "label": i % 2} for i in range(300) for t in range(40)]
    )
    write(frame, tmp_path / "data.csv")
    code, err = run_cli(capsys, "run", str(csv_study_file(tmp_path)), "--storage", f"sqlite:///{tmp_path / 'n.db'}")
    assert_one_line_error(code, err, *needles)
    assert len(err.strip()) - len(str(tmp_path)) < 200  # whatever the file holds


def csv_study_file(tmp_path):
    task = {"name": "sequence_classification", "data": "data.csv"}
    return write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, task=task, objective={"metric": "val_accuracy"}))


def test_early_stopping_can_follow_the_validation_loss_and_a_bad_monitor_is_one_line(tmp_path):
    from tuner.training.trial_run import train_settings

    document = tiny_study(tmp_path, early_stopping={"patience": 2, "monitor": "val_loss"})
    document["task"] = {"name": "sequence_classification", "data": "builtin:control_charts"}
    document["objective"] = {"metric": "val_accuracy"}
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    settings = train_settings(spec.settings(), 0, 1)
    assert settings.monitor == "val_loss" and not settings.maximize  # the loss, lower is better
    default = tiny_study(tmp_path, task=document["task"], objective={"metric": "val_accuracy"})
    plain = train_settings(load_study(write_yaml(tmp_path / "d.yaml", default)).settings(), 0, 1)
    assert plain.monitor == "val_accuracy" and plain.maximize
    assert "monitor" not in load_study(tmp_path / "d.yaml").settings()["early_stopping"]  # older studies match
    document["early_stopping"] = {"monitor": "accuracy"}
    with pytest.raises(BadInput) as error:
        load_study(write_yaml(tmp_path / "s.yaml", document))
    assert "early_stopping.monitor" in str(error.value) and "val_loss" in str(error.value)
