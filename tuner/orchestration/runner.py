"""run_study(): open the study, reconcile what a dead driver left, run the rest of the budget on Ray Tune."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import optuna
import ray
from optuna.distributions import distribution_to_json
from optuna.trial import TrialState
from ray import tune

from tuner import attrs
from tuner.attrs import StopReason
from tuner.config.algorithms import build_pruner, build_sampler
from tuner.config.hyperparams import Hyperparameters
from tuner.config.studies import StudySpec
from tuner.errors import BadInput, Diverged
from tuner.orchestration import drivers, shared_data, tune_storage, warm_start
from tuner.orchestration.bridge import OptunaPruningScheduler, OptunaSearcher, Outcomes, StudyBridge, queue_again
from tuner.orchestration.cluster import check_address, check_trial_fits, start_ray
from tuner.orchestration.final_test import score_on_test
from tuner.orchestration.front_pruning import FrontPruner, finished_progress
from tuner.orchestration.kept_models import CheckpointCopier, KeptModels
from tuner.orchestration.progress import ProgressBar
from tuner.orchestration.sink import EpochSink
from tuner.orchestration.trainable import run_trial, trains_networks
from tuner.storage import queries, ranking
from tuner.storage.engine import get_engine, optuna_storage, use_wal
from tuner.storage.tables import create_tables
from tuner.storage.trial_attrs import set_user_attrs, trial_id
from tuner.training import fused_build

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    study_name: str
    storage_url: str
    ran: int  # trials started by this run
    outcomes: Outcomes
    best: optuna.trial.FrozenTrial | None
    interrupted: int  # trials a previous driver left RUNNING, now FAIL and queued again
    test_result: dict[str, Any] | None = None  # the best trial scored on the test data (final_test)
    test_problem: str = ""  # why the test data could not be scored, if it could not
    warm_start: str = ""  # what a new study took from its warm_start sources, in one line
    # a multi-objective study's front (storage.ranking.front_trials); None for one objective, whose
    # ``best`` is the best trial (for several, ``best`` is the best on the validation objective)
    front: list[optuna.trial.FrozenTrial] | None = None


def _space_json(spec: StudySpec) -> str:
    return json.dumps({name: distribution_to_json(d) for name, d in spec.space.distributions().items()}, sort_keys=True)


def _conflict(study: optuna.Study, spec: StudySpec) -> str | None:
    """What differs between a stored study and this study file, or None."""
    space, settings = _space_json(spec), spec.settings()
    if attrs.SETTINGS not in study.user_attrs:  # made with Optuna's own API: not ours to add trials to
        return "a study tuner run did not make (it stores no settings)"
    if study.user_attrs.get(attrs.SPACE, space) != space:
        return "a changed search space"
    stored = study.user_attrs[attrs.SETTINGS]
    changed = sorted(k for k in settings if stored.get(k) != settings[k])
    return f"changed settings ({', '.join(changed)})" if changed else None


def choose_study(spec: StudySpec, storage_url: str, force: bool) -> StudySpec:
    """Refuse to mix two spaces (or tasks, epochs, seeds) in one study; with ``force``, move to NAME-2, NAME-3, ..."""
    names = set(queries.study_names(storage_url))
    candidate = spec
    for version in range(2, 1000):
        if candidate.name not in names:
            return candidate
        study = optuna.load_study(study_name=candidate.name, storage=optuna_storage(storage_url, create_tables=False))
        conflict = _conflict(study, spec)
        if conflict is None:
            return candidate
        if not force:
            raise BadInput(
                spec.source,
                "space" if "space" in conflict else "settings",
                f"the same search space and settings study {spec.name!r} was started with (or --force for a new study)",
                conflict,
            )
        candidate = dataclasses.replace(spec, name=f"{spec.name}-{version}")
    raise BadInput(spec.source, "name", "a study name with a free version", spec.name)


def open_study(spec: StudySpec, storage_url: str, warm: list[warm_start.Mapped] | None = None) -> optuna.Study:
    """Create the study (storing its settings and space, queueing its baseline and warm start) or load it
    (``choose_study`` checked they match). A multi-objective study gets one direction per objective."""
    use_wal(storage_url)
    storage = optuna_storage(storage_url)
    create_tables(get_engine(storage_url))
    existing = spec.name in queries.study_names(storage_url)
    finished = queries.trial_count(storage_url, spec.name)  # 0 for a new study
    sampler_config = warm_start.with_startup_kept(spec, len(warm or []) if not existing else None, storage_url)
    sampler = build_sampler(sampler_config, spec.space, spec.sampler_seed + finished, spec.source)
    pruner = build_pruner(spec.pruner, spec.source, max_epochs=spec.max_epochs, space=spec.space)
    study = optuna.create_study(
        study_name=spec.name,
        storage=storage,
        directions=spec.all_objectives.directions,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    # a resumed study may run with another sampler or pruner (they are rebuilt from the file each time)
    study.set_user_attr(attrs.SEARCH, {"sampler": spec.sampler, "pruner": spec.pruner})
    if not existing:
        study.set_user_attr(attrs.SETTINGS, spec.settings())
        study.set_user_attr(attrs.SPACE, _space_json(spec))
        study.set_user_attr(attrs.SPACE_DOCUMENT, spec.space.to_document())
        if spec.baseline:
            study.enqueue_trial(spec.baseline, user_attrs={attrs.BASELINE: True})
        if warm:
            warm_start.enqueue(study, warm)
    return study


def reconcile(study: optuna.Study, storage_url: str) -> int:
    """Trials left RUNNING by a driver that is gone become FAIL (interrupted) and are queued to run again.

    Trials of drivers still alive (another `tuner run` on the same study) are left alone.
    """
    stale = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if drivers.is_gone(storage_url, t.user_attrs.get(attrs.DRIVER))
    ]
    for trial in stale:
        set_user_attrs(
            storage_url,
            trial_id(storage_url, study.study_name, trial.number),
            {attrs.STOP: str(StopReason.INTERRUPTED)},
        )
        study.tell(trial.number, state=TrialState.FAIL)
        queue_again(study, trial)
    return len(stale)


def run_study(
    spec: StudySpec,
    storage_url: str,
    trials: int,
    workers: int,
    address: str | None = None,
    show_progress: bool = True,
    trainable: Callable[[dict], None] = run_trial,
    force: bool = False,
) -> RunSummary:
    """Run ``spec`` until the study holds ``trials`` counted trials; returns what happened.

    ``trainable`` is what each Ray worker runs (tests and benchmarks of the orchestration
    pass an arithmetic one that trains nothing). Ctrl-C, or an error in the driver itself (a
    sampler or pruner that raises), marks this driver's running trials FAIL (interrupted),
    queues them again and re-raises, so the next run of the same study resumes them.
    """
    if address:
        check_address(address)
    if models := _models_location(spec, storage_url, trainable):  # before the study, Ray and any trial: one line
        tune_storage.check_location(models, spec.source)
    spec = choose_study(spec, storage_url, force)
    # a new study's warm start is read before anything is written: a source that cannot be used is one line
    new = spec.name not in queries.study_names(storage_url)
    warm = warm_start.plan(spec, storage_url) if spec.warm_start and new else None
    # Counts only grow (reconcile re-queues, other drivers add), so a finished study starts no Ray.
    budget_left = _budget_left(storage_url, spec.name, trials)
    # Build the fused cells while Ray and its workers start; else a first trial builds them, the others waiting.
    prebuild = budget_left and address is None and _may_train_fused_layers(spec)
    with fused_build.built_alongside(prebuild) as building:
        if building and show_progress:
            print("building the fused recurrent cells for this CPU (once, about 15 s); the first trials wait for it")
        # Ray before the study is written: trials this machine's Ray could never hold are refused first.
        started_ray = budget_left and start_ray(address)
        try:
            if ray.is_initialized() and address is None:
                check_trial_fits(spec.resources, spec.source)
            # where Tune persists; every node's reach checked before the study is written
            place = None
            if ray.is_initialized():
                place = tune_storage.choose(spec.checkpoints.location(storage_url), spec.source)
            if show_progress and place and place.kind == "served":
                print(
                    "the cluster's nodes share no disk with this driver: trials hand their checkpoints to it through Ray"
                )
            summary = _run_rest(spec, storage_url, trials, workers, show_progress, trainable, warm, place)
            summary.warm_start = warm_start.summary_line(warm) if warm is not None else ""
            return summary
        finally:
            if started_ray:
                ray.shutdown()


def _models_location(spec: StudySpec, storage_url: str, trainable: Callable[[dict], None]) -> str | None:
    """Where the study keeps its best trials' models; None when it keeps none (or its trials train nothing)."""
    if spec.checkpoints.keep_best == 0 or not trains_networks(trainable):
        return None
    return spec.checkpoints.location(storage_url)


