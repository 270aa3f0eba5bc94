"""The dashboard's pages under Streamlit's AppTest, against a database made by a real small study."""

from __future__ import annotations

import json
import sqlite3

import optuna
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, downloaded, sqlite_dump
from tuner.cli import main

ENTRY = str(REPO / "tuner/dashboard/entry.py")
PAGES = REPO / "tuner/dashboard/views"


def open_page(monkeypatch: pytest.MonkeyPatch, url: str, page: str | None = None, **state: object) -> AppTest:
    monkeypatch.setenv("TUNER_STORAGE", url)
    app = AppTest.from_file(ENTRY, default_timeout=60)
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    if page:
        app.switch_page(str(PAGES / f"{page}.py"))
        app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def figures(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


@pytest.mark.parametrize(
    ("page", "header", "charts"),
    [
        (None, "Studies", {"Best value over trials"}),
        ("trials", "Trials of small", set()),
        (
            "overfitting",
            "Overfitting curves: small",
            {"Training vs validation loss", "Generalisation gap (validation - training)", "Gradient norm per epoch"},
        ),
        (
            "insight",
            "Search insight: small",
            {"Hyperparameter importance", "Parallel coordinates (COMPLETE trials)", "val_loss against each parameter"},
        ),
        ("export", "Export: small", set()),
    ],
)
def test_every_page_shows_its_title_and_its_charts(monkeypatch, small_study, page, header, charts):
    url, _ = small_study
    app = open_page(monkeypatch, url, page)
    assert [h.value for h in app.header] == [header]
    assert {f["layout"].get("title", {}).get("text") for f in figures(app)} == charts  # exactly these charts


def test_the_trials_page_lists_every_trial_with_its_state_and_knobs(monkeypatch, small_study):
    url, study = small_study
    table = open_page(monkeypatch, url, "trials").dataframe[0].value
    stored = optuna.load_study(study_name=study, storage=url).trials
    assert sorted(table["number"]) == [t.number for t in stored]
    assert list(table.sort_values("number")["state"]) == [t.state.name for t in stored]
    assert {"learning_rate", "cell", "hidden_size"} <= set(table.columns)  # knobs, without the param_ prefix


def test_overfitting_chart_has_one_trace_per_selected_trial_and_split(monkeypatch, small_study):
    url, study = small_study
    app = open_page(monkeypatch, url, "overfitting", selected_trials=[0, 2])
    overfitting = next(f for f in figures(app) if f["layout"]["title"]["text"] == "Training vs validation loss")
    curves = [trace["name"] for trace in overfitting["data"] if trace.get("meta") == "curve"]
    assert sorted(curves) == ["trial 0 train", "trial 0 validation", "trial 2 train", "trial 2 validation"]
    epochs = optuna.load_study(study_name=study, storage=url).trials[0].intermediate_values
    validation = next(t for t in overfitting["data"] if t["name"] == "trial 0 validation")
    assert validation["y"] == pytest.approx([epochs[e] for e in sorted(epochs)])
    best = next(t for t in overfitting["data"] if t["name"] == "trial 0 best epoch")
    assert best["y"] == [pytest.approx(min(epochs.values()))]
    titles = {f["layout"]["title"]["text"] for f in figures(app)}
    assert {"Generalisation gap (validation - training)", "Gradient norm per epoch"} <= titles
    labels = app.dataframe[0].value
    assert list(labels["trial"]) == [0, 2]


# (training, validation) loss per epoch of trials whose label the rule in insight/analysis.py fixes;
# the study's trivial predictor scores a validation loss of 4.0
KNOWN_CURVES = {
    "underfit": [(3.0, 3.0), (2.5, 2.6), (2.0, 2.2)],  # validation still falling by 15% at the end
    "good fit": [(3.0, 3.0), (2.5, 2.5), (2.4, 2.49)],  # levelled off: under 1% at the end, never rose
    "overfit": [(3.0, 3.0), (2.0, 2.0), (1.5, 2.5)],  # rose 25% above its best while training fell
    "no better than trivial": [(4.0, 4.0), (3.95, 3.95), (3.94, 3.94)],  # never 2% below 4.0
}


def known_curves_study(tmp_path) -> str:
    """A study (made the way the driver makes one: Optuna's tables and ours) whose trials have KNOWN_CURVES."""
    from tuner import attrs
    from tuner.storage.engine import get_engine, optuna_storage
    from tuner.storage.tables import EpochRow, create_tables

    url = f"sqlite:///{tmp_path / 'curves.db'}"
    study = optuna.create_study(study_name="curves", storage=optuna_storage(url))
    study.set_user_attr(attrs.SETTINGS, {"metric": "val_loss", "direction": "minimize", "task": {"name": "char_lm"}})
    study.set_user_attr(attrs.TRIVIAL, {"predictor": "character frequencies", "metrics": {"val_loss": 4.0}})
    create_tables(get_engine(url))
    rows = []
    for number, curve in enumerate(KNOWN_CURVES.values()):
        trial = study.ask()
        for epoch, (_, val) in enumerate(curve, start=1):
            trial.report(val, epoch)
        study.tell(trial, min(val for _, val in curve))
        rows += [
            {
                "trial_id": number + 1,
                "study_name": "curves",
                "trial_number": number,
                "epoch": epoch,
                "train_loss": train,
                "val_loss": val,
                "grad_norm": 1.0,
                "clipped_fraction": 0.0,
                "seconds": 1.0,
                "steps_per_sec": 100.0,
                "metrics": {"val_loss": val},
                "layer_grad_norms": [1.0],
            }
            for epoch, (train, val) in enumerate(curve, start=1)
        ]
    with get_engine(url).begin() as connection:
        connection.execute(EpochRow.__table__.insert(), rows)
    return url


def test_the_overfitting_page_labels_each_known_curve_as_the_rule_says(monkeypatch, tmp_path):
    url = known_curves_study(tmp_path)
    app = open_page(monkeypatch, url, "overfitting", selected_trials=[0, 1, 2, 3])
    labels = app.dataframe[0].value.set_index("trial")
    assert dict(labels["fit"]) == dict(enumerate(KNOWN_CURVES))
    assert dict(labels["overfitting onset"].dropna()) == {2: 2}  # only the overfit curve, at its lowest point


@pytest.mark.parametrize("file_format", ["yaml", "json"])
def test_export_download_is_byte_for_byte_what_tuner_export_writes(
    monkeypatch, downloads, small_study, tmp_path, file_format
):
    url, study = small_study
    app = open_page(monkeypatch, url, "export")
    app.radio[0].set_value(file_format).run()
    out = tmp_path / f"best.{file_format}"
    assert main(["export", study, "--format", file_format, "--out", str(out), "--storage", url]) == 0
    assert downloaded(downloads, app.get("download_button")[0]) == out.read_bytes()


def test_export_page_downloads_the_kept_model_tuner_export_model_writes(monkeypatch, downloads, small_study, tmp_path):
    url, study = small_study
    app = open_page(monkeypatch, url, "export")  # the best trial: its model is kept
    config, model = app.get("download_button")
    assert model.proto.label.endswith("kept model")
    out = tmp_path / "best.pt"
    assert main(["export", study, "--model", str(out), "--storage", url]) == 0
    assert downloaded(downloads, model) == out.read_bytes()


def test_studies_page_lists_the_study_with_its_counts(monkeypatch, small_study):
    url, study = small_study
    app = open_page(monkeypatch, url)
    table = app.dataframe[0].value
    row = table[table["study"] == study].iloc[0]
    assert row["trials"] == 4 and row["complete"] + row["pruned"] + row["fail"] == 4
    (curve,) = [f for f in figures(app) if f["layout"]["title"]["text"] == "Best value over trials"]
    assert curve["layout"]["yaxis"]["title"]["text"] == "val_loss"  # the metric the study optimises, by name


def test_a_study_optuna_made_shows_its_baseline_and_has_nothing_to_export(monkeypatch, tmp_path):
    """A real Optuna study in SQLite, built with Optuna's API (the page only reads it)."""
    url = f"sqlite:///{tmp_path / 'baseline.db'}"
    space = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    optuna.create_study(study_name="with-baseline", storage=url).add_trials(
        [
            optuna.trial.create_trial(params={"x": 0.1}, distributions=space, value=2.0, user_attrs={"baseline": True}),
            optuna.trial.create_trial(params={"x": 0.2}, distributions=space, value=1.5),
        ]
    )
    app = open_page(monkeypatch, url)
    assert app.caption[0].value == "baseline trial 0: objective 2.0000; the best trial 1 is 25.0% lower"
    (curve,) = [f for f in figures(app) if f["layout"]["title"]["text"] == "Best value over trials"]
    assert [(shape["y0"], shape["line"]["dash"]) for shape in curve["layout"]["shapes"]] == [(2.0, "dash")]
    export = open_page(monkeypatch, url, "export")  # Optuna made this study: nothing to retrain from
    assert "Nothing to export: STUDY: expected a study made by tuner run" in export.info[0].value


def test_pages_never_write_to_the_database(monkeypatch, small_study):
    url, _ = small_study
    before = sqlite_dump(url)
    for page in (None, "trials", "overfitting", "insight", "export"):
        open_page(monkeypatch, url, page)
    assert sqlite_dump(url) == before


def test_missing_storage_file_is_a_clear_message(monkeypatch, tmp_path):
    app = open_page(monkeypatch, f"sqlite:///{tmp_path / 'nothing.db'}")
    assert "no such file" in app.error[0].value
    assert not (tmp_path / "nothing.db").exists()


def test_a_database_without_optuna_tables_is_a_clear_message(monkeypatch, tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE unrelated (x INTEGER)")
    app = open_page(monkeypatch, f"sqlite:///{path}")
    assert "holds no Optuna study" in app.error[0].value
    with sqlite3.connect(path) as connection:
        assert [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["unrelated"]


def test_a_study_with_no_finished_trial_and_a_trial_with_no_epochs(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    study = optuna.create_study(study_name="fresh", storage=url)
    study.ask()  # one RUNNING trial, no epochs yet
    studies = open_page(monkeypatch, url)
    assert "no finished trial yet" in studies.info[0].value
    curves = open_page(monkeypatch, url, "overfitting", selected_trials=[0])
    assert "No epochs recorded yet for trial(s) 0" in curves.info[0].value
    export = open_page(monkeypatch, url, "export")
    assert "no COMPLETE trial yet" in export.info[0].value
    insight = open_page(monkeypatch, url, "insight")
    assert "at least 2 COMPLETE trials" in insight.info[0].value


def test_reading_while_a_study_runs_never_blocks_or_fails_it(ray_session, tmp_path):
    """The dashboard's queries, in a loop from another thread, while the driver writes."""
    import threading
    import time

    from tests.conftest import tiny_study, write_yaml
    from tuner.config.studies import load_study
    from tuner.orchestration.runner import run_study
    from tuner.storage import queries

    spec = load_study(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, name="live", trials=4, max_epochs=2)))
    url = f"sqlite:///{tmp_path / 'live.db'}"
    done, errors, reads = threading.Event(), [], [0]

    def read_continuously() -> None:
        while not done.is_set():
            try:
                # like the dashboard, never touch a database file that does not exist yet
                if (tmp_path / "live.db").exists() and "live" in queries.study_names(url):
                    queries.studies_frame(url)
                    queries.trials_frame(url, "live")
                    queries.epochs_frame(url, "live")
                    reads[0] += 1
            except Exception as error:  # noqa: BLE001 - any failure is what this test looks for
                errors.append(repr(error))
            time.sleep(0.1)  # reads all through the study, not a core taken from the study it reads

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        summary = run_study(spec, url, trials=4, workers=1, show_progress=False)
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert reads[0] > 0
    assert summary.outcomes.by_state["COMPLETE"] == 4


def test_a_study_whose_trials_are_still_running_counts_its_time_until_now(tmp_path):
    import datetime

    import optuna
    import sqlalchemy as sa

    from tuner.storage.queries import studies_frame

    url = f"sqlite:///{tmp_path / 'running.db'}"
    study = optuna.create_study(study_name="busy", storage=url)
    study.ask()  # RUNNING, never told: a first trial minutes into its training
    two_minutes_ago = datetime.datetime.now() - datetime.timedelta(minutes=2)
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text("UPDATE trials SET datetime_start = :t"), {"t": two_minutes_ago})
    row = studies_frame(url).iloc[0]
    assert row["running"] == 1 and 120 <= row["elapsed_s"] < 180


def test_tuner_dashboard_serves_the_one_entry_file_read_only_without_the_deploy_button_with_a_fake_exec(
    monkeypatch, tmp_path
):
    # os.execve replaced by a recorder: the Streamlit server itself is tested by the browser test
    import os
    import socket

    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(study_name="s", storage=url)
    before = sqlite_dump(url)
    started: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: started.append((argv, env)))
    with socket.socket() as probe:  # a port free now, so the check that it can listen passes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    main(["dashboard", "--storage", url, "--port", str(port)])
    [(argv, env)] = started
    assert argv[argv.index("run") + 1] == ENTRY  # the one entry file
    assert argv[argv.index("--client.toolbarMode") + 1] == "viewer"  # no Deploy button, no developer menu
    assert env["TUNER_STORAGE"] == url
    assert sqlite_dump(url) == before  # checking the storage wrote nothing (the pages' reads: see above)
