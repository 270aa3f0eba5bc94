"""Multi-objective studies: objectives and constraints in a study file, the front pruner's rule, the
network's measured costs, the front in trials/export and the Python API, over a real Ray run."""

from __future__ import annotations

import optuna
import pytest
import torch
from optuna.trial import TrialState, create_trial

from tests.conftest import tiny_study, write_yaml
from tests.test_bad_input import assert_one_line_error, run_cli
from tuner import attrs
from tuner.config.hyperparams import Hyperparameters
from tuner.config.objectives import Constraint, Objective, Objectives
from tuner.errors import BadInput
from tuner.insight.export import pick_trial
from tuner.insight.front import best_for
from tuner.orchestration.front_pruning import FrontPruner, Progress, finished_progress
from tuner.storage import ranking
from tuner.training.latency import TOLERANCE, latency_ms
from tuner.training.models import RecurrentNet
from tuner.training.tasks.base import SequenceData

LOSS_AND_SIZE = [{"metric": "val_loss"}, {"metric": "params"}]


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        ({"objective": {"metric": "val_loss"}, "objectives": LOSS_AND_SIZE}, ["objectives", "not both"]),
        ({"objectives": [{"metric": "val_loss"}, {"metric": "flops"}]}, ["objectives[1].metric", "params", "'flops'"]),
        ({"objectives": [{"metric": "params"}, {"metric": "params"}]}, ["objectives[1].metric", "each metric once"]),
        ({"objectives": [{"metric": "params"}, {"metric": "latency_ms"}]}, ["objectives", "one validation metric"]),
        ({"objectives": [{"metric": "val_loss"}]}, ["objectives", "two or more"]),
        ({"objectives": LOSS_AND_SIZE, "constraints": {"val_bpc": {"max": 3}}}, ["constraints.val_bpc", "'val_bpc'"]),
        ({"objectives": LOSS_AND_SIZE, "constraints": {"params": {"most": 9}}}, ["constraints.params.most"]),
        ({"constraints": {"params": {"max": 9}}}, ["constraints", "beside objectives"]),
        ({"objectives": [{"metric": "val_loss"}, {"metric": "params", "direction": "maximize"}]}, ["minimize"]),
        ({"objectives": LOSS_AND_SIZE, "sampler": {"type": "cmaes"}}, ["sampler.type", "nsgaii", "'cmaes'"]),
        ({"objectives": LOSS_AND_SIZE, "pruner": {"type": "hyperband"}}, ["pruner.type", "median", "'hyperband'"]),
        ({"objective": {"metric": "params"}}, ["objective.metric", "a validation metric"]),
    ],
)
def test_a_bad_objectives_or_constraints_entry_is_one_line_and_writes_nothing(tmp_path, capsys, overrides, needles):
    path = write_yaml(tmp_path / "mo.yaml", tiny_study(tmp_path, **overrides))
    db = tmp_path / "mo.db"
    code, err = run_cli(capsys, "run", str(path), "--storage", f"sqlite:///{db}")
    assert_one_line_error(code, err, str(path), *needles)
    assert not db.exists()


# The front pruner's rule, on curves built so that one trial is dominated at an epoch and the others end
# on the front of an unpruned run: trials in the order they start, (params, validation loss per epoch).
TRIALS = {
    "A": (100, [3.0, 2.5, 2.0]),
    "B": (200, [2.8, 2.2, 1.5]),
    "C": (300, [3.5, 3.2, 3.0]),  # worse than A and B, which are smaller, from epoch 1: dominated
    "D": (50, [4.0, 3.9, 3.8]),  # the smallest: nothing finished costs no more, so nothing judges it
    "E": (400, [2.9, 2.0, 1.0]),  # the largest, ahead of the median of the smaller ones all along
}


