"""Study files: the shipped ones parse, defaults are sensible, settings reach the trainer."""

from __future__ import annotations

import logging
import math
import re
import subprocess
import sys

import optuna
import pytest
import yaml

from tests.conftest import REPO, lines_before_a_fake_run, tiny_study, write_yaml
from tuner.config.algorithms import build_pruner, build_sampler, independent_sampling_note, startup_only_note
from tuner.config.pruners import GroupedPruner
from tuner.config.spaces import SearchSpace, parse_space
from tuner.config.studies import load_study
from tuner.config.yaml_file import load_mapping
from tuner.errors import BadInput


def test_shipped_studies_parse():
    quick = load_study(REPO / "studies/quickstart.yaml")
    assert quick.name == "quickstart" and quick.trials >= 4 and quick.max_epochs >= 2
    full = load_study(REPO / "studies/shakespeare.yaml")
    assert full.name == "shakespeare-char"


def test_shakespeare_baseline_is_the_deeplearning4j_example():
    baseline = load_study(REPO / "studies/shakespeare.yaml").baseline
    assert baseline == {
        "cell": "lstm",
        "depth": 2,
        "hidden_size": 200,
        "activation": "tanh",
        "updater": "adam",
        "learning_rate": 0.005,
        "l1": 0.0,
        "l2": 1e-4,
        "dropout": 0.0,
        "forget_bias": 1.0,
        "tbptt_length": 50,
        "batch_size": 32,
        "grad_clip": 0.0,
    }


def test_space_overrides_replace_single_parameters(tmp_path):
    document = tiny_study(
        tmp_path,
        space={
            "path": str(REPO / "search_spaces/rnn.yaml"),
            "overrides": {"depth": 1, "hidden_size": {"type": "int", "low": 8, "high": 16}},
        },
    )
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    by_name = {p.name: p for p in spec.space.params}
    assert by_name["depth"].value == 1
    assert (by_name["hidden_size"].low, by_name["hidden_size"].high) == (8, 16)
    assert "updater" in by_name  # the rest of the file is kept


def test_relative_paths_resolve_against_the_study_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "text.txt").write_text("hello world " * 50)
    document = tiny_study(tmp_path, task={"name": "char_lm", "data": "data/text.txt"})
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    assert spec.task.data == str((tmp_path / "data" / "text.txt").resolve())


def test_a_baseline_value_for_a_parameter_that_is_not_searched_is_refused(tmp_path):
    document = tiny_study(tmp_path, baseline={"batch_size": 8})  # fixed at 4 in the tiny space
    with pytest.raises(BadInput, match="baseline.batch_size: expected a parameter the space searches"):
        load_study(write_yaml(tmp_path / "s.yaml", document))


@pytest.mark.parametrize(
    ("sampler", "expected", "options"),
    [
        (
            {"type": "tpe", "n_startup_trials": 4},
            optuna.samplers.TPESampler,
            {"_n_startup_trials": 4, "_constant_liar": True},
        ),
        ({"type": "tpe", "group": True, "multivariate": True}, optuna.samplers.TPESampler, {"_group": True}),
        ({"type": "random"}, optuna.samplers.RandomSampler, {}),
        ({"type": "qmc", "scramble": True}, optuna.samplers.QMCSampler, {"_scramble": True}),
        ({"type": "cmaes", "popsize": 6}, optuna.samplers.CmaEsSampler, {"_popsize": 6}),
        ({"type": "grid"}, optuna.samplers.GridSampler, {}),
        ({"type": "gp", "n_startup_trials": 5}, optuna.samplers.GPSampler, {"_n_startup_trials": 5}),
    ],
)
def test_every_sampler_builds_as_that_optuna_class_with_the_options_given(tmp_path, sampler, expected, options):
    document = tiny_study(tmp_path)
    document["space"]["parameters"]["learning_rate"] = {"type": "float", "low": 0.01, "high": 0.03, "step": 0.01}
    document["space"]["parameters"]["forget_bias"] = {
        "type": "categorical",
        "choices": [1.0, 5.0],
        "condition": {"cell": "lstm"},
    }
    spec = load_study(write_yaml(tmp_path / "s.yaml", dict(document, sampler={**sampler, "seed": 3})))
    built = build_sampler(spec.sampler, spec.space, 3, "s.yaml")
    assert type(built) is expected
    for name, value in options.items():  # Optuna keeps its options in private fields: read here only
        assert getattr(built, name) == value, name


