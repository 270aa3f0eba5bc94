"""Every bad input named in the spec: one line on stderr, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import REPO, sqlite_dump, tiny_study, write_yaml
from tuner.cli import main


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tuner: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def study_file(tmp_path: Path, **overrides: object) -> Path:
    return write_yaml(tmp_path / "study.yaml", tiny_study(tmp_path, **overrides))


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        ({"sampler": {"type": "bayes"}}, ["sampler.type", "tpe", "'bayes'"]),
        ({"pruner": {"type": "mediam"}}, ["pruner.type", "did you mean 'median'"]),
        ({"pruner": {"type": "median", "n_warmup": 1}}, ["pruner.n_warmup", "did you mean 'n_warmup_steps'"]),
        # text where Optuna wants a bool or a number: "false" would silently mean true
        ({"sampler": {"type": "tpe", "multivariate": "false"}}, ["sampler.multivariate", "true or false", "'false'"]),
        ({"pruner": {"type": "median", "n_warmup_steps": True}}, ["pruner.n_warmup_steps", "an integer", "True"]),
        ({"sampler": {"type": "tpe", "seed": 1.5}}, ["sampler.seed", "an integer", "1.5"]),
        # Optuna checks these only when it first samples from its model, trials into the run
        ({"sampler": {"type": "tpe", "n_ei_candidates": 0}}, ["sampler.n_ei_candidates", "an integer >= 1"]),
        ({"sampler": {"type": "cmaes", "popsize": 0}}, ["sampler.popsize", "an integer >= 1"]),
        ({"sampler": {"type": "tpe", "gamma": 0.1}}, ["sampler.gamma", "expected one of", "n_startup_trials"]),
        # Optuna's Hyperband checks these only at the first report, in the middle of a run
        ({"pruner": {"type": "hyperband", "min_resource": 0}}, ["pruner", "HyperbandPruner", "min_resource"]),
        ({"pruner": {"type": "hyperband", "reduction_factor": 1}}, ["pruner", "reduction_factor >= 2"]),
        ({"pruner": {"type": "hyperband", "max_resource": 0}}, ["pruner.max_resource", "an integer >= 1 or auto"]),
        ({"pruner": {"type": "hyperband", "min_resource": 9}}, ["pruner.max_resource", "defaults to max_epochs"]),
        ({"trails": 3}, ["trails", "did you mean 'trials'"]),
        ({"task": {"name": "char_lm", "data": "missing.txt"}}, ["task.data", "an existing data file", "missing.txt"]),
        ({"task": {"name": "speech"}}, ["task.name", "char_lm"]),
        ({"max_epochs": 0}, ["max_epochs", "an integer >= 1", "0"]),
        ({"sampler": {"type": "grid"}}, ["sampler.type", "finite parameters for grid", "learning_rate"]),
        ({"baseline": {"learning_rate": 5.0}}, ["baseline.learning_rate", "inside the space"]),
        ({"baseline": {"updater": "adamax"}}, ["baseline.updater", "did you mean"]),
        ({"objective": {"metric": "train_loss"}}, ["objective.metric", "val_loss"]),
        # one trial trains on one device: two GPUs for one trial would leave one idle
        ({"resources": {"cpu": 1, "gpu": 2}}, ["resources.gpu", "a GPU share in (0, 1]", "one device", "--workers"]),
        ({"resources": {"cpu": 1, "precision": "fp16"}}, ["resources.precision", "fp32 or bf16", "'fp16'"]),
        (
            {
                "sampler": {"type": "grid"},
                "space": {"parameters": {"depth": {"type": "int", "low": 1, "high": 2}}},
                "baseline": {"depth": 1},
            },
            ["baseline", "no baseline with the grid sampler"],
        ),
    ],
)
def test_bad_study_file(tmp_path, capsys, overrides, needles):
    path = study_file(tmp_path, **overrides)
    db = tmp_path / "s.db"
    code, err = run_cli(capsys, "run", str(path), "--storage", f"sqlite:///{db}")
    assert_one_line_error(code, err, str(path), *needles)
    assert not db.exists()  # nothing was written anywhere


def test_bad_space_inside_a_study_names_the_study_file_and_key_path(tmp_path, capsys):
    document = tiny_study(tmp_path)
    document["space"]["parameters"]["learning_rate"] = {"type": "float", "low": 0.1, "high": 0.01}
    code, err = run_cli(capsys, "run", str(write_yaml(tmp_path / "s.yaml", document)))
    assert_one_line_error(code, err, "s.yaml: space.parameters.learning_rate", "low <= high", "low=0.1, high=0.01")


def test_malformed_yaml_names_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntask: {name: char_lm\n  trials: 3\n")
    code, err = run_cli(capsys, "run", str(path))
    assert_one_line_error(code, err, "broken.yaml", "well-formed YAML", "line")


def test_missing_study_file(tmp_path, capsys):
    code, err = run_cli(capsys, "run", str(tmp_path / "nope.yaml"))
    assert_one_line_error(code, err, "nope.yaml", "an existing YAML file")


def test_missing_space_file(tmp_path, capsys):
    code, err = run_cli(capsys, "run", str(study_file(tmp_path, space="spaces/none.yaml")))
    assert_one_line_error(code, err, "space.path", "an existing search-space file")


@pytest.mark.parametrize("flag", ["--trials", "--workers"])
def test_zero_trials_or_workers(tmp_path, capsys, flag):
    db = tmp_path / "s.db"
    code, err = run_cli(capsys, "run", str(study_file(tmp_path)), flag, "0", "--storage", f"sqlite:///{db}")
    assert_one_line_error(code, err, flag, "an integer >= 1", "0")
    assert not db.exists()


@pytest.mark.parametrize("command", [["evaluate"], ["predict", "--out", "p.csv"]])
def test_zero_scoring_threads_are_one_line_before_the_model_is_read(tmp_path, capsys, command):
    name, *rest = command
    code, err = run_cli(capsys, name, str(tmp_path / "none.pt"), "--data", "x.csv", *rest, "--threads", "0")
    assert_one_line_error(code, err, "--threads", "an integer >= 1", "0")


def test_report_needs_at_least_one_top_trial(tmp_path, capsys):
    code, err = run_cli(capsys, "report", "any", "--top", "-3", "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "--top", "an integer >= 1", "-3")
    assert not (tmp_path / "out").exists()


def test_unreachable_storage_masks_the_password(tmp_path, capsys):
    url = "postgresql+psycopg://tuner:s3cret@127.0.0.1:9/tuner"
    code, err = run_cli(capsys, "run", str(study_file(tmp_path)), "--storage", url)
    assert_one_line_error(code, err, "--storage", "a reachable database", "tuner:***@127.0.0.1:9")
    assert "s3cret" not in err


def test_storage_in_a_folder_that_does_not_exist(tmp_path, capsys):
    code, err = run_cli(capsys, "run", str(study_file(tmp_path)), "--storage", f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert_one_line_error(code, err, "--storage", "existing folder")


@pytest.mark.parametrize("command", [["status"], ["trials", "tiny"], ["export", "tiny"]])
def test_reading_commands_do_not_create_a_missing_database(tmp_path, capsys, command):
    db = tmp_path / "absent.db"
    code, err = run_cli(capsys, *command, "--storage", f"sqlite:///{db}")
    assert_one_line_error(code, err, "--storage", "an existing SQLite database file")
    assert not db.exists()


def test_export_of_a_study_that_is_not_in_the_storage(tmp_path, capsys):
    import optuna

    db = tmp_path / "s.db"
    optuna.create_study(study_name="real-study", storage=f"sqlite:///{db}")
    code, err = run_cli(capsys, "export", "real-stdy", "--storage", f"sqlite:///{db}")
    assert_one_line_error(
        code, err, "a study in the storage (there: real-study)", "'real-stdy'", "did you mean 'real-study'"
    )


def test_unknown_flag_is_one_line_that_names_the_command_and_a_close_flag(capsys):
    code, err = run_cli(capsys, "run", "x.yaml", "--trails", "3")
    assert_one_line_error(code, err, "tuner run:", "unrecognized arguments: --trails 3", "did you mean '--trials'")


def test_train_has_no_storage_flag_since_it_reads_only_its_config(capsys):
    code, err = run_cli(capsys, "train", "best.yaml", "--storage", "sqlite:///x.db")
    assert_one_line_error(code, err, "tuner train:", "unrecognized arguments: --storage")


def test_train_rejects_a_file_that_is_not_an_export(tmp_path, capsys):
    path = write_yaml(tmp_path / "best.yaml", {"format": "something-else"})
    code, err = run_cli(capsys, "train", str(path))
    assert_one_line_error(code, err, "best.yaml: format", "rnn-tuner/train-config/v1")


def test_train_given_a_study_file_says_to_run_it(tmp_path, capsys):
    study = write_yaml(tmp_path / "study.yaml", tiny_study(tmp_path))
    code, err = run_cli(capsys, "train", str(study))
    assert_one_line_error(code, err, "study.yaml: format", "a file tuner export writes", "run it with tuner run")


@pytest.mark.parametrize(
    ("section", "change", "needles"),
    [
        ("training", {"threads": 0}, ("best.yaml: training.threads", "an integer >= 1", "found 0")),
        ("training", {"threads": "2"}, ("best.yaml: training.threads", "found '2'")),
        ("training", {"seed": 1.5}, ("best.yaml: training.seed", "an integer", "found 1.5")),
        ("training", {"max_epochs": 0}, ("best.yaml: training.max_epochs", "an integer >= 1")),
        ("training", {"thread": 1}, ("best.yaml: training.thread", "did you mean 'threads'")),
        ("training", {"early_stopping": {"patience": 2, "min_delta": -0.1}}, ("training.early_stopping.min_delta",)),
        ("training", {"early_stopping": {"patiense": 2}}, ("training.early_stopping.patiense", "'patience'")),
        ("result", {"direction": "maximise"}, ("best.yaml: result.direction", "minimize or maximize")),
        ("result", {"value": "0.1"}, ("best.yaml: result.value", "a number", "found '0.1'")),
        ("training", {"precision": "fp16"}, ("best.yaml: training.precision", "fp32 or bf16", "'fp16'")),
        ("training", {"device": "tpu"}, ("best.yaml: training.device", "cpu or cuda", "'tpu'")),
        ("result", {"valeu": 0.1}, ("best.yaml: result.valeu", "did you mean 'value'")),
    ],
)
def test_train_names_a_bad_training_or_result_field_before_training(tmp_path, capsys, section, change, needles):
    from tuner.config.export_file import train_document
    from tuner.config.hyperparams import Hyperparameters

    settings = {
        "task": {"name": "adding", "data": None, "options": {"length": 10}},
        "metric": "val_loss",
        "direction": "minimize",
        "max_epochs": 1,
        "early_stopping": {"patience": 1, "min_delta": 0.0},
        "seed": 0,
    }
    document = train_document("s", 0, "COMPLETE", settings, Hyperparameters().to_dict(), 0, 0.1, 1, 1, threads=1)
    document[section].update(change)
    code, err = run_cli(capsys, "train", str(write_yaml(tmp_path / "best.yaml", document)))
    assert_one_line_error(code, err, *needles)


def test_the_installed_command_exits_2_with_one_line(tmp_path):
    bad = write_yaml(tmp_path / "bad.yaml", tiny_study(tmp_path, sampler={"type": "annealing"}))
    done = subprocess.run(
        [sys.executable, "-m", "tuner.cli", "run", str(bad)], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "sampler.type" in done.stderr and "Traceback" not in done.stderr


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    done = subprocess.run(["tuner", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"tuner {version('rnn-tuner')}"


def test_compare_two_studies_side_by_side(tmp_path, capsys):
    """Two real Optuna studies in one storage (built with Optuna's API: compare only reads)."""
    url = f"sqlite:///{tmp_path / 'two.db'}"
    space = {"learning_rate": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)}
    for name, values in (("old", [3.0, 2.0, 1.0, 1.5]), ("new", [0.9, 0.8, 0.85])):
        study = optuna.create_study(study_name=name, storage=url)
        study.add_trials(
            [
                optuna.trial.create_trial(params={"learning_rate": 0.01 * (i + 1)}, distributions=space, value=v)
                for i, v in enumerate(values)
            ]
        )
    assert main(["compare", "old", "new", "--storage", url]) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line.split() for line in out.splitlines()}
    assert "A: old" in out and "B: new" in out
    assert lines["best value"][-2:] == ["1.0", "0.8"]
    assert lines["trials to reach 1"][-2:] == ["3", "1"]  # the worse best (1.0): old needed 3 trials, new 1
    assert main(["compare", "old", "nope", "--storage", url]) == 2