def _run_front_pruner(pruner: FrontPruner, sizes: bool = True) -> set[str]:
    """Each trial in turn, epoch by epoch, judged against the ones finished before it: the pruned names
    (``sizes=False``: every network told the same size, as a single-objective pruner sees them)."""
    finished: list[Progress] = []
    pruned = set()
    for number, (name, (params, curve)) in enumerate(TRIALS.items()):
        progress = Progress(number, costs={"params": float(params) if sizes else 0.0})
        for epoch, value in enumerate(curve, start=1):
            progress.curve[epoch] = value
            if pruner.verdict(progress, finished):
                pruned.add(name)
                break
        else:
            finished.append(progress)
    return pruned


def test_the_front_pruner_stops_the_dominated_trial_and_none_that_ends_on_the_unpruned_front():
    objectives = Objectives((Objective("val_loss", "minimize"), Objective("params", "minimize")))
    median = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    finals = {name: (params, curve[-1]) for name, (params, curve) in TRIALS.items()}
    unpruned_front = {
        name
        for name, point in finals.items()
        if not any(ranking.dominates(other, point, [False, False]) for other in finals.values())
    }
    assert unpruned_front == {"A", "B", "D", "E"}
    pruned = _run_front_pruner(FrontPruner(median, "median", objectives))
    assert pruned == {"C"}
    assert not pruned & unpruned_front
    # without the sizes (every finished trial in the reference, as a single-objective median), the
    # smallest network, on the front, is stopped
    assert "D" in _run_front_pruner(FrontPruner(median, "median", objectives), sizes=False)


def test_a_trial_whose_known_size_breaks_a_constraint_is_stopped_at_its_first_epoch_and_says_why():
    objectives = Objectives(
        (Objective("val_loss", "minimize"), Objective("params", "minimize")), (Constraint("params", max=1000),)
    )
    pruner = FrontPruner(optuna.pruners.NopPruner(), "none", objectives)
    why = pruner.verdict(Progress(0, {1: 2.0}, {"params": 2500.0}), [])
    assert why is not None and "infeasible" in why and "params 2500" in why and "params <= 1000" in why
    assert pruner.verdict(Progress(0, {1: 2.0}, {"params": 900.0}), []) is None


def test_latency_is_measured_positive_and_repeats_within_its_tolerance():
    torch.manual_seed(0)
    net = RecurrentNet(6, 3, Hyperparameters(hidden_size=16, depth=1))
    split = SequenceData(torch.randn(32, 20, 6), torch.zeros(32, dtype=torch.long), torch.full((32,), 20))
    readings = [latency_ms(net, split, 6, batch_size=16) for _ in range(3)]
    assert all(r > 0 for r in readings)
    assert max(readings) <= (1 + TOLERANCE) * min(readings), readings
    assert net.training  # measuring leaves the network as it found it


def _study_with(values_and_attrs: list[tuple[list[float], dict]]) -> optuna.Study:
    """An in-memory two-objective study (val_loss, params) as tuner run stores one."""
    study = optuna.create_study(directions=["minimize", "minimize"])
    study.set_user_attr(
        attrs.SETTINGS,
        {
            "metric": "val_loss",
            "direction": "minimize",
            "objectives": [
                {"metric": "val_loss", "direction": "minimize"},
                {"metric": "params", "direction": "minimize"},
            ],
        },
    )
    for values, user_attrs in values_and_attrs:
        study.add_trial(create_trial(state=TrialState.COMPLETE, values=values, user_attrs=user_attrs))
    return study


