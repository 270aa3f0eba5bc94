"""Warm start: a study that first runs the best configurations of a finished one, mapped into its space."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from tests.conftest import tiny_study, write_yaml
from tuner import attrs
from tuner.cli import main
from tuner.config.spaces import parse_space
from tuner.config.studies import WarmStart, load_study
from tuner.errors import BadInput
from tuner.orchestration.warm_start import best_configs, map_config, summary_line

SPACE = parse_space(
    {
        "parameters": {
            "learning_rate": {"type": "float", "low": 0.001, "high": 0.01, "log": True},
            "hidden_size": {"type": "int", "low": 16, "high": 64, "step": 16},
            "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
            "forget_bias": {"type": "float", "low": 0.0, "high": 5.0, "condition": {"cell": "lstm"}},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "depth": 1,
        }
    },
    "new.yaml",
)


def test_a_source_configuration_is_dropped_clipped_left_to_the_sampler_or_drawn_knob_by_knob():
    values = {"learning_rate": 0.05, "hidden_size": 100, "cell": "rnn", "updater": "adam", "depth": 2}
    mapped = map_config("old#3", values, searched={"learning_rate", "hidden_size", "cell", "updater"}, space=SPACE)
    assert mapped.params == {"learning_rate": 0.01, "hidden_size": 64}  # clipped onto the range and its step
    assert mapped.clipped == ["learning_rate 0.05->0.01", "hidden_size 100->64"]
    assert mapped.to_sampler == ["cell=rnn"]  # a cell this space does not offer: the sampler picks one
    assert mapped.dropped == ["updater"]  # searched there, not here: this study's own value applies
    assert mapped.drawn == ["dropout"]  # the source had none: drawn by the sampler
    # forget_bias is left out: its condition (cell: lstm) is not known to hold
    inside = map_config(
        "old#1",
        {"learning_rate": 0.002, "hidden_size": 32, "cell": "lstm", "forget_bias": 1.0, "dropout": 0.1},
        {"cell"},
        SPACE,
    )
    assert inside.params == {
        "learning_rate": 0.002,
        "hidden_size": 32,
        "cell": "lstm",
        "forget_bias": 1.0,
        "dropout": 0.1,
    }
    assert not (inside.clipped or inside.to_sampler or inside.dropped or inside.drawn)
    line = summary_line([mapped, inside])
    assert line.startswith("warm start: 2 configurations from old run first (") and "clipped" in line


def _finished_study(url: str, name: str, direction: str, values: list[float]) -> None:
    study = optuna.create_study(study_name=name, storage=url, direction=direction)
    for value in values:
        trial = study.ask()
        rate = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
        trial.set_user_attr(attrs.HYPERPARAMETERS, {"learning_rate": rate, "hidden_size": 32})
        study.tell(trial, value)
    study.tell(study.ask(), state=TrialState.FAIL)  # never a source


def test_the_best_k_complete_trials_of_the_source_come_first_by_its_direction(tmp_path):
    url = f"sqlite:///{tmp_path / 'src.db'}"
    _finished_study(url, "low", "minimize", [0.5, 0.2, 0.9, 0.1])
    _finished_study(url, "high", "maximize", [0.5, 0.2, 0.9, 0.1])
    assert [n for n, _, _ in best_configs(WarmStart("low", url, top_k=2), url, "minimize", "s.yaml")] == [
        "low#3",
        "low#1",
    ]
    assert [n for n, _, _ in best_configs(WarmStart("high", url, top_k=2), url, "maximize", "s.yaml")] == [
        "high#2",
        "high#0",
    ]
    with pytest.raises(BadInput, match="warm_start.study: expected a study in sqlite storage"):
        best_configs(WarmStart("nope", url), url, "minimize", "s.yaml")
    with pytest.raises(BadInput, match="a study that minimizes its metric, as this one does"):
        best_configs(WarmStart("high", url), url, "minimize", "s.yaml")


@pytest.mark.parametrize(
    ("warm", "needle"),
    [
        ({"study": ""}, "warm_start.study"),
        ({"study": "x", "top_k": 0}, "warm_start.top_k"),
        ({"studdy": "x"}, "did you mean 'study'"),
    ],
)
def test_bad_warm_start_settings_are_one_line(tmp_path, warm, needle):
    with pytest.raises(BadInput, match=needle):
        load_study(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, warm_start=warm)))


def test_a_warm_started_study_runs_the_sources_best_first_and_marks_them(small_study, tmp_path, capsys):
    source_url, source = small_study
    best = sorted(
        optuna.load_study(study_name=source, storage=source_url).get_trials(states=(TrialState.COMPLETE,)),
        key=lambda t: t.value,
    )[:2]
    warm = {"study": source, "storage": source_url, "top_k": 2}
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, name="warmed", trials=3, warm_start=warm))
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert main(["run", str(study_file), "--storage", url, "--workers", "1", "--quiet"]) == 0
    assert "warm start: 2 configurations from small run first" in capsys.readouterr().out
    trials = optuna.load_study(study_name="warmed", storage=url).trials
    assert [t.user_attrs.get(attrs.WARM_START_FROM) for t in trials] == [f"small#{b.number}" for b in best] + [None]
    for trial, source_trial in zip(trials, best, strict=False):
        assert trial.params == source_trial.params  # the same space: nothing changed on the way
    assert main(["trials", "warmed", "--storage", url]) == 0
    assert "warm_start_from" in capsys.readouterr().out
    # tuner compare says what the warm start did (the source has none of its own)
    optuna.copy_study(from_study_name=source, from_storage=source_url, to_storage=url)
    assert main(["compare", source, "warmed", "--storage", url]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("warm-started trials"))
    assert line.split()[2:4] == ["none", "2"]


def test_startup_keep_counts_the_warm_trials_before_the_samplers_random_start_up(tmp_path):
    from tuner import attrs
    from tuner.orchestration.warm_start import with_startup_kept

    url = f"sqlite:///{tmp_path / 'w.db'}"
    document = tiny_study(
        tmp_path, sampler={"type": "tpe", "n_startup_trials": 5}, warm_start={"study": "source", "startup": "keep"}
    )
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    assert with_startup_kept(spec, 3, url)["n_startup_trials"] == 8  # a new study queueing 3 warm trials
    study = optuna.create_study(study_name=spec.name, storage=url)
    for _ in range(2):
        study.enqueue_trial({}, user_attrs={attrs.WARM_START_FROM: "source#0"})
    study.enqueue_trial({})  # not a warm one
    assert with_startup_kept(spec, None, url)["n_startup_trials"] == 7  # a continued study counts its own
    replaced = load_study(write_yaml(tmp_path / "r.yaml", {**document, "warm_start": {"study": "source"}}))
    assert with_startup_kept(replaced, 3, url) == replaced.sampler  # the default: warm trials stand in
    bad = {**document, "warm_start": {"study": "source", "startup": "both"}}
    with pytest.raises(BadInput, match="warm_start.startup"):
        load_study(write_yaml(tmp_path / "b.yaml", bad))