def test_a_study_optuna_made_directly_cannot_be_exported_but_can_be_reported(tmp_path, capsys):
    """A plain Optuna study sharing the storage (built with Optuna's API): no tuner settings to retrain from."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    space = {"learning_rate": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)}
    optuna.create_study(study_name="plain", storage=url).add_trials(
        [optuna.trial.create_trial(params={"learning_rate": 0.01}, distributions=space, value=1.0)]
    )
    code, err = run_cli(capsys, "export", "plain", "--storage", url)
    assert code == 2 and err.count("\n") == 1
    assert "made by tuner run" in err and "'plain'" in err and "Traceback" not in err
    assert main(["report", "plain", "--storage", url, "--out", str(tmp_path)]) == 0
    assert "No export: STUDY: expected a study made by tuner run" in (tmp_path / "plain-report.html").read_text()


def test_run_refuses_to_add_trials_to_a_study_optuna_made_directly(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(study_name="tiny", storage=url).add_trial(
        optuna.trial.create_trial(params={}, distributions={}, value=1.0)
    )
    before = sqlite_dump(url)
    code, err = run_cli(capsys, "run", str(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path))), "--storage", url)
    assert code == 2 and "a study tuner run did not make" in err and "--force" in err
    assert sqlite_dump(url) == before


def test_export_out_into_a_folder_not_made_yet_makes_it(small_study, tmp_path, capsys):
    url, name = small_study
    out = tmp_path / "configs" / "best.yaml"
    assert main(["export", name, "--storage", url, "--out", str(out)]) == 0
    assert "format: rnn-tuner/train-config/v1" in out.read_text()


@pytest.mark.parametrize("command", ["export", "train", "report"])
def test_an_out_path_that_cannot_be_written_is_one_line_before_any_work(small_study, tmp_path, capsys, command):
    url, name = small_study
    config = tmp_path / "best.yaml"
    assert main(["export", name, "--storage", url, "--out", str(config)]) == 0
    capsys.readouterr()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    argv = {
        "export": ["export", name, "--storage", url, "--out", str(tmp_path)],  # a folder, not a file
        "train": ["train", str(config), "--out", str(a_file / "model.pt")],  # inside a file
        "report": ["report", name, "--storage", url, "--out", str(a_file)],  # a file, not a folder
    }[command]
    code = main(argv)
    out, err = capsys.readouterr()
    assert_one_line_error(code, err, "--out")
    assert "epoch" not in out  # train stopped before training
    assert a_file.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "best.yaml"]


def test_an_address_where_no_ray_cluster_listens_is_one_line_at_once_and_writes_nothing(tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = tmp_path / "s.db"
    study = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path))
    code, err = run_cli(capsys, "run", str(study), "--address", f"127.0.0.1:{port}", "--storage", f"sqlite:///{db}")
    assert_one_line_error(code, err, "--address", "a running Ray cluster", f"127.0.0.1:{port}")
    assert not db.exists()


@pytest.mark.parametrize("content", ["a database, not a checkpoint", "torch-dict"])
def test_sample_from_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, capsys, content):
    import torch

    path = tmp_path / "model.pt"
    if content == "torch-dict":  # loads, but tuner train did not write it
        torch.save({"weights": torch.zeros(2)}, path)
    else:
        path.write_bytes(b"SQLite format 3\x00" + bytes(100))
    code, err = run_cli(capsys, "sample", str(path))
    assert_one_line_error(code, err, "model.pt", "a model file written by tuner train")


@pytest.mark.parametrize(("resources", "key"), [({"cpu": 3}, "resources.cpu"), ({"cpu": 1, "gpu": 1}, "resources.gpu")])
def test_trials_this_machines_ray_can_never_hold_are_refused_before_anything_is_written(
    ray_session, tmp_path, capsys, resources, key
):
    """The session's Ray has 2 CPUs: Tune would wait forever for a trial that wants more."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    study = write_yaml(tmp_path / "big.yaml", tiny_study(tmp_path, resources=resources))
    code, err = run_cli(capsys, "run", str(study), "--storage", url)
    assert_one_line_error(code, err, f"big.yaml: {key}", "this machine's Ray has", "--address")
    assert "CREATE TABLE" not in "".join(sqlite_dump(url))  # not even Optuna's tables