def test_infeasible_trials_are_never_on_the_front_nor_picked_and_where_narrows_the_pick():
    study = _study_with(
        [
            ([1.0, 5000.0], {}),
            ([0.5, 9000.0], {attrs.INFEASIBLE: "params 9000 outside params <= 8000"}),
            ([2.0, 1000.0], {}),
            ([2.5, 3000.0], {}),  # dominated by trial 2
        ]
    )
    assert [t.number for t in ranking.front_trials(study)] == [0, 2]
    assert ranking.best_trial(study).number == 0  # the kept models and the final test skip trial 1 too
    assert best_for(study, "val_loss").number == 0  # not the infeasible trial 1, though its loss is lowest
    assert best_for(study, "params").number == 2
    assert best_for(study, "val_loss", ["params<=2000"]).number == 2
    with pytest.raises(BadInput, match="no front member meets params<=10"):
        best_for(study, "val_loss", ["params<=10"])
    with pytest.raises(BadInput, match="METRIC <=|<|>=|>|== NUMBER"):
        best_for(study, "val_loss", ["params at most 10"])
    with pytest.raises(BadInput, match="an objective of the study: val_loss, params, found 'flops'"):
        best_for(study, "flops")
    one = optuna.create_study()
    one.add_trial(create_trial(value=1.0))
    with pytest.raises(BadInput, match="--best-for: expected a multi-objective study"):
        pick_trial(one, None, "val_loss")
    with pytest.raises(BadInput, match="--trial N or --best-for METRIC"):
        pick_trial(study, None)


@pytest.fixture(scope="module")
def two_objective_study(ray_session, tmp_path_factory) -> tuple[str, str, object]:
    """A real two-objective study (val_loss, params) with a size constraint, through Ray Tune."""
    from tuner.api import run_spec
    from tuner.config.studies import load_study

    folder = tmp_path_factory.mktemp("two-objectives")
    document = tiny_study(
        folder,
        name="small-and-good",
        objectives=[*LOSS_AND_SIZE, {"metric": "latency_ms"}],
        constraints={"params": {"max": 5000}},  # hidden 8 and 16 fit; 24 does not
        pruner={"type": "median", "n_startup_trials": 1},
        trials=5,
        max_epochs=2,
    )
    document["space"]["parameters"]["hidden_size"] = {"type": "int", "low": 8, "high": 24, "step": 8}
    path = write_yaml(folder / "mo.yaml", document)
    url = f"sqlite:///{folder / 'mo.db'}"
    result = run_spec(load_study(path), storage=url, workers=2, progress=False)
    return url, "small-and-good", result


def test_a_two_objective_study_stores_both_values_and_its_front_is_the_hand_computed_one(two_objective_study):
    from tuner.storage.queries import trials_frame

    url, name, result = two_objective_study
    study = optuna.load_study(study_name=name, storage=url)
    complete = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert complete
    for trial in complete:
        assert len(trial.values) == 3
        assert trial.values[1] == trial.user_attrs[attrs.PARAMETER_COUNT] <= 5000
        assert trial.values[2] == trial.user_attrs[attrs.COSTS]["latency_ms"] > 0  # measured by its worker
    for trial in study.trials:  # every trial's size was measured; those over the bound were stopped at once
        if trial.user_attrs[attrs.COSTS]["params"] > 5000:
            assert trial.state is TrialState.PRUNED and "infeasible" in trial.user_attrs[attrs.PRUNED_BECAUSE]
    by_hand = {
        t.number for t in complete if not any(ranking.dominates(o.values, t.values, [False] * 3) for o in complete)
    }
    frame = trials_frame(url, name)
    assert set(frame[frame["front"]]["number"]) == by_hand
    assert {t.number for t in result.best_trials} == by_hand
    assert {t.number for t in study.best_trials} == by_hand  # Optuna's own reading of the study agrees
    with pytest.raises(RuntimeError, match="several objectives.*best_trials"):
        _ = result.best_value
    # what a resumed driver's front pruner starts from: each finished trial's stored curve and costs
    finished = finished_progress(study, url)
    assert set(finished) == {t.number for t in complete}
    for trial in complete:
        assert min(finished[trial.number].curve.values()) == pytest.approx(trial.values[0])
        assert finished[trial.number].costs == trial.user_attrs[attrs.COSTS]


