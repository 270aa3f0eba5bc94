"""Curve reading (the overfitting rule written in docs/dashboard.md, case by case) and the best against the baseline."""

from __future__ import annotations

import optuna
import pandas as pd
import pytest

from tuner.insight.analysis import Fit, best_so_far, read_curve, with_gap
from tuner.insight.curves import against_baseline, baseline_summary


def curve(train: list[float], val: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"epoch": range(1, len(val) + 1), "train_loss": train, "val_loss": val})


def test_overfitting_curve_has_onset_best_epoch_and_label():
    reading = read_curve(curve([2.0, 1.5, 1.2, 1.0, 0.8], [2.1, 1.7, 1.6, 1.7, 1.9]))
    assert reading.best_epoch == 3 and reading.best_val_loss == 1.6
    assert reading.onset_epoch == 3
    assert reading.fit is Fit.OVERFIT


def test_still_falling_validation_loss_is_underfit():
    reading = read_curve(curve([2.0, 1.8, 1.6], [2.1, 1.9, 1.7]))
    assert reading.onset_epoch is None and reading.fit is Fit.UNDERFIT and reading.best_epoch == 3


def test_levelled_off_curve_is_a_good_fit():
    assert read_curve(curve([2.0, 1.6, 1.55, 1.54], [2.0, 1.7, 1.69, 1.688])).fit is Fit.GOOD


def test_a_small_wobble_is_not_called_overfitting():
    reading = read_curve(curve([2.0, 1.6, 1.55, 1.54], [2.0, 1.7, 1.69, 1.70]))
    assert reading.onset_epoch is None and reading.fit is Fit.GOOD  # rose 0.6%, under the 2% threshold


def test_a_noisy_but_improving_curve_has_no_onset_and_its_label_agrees():
    # one noisy validation epoch (as 54 validation sequences give) in a curve that improves to the end
    val = [1.0, 0.8, 0.85, 0.7, 0.74, 0.6, 0.62, 0.5, 0.45, 0.4]
    train = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3]
    reading = read_curve(curve(train, val))
    assert reading.onset_epoch is None and reading.fit is Fit.UNDERFIT and reading.best_epoch == 10


def test_the_onset_is_where_validation_loss_last_was_lowest_before_a_sustained_rise():
    val = [1.0, 0.8, 0.85, 0.7, 0.72, 0.75, 0.8, 0.9]  # a noisy rise at 3, then lowest at 4, then up for good
    train = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    reading = read_curve(curve(train, val))
    assert reading.onset_epoch == 4 and reading.fit is Fit.OVERFIT


def test_tied_epochs_of_the_metric_go_to_the_lower_validation_loss():
    epochs = curve([1.0, 0.8, 0.6, 0.5], [0.9, 0.5, 0.3, 0.35]).assign(val_accuracy=[0.8, 1.0, 1.0, 1.0])
    assert read_curve(epochs, "val_accuracy", maximize=True).best_epoch == 3


def test_single_epoch_is_underfit_and_no_epochs_is_an_error():
    assert read_curve(curve([2.0], [2.1])).fit is Fit.UNDERFIT
    with pytest.raises(ValueError):
        read_curve(curve([], []))


def test_gap_and_best_so_far():
    assert list(with_gap(curve([1.0, 0.5], [1.5, 1.25]))["gap"]) == [0.5, 0.75]
    trials = pd.DataFrame(
        {"number": [0, 1, 2, 3], "state": ["COMPLETE", "PRUNED", "COMPLETE", "COMPLETE"], "value": [3.0, 9.0, 2.0, 2.5]}
    )
    assert list(best_so_far(trials, "minimize")["best"]) == [3.0, 2.0, 2.0]


def test_the_best_trial_is_measured_against_the_baseline_trial(tmp_path):
    """Real Optuna studies in SQLite, built with Optuna's API (the summary only reads them)."""
    url = f"sqlite:///{tmp_path / 'b.db'}"
    space = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}

    def study(name: str, direction: str, values: list[float], baseline_at: int | None, metric: str) -> None:
        trials = [
            optuna.trial.create_trial(
                params={"x": i / 10},
                distributions=space,
                value=v,
                user_attrs={"baseline": True} if i == baseline_at else {},
            )
            for i, v in enumerate(values)
        ]
        made = optuna.create_study(study_name=name, storage=url, direction=direction)
        made.set_user_attr("settings", {"metric": metric})  # what tuner run stores: the metric's name
        made.add_trials(trials)

    study("lower", "minimize", [2.0, 1.5, 2.5], baseline_at=0, metric="val_loss")
    study("higher", "maximize", [0.9, 0.8], baseline_at=1, metric="val_accuracy")
    study("unbeaten", "minimize", [1.0, 3.0], baseline_at=0, metric="val_loss")
    study("without", "minimize", [1.0, 3.0], baseline_at=None, metric="val_loss")
    assert against_baseline(url, "lower") == "baseline trial 0: val_loss 2.0000; the best trial 1 is 25.0% lower"
    assert against_baseline(url, "higher") == (
        "baseline trial 1: val_accuracy 0.8000; the best trial 0 is 12.5% higher"
    )
    assert against_baseline(url, "unbeaten") == "baseline trial 0: val_loss 1.0000; no trial beat it"
    assert against_baseline(url, "without") is None
    # the dashboard's cached trials may predate the baseline's end: no comparison yet, and no error
    assert baseline_summary(
        pd.DataFrame({"state": ["RUNNING"], "value": [None], "number": [0]}), (0, 2.0), True, "v"
    ) == ("baseline trial 0: v 2.0000")