def test_dashboard_on_a_port_in_use_is_one_line_before_it_starts(tmp_path, capsys):
    import socket

    db = tmp_path / "s.db"
    optuna.create_study(study_name="s", storage=f"sqlite:///{db}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = run_cli(capsys, "dashboard", "--storage", f"sqlite:///{db}", "--port", str(port))
    assert_one_line_error(code, err, "--port", f"127.0.0.1:{port}", "in use")


def test_reports_of_studies_whose_names_hold_a_slash_or_a_space_are_files_of_their_own_in_the_out_folder(
    tmp_path, capsys
):
    url = f"sqlite:///{tmp_path / 's.db'}"
    for name in ("exp/1 lstm", "exp 1/lstm", "plain-name"):
        study = optuna.create_study(study_name=name, storage=url)
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
        assert main(["report", name, "--storage", url, "--out", str(tmp_path / "out")]) == 0
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(files) == 3 and "plain-name-report.html" in files
    assert sum(f.startswith("exp_1_lstm-") and f.endswith("-report.html") for f in files) == 2


def test_a_bad_storage_url_is_named_by_where_it_came_from(tmp_path, capsys, monkeypatch):
    missing = f"sqlite:///{tmp_path / 'no-folder' / 'x.db'}"
    study = write_yaml(tmp_path / "s.yaml", {**tiny_study(tmp_path), "storage": missing})
    code, err = run_cli(capsys, "run", str(study))
    assert_one_line_error(code, err, "s.yaml: storage:", "an SQLite file in an existing folder")
    monkeypatch.setenv("TUNER_STORAGE", missing)
    code, err = run_cli(capsys, "status")
    assert_one_line_error(code, err, "$TUNER_STORAGE:", "an existing SQLite database file")
    code, err = run_cli(capsys, "status", "--storage", missing)  # the flag wins over the variable
    assert_one_line_error(code, err, "--storage:")


def test_a_key_given_twice_in_a_study_file_is_refused_not_silently_overwritten(tmp_path, capsys):
    study = tmp_path / "twice.yaml"
    study.write_text("name: first\ntrials: 2\nname: second\n")
    code, err = run_cli(capsys, "run", str(study))
    assert_one_line_error(code, err, "twice.yaml", "the key 'name' given twice", "line 3")
    code, err = run_cli(capsys, "run", str(tmp_path))
    assert_one_line_error(code, err, "an existing YAML file", "a folder")


def test_a_database_laid_out_by_another_optuna_version_is_refused_naming_both_schemas(tmp_path, capsys):
    import optuna
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'other.db'}"
    optuna.create_study(study_name="s", storage=url)
    with sa.create_engine(url).begin() as connection:  # as a newer Optuna would leave it
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'v9.9.9.z'"))
    code, err = run_cli(capsys, "status", "--storage", url)
    assert_one_line_error(
        code, err, "--storage", "Optuna's table schema v", "schema v9.9.9.z", "optuna storage upgrade"
    )
