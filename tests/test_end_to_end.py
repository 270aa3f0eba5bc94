"""The whole path for real: the quickstart study on Ray Tune with 2 workers, a real Optuna
study in SQLite, real torch training; then export and a retrain without Ray or Optuna."""

from __future__ import annotations

import html
import json
import math
import subprocess
import sys

import optuna
import pytest
import sqlalchemy as sa
import yaml
from optuna.trial import TrialState

from tests.conftest import REPO, copy_of_small_study, tiny_study, write_yaml
from tuner.cli import main
from tuner.storage.queries import epochs_frame
from tuner.storage.trial_attrs import trial_id

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@pytest.fixture(scope="module")
def quickstart(ray_session, tmp_path_factory):
    """Runs studies/quickstart.yaml once for this module, on its first 15,000 characters (a sixth of the
    time; the rest of the file as shipped); yields its storage URL and folder."""
    folder = tmp_path_factory.mktemp("quickstart")
    document = yaml.safe_load((REPO / "studies/quickstart.yaml").read_text())
    document["space"]["path"] = str(REPO / "search_spaces/rnn.yaml")
    document["task"]["options"]["max_chars"] = 15_000
    url = f"sqlite:///{folder / 'tuner.db'}"
    study = write_yaml(folder / "quickstart.yaml", document)
    assert main(["run", str(study), "--workers", "2", "--storage", url, "--quiet"]) == 0
    return url, folder


def test_every_trial_finished_with_a_truthful_state(quickstart):
    url, _ = quickstart
    study = optuna.load_study(study_name="quickstart", storage=url)
    trials = study.get_trials()
    assert len(trials) == yaml.safe_load((REPO / "studies/quickstart.yaml").read_text())["trials"]
    assert all(t.state in FINISHED for t in trials)
    assert any(t.state is TrialState.COMPLETE for t in trials)
    for trial in trials:
        steps = sorted(trial.intermediate_values)
        assert steps == list(range(1, len(steps) + 1))  # epochs numbered from 1, none missing
        assert trial.user_attrs["epochs_run"] == len(steps)
        if trial.state is TrialState.COMPLETE:
            # the objective is the best validation value seen, not the last one
            assert trial.value == pytest.approx(min(trial.intermediate_values.values()))
            assert trial.user_attrs["stop_reason"] in ("finished", "early_stopped")
            attrs = trial.user_attrs
            assert ("warning" in attrs) == (attrs["parameter_count"] > attrs["training_examples"])
        if trial.state is TrialState.PRUNED:
            assert trial.user_attrs["stop_reason"] == "pruned"


def test_our_table_has_one_row_per_epoch_each_trial_ran(quickstart):
    url, _ = quickstart
    study = optuna.load_study(study_name="quickstart", storage=url)
    epochs = epochs_frame(url, "quickstart")
    for trial in study.get_trials():
        rows = epochs[epochs["trial_number"] == trial.number]
        assert list(rows["epoch"]) == sorted(trial.intermediate_values)
        # linked to Optuna's trials table (its id, looked up in that table: FrozenTrial keeps it private)
        assert set(rows["trial_id"]) == {trial_id(url, "quickstart", trial.number)}
        assert list(rows["val_loss"]) == pytest.approx([trial.intermediate_values[e] for e in rows["epoch"]])
        assert (rows["train_loss"] > 0).all() and (rows["steps_per_sec"] > 0).all()
        assert rows["val_bpc"].tolist() == pytest.approx((rows["val_loss"] / math.log(2)).tolist())
        assert all(len(norms) == trial.user_attrs["hyperparameters"]["depth"] + 1 for norms in rows["layer_grad_norms"])


def test_optuna_own_cli_reads_the_study_unchanged(quickstart):
    url, _ = quickstart
    done = subprocess.run(["optuna", "studies", "--storage", url], capture_output=True, text=True, check=True)
    assert "quickstart" in done.stdout
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert {"studies", "trials", "trial_values", "trial_intermediate_values", "tuner_epochs"} <= tables
    with engine.connect() as connection:  # WAL: the dashboard can read while the driver writes
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_status_and_trials_commands_show_the_study(quickstart, capsys):
    url, _ = quickstart
    assert main(["status", "--storage", url]) == 0
    status = capsys.readouterr().out
    assert "quickstart" in status and "best_value" in status
    assert main(["trials", "quickstart", "--storage", url]) == 0
    table = capsys.readouterr().out
    assert "stop_reason" in table and "learning_rate" in table
    notes = ("trial ", "trivial predictor")  # notes follow the table
    rows = [line for line in table.strip().splitlines() if not line.startswith(notes)]
    assert len(rows) == 1 + len(optuna.load_study(study_name="quickstart", storage=url).trials)
    assert table.strip().splitlines()[-1].startswith("trivial predictor (character frequencies): val_loss")