def _may_train_fused_layers(spec: StudySpec) -> bool:
    """Whether a trial of ``spec`` may train a layer that runs the fused CPU recurrence: on the CPU, with
    a cell and an activation its space allows (a knob it does not search takes its default)."""
    if spec.resources.gpu:
        return False
    values = {p.name: p.finite_values() or () for p in spec.space.params}
    defaults = Hyperparameters()
    cells = values.get("cell") or (defaults.cell,)
    activations = values.get("activation") or (defaults.activation,)
    return any(fused_build.runs_fused_code(c, a) for c in cells for a in activations)


def _budget_left(storage_url: str, study_name: str, trials: int) -> bool:
    if study_name not in queries.study_names(storage_url):
        return trials > 0
    counted, _ = queries.budget_counts(storage_url, study_name)
    return counted < trials


def _run_rest(
    spec: StudySpec,
    storage_url: str,
    trials: int,
    workers: int,
    show_progress: bool,
    trainable: Callable[[dict], None],
    warm: list[warm_start.Mapped] | None = None,
    place: tune_storage.TunePlace | None = None,
) -> RunSummary:
    """Open the study, reconcile what a dead driver left, and run what is left of the budget (Ray is up;
    ``place`` is where Tune persists, None for a study with nothing left to run)."""
    study = open_study(spec, storage_url, warm)
    driver_id = drivers.new_driver_id()
    drivers.beat(storage_url, driver_id, spec.name)
    interrupted = reconcile(study, storage_url)
    counted, _ = queries.budget_counts(storage_url, spec.name)
    remaining = max(0, trials - counted)
    bridge = StudyBridge(
        study,
        storage_url,
        spec.space,
        spec.settings(),
        spec.resources,
        total_trials=trials,
        max_retries=spec.max_retries,
        driver_id=driver_id,
    )
    if spec.multi_objective:
        bridge.front = FrontPruner(study.pruner, spec.pruner["type"], spec.all_objectives)
        bridge.finished = finished_progress(study, storage_url)
    if models := _models_location(spec, storage_url, trainable):
        bridge.models = KeptModels(study, storage_url, models, spec.checkpoints.keep_best, spec.checkpoints.resume)
    summary = RunSummary(spec.name, storage_url, remaining, bridge.outcomes, None, interrupted)
    # trials (and the final test) get the data file through Ray: no node needs the file
    with (
        shared_data.shared(spec.data_bytes if ray.is_initialized() else None) as bridge.data_actor,
        contextlib.closing(bridge.models) if bridge.models else contextlib.nullcontext(),
    ):
        if remaining:
            try:
                owner = tune_storage.RunOwner(
                    storage_url, spec.name, driver_id, lambda other: drivers.is_gone(storage_url, other)
                )
                with tune_storage.storage_for_run(place or tune_storage.TunePlace("local"), owner) as tune_place:
                    _fit(bridge, spec, storage_url, remaining, workers, tune_place, show_progress, trainable)
            except BaseException:  # Ctrl-C, or an error in the driver itself: nothing may stay RUNNING
                bridge.interrupt()
                raise
        summary.best = ranking.best_trial(study)
        summary.front = ranking.front_trials(study) if spec.multi_objective else None
        if summary.best is not None and trains_networks(trainable):
            try:
                model = bridge.models.model_bytes(summary.best.number) if bridge.models is not None else None
                summary.test_result = score_on_test(spec, study, summary.best, model, bridge.data_actor)
            except (BadInput, Diverged) as error:  # the study is done and kept; only its final score is missing
                summary.test_problem = str(error)
    return summary