def test_a_front_member_exported_by_best_for_retrains_with_tuner_train(two_objective_study, tmp_path, capsys):
    """The commands a user types, through the CLI's own entry point (in this process: the same code)."""
    from tuner.cli import main

    url, name, _ = two_objective_study
    assert main(["trials", name, "--storage", url]) == 0
    assert "front (*)" in capsys.readouterr().out
    assert main(["status", "--storage", url]) == 0
    header, row = capsys.readouterr().out.splitlines()[1:3]
    study = optuna.load_study(study_name=name, storage=url)
    assert dict(zip(header.split(), row.split(), strict=True))["front"] == str(len(ranking.front_trials(study)))
    code, err = run_cli(capsys, "export", name, "--storage", url)
    assert_one_line_error(code, err, "--best-for METRIC", "front:")
    out = tmp_path / "smallest.yaml"
    assert main(["export", name, "--best-for", "params", "--out", str(out), "--storage", url]) == 0
    smallest = min(ranking.front_trials(study), key=lambda t: (t.values[1], t.values[0]))
    assert f"trial: {smallest.number}\n" in out.read_text()
    assert main(["train", str(out), "--out", str(tmp_path / "m.pt")]) == 0
    assert (tmp_path / "m.pt").exists()


def test_the_dashboard_front_page_and_the_report_show_the_front(two_objective_study, monkeypatch):
    from tests.test_dashboard import figures, open_page
    from tuner.insight.report import build_report

    url, name, _ = two_objective_study
    study = optuna.load_study(study_name=name, storage=url)
    members = {t.number for t in ranking.front_trials(study)}
    app = open_page(monkeypatch, url, "front", study=name)
    assert [h.value for h in app.header] == [f"Front: {name}"]
    charts = {f["layout"]["title"]["text"]: f for f in figures(app)}
    front = next(trace for trace in charts["Front: val_loss against params"]["data"] if trace["name"] == "front")
    assert set(front["customdata"]) == members
    assert "Training vs validation loss" in charts  # the picked member's learning curves
    report = build_report(url, name)
    assert "<h2>Front</h2>" in report and "Front: val_loss against params" in report


def test_narrow_warm_start_and_compare_take_a_front_in_place_of_the_top_k(two_objective_study, tmp_path):
    from tuner.config.studies import WarmStart
    from tuner.insight.curves import compare_table
    from tuner.insight.narrow import narrow
    from tuner.orchestration.warm_start import best_configs

    url, name, _ = two_objective_study
    ran = optuna.load_study(study_name=name, storage=url)
    # a study of three known trials: 0 and 2 on the front, 1 dominated by 0
    copy_url = f"sqlite:///{tmp_path / 'front.db'}"
    study = optuna.create_study(study_name="known", storage=copy_url, directions=["minimize", "minimize"])
    for key in (attrs.SETTINGS, attrs.SPACE_DOCUMENT):
        study.set_user_attr(key, ran.user_attrs[key])
    source = next(t for t in ran.trials if t.state is TrialState.COMPLETE)
    for values, hidden in (([2.0, 1000.0], 8), ([2.5, 4000.0], 16), ([1.5, 4000.0], 16)):
        params = {**source.params, "hidden_size": hidden}
        study.add_trial(
            create_trial(
                values=values,
                params=params,
                distributions=source.distributions,
                user_attrs={attrs.HYPERPARAMETERS: {**source.user_attrs[attrs.HYPERPARAMETERS], **params}},
            )
        )
    assert "the 2 trials of its front, trials 0, 2" in narrow(copy_url, "known")
    with pytest.raises(BadInput, match="no --top for a multi-objective study"):
        narrow(copy_url, "known", 0.2)
    warm = best_configs(WarmStart(study="known", top_k=1), copy_url, "minimize", "study.yaml")
    assert [source_name for source_name, _, _ in warm] == ["known#0", "known#2"]  # the front, not the top 1
    table = compare_table(url, name, name)
    volumes = table.loc[[i for i in table.index if i.startswith("hypervolume")][0]]
    assert volumes.iloc[0] == volumes.iloc[1] > 0