def test_importance_command_shows_both_evaluators_and_warns_on_few_trials(quickstart, capsys):
    url, _ = quickstart
    assert main(["importance", "quickstart", "--storage", url]) == 0
    out = capsys.readouterr().out
    complete = sum(
        t.state is TrialState.COMPLETE for t in optuna.load_study(study_name="quickstart", storage=url).trials
    )
    # the median pruner prunes no trial before 2 have completed (n_startup_trials: 2): at least 2 complete
    assert complete >= 2 and f"from {complete} COMPLETE trials" in out
    assert "fanova" in out and "ped-anova" in out and "learning_rate" in out
    assert "fewer than 20 COMPLETE trials" in out


def test_report_is_one_self_contained_html_file(quickstart, capsys, tmp_path):
    url, _ = quickstart
    assert main(["report", "quickstart", "--out", str(tmp_path / "reports"), "--storage", url]) == 0
    page = (tmp_path / "reports" / "quickstart-report.html").read_text(encoding="utf-8")
    assert "<script src=" not in page and "plotly" in page.lower()  # plotly inlined, nothing fetched
    from tuner.config.export_file import FileFormat
    from tuner.insight.export import export_text

    assert html.escape(export_text(url, "quickstart", None, FileFormat.YAML)) in page  # the best config, as exported
    for section in ("Settings", "Top ", "Training vs validation loss", "Best value over trials", "Failures"):
        assert section in page
    study_file = yaml.safe_load((REPO / "studies/quickstart.yaml").read_text())
    for key in ("sampler", "pruner"):  # what decided the trials, one table row each
        shown = yaml.safe_dump(study_file[key], default_flow_style=True, sort_keys=False).strip()
        assert f"<tr><th>{key}</th><td><code>{html.escape(shown)}</code></td></tr>" in page


