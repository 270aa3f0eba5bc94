"""The storage on a real PostgreSQL server: studies, our tables, export, the dashboard, bad URLs."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, tiny_study, write_yaml
from tuner.cli import main
from tuner.storage import queries


@pytest.fixture(scope="module")
def pg_study(ray_session, postgres_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pg-study")
    study_file = write_yaml(folder / "study.yaml", tiny_study(folder, name="on-postgres", trials=3, max_epochs=2))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # a server storage keeps models in ./tuner-models: here, not in the checkout
        assert main(["run", str(study_file), "--storage", postgres_url, "--workers", "1", "--quiet"]) == 0
    assert (folder / "tuner-models").is_dir()
    return postgres_url, folder


def test_a_study_runs_on_postgresql_with_our_tables(pg_study):
    url, _ = pg_study
    trials = optuna.load_study(study_name="on-postgres", storage=url).trials
    assert len(trials) == 3 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    epochs = queries.epochs_frame(url, "on-postgres")
    for trial in trials:
        assert list(epochs[epochs["trial_number"] == trial.number]["epoch"]) == sorted(trial.intermediate_values)
    frame = queries.trials_frame(url, "on-postgres")
    assert list(frame["number"]) == [0, 1, 2] and set(frame["stop_reason"]) <= {"finished", "early_stopped", "pruned"}
    assert queries.studies_frame(url).set_index("study").loc["on-postgres", "trials"] == 3


def test_export_status_and_dashboard_on_postgresql(pg_study, capsys, monkeypatch):
    url, folder = pg_study
    assert main(["status", "--storage", url]) == 0
    out = capsys.readouterr().out
    assert "on-postgres" in out and "postgresql+psycopg://tuner:***@" in out  # the URL shown, its password masked
    assert "s3cret" not in out
    assert main(["export", "on-postgres", "--out", str(folder / "best.yaml"), "--storage", url]) == 0
    assert "on-postgres" in (folder / "best.yaml").read_text()
    monkeypatch.setenv("TUNER_STORAGE", url)
    app = AppTest.from_file(str(REPO / "tuner/dashboard/entry.py"), default_timeout=60)
    app.run()
    app.switch_page(str(REPO / "tuner/dashboard/views/overfitting.py"))
    app.run()
    assert not app.exception
    assert "s3cret" not in " ".join(c.value for c in app.sidebar.caption)


def test_a_wrong_password_is_one_line_with_the_password_masked(postgres_url, tmp_path, capsys):
    wrong = postgres_url.replace("s3cret", "guess")
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path))
    assert main(["run", str(study_file), "--storage", wrong]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "password authentication failed" in err
    assert "guess" not in err and "tuner:***@127.0.0.1" in err


def test_a_wrong_host_is_one_line_naming_it(tmp_path, capsys):
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path))
    assert (
        main(["run", str(study_file), "--storage", "postgresql+psycopg://tuner:pw@no-such-host.invalid:5432/tuner"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-host.invalid" in err and ":pw@" not in err