def rnn_space() -> SearchSpace:
    return parse_space(load_mapping(REPO / "search_spaces/rnn.yaml"), "rnn.yaml")


def optuna_warnings_while_sampling(sampler_config: dict, trials: int = 8) -> list[str]:
    """Optuna's warning lines while ``sampler_config``'s sampler picks ``trials`` configs of rnn.yaml."""
    space = rnn_space()
    study = optuna.create_study(sampler=build_sampler(sampler_config, space, 0, "s.yaml"))
    caught: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: caught.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("optuna").addHandler(handler)
    try:
        for number in range(trials):
            trial = study.ask()
            space.suggest(trial)
            study.tell(trial, float(number % 3))
    finally:
        logging.getLogger("optuna").removeHandler(handler)
    return [line for line in caught if "sampled independently" in line]


def test_cmaes_says_once_which_knobs_it_draws_at_random_instead_of_a_warning_per_knob_per_trial():
    space = rnn_space()
    config = {"type": "cmaes", "n_startup_trials": 2}
    note = independent_sampling_note(config, space)
    # the categorical knobs and the conditional ones (momentum, forget_bias), and no numeric knob every trial has
    named = note.split(" at random")[0].split("draws ")[1].split(", ")
    knobs = {
        "updater",
        "momentum",
        "cell",
        "forget_bias",
        "activation",
        "l1",
        "grad_clip",
        "batch_size",
        "readout",
        "bidirectional",
    }
    assert set(named) == knobs
    assert optuna_warnings_while_sampling(config) == []
    # asked for, Optuna's own warnings come back, and the note gives way to them
    loud = dict(config, warn_independent_sampling=True)
    assert optuna_warnings_while_sampling(loud) and independent_sampling_note(loud, space) == ""


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"type": "qmc"}, "momentum, forget_bias"),  # QMC's sequence covers categorical knobs
        ({"type": "tpe", "n_startup_trials": 2}, None),  # multivariate by default, and quiet
        ({"type": "tpe", "multivariate": True, "group": True, "n_startup_trials": 2}, None),
        ({"type": "random"}, None),
    ],
)
def test_only_samplers_that_would_warn_get_the_note(config, named):
    note = independent_sampling_note(config, rnn_space())
    assert (f"draws {named} at random" in note) if named else note == ""
    assert optuna_warnings_while_sampling(config) == []
    if named:  # Optuna would have warned about these, per trial
        assert optuna_warnings_while_sampling(dict(config, warn_independent_sampling=True))


def test_a_study_whose_every_trial_is_a_random_start_up_draw_gets_one_note():
    assert "all 4 trials are the tpe sampler's random start-up draws (n_startup_trials 10)" in startup_only_note(
        {"type": "tpe"}, 4
    )
    assert "n_startup_trials 10" in startup_only_note({"type": "gp"}, 10)
    assert startup_only_note({"type": "tpe"}, 11) == ""  # the eleventh is chosen from the ten before it
    assert startup_only_note({"type": "tpe", "n_startup_trials": 2}, 4) == ""
    assert startup_only_note({"type": "random"}, 4) == startup_only_note({"type": "nsgaii"}, 4) == ""