def test_export_then_train_reproduces_the_value_without_ray_or_optuna(quickstart, capsys):
    url, folder = quickstart
    best_yaml, best_json = folder / "best.yaml", folder / "best.json"
    assert main(["export", "quickstart", "--out", str(best_yaml), "--storage", url]) == 0
    assert main(["export", "quickstart", "--format", "json", "--out", str(best_json), "--storage", url]) == 0
    exported = yaml.safe_load(best_yaml.read_text())
    assert json.loads(best_json.read_text()) == exported  # the same document in both formats
    study = optuna.load_study(study_name="quickstart", storage=url)
    assert exported["trial"] == study.best_trial.number
    assert exported["result"]["value"] == study.best_value
    assert set(exported["hyperparameters"]) >= {
        "learning_rate",
        "updater",
        "cell",
        "depth",
        "hidden_size",
        "forget_bias",
        "activation",
    }
    # Retrain in a fresh interpreter and prove ray and optuna were never imported.
    script = (
        "import sys; from tuner.cli import main; code = main(sys.argv[1:]); "
        "assert 'ray' not in sys.modules and 'optuna' not in sys.modules, 'train imported ray or optuna'; sys.exit(code)"
    )
    model = folder / "model.pt"
    done = subprocess.run(
        # no --threads: it trains with as many as the trial had (resources.cpu 1), whatever the machine has
        [sys.executable, "-c", script, "train", str(best_yaml), "--out", str(model)],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    assert exported["training"]["threads"] == 1
    assert (exported["training"]["device"], exported["training"]["precision"]) == ("cpu", "fp32")  # where it trained
    assert "training with 1 thread, as the trial did" in done.stdout
    best_line = next(line for line in done.stdout.splitlines() if line.startswith("best val_loss"))
    retrained = float(best_line.split()[2])
    assert retrained == pytest.approx(exported["result"]["value"], abs=5e-5)  # printed to 4 decimals
    assert f"the study's trial reached {exported['result']['value']:.4f} (+0.00%)" in done.stdout
    import torch

    checkpoint = torch.load(model, weights_only=True)
    assert checkpoint["hyperparameters"] == exported["hyperparameters"]
    capsys.readouterr()
    assert main(["sample", str(model), "--prime", "ROMEO:", "--length", "40", "--temperature", "0.8"]) == 0
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 40
    assert set(text) <= set(checkpoint["vocab"])


def test_a_failing_trial_is_stored_fail_with_its_error_and_the_study_goes_on(ray_session, tmp_path, capsys):
    """A user's task whose loading raises in every trial (tests/broken_task.py): every trial FAIL, the study done."""
    study_file = write_yaml(
        tmp_path / "study.yaml",
        tiny_study(tmp_path, name="fails", trials=3, task={"name": "tests.broken_task:BrokenTask"}),
    )
    url = f"sqlite:///{tmp_path / 'f.db'}"
    # a run whose every trial failed is no success: exit 1, the usual reason on its last line
    assert main(["run", str(study_file), "--storage", url, "--workers", "1", "--quiet"]) == 1
    out = capsys.readouterr().out.rstrip().splitlines()
    assert "failed 3" in "\n".join(out)
    assert out[-1].startswith("every trial of this run failed; the most common reason (3 of 3): ")
    assert "the corpus behind this task is gone" in out[-1]
    trials = optuna.load_study(study_name="fails", storage=url).trials
    assert [t.state for t in trials] == [TrialState.FAIL] * 3
    assert all(
        "the corpus behind this task is gone" in t.user_attrs["error"] and t.user_attrs["stop_reason"] == "failed"
        for t in trials
    )
    assert main(["trials", "fails", "--storage", url]) == 0
    assert "the corpus behind this task is gone" in capsys.readouterr().out


def test_run_names_the_last_failure_with_a_fake_runner_over_a_stored_study_of_failed_trials(
    tmp_path, capsys, monkeypatch
):
    # the trials above fail in real Ray workers; this checks only what `tuner run` prints about them
    import collections

    from tuner.orchestration import runner
    from tuner.orchestration.bridge import Outcomes

    url = f"sqlite:///{tmp_path / 'f.db'}"
    study = optuna.create_study(study_name="fails", storage=url)
    errors = ("MemoryError: an earlier run's", "OSError: disk full", "OSError: disk full", "RuntimeError: server down")
    for error in errors:
        failed = {"error": f"Traceback (most recent call last):\n  ...\n{error}\n", "stop_reason": "failed"}
        study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, user_attrs=failed))
    outcomes = Outcomes(by_state=collections.Counter(FAIL=3))  # this run's: the newest three
    monkeypatch.setattr(
        runner, "run_study", lambda spec, *args, **kw: runner.RunSummary("fails", url, 3, outcomes, None, 0)
    )
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, name="fails"))
    assert main(["run", str(study_file), "--storage", url, "--quiet"]) == 1  # nothing finished: not a success
    out = capsys.readouterr().out
    assert "failed 3" in out and "the last failure: RuntimeError: server down" in out
    assert "tuner trials fails --errors" in out and "tuner export" not in out  # nothing to export yet
    assert out.rstrip().splitlines()[-1] == (
        "every trial of this run failed; the most common reason (2 of 3): OSError: disk full"
    )
    # one trial of the run finished: the run did its job (its failures are listed, exit 0)
    outcomes.by_state["COMPLETE"] = 1
    assert main(["run", str(study_file), "--storage", url, "--quiet"]) == 0


