"""Studies that survive: pruning through Ray Tune, dead workers, Ctrl-C, SIGKILL, several drivers.

The orchestration tests run ``arithmetic_trial``, a trainable that trains
nothing (its curves are arithmetic), through real Ray workers into a real
Optuna study; the interruption tests run real `tuner run` processes.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import tempfile
import time

import optuna
import pytest
from optuna.trial import TrialState

from tests.arithmetic import arithmetic_trial, dying_trial
from tests.conftest import (
    freeze_driver_when,
    resume_states,
    tiny_study,
    trials_of,
    tuner_run,
    tuner_run_here,
    wait_for,
    write_yaml,
)
from tuner import attrs
from tuner.config.pruners import GroupedPruner, OverfittingPruner
from tuner.config.studies import load_study
from tuner.orchestration.bridge import held_ctrl_c, queue_again
from tuner.orchestration.runner import run_study

ARITHMETIC_SPACE = {
    "parameters": {
        "learning_rate": {"type": "float", "low": 1.0e-4, "high": 1.0, "log": True},
        "dropout": {"type": "categorical", "choices": [0.0, 0.3]},
    }
}


def arithmetic_spec(tmp_path, **overrides):
    document = tiny_study(tmp_path, space=ARITHMETIC_SPACE, **overrides)
    return load_study(write_yaml(tmp_path / "study.yaml", document))


def trial_with_curve(train: list[float], val: list[float]) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        state=TrialState.RUNNING,
        intermediate_values=dict(enumerate(val, start=1)),
        user_attrs={"loss_curve": {"train_loss": train, "val_loss": val}},
    )


def test_overfitting_pruner_needs_k_rising_validation_epochs_with_falling_training_loss():
    study = optuna.create_study()
    pruner = OverfittingPruner(patience=2)
    assert pruner.prune(study, trial_with_curve([3, 2, 1.5, 1.2], [3, 2.5, 2.6, 2.7]))  # rose twice, train fell
    assert not pruner.prune(study, trial_with_curve([3, 2, 1.5, 1.2], [3, 2.5, 2.6, 2.55]))  # rose once
    assert not pruner.prune(study, trial_with_curve([3, 2, 2.1, 2.2], [3, 2.5, 2.6, 2.7]))  # both rose: not overfitting
    assert not pruner.prune(study, trial_with_curve([3, 2], [3, 3.1]))  # too short to tell
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        OverfittingPruner(patience=0)


def test_overfitting_pruner_wrapped_around_another_prunes_when_either_says_so():
    always = optuna.pruners.ThresholdPruner(upper=0.0)  # prunes any positive value
    pruner = OverfittingPruner(patience=2, wrapped_pruner=always)
    study = optuna.create_study()
    assert pruner.prune(study, trial_with_curve([3, 2], [3, 2.5]))  # not overfitting, but the wrapped pruner prunes


# A plain RNN leads after one epoch and ends behind; an LSTM starts slower and ends lower.
FAST_STARTER = [2.0, 1.9, 1.85, 1.82, 1.8]
SLOW_STARTER = [2.5, 2.0, 1.7, 1.6, 1.5]


def cells_that_finish(pruner: optuna.pruners.BasePruner) -> list[str]:
    """Run 20 trials of two cell types through a real Optuna study; the cells of the COMPLETE ones."""
    # a fixed name: Hyperband assigns brackets by a hash of the study name, and a random one made this flaky
    study = optuna.create_study(study_name="cells", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    spreads = random.Random(1)  # trials of a kind differ a little
    for _ in range(20):
        trial = study.ask()
        cell = trial.suggest_categorical("cell", ["lstm", "rnn"])
        spread = spreads.random() / 10
        curve = SLOW_STARTER if cell == "lstm" else FAST_STARTER
        for epoch, value in enumerate(curve, start=1):
            trial.report(value + spread, epoch)
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                break
        else:
            study.tell(trial, curve[-1] + spread)
    return [t.params["cell"] for t in study.trials if t.state is TrialState.COMPLETE]


@pytest.mark.parametrize(
    "make_pruner",
    [
        lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, bootstrap_count=1),
        lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=5, reduction_factor=3),
        lambda: optuna.pruners.MedianPruner(n_startup_trials=2),
    ],
    ids=["successive_halving", "hyperband", "median"],
)
def test_a_pruner_grouped_by_cell_lets_more_of_the_slow_starting_cells_finish(make_pruner):
    ungrouped = cells_that_finish(make_pruner())
    grouped = cells_that_finish(GroupedPruner(make_pruner(), ["cell"]))
    assert grouped.count("lstm") > ungrouped.count("lstm") and "rnn" in grouped


def test_successive_halving_over_all_cells_stops_every_slow_starter_and_grouped_by_cell_does_not():
    # the short-horizon trap: one ranking at epoch 1 stops every LSTM, so TPE sees only plain RNNs finish
    def halving() -> optuna.pruners.BasePruner:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, bootstrap_count=1)

    assert set(cells_that_finish(halving())) == {"rnn"}
    assert set(cells_that_finish(GroupedPruner(halving(), ["cell"]))) == {"lstm", "rnn"}


def test_a_grouped_rung_pruner_still_records_each_trials_rung_values_in_the_study():
    # successive halving keeps a trial's value at a rung in the storage; through the filtered view
    # those writes must reach the real study, or no trial would ever have a rival there
    study = optuna.create_study(
        pruner=GroupedPruner(optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2), ["cell"])
    )
    for cell in ["lstm", "rnn", "lstm"]:
        study.enqueue_trial({"cell": cell})
        trial = study.ask()
        trial.suggest_categorical("cell", ["lstm", "rnn"])
        trial.report(1.0, 1)
        trial.should_prune()
        study.tell(trial, state=TrialState.PRUNED)
    assert [t.params["cell"] for t in study.trials] == ["lstm", "rnn", "lstm"]
    assert all("completed_rung_0" in t.system_attrs for t in study.trials)


def test_a_grouped_pruner_needs_a_parameter_to_group_by():
    with pytest.raises(ValueError, match="group_by must name at least one parameter"):
        GroupedPruner(optuna.pruners.MedianPruner(), [])


# One Ray study per way a pruner reaches the study: our own (the loss curves a trial sends), a rung pruner
# through our grouping view (rung values written back), Hyperband (brackets), and Optuna's wrapper around a
# pruner (here around the median). Percentile and plain successive halving answer through the same path;
# each builds as its Optuna class (tests/test_studies.py).
@pytest.mark.parametrize(
    "pruner",
    [
        {"type": "overfitting", "patience": 2},
        {"type": "successive_halving", "min_resource": 1, "group_by": "dropout"},
        {"type": "hyperband", "min_resource": 1},
        {"type": "patient", "patience": 0, "wrapped": {"type": "median", "n_startup_trials": 1}},
    ],
)
def test_study_pruners_stop_ray_trials_of_a_fake_arithmetic_trainer_and_store_them_pruned(
    ray_session, tmp_path, pruner
):
    spec = arithmetic_spec(
        tmp_path,
        trials=8,
        max_epochs=6,
        pruner=pruner,
        early_stopping={"patience": 10},
        baseline={"learning_rate": 0.01, "dropout": 0.3},
        sampler={"type": "random", "seed": 0},
    )
    url = f"sqlite:///{tmp_path / 'p.db'}"
    summary = run_study(spec, url, trials=8, workers=1, show_progress=False, trainable=arithmetic_trial)
    trials = optuna.load_study(study_name="tiny", storage=url).trials
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    assert pruned, "no trial was pruned"
    assert summary.outcomes.by_state["PRUNED"] == len(pruned)
    for trial in pruned:
        assert trial.user_attrs["stop_reason"] == "pruned"
        # its values kept, and stopped before its last epoch (pruning then would save nothing)
        assert 1 <= len(trial.intermediate_values) < 6
        assert trial.value == trial.intermediate_values[max(trial.intermediate_values)]
    if pruner["type"] == "overfitting":  # exactly the trials without dropout overfit
        assert {t.number for t in pruned} == {t.number for t in trials if t.params["dropout"] == 0.0}
        # validation loss rises after epoch 2 in those: patience 2 stops them at epoch 4 of 6
        assert all(len(t.intermediate_values) == 4 for t in pruned)


def test_a_pruner_never_stops_a_fake_arithmetic_trial_at_its_last_epoch(ray_session, tmp_path):
    # the median pruner may act only at epoch 3 of 3: every trial has trained its whole budget by then,
    # so each must end COMPLETE, though half of them are worse than the median there
    spec = arithmetic_spec(
        tmp_path,
        trials=6,
        max_epochs=3,
        pruner={"type": "median", "n_startup_trials": 1, "n_warmup_steps": 3},
        early_stopping={"patience": 10},
        sampler={"type": "random", "seed": 0},
    )
    url = f"sqlite:///{tmp_path / 'last.db'}"
    run_study(spec, url, trials=6, workers=1, show_progress=False, trainable=arithmetic_trial)
    study = optuna.load_study(study_name="tiny", storage=url)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    assert all(sorted(t.intermediate_values) == [1, 2, 3] for t in study.trials)
    values = sorted(t.value for t in study.trials)
    assert values[0] < values[-1]  # the pruner had something worse than the median to stop


def test_a_study_of_a_fake_arithmetic_trainer_finishes_its_budget_when_the_reader_of_its_progress_exits(
    ray_session, tmp_path, monkeypatch
):
    # `tuner run ... 2>&1 | head -1`: the progress lines go to a pipe whose reader has exited
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as closed_pipe:
        monkeypatch.setattr(sys, "stderr", closed_pipe)
        spec = arithmetic_spec(tmp_path, trials=4, max_epochs=2)
        url = f"sqlite:///{tmp_path / 'pipe.db'}"
        summary = run_study(spec, url, trials=4, workers=1, show_progress=True, trainable=arithmetic_trial)
        monkeypatch.undo()
    assert summary.ran == 4
    study = optuna.load_study(study_name="tiny", storage=url)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4


def test_run_study_of_a_fake_arithmetic_trainer_leaves_the_callers_environment_as_it_was(
    ray_session, tmp_path, monkeypatch
):
    # Tune reads its switches from os.environ; a library caller must not keep ours after the run
    monkeypatch.delenv("TUNE_DISABLE_SIGINT_HANDLER", raising=False)
    monkeypatch.delenv("RAY_AIR_NEW_OUTPUT", raising=False)
    monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")
    spec = arithmetic_spec(tmp_path, trials=2, max_epochs=2)
    url = f"sqlite:///{tmp_path / 'e.db'}"
    run_study(spec, url, trials=2, workers=1, show_progress=False, trainable=arithmetic_trial)
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ and "RAY_AIR_NEW_OUTPUT" not in os.environ
    assert os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "0"


def test_a_study_named_with_dots_and_slashes_writes_nothing_beside_tunes_temporary_folder(
    ray_session, tmp_path, monkeypatch
):
    # Tune's results folder is made under the temporary folder and deleted after the run; a study
    # name such as "../outside" once named Tune's experiment and put its files one level up
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    spec = arithmetic_spec(tmp_path, name="../outside", trials=2, max_epochs=2)
    url = f"sqlite:///{tmp_path / 'n.db'}"
    summary = run_study(spec, url, trials=2, workers=1, show_progress=False, trainable=arithmetic_trial)
    assert summary.outcomes.by_state["COMPLETE"] == 2
    assert not list(scratch.iterdir())


def test_a_killed_worker_of_a_fake_arithmetic_trainer_is_retried_then_the_study_finishes_its_budget(
    ray_session, tmp_path
):
    spec = arithmetic_spec(tmp_path, trials=2, max_epochs=2, max_retries=1)
    url = f"sqlite:///{tmp_path / 'k.db'}"
    run_study(spec, url, trials=2, workers=1, show_progress=False, trainable=dying_trial)
    trials = optuna.load_study(study_name="tiny", storage=url).trials
    died = [t for t in trials if t.state is TrialState.FAIL]
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(died) == 2 and len(complete) == 2  # each first attempt died, each retry finished
    assert all(t.user_attrs["stop_reason"] == "worker_died" and "queued again" in t.user_attrs["error"] for t in died)
    assert {t.user_attrs["retry_of"] for t in complete} == {t.number for t in died}
    assert all(t.params == trials[t.user_attrs["retry_of"]].params for t in complete)


def test_without_retries_a_killed_worker_of_a_fake_arithmetic_trainer_is_fail_and_counts(ray_session, tmp_path):
    spec = arithmetic_spec(tmp_path, trials=1, max_epochs=2, max_retries=0)
    url = f"sqlite:///{tmp_path / 'n.db'}"
    summary = run_study(spec, url, trials=1, workers=1, show_progress=False, trainable=dying_trial)
    trials = optuna.load_study(study_name="tiny", storage=url).trials
    assert [t.state for t in trials] == [TrialState.FAIL]  # not queued again: it spent the budget
    assert "no retries left" in trials[0].user_attrs["error"] and summary.outcomes.by_state["FAIL"] == 1


def slow_study(tmp_path, name: str, trials: int, chars: int = 20000):
    """A real char_lm study whose trials take a few seconds each (``chars`` of text)."""
    document = tiny_study(
        tmp_path,
        name=name,
        trials=trials,
        max_epochs=4,
        early_stopping={"patience": 4},
        task={"name": "char_lm", "data": "builtin:tinyshakespeare", "options": {"max_chars": chars, "seq_length": 100}},
    )
    return write_yaml(tmp_path / f"{name}.yaml", document)


def test_an_error_in_the_driver_leaves_no_fake_arithmetic_trial_running_and_the_next_run_resumes(
    ray_session, tmp_path, monkeypatch
):
    # a fake broken pruner: the driver asks it after each epoch, and from its third question on it raises
    asked: list[int] = []

    def broken_prune(self, study, trial):
        asked.append(trial.number)
        if len(asked) >= 3:
            raise RuntimeError("a pruner bug")
        return False

    monkeypatch.setattr(optuna.pruners.MedianPruner, "prune", broken_prune)
    spec = arithmetic_spec(tmp_path, trials=4, max_epochs=3, pruner={"type": "median"}, early_stopping={"patience": 5})
    url = f"sqlite:///{tmp_path / 'd.db'}"
    with pytest.raises(Exception, match="a pruner bug"):
        run_study(spec, url, trials=4, workers=1, show_progress=False, trainable=arithmetic_trial)
    trials = optuna.load_study(study_name="tiny", storage=url).trials
    assert not [t for t in trials if t.state is TrialState.RUNNING]
    interrupted = [t for t in trials if t.user_attrs.get("stop_reason") == "interrupted"]
    assert interrupted and all(t.state is TrialState.FAIL for t in interrupted)
    assert len([t for t in trials if t.state is TrialState.WAITING]) == len(interrupted)

    monkeypatch.undo()
    run_study(spec, url, trials=4, workers=1, show_progress=False, trainable=arithmetic_trial)
    trials = optuna.load_study(study_name="tiny", storage=url).trials
    reruns = [t for t in trials if "retry_of" in t.user_attrs]
    assert {t.user_attrs["retry_of"] for t in reruns} == {t.number for t in interrupted}
    assert len([t for t in trials if t.state is TrialState.COMPLETE]) == 4


def test_a_ctrl_c_while_the_bridge_asks_or_tells_arrives_after_it_is_done():
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with held_ctrl_c():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # the signal is handled by now: held, not raised
            finished.append(True)
    assert finished == [True]


def test_a_re_run_baseline_trial_is_still_the_baseline():
    study = optuna.create_study()
    study.enqueue_trial({"x": 1.0}, user_attrs={attrs.BASELINE: True})
    first = study.ask({"x": optuna.distributions.FloatDistribution(0, 2)})
    study.tell(first, state=TrialState.FAIL)
    queue_again(study, first, {attrs.ATTEMPT: 2})
    again = study.ask({"x": optuna.distributions.FloatDistribution(0, 2)})
    assert again.params == {"x": 1.0}
    assert again.user_attrs == {attrs.BASELINE: True, attrs.RETRY_OF: 0, attrs.ATTEMPT: 2}


def test_a_killed_then_interrupted_driver_loses_no_finished_trial_and_the_same_command_resumes(
    ray_session, tmp_path, capsys
):
    """Killed by SIGKILL mid-study, then stopped with Ctrl-C on the next run: each time the same command goes
    on with the budget, and no finished trial is lost or changed. The trial the SIGKILL caught two epochs in
    goes on from its last epoch and ends as an uninterrupted run of it would."""
    from tuner.cli import main
    from tuner.storage.queries import epochs_frame

    address = ray_session.get_runtime_context().gcs_address
    study_file, url = slow_study(tmp_path, "resume", trials=4), f"sqlite:///{tmp_path / 'r.db'}"
    kept = resume_states(study_file, url)

    def trials() -> list[optuna.trial.FrozenTrial]:
        return trials_of(url, "resume")

    def finished() -> dict[int, float]:
        return {t.number: t.value for t in trials() if t.state is TrialState.COMPLETE}

    def one_finished_and_one_two_epochs_in() -> bool:
        now = trials()
        running = [t.number for t in now if t.state is TrialState.RUNNING]
        if not (running and any(t.state is TrialState.COMPLETE for t in now)):
            return False
        rows = epochs_frame(url, "resume")
        epochs = rows[rows["trial_number"].isin(running)].groupby("trial_number").size()
        # two epochs in, and the state it resumes from already with the driver
        return any(n >= 2 and kept(number) for number, n in epochs.items())

    # the first run dies by SIGKILL with one trial finished and another two epochs in
    driver = tuner_run(study_file, url, address)
    freeze_driver_when(driver, one_finished_and_one_two_epochs_in)
    killed = next(t.number for t in trials() if t.state is TrialState.RUNNING)
    finished_before = finished()
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()

    def killed_trial_redone_and_another_running() -> bool:
        now = trials()
        redone = any(t.user_attrs.get("retry_of") == killed and t.state is TrialState.COMPLETE for t in now)
        return redone and any(t.state is TrialState.RUNNING for t in now)

    # the same command goes on; once it has finished the killed trial, a Ctrl-C stops it while another trains
    driver = tuner_run(study_file, url, address)
    freeze_driver_when(driver, killed_trial_redone_and_another_running)
    caught = next(t.number for t in trials() if t.state is TrialState.RUNNING)
    finished_before |= finished()
    driver.send_signal(signal.SIGINT)
    os.killpg(driver.pid, signal.SIGCONT)  # it handles the Ctrl-C once it runs again
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130 and "run the same command again to resume" in err
    assert TrialState.RUNNING not in [t.state for t in trials()]  # a clean stop leaves nothing RUNNING
    # and the same command once more, in this process (it joins the same Ray), finishes the budget
    assert tuner_run_here(study_file, url, address) == 0
    final = trials()
    assert {n: final[n].value for n in finished_before} == finished_before  # no COMPLETE trial lost or changed
    interrupted = [t for t in final if t.user_attrs.get("stop_reason") == "interrupted"]
    assert final[killed] in interrupted and all(t.state is TrialState.FAIL for t in interrupted)
    # the trial the Ctrl-C caught was stopped the same way, or finished during the moment a clean stop takes
    assert final[caught] in interrupted or final[caught].state is TrialState.COMPLETE
    reruns = [t for t in final if "retry_of" in t.user_attrs]
    assert {t.user_attrs["retry_of"] for t in reruns} == {t.number for t in interrupted}
    counted = [
        t
        for t in final
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED) or (t.state is TrialState.FAIL and t not in interrupted)
    ]
    assert len(counted) == 4 and TrialState.RUNNING not in [t.state for t in final]
    # a re-run goes on from the epoch its first run reached: the whole curve, each epoch once, and the
    # epochs the first run trained come back as they were (their very timings), not trained again
    rows = epochs_frame(url, "resume")
    for rerun in (t for t in reruns if t.state is TrialState.COMPLETE):
        before, after = (
            rows[rows["trial_number"] == n].set_index("epoch") for n in (rerun.user_attrs["retry_of"], rerun.number)
        )
        assert list(after.index) == [1, 2, 3, 4]
        replayed = [e for e in before.index if after.loc[e, "seconds"] == before.loc[e, "seconds"]]
        assert replayed == list(range(1, len(replayed) + 1)), (before["seconds"], after["seconds"])
    # the killed trial's re-run went on from its state (its first epoch at least came back, not trained
    # again), and it ends where an uninterrupted run of the same trial ends (same seed and threads on the CPU)
    (resumed,) = [t for t in reruns if t.user_attrs["retry_of"] == killed]
    before = rows[rows["trial_number"] == killed].set_index("epoch")["seconds"]
    after = rows[rows["trial_number"] == resumed.number].set_index("epoch")["seconds"]
    assert after[1] == before[1], rows
    best = tmp_path / "best.yaml"
    assert main(["export", "resume", "--storage", url, "--trial", str(resumed.number), "--out", str(best)]) == 0
    assert main(["train", str(best), "--out", str(tmp_path / "m.pt")]) == 0
    assert f"the study's trial reached {resumed.value:.4f} (+0.00%)" in capsys.readouterr().out


def test_two_drivers_share_one_budget(ray_session, tmp_path):

    address = ray_session.get_runtime_context().gcs_address
    study_file, url = slow_study(tmp_path, "shared", trials=4, chars=6000), f"sqlite:///{tmp_path / 's.db'}"
    first = tuner_run(study_file, url, address)  # one trial at a time each
    wait_for(lambda: bool(trials_of(url, "shared")))  # let the first create the study
    # the second driver: the same command in this test's process, joining the same Ray, while the first runs
    assert tuner_run_here(study_file, url, address) == 0
    _, err = first.communicate(timeout=240)
    assert first.returncode == 0, err
    trials = optuna.load_study(study_name="shared", storage=url).trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    # the rule (docs/studies-that-survive.md): the budget is counted in the database when a trial is about
    # to start, so the study ends one over only when the two drivers asked for the last slot at once
    assert len(trials) in (4, 5)
    if len(trials) == 5:
        last_two = {t.user_attrs["driver"] for t in trials[3:]}
        assert len(last_two) == 2, "one driver alone never starts a trial past the budget"
    drivers_seen = {t.user_attrs["driver"] for t in trials}
    assert len(drivers_seen) == 2  # both really ran trials


def test_a_fake_final_network_that_diverges_leaves_the_finished_study_with_one_line(ray_session, tmp_path, monkeypatch):
    """The best trial's final network (a refit, or the configuration trained again) may diverge when it is
    scored on test data: the study is done and kept, and the run says why it has no test score."""
    from tuner.errors import Diverged
    from tuner.orchestration import runner

    def diverging(*args, **kwargs):
        raise Diverged("the final network diverged: validation loss is nan at epoch 3")

    monkeypatch.setattr(runner, "score_on_test", diverging)  # the fake final network
    monkeypatch.setattr(runner, "trains_networks", lambda trainable: True)  # as a real trainable says
    spec = arithmetic_spec(tmp_path, trials=2, max_epochs=2, checkpoints={"keep_best": 0})
    url = f"sqlite:///{tmp_path / 'd.db'}"
    summary = run_study(spec, url, trials=2, workers=1, show_progress=False, trainable=arithmetic_trial)
    assert summary.outcomes.by_state["COMPLETE"] == 2 and summary.best is not None
    assert summary.test_problem == "the final network diverged: validation loss is nan at epoch 3"