def test_tuner_run_prints_the_start_up_note_before_it_runs_with_a_fake_run(tmp_path, monkeypatch, capsys):
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, sampler={"type": "tpe", "seed": 1}))
    storage = ["--storage", f"sqlite:///{tmp_path / 's.db'}"]
    said = lines_before_a_fake_run(monkeypatch, capsys, study_file, *storage)
    assert "note: all 4 trials are the tpe sampler's random start-up draws" in said
    assert "start-up draws" not in lines_before_a_fake_run(monkeypatch, capsys, study_file, *storage, "--trials", "12")


def test_optunas_experimental_warning_is_one_line_once_not_a_source_line_per_build(tmp_path):
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, sampler={"type": "qmc", "seed": 1}))
    # --trials 0 stops the run after the study file is read (its sampler built), before Ray starts
    command = [sys.executable, "-m", "tuner.cli", "run", str(study_file), "--trials", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    experimental = [line for line in lines if "experimental" in line]
    assert len(experimental) == 1 and experimental[0].startswith("tuner: warning: QMCSampler is experimental")
    assert lines[-1].startswith("tuner: error: --trials") and len(lines) == 2


@pytest.mark.parametrize(
    ("pruner", "expected", "options"),
    [
        ({"type": "none"}, optuna.pruners.NopPruner, {}),
        ({"type": "median", "n_warmup_steps": 2}, optuna.pruners.MedianPruner, {"_n_warmup_steps": 2}),
        ({"type": "percentile", "percentile": 25.0}, optuna.pruners.PercentilePruner, {"_percentile": 25.0}),
        (
            {"type": "successive_halving", "min_resource": 1, "bootstrap_count": 1},
            optuna.pruners.SuccessiveHalvingPruner,
            {"_min_resource": 1, "_bootstrap_count": 1},
        ),
        (
            {"type": "hyperband", "min_resource": 1, "reduction_factor": 3},
            optuna.pruners.HyperbandPruner,
            {"_min_resource": 1, "_max_resource": 5, "_reduction_factor": 3},  # max_resource: max_epochs
        ),
        (
            {"type": "patient", "patience": 2, "wrapped": {"type": "median"}},
            optuna.pruners.PatientPruner,
            {"_patience": 2},
        ),
    ],
)
def test_every_pruner_builds_as_that_optuna_class_with_the_options_given(pruner, expected, options):
    built = build_pruner(pruner, "s.yaml", max_epochs=5)
    assert type(built) is expected
    for name, value in options.items():  # Optuna keeps its options in private fields: read here only
        assert getattr(built, name) == value, name


def test_a_pruner_grouped_by_cell_loads_from_a_study_file(tmp_path):
    pruner = {"type": "successive_halving", "min_resource": 1, "group_by": "cell"}
    spec = load_study(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, pruner=pruner)))
    built = build_pruner(spec.pruner, spec.source, max_epochs=spec.max_epochs, space=spec.space)
    assert isinstance(built, GroupedPruner) and built.group_by == ("cell",)
    assert type(built.wrapped_pruner) is optuna.pruners.SuccessiveHalvingPruner


@pytest.mark.parametrize(
    ("pruner", "message"),
    [
        (
            {"type": "median", "group_by": "cel"},
            "pruner.group_by: expected categorical or integer parameters of the "
            "space: cell, hidden_size, found 'cel' (did you mean 'cell'?)",
        ),
        ({"type": "median", "group_by": "learning_rate"}, "found 'learning_rate'"),  # a float: groups of one
        ({"type": "median", "group_by": []}, "pruner.group_by: expected a parameter name or a list of them"),
        ({"type": "none", "group_by": "cell"}, "pruner.group_by: expected no group_by"),
        ({"type": "median", "group_by": "cell", "n_warmup": 1}, "pruner.n_warmup: expected one of"),
    ],
)
def test_a_bad_group_by_names_the_key_and_what_the_space_offers(tmp_path, pruner, message):
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, pruner=pruner))
    with pytest.raises(BadInput, match=re.escape(message)):
        load_study(study_file)


def test_a_pruner_option_optuna_refuses_is_reported_with_optunas_reason():
    with pytest.raises(BadInput, match="pruner: expected valid PercentilePruner options"):
        build_pruner({"type": "percentile", "percentile": 150.0}, "s.yaml")