def test_running_again_continues_up_to_the_new_total_and_a_changed_space_needs_force(
    small_study, ray_session, tmp_path, capsys
):
    # the shared small study (4 trials, its budget spent), copied with its kept models
    url, study_file = copy_of_small_study(small_study, tmp_path, "grow")
    capsys.readouterr()
    assert main(["run", str(study_file), "--storage", url, "--quiet"]) == 0  # the budget is spent: says so
    out = capsys.readouterr().out
    assert "ran 0 trials" in out and "budget of 4 trials was already spent" in out and "--trials N" in out
    assert main(["run", str(study_file), "--storage", url, "--trials", "5", "--workers", "1", "--quiet"]) == 0
    trials = optuna.load_study(study_name="small", storage=url).trials
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 5  # the resumed sampler did not replay
    # the same study with another space is refused, untouched; --force starts a new study beside it
    document = yaml.safe_load(study_file.read_text())
    document["space"]["parameters"]["hidden_size"] = {"type": "int", "low": 8, "high": 24, "step": 8}
    changed = write_yaml(tmp_path / "s2.yaml", document)
    capsys.readouterr()
    assert main(["run", str(changed), "--storage", url, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "s2.yaml: space" in err and "a changed search space" in err and "--force" in err
    assert len(optuna.load_study(study_name="small", storage=url).trials) == 5  # untouched
    assert main(["run", str(changed), "--storage", url, "--trials", "1", "--workers", "1", "--quiet", "--force"]) == 0
    assert "this run is study small-2" in capsys.readouterr().out
    assert len(optuna.load_study(study_name="small-2", storage=url).trials) == 1


def test_baseline_config_runs_as_the_first_trial_and_is_never_pruned(ray_session, tmp_path, capsys):
    baseline = {"learning_rate": 0.01, "cell": "lstm", "forget_bias": 1.0, "hidden_size": 16}
    # a successive-halving pruner that stops every trial at its first rung (epoch 1)
    prune_all = {"type": "successive_halving", "min_resource": 1, "reduction_factor": 3, "bootstrap_count": 100}
    study_file = write_yaml(
        tmp_path / "study.yaml",
        tiny_study(tmp_path, name="base", trials=3, max_epochs=2, baseline=baseline, pruner=prune_all),
    )
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert main(["run", str(study_file), "--storage", url, "--workers", "1", "--quiet"]) == 0
    first, *others = optuna.load_study(study_name="base", storage=url).trials
    assert first.params == baseline
    assert first.user_attrs["hyperparameters"]["hidden_size"] == 16
    assert first.state == TrialState.COMPLETE and first.user_attrs["epochs_run"] == 2
    assert "completed_rung_0" in first.system_attrs  # its value still ranks the others at the rung
    assert [(t.state, t.user_attrs["epochs_run"]) for t in others] == [(TrialState.PRUNED, 1)] * 2
    assert all(t.user_attrs["node"]["node"] for t in others)  # a pruned trial records where it ran, too
    # the only COMPLETE trial is the baseline: the run's summary and the report say nothing beat it
    line = f"baseline trial 0: val_loss {first.value:.4f}; no trial beat it"
    assert line in capsys.readouterr().out
    assert main(["report", "base", "--storage", url, "--out", str(tmp_path)]) == 0
    assert line in (tmp_path / "base-report.html").read_text()
    assert main(["trials", "base", "--storage", url]) == 0
    assert line in capsys.readouterr().out.splitlines()


def test_a_diverging_trial_is_stored_fail_with_reason_diverged_and_the_study_goes_on(ray_session, tmp_path):
    space = {
        "parameters": {
            "learning_rate": {"type": "categorical", "choices": [1.0e6, 0.01]},
            "updater": "sgd",
            "grad_clip": 0.0,
            "hidden_size": 8,
            "depth": 1,
            "tbptt_length": 10,
        }
    }
    task = {"name": "adding", "options": {"length": 10, "train_sequences": 64, "val_sequences": 16}}
    document = tiny_study(
        tmp_path, name="wild", trials=2, max_epochs=2, space=space, task=task, sampler={"type": "grid"}
    )
    url, study_file = f"sqlite:///{tmp_path / 'w.db'}", write_yaml(tmp_path / "s.yaml", document)
    assert main(["run", str(study_file), "--storage", url, "--workers", "1", "--quiet"]) == 0
    trials = {t.params["learning_rate"]: t for t in optuna.load_study(study_name="wild", storage=url).trials}
    wild, tame = trials[1.0e6], trials[0.01]
    assert wild.state is TrialState.FAIL and wild.user_attrs["stop_reason"] == "diverged"
    assert "inf" in wild.user_attrs["error"] or "nan" in wild.user_attrs["error"]
    assert tame.state is TrialState.COMPLETE


def test_ctrl_c_during_train_says_interrupted_and_writes_no_checkpoint(quickstart):
    import signal

    url, folder = quickstart
    config = folder / "long.yaml"
    assert main(["export", "quickstart", "--out", str(config), "--storage", url]) == 0
    exported = yaml.safe_load(config.read_text())
    exported["training"]["max_epochs"] = 1000  # short epochs, but far too many to finish before the Ctrl-C
    exported["training"]["early_stopping"]["patience"] = 1000
    exported["task"]["options"]["max_chars"] = 4000
    config.write_text(yaml.safe_dump(exported))
    model = folder / "interrupted.pt"
    train = subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "train", str(config), "--out", str(model), "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=folder,
    )
    assert train.stdout.readline().startswith("training with 1 thread")
    assert train.stdout.readline().startswith("epoch")  # it is training
    train.send_signal(signal.SIGINT)
    _, err = train.communicate(timeout=60)
    assert train.returncode == 130
    assert err.strip() == "tuner: interrupted"  # no talk of resuming a study: train keeps nothing
    assert not model.exists()