def _synthetic_trials(n: int, seed: int = 1):
    """A study whose value depends strongly on x, a little on y, not at all on z."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x, y, z = rng.uniform(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    value = 3 * x + 1.0 * y + 0.1 * rng.normal(size=n)
    return pd.DataFrame({"state": "COMPLETE", "value": value, "param_x": x, "param_y": y, "param_z": z})


def test_bootstrap_intervals_hold_the_estimate_and_narrow_as_trials_are_added():
    import optuna

    from tuner.insight.importance import LIGHT_FOREST, bootstrap_importances

    dists = {name: optuna.distributions.FloatDistribution(0, 1) for name in "xyz"}
    widths = []
    for n in (20, 80):
        result = bootstrap_importances(_synthetic_trials(n), dists, "minimize", resamples=20, forest=LIGHT_FOREST)
        table = result.values.set_index("parameter")
        assert list(table.index) == ["x", "y", "z"] and result.resamples == 20
        assert (table["low"] <= table["importance"] + 1e-9).all() and (
            table["importance"] <= table["high"] + 1e-9
        ).all()
        assert not result.top_two_overlap()  # x matters far more than y: the order is settled
        widths.append(table.loc["x", "high"] - table.loc["x", "low"])
    assert widths[1] < widths[0]


def test_a_lone_knob_has_importance_one_without_resampling():
    import optuna

    from tuner.insight.importance import bootstrap_importances

    trials = _synthetic_trials(20)[["state", "value", "param_x"]]
    result = bootstrap_importances(trials, {"x": optuna.distributions.FloatDistribution(0, 1)}, "minimize")
    assert result.values.to_dict("records") == [{"parameter": "x", "importance": 1.0, "low": 1.0, "high": 1.0}]
    assert result.resamples == 0 and result.trials == 20


@pytest.mark.parametrize(
    ("metric", "minimize", "validation", "test", "optimism"),
    [
        ("val_mae", True, 696.22, 318.68, -377.54),  # the test error is lower: validation did not flatter
        ("val_mae", True, 300.0, 350.0, +50.0),  # the test error is higher: it did
        ("val_accuracy", False, 0.95, 0.90, +0.05),
        ("val_accuracy", False, 0.90, 0.95, -0.05),
    ],
)
def test_selection_optimism_is_positive_exactly_when_validation_flatters(metric, minimize, validation, test, optimism):
    from tuner.insight.score_lines import score_lines

    trivial = {"predictor": "t", "metrics": {metric: 0.5 if not minimize else 900.0}}
    scores = {"metric": metric, "validation": {metric: validation}, "test": {metric: test}}
    scores["trivial"] = {"validation": trivial, "test": trivial}
    (_, line, *_) = score_lines(scores, minimize=minimize)
    assert f"selection optimism {optimism:+.4f}" in line


def test_a_knob_fanova_did_not_rank_says_so_instead_of_a_zero(tmp_path, capsys):
    """A conditional knob (in half the trials) is outside fANOVA's search space: not ranked, not 0.000."""
    import random

    from optuna.distributions import FloatDistribution

    from tuner import attrs
    from tuner.cli import main

    url = f"sqlite:///{tmp_path / 'i.db'}"
    study = optuna.create_study(study_name="i", storage=url)
    study.set_user_attr(attrs.SETTINGS, {"metric": "val_loss", "direction": "minimize"})
    draw = random.Random(0)
    for i in range(30):
        params = {"x": draw.random(), **({"y": draw.random()} if i % 2 else {})}
        dists = {name: FloatDistribution(0, 1) for name in params}
        value = params["x"] + 5 * params.get("y", 0.0)
        study.add_trial(optuna.trial.create_trial(value=value, params=params, distributions=dists))
    assert main(["importance", "i", "--storage", url, "--bootstrap", "5"]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("y ")]
    assert row.split()[1:4] == ["not", "ranked", "not"]  # fANOVA and its interval: not ranked
    assert "0.000  0.000  0.000" not in row