def _fit(
    bridge: StudyBridge,
    spec: StudySpec,
    storage_url: str,
    remaining: int,
    workers: int,
    storage: tuple[str, Any],  # Tune's (storage_path, storage_filesystem): tune_storage.storage_for_run
    show_progress: bool,
    trainable: Callable[[dict], None],
) -> None:
    mode = "min" if spec.direction == "minimize" else "max"
    resources: dict[str, Any] = {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu}
    callbacks: list[Any] = [
        EpochSink(bridge, storage_url, spec.name),
        drivers.Heartbeat(storage_url, bridge.driver_id, spec.name),
    ]
    if bridge.models is not None:
        callbacks.append(CheckpointCopier(bridge, bridge.models))
    # the study's whole budget, and what earlier runs already counted of it
    progress = (
        ProgressBar(bridge, bridge.total_trials, before=bridge.total_trials - remaining) if show_progress else None
    )
    if progress:
        callbacks.append(progress)
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearcher(bridge, metric="objective", mode=mode),
            scheduler=OptunaPruningScheduler(bridge),
            # an upper bound: the searcher stops at the budget, counted in the database (retries
            # after a dead worker, and other drivers on the same study, change what is left)
            num_samples=remaining * (1 + spec.max_retries),
            max_concurrent_trials=workers,
            reuse_actors=True,
        ),
        # Tune's own folder, deleted after the run; not the study's name, which may hold "/" or ".."
        run_config=tune.RunConfig(
            name="trials",
            storage_path=storage[0],
            storage_filesystem=storage[1],
            verbose=0,
            callbacks=callbacks,
            # the driver copies each checkpoint out at once: Tune's folder needs only the latest
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        ),
    )
    with _tune_environment(), progress or contextlib.nullcontext():
        tuner.fit()


@contextlib.contextmanager
def _tune_environment() -> Iterator[None]:
    """Tune reads these from the environment; set for one run, then put back as they were."""
    wanted = {
        # Tune's own console output (a config table, its results folder) would talk over our progress bar.
        "RAY_AIR_NEW_OUTPUT": os.environ.get("RAY_AIR_NEW_OUTPUT", "0"),
        # Let Ctrl-C reach us (Tune would swallow it) so running trials are marked and re-queued.
        "TUNE_DISABLE_SIGINT_HANDLER": "1",
        # Tune's per-trial CSV/JSON/TensorBoard files would go to a folder deleted after the run (the
        # database is the record); writing them is time the driver spends between trials.
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": os.environ.get("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1"),
    }
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
