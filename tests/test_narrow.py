"""`tuner narrow`: a space narrowed to a finished study's best trials, which `tuner run` accepts."""

from __future__ import annotations

import optuna
import yaml
from optuna.trial import TrialState

from tests.conftest import tiny_study, write_yaml
from tuner.cli import main
from tuner.config.spaces import ParamType, parse_space
from tuner.config.studies import load_study
from tuner.insight.narrow import narrow_space

SPACE = parse_space(
    {
        "parameters": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "hidden_size": {"type": "int", "low": 16, "high": 128, "step": 16},
            "cell": {"type": "categorical", "choices": ["lstm", "gru", "rnn"]},
            "forget_bias": {"type": "float", "low": 0.0, "high": 5.0, "condition": {"cell": "lstm"}},
            "updater": {"type": "categorical", "choices": ["adam", "sgd"]},
            "batch_size": 32,
        }
    },
    "s.yaml",
)


def test_ranges_shrink_to_the_top_trials_choices_they_never_used_go_and_agreement_fixes_a_knob():
    top = [
        {"learning_rate": 0.002, "hidden_size": 40, "cell": "gru", "updater": "adam"},
        {"learning_rate": 0.01, "hidden_size": 96, "cell": "rnn", "updater": "adam"},
    ]
    narrowed = {p.name: p for p in narrow_space(SPACE, top).params}
    rate = narrowed["learning_rate"]
    assert (rate.low, rate.high, rate.log) == (0.002, 0.01, True)  # a log range stays log
    assert (narrowed["hidden_size"].low, narrowed["hidden_size"].high) == (32, 96)  # outwards onto the step grid
    assert narrowed["cell"].choices == ("gru", "rnn")  # lstm, which no top trial used, is gone...
    assert "forget_bias" not in narrowed  # ...and with it the knob only an lstm draws
    assert narrowed["updater"].type is ParamType.FIXED and narrowed["updater"].value == "adam"
    assert narrowed["batch_size"].value == 32
    assert parse_space(narrow_space(SPACE, top).to_document(), "again") == narrow_space(SPACE, top)


def test_narrow_writes_a_space_tuner_run_accepts_holding_every_top_trial(small_study, tmp_path, capsys):
    url, study_name = small_study
    out = tmp_path / "narrow.yaml"
    assert main(["narrow", study_name, "--top", "0.5", "--storage", url, "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(f"# Narrowed by tuner narrow from study {study_name}")
    space = parse_space(yaml.safe_load(text), str(out))
    study = optuna.load_study(study_name=study_name, storage=url)
    complete = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.value)
    assert len(complete) == 4  # the small study: none pruned
    top = complete[:2]  # --top 0.5 of 4 COMPLETE trials: the best two
    assert ", ".join(str(t.number) for t in top) in text.splitlines()[1]
    for trial in top:
        for name, value in trial.params.items():
            param = next(p for p in space.params if p.name == name)
            if param.type is ParamType.FIXED:
                assert value == param.value
            elif param.type is ParamType.CATEGORICAL:
                assert value in param.choices
            else:
                assert param.low <= value <= param.high
    document = tiny_study(tmp_path, space={"path": str(out)})
    load_study(write_yaml(tmp_path / "next.yaml", document))  # tuner run's own checks accept it