def test_the_sampler_draws_from_its_own_seed_and_from_the_studys_only_when_it_has_none(tmp_path):
    from tuner.orchestration.runner import open_study

    def first_suggestion(name: str, **overrides: object) -> dict:
        spec = load_study(write_yaml(tmp_path / f"{name}.yaml", tiny_study(tmp_path, name=name, **overrides)))
        return spec.space.suggest(open_study(spec, f"sqlite:///{tmp_path / 'seeds.db'}").ask())

    own = first_suggestion("a", sampler={"type": "random", "seed": 7}, seed=0)
    assert first_suggestion("b", sampler={"type": "random", "seed": 7}, seed=1) == own  # training seed aside
    assert first_suggestion("c", sampler={"type": "random"}, seed=7) == own  # the study's seed when it has none
    assert first_suggestion("d", sampler={"type": "random", "seed": 8}, seed=0) != own


def test_numbers_written_without_a_dot_such_as_1e_4_are_numbers(tmp_path):
    """PyYAML alone reads 1e-4 as text (YAML 1.1); users write learning rates so, and JSON exports hold them so."""
    path = tmp_path / "s.yaml"
    text = yaml.safe_dump(tiny_study(tmp_path)).replace("low: 0.005", "low: 5e-3")
    assert "low: 5e-3" in text
    path.write_text(text)
    learning_rate = next(p for p in load_study(path).space.params if p.name == "learning_rate")
    assert learning_rate.low == 0.005


def test_the_gp_sampler_models_a_short_study_over_the_conditional_rnn_space():
    """Past its random start-up, GP proposes every trial of rnn.yaml (categorical knobs included); the
    conditional ones (momentum, forget_bias) come from its random fallback, and the note says so once."""
    space = rnn_space()
    study = optuna.create_study(sampler=build_sampler({"type": "gp", "n_startup_trials": 3}, space, 0, "s.yaml"))

    def objective(trial: optuna.Trial) -> float:
        values = space.suggest(trial)
        return abs(math.log10(values["learning_rate"]) + 2.5) + 0.1 * values["depth"]

    study.optimize(objective, n_trials=6)
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 6
    assert {"learning_rate", "cell", "updater"} <= set(study.trials[-1].params)
    assert type(study.sampler) is optuna.samplers.GPSampler
    # past the start-up, the proposals are the GP's own, not what a random sampler of the same seed draws
    randomly = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    randomly.optimize(objective, n_trials=6)
    drawn = [t.params["learning_rate"] for t in randomly.trials[3:]]
    assert [t.params["learning_rate"] for t in study.trials[3:]] != drawn
    note = independent_sampling_note({"type": "gp"}, space)
    assert "draws momentum, forget_bias at random" in note or "draws forget_bias, momentum at random" in note


def test_a_continued_study_counts_progress_against_its_whole_budget_with_a_fake_bridge():
    import collections
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from tuner.orchestration.bridge import Outcomes
    from tuner.orchestration.progress import ProgressBar

    # --trials 8 on a study that had 2: the first trial of this run is the study's third of eight
    bridge = SimpleNamespace(outcomes=Outcomes(by_state=collections.Counter(COMPLETE=1)))
    out = io.StringIO()
    ProgressBar(bridge, 8, Console(file=out, force_terminal=False), before=2).on_trial_complete(0, [], None)
    assert out.getvalue().startswith("trials 3/8 ")


def test_a_study_file_without_a_space_searches_the_shipped_one(tmp_path):
    document = tiny_study(tmp_path)
    del document["space"]
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    shipped = load_study(write_yaml(tmp_path / "b.yaml", {**document, "space": {"path": "builtin:rnn"}}))
    assert spec.space.distributions() == shipped.space.distributions()
    assert {"learning_rate", "updater", "cell", "hidden_size", "dropout"} <= set(spec.space.distributions())
