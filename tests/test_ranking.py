"""Ties: accuracy 1.000 on a small validation split is reached by several epochs and several trials.

The best epoch and the best trial are then the ones with the lower validation loss, everywhere a
user looks (the loop's kept weights, export, the report, the dashboard, narrow, kept models).
"""

from __future__ import annotations

import re

import optuna
import torch
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO
from tuner import attrs
from tuner.config.hyperparams import Hyperparameters
from tuner.insight.report import build_report
from tuner.storage import ranking
from tuner.training import TrainSettings, train
from tuner.training.loop import improves
from tuner.training.tasks.base import SequenceData, Target, TaskData


def test_an_epoch_that_ties_the_best_score_with_a_lower_validation_loss_is_the_better_one():
    # scores are lower-is-better (a maximised accuracy of 1.0 is -1.0)
    assert improves(-1.0, 0.2, -1.0, 0.3, min_delta=0.0)  # tie, lower loss: better
    assert not improves(-1.0, 0.4, -1.0, 0.3, min_delta=0.0)  # tie, higher loss: not
    assert improves(-0.9, 9.0, -0.8, 0.1, min_delta=0.0)  # a better score wins whatever its loss
    assert not improves(-0.81, 0.1, -0.8, 0.3, min_delta=0.05)  # within min_delta and no tie: not


def separable(count: int, seed: int) -> SequenceData:
    """Sequences of one repeated value whose sign is the class: accuracy 1.000 within an epoch or two."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 2
    level = (labels.float() * 2 - 1) * (0.5 + torch.rand(count, generator=generator))
    inputs = level[:, None, None].expand(count, 6, 1).contiguous()
    return SequenceData(inputs, labels, torch.full((count,), 6, dtype=torch.long))


def test_the_loop_keeps_the_tied_epoch_with_the_lowest_validation_loss_not_the_first_to_reach_1():
    data = TaskData(Target.CLASS, separable(32, 0), separable(12, 1), input_size=1, output_size=2)
    hp = Hyperparameters(hidden_size=8, depth=1, batch_size=8, tbptt_length=6, learning_rate=0.05, cell="gru")
    settings = TrainSettings(max_epochs=8, patience=8, monitor="val_accuracy", maximize=True)
    result = train(hp, data, settings)
    perfect = [m for m in result.epochs if m.metrics["val_accuracy"] == 1.0]
    assert len(perfect) >= 2, [m.metrics for m in result.epochs]  # the case this test is about: a tie
    assert result.best_epoch == min(perfect, key=lambda m: m.val_loss).epoch
    assert result.best_epoch != perfect[0].epoch  # the loss went on falling after the first 1.000


def tied_study(tmp_path) -> tuple[str, str]:
    """Four COMPLETE trials of a maximised accuracy: three tie at 1.0, trial 2 with the lowest loss."""
    url = f"sqlite:///{tmp_path / 'tie.db'}"
    study = optuna.create_study(study_name="tie", storage=url, direction="maximize")
    study.set_user_attr(attrs.SETTINGS, {"metric": "val_accuracy", "direction": "maximize"})
    for value, loss in ((1.0, 0.40), (0.9, 0.05), (1.0, 0.20), (1.0, 0.30)):
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE,
                value=value,
                params={"learning_rate": 0.01},
                distributions={"learning_rate": FloatDistribution(1e-4, 1.0, log=True)},
                user_attrs={attrs.BEST_VAL_LOSS: loss},
            )
        )
    return url, "tie"


def test_tied_trials_rank_by_validation_loss_in_every_place_that_ranks(tmp_path, monkeypatch):
    url, name = tied_study(tmp_path)
    study = optuna.load_study(study_name=name, storage=url)
    assert study.best_trial.number == 0  # Optuna's own pick: the first of the tie
    assert ranking.best_trial(study).number == 2
    assert ranking.best_numbers(study, 3) == [2, 3, 0]
    from tuner.storage.queries import trials_frame

    assert list(ranking.ranked_rows(trials_frame(url, name), "maximize")["number"]) == [2, 3, 0, 1]
    # the report's top table puts the same trial first
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>\s*<td>COMPLETE</td>", build_report(url, name))
    assert rows == ["2", "3", "0", "1"]
    # and so does the dashboard: the best trial, preselected on the Export page
    monkeypatch.setenv("TUNER_STORAGE", url)
    app = AppTest.from_file(str(REPO / "tuner/dashboard/entry.py"), default_timeout=60)
    app.run()
    app.switch_page(str(REPO / "tuner/dashboard/views/export.py")).run()
    assert app.selectbox[0].value == 2 and "2 (best)" in app.selectbox[0].options
