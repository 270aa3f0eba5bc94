"""Search-space files: parsing, every error a user can make, and the mapping onto Optuna."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from tests.conftest import REPO
from tuner.config.spaces import ParamType, parse_space
from tuner.config.yaml_file import load_mapping
from tuner.errors import BadInput


def parse(parameters: dict):
    return parse_space({"parameters": parameters}, "space.yaml")


def test_shipped_rnn_space_covers_every_knob_of_the_issue():
    space = parse_space(load_mapping(REPO / "search_spaces/rnn.yaml"), "rnn.yaml")
    expected = {
        "learning_rate",
        "updater",
        "momentum",
        "depth",
        "hidden_size",
        "dropout",
        "l1",
        "l2",
        "forget_bias",
        "activation",
        "tbptt_length",
        "cell",
        "grad_clip",
        "batch_size",
    }
    assert expected <= set(space.names())
    dists = space.distributions()
    assert set(dists["updater"].choices) == {"sgd", "nesterovs", "adam", "nadam", "rmsprop", "adagrad"}
    assert set(dists["cell"].choices) == {"lstm", "gru", "rnn"}
    assert set(dists["activation"].choices) == {"tanh", "softsign"}
    assert (dists["depth"].low, dists["depth"].high) == (1, 4)
    assert (dists["forget_bias"].low, dists["forget_bias"].high) == (0.0, 5.0)


def test_each_kind_maps_onto_its_optuna_distribution():
    space = parse(
        {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
            "hidden_size": {"type": "int", "low": 16, "high": 64, "step": 16},
            "depth": {"type": "int", "low": 1, "high": 8, "log": True},
            "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
            "batch_size": 32,
            "tbptt_length": {"type": "fixed", "value": 50},
        }
    )
    dists = space.distributions()
    assert dists["learning_rate"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["dropout"] == FloatDistribution(0.0, 0.5, step=0.1)
    assert dists["hidden_size"] == IntDistribution(16, 64, step=16)
    assert dists["depth"] == IntDistribution(1, 8, log=True)
    assert dists["cell"] == CategoricalDistribution(("lstm", "gru"))
    assert "batch_size" not in dists and "tbptt_length" not in dists  # fixed values are not searched
    values = space.suggest(optuna.create_study().ask())
    assert values["batch_size"] == 32 and values["tbptt_length"] == 50
    assert set(values) == set(space.names())


def test_conditional_parameter_is_suggested_only_when_its_condition_holds():
    space = parse(
        {
            "updater": {"type": "categorical", "choices": ["adam", "nesterovs"]},
            "momentum": {"type": "float", "low": 0.5, "high": 0.99, "condition": {"updater": "nesterovs"}},
        }
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        values = space.suggest(trial)
        study.tell(trial, 0.0)
        seen.add(values["updater"])
        assert ("momentum" in values) == (values["updater"] == "nesterovs")
        assert ("momentum" in trial.params) == (values["updater"] == "nesterovs")
    assert seen == {"adam", "nesterovs"}


def test_children_are_ordered_after_their_parents_whatever_the_file_order():
    space = parse(
        {
            "forget_bias": {"type": "float", "low": 0, "high": 5, "condition": {"cell": ["lstm"]}},
            "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
        }
    )
    assert space.names() == ("cell", "forget_bias")
    assert space.suggest(optuna.trial.FixedTrial({"cell": "gru"})) == {"cell": "gru"}
    assert space.suggest(optuna.trial.FixedTrial({"cell": "lstm", "forget_bias": 1.0})) == {
        "cell": "lstm",
        "forget_bias": 1.0,
    }


@pytest.mark.parametrize(
    ("parameters", "needle"),
    [
        ({"learning_rate": {"type": "float", "low": 0.1, "high": 0.01}}, "low <= high"),
        ({"l2": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, "low > 0 on a log scale"),
        ({"l2": {"type": "float", "low": -1.0, "high": 0.1, "log": True}}, "l2 to be a number >= 0"),
        ({"updater": {"type": "categorical", "choices": ["adam", "adamw"]}}, "did you mean 'adam'"),
        ({"cell": {"type": "categorical", "choices": ["lstm", "transformer"]}}, "cell to be one of lstm, gru, rnn"),
        ({"activation": {"type": "categorical", "choices": ["relu"]}}, "activation to be one of tanh, softsign"),
        ({"cell": {"type": "categorical", "choices": []}}, "a non-empty list"),
        (
            {"momentum": {"type": "float", "low": 0.5, "high": 0.9, "condition": {"updaterr": "nesterovs"}}},
            "a condition on a parameter of this space",
        ),
        ({"hiden_size": {"type": "int", "low": 8, "high": 16}}, "did you mean 'hidden_size'"),
        ({"hidden_size": {"type": "int", "low": 8, "high": 16, "stepp": 2}}, "did you mean 'step'"),
        ({"hidden_size": {"type": "integer", "low": 8, "high": 16}}, "one of float, int, categorical, fixed"),
        ({"hidden_size": {"type": "float", "low": 8, "high": 16}}, "int, categorical or fixed for hidden_size"),
        ({"depth": {"type": "int", "low": 1, "high": 4, "log": True, "step": 2}}, "no step on a log scale"),
        ({"dropout": {"type": "float", "low": 0.0, "high": 1.5}}, "dropout to be a number in [0, 1)"),
    ],
)
def test_bad_space_is_one_line_naming_file_key_expected_and_found(parameters, needle):
    with pytest.raises(BadInput) as caught:
        parse(parameters)
    message = str(caught.value)
    assert message.startswith("space.yaml: parameters.")
    assert needle in message
    assert "\n" not in message


def test_a_condition_value_its_parent_cannot_take_is_refused():
    with pytest.raises(BadInput, match="one of lstm, gru"):
        parse(
            {
                "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
                "forget_bias": {"type": "float", "low": 0, "high": 5, "condition": {"cell": "rnn"}},
            }
        )


def test_finite_values_enumerate_grids():
    space = parse(
        {
            "dropout": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.1},
            "hidden_size": {"type": "int", "low": 8, "high": 24, "step": 8},
            "learning_rate": {"type": "float", "low": 0.001, "high": 0.1},
        }
    )
    by_name = {p.name: p for p in space.params}
    assert by_name["dropout"].finite_values() == (0.0, 0.1, 0.2)
    assert by_name["hidden_size"].finite_values() == (8, 16, 24)
    assert by_name["learning_rate"].finite_values() is None
    assert by_name["dropout"].type is ParamType.FLOAT


def test_a_study_outside_the_repository_reaches_the_shipped_space_by_name(tmp_path):
    from tests.conftest import tiny_study, write_yaml
    from tuner.config.studies import load_study

    elsewhere = tmp_path / "my-project"
    elsewhere.mkdir()
    document = tiny_study(elsewhere, space={"path": "builtin:rnn", "overrides": {"depth": 1}})
    spec = load_study(write_yaml(elsewhere / "study.yaml", document))
    assert "learning_rate" in spec.space.distributions() and "updater" in spec.space.distributions()
    document["space"]["path"] = "builtin:rn"
    with pytest.raises(BadInput) as error:
        load_study(write_yaml(elsewhere / "study.yaml", document))
    assert "space.path" in str(error.value) and "builtin:rnn" in str(error.value) and "did you mean" in str(error.value)
