"""The bridge between Ray Tune and one Optuna study: Optuna decides, Tune runs.

Ray's stock ``OptunaSearch`` cannot prune and tells Optuna COMPLETE for a
trial a scheduler stopped. Here one driver-side ``StudyBridge`` holds the
Optuna trial of every Tune trial and the set of pruned ones; the searcher
asks and tells, the scheduler reports each epoch and consults the study's
own pruner. Tune calls a scheduler's ``on_trial_result`` before the
searcher's, and stops a trial without telling the searcher why, hence the
shared object.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import math
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from tuner import attrs
from tuner.attrs import StopReason
from tuner.config.hyperparams import Hyperparameters
from tuner.config.objectives import COST_METRICS, from_settings
from tuner.config.pruners import OverfittingPruner
from tuner.config.spaces import SearchSpace
from tuner.config.studies import Resources
from tuner.orchestration.front_pruning import FrontPruner, Progress
from tuner.orchestration.trainable import EPOCH, SUMMARY
from tuner.storage import queries, ranking
from tuner.storage.trial_attrs import set_user_attrs, trial_id

if TYPE_CHECKING:
    from tuner.orchestration.kept_models import KeptModels

log = logging.getLogger(__name__)


@contextlib.contextmanager
def held_ctrl_c() -> Iterator[None]:
    """Hold a Ctrl-C until the block is done, then deliver it.

    A trial asked from Optuna but not yet in ``records``, or taken out of it but not
    yet told, would escape ``interrupt`` and stay RUNNING. Signals reach only the
    main thread, which is where Tune runs the searcher.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt here


@dataclass
class TrialRecord:
    """What the driver knows about one running trial."""

    trial: optuna.Trial
    baseline: bool = False  # the study's baseline: never pruned
    epochs: int = 0
    pruned: bool = False
    node: dict[str, Any] | None = None  # where it runs ({"node": Ray node id, "gpus": ids}), from its results
    curve: dict[str, list[float]] = field(default_factory=lambda: {"train_loss": [], "val_loss": []})
    progress: Progress | None = None  # a multi-objective trial's curve and costs, for the front pruner
    pruned_because: str = ""


@dataclass
class Outcomes:
    """Counts for the progress bar and the final summary."""

    by_state: collections.Counter = field(default_factory=collections.Counter)
    best_value: float | None = None  # of the (validation) objective, among feasible trials
    front: int | None = None  # members of a multi-objective study's front so far


class StudyBridge:
    """Driver-side state shared by the searcher, the pruning scheduler and the metrics sink."""

    def __init__(
        self,
        study: optuna.Study,
        storage_url: str,
        space: SearchSpace,
        settings: dict[str, Any],
        resources: Resources,
        total_trials: int,
        max_retries: int = 1,
        driver_id: str = "",
    ) -> None:
        self.study = study
        self.storage_url = storage_url
        self.space = space
        self.settings = settings
        self.resources = resources
        self.total_trials = total_trials
        self.max_retries = max_retries
        self.driver_id = driver_id
        self.stores_curves = _uses_curves(study.pruner)
        self.records: dict[str, TrialRecord] = {}
        self._ids: dict[int, int] = {}  # trial number -> Optuna's storage id
        self.outcomes = Outcomes()
        self._minimize = settings["direction"] == "minimize"
        self._budget_full = False  # cached until one of our trials ends
        self._trivial_stored = attrs.TRIVIAL in study.user_attrs
        self.models: KeptModels | None = None  # set by the runner when the study keeps its best models
        self.data_actor: str | None = None  # the Ray actor holding the study's data file (shared_data)
        self.objectives = from_settings(settings)
        # a multi-objective study's pruner (set by the runner) and what its finished trials reached
        self.front: FrontPruner | None = None
        self.finished: dict[int, Progress] = {}

    def __getstate__(self) -> dict:
        # Tune pickles its searcher and scheduler into its experiment folder; the live
        # study (an open database) stays in the driver. We resume from the database.
        return {}

    def budget(self) -> str:
        """'open' to start another trial, 'wait' while ours run (one may need a retry), 'done' when the
        study holds its budget. Counted in the database, so several drivers share one budget."""
        if not self._budget_full:
            counted, running = queries.budget_counts(self.storage_url, self.study.study_name)
            self._budget_full = counted + running >= self.total_trials
        if not self._budget_full:
            return "open"
        return "wait" if self.records else "done"

    @held_ctrl_c()
    def ask(self, tune_trial_id: str) -> dict[str, Any]:
        """Ask Optuna for a trial and turn it into the config the worker trains."""
        trial = self.study.ask()
        values = self.space.suggest(trial)
        resume_from = self.models.resume_from(trial) if self.models is not None else None
        hyperparameters = Hyperparameters.from_dict(values, "search space", "").to_dict()
        seed = self._seed(trial)
        set_user_attrs(
            self.storage_url,
            self._trial_id(trial),
            {
                attrs.HYPERPARAMETERS: hyperparameters,
                attrs.SEED: seed,
                attrs.THREADS: attrs.torch_threads(self.resources.cpu),
                attrs.DRIVER: self.driver_id,
            },
        )
        self.records[tune_trial_id] = TrialRecord(
            trial,
            baseline=bool(trial.user_attrs.get(attrs.BASELINE)),
            progress=Progress(trial.number) if self.front is not None else None,
        )
        self._budget_full = False  # this trial is now RUNNING: recount next time
        return {
            "settings": self.settings,
            "hyperparameters": hyperparameters,
            "seed": seed,
            "cpus": self.resources.cpu,
            "gpus": self.resources.gpu,
            "precision": str(self.resources.precision),
            "trial_number": trial.number,
            "attempt": int(trial.user_attrs.get(attrs.ATTEMPT, 1)),
            "keep_models": self.models is not None,
            "resumable": self.models is not None and self.models.resumable,
            "resume_from": resume_from,
            "data_actor": self.data_actor,
        }

    def _trial_id(self, trial: optuna.Trial) -> int:
        """The storage id of a trial this driver runs (looked up once: our SQL writes address trials by it)."""
        if trial.number not in self._ids:
            self._ids[trial.number] = trial_id(self.storage_url, self.study.study_name, trial.number)
        return self._ids[trial.number]

    def _seed(self, trial: optuna.Trial) -> int:
        """Trial k trains with seed + k; a trial run again keeps its first run's seed (and so resumes it exactly)."""
        earlier = trial.user_attrs.get(attrs.RETRY_OF)
        if earlier is not None:
            first = next(t for t in self.study.get_trials(deepcopy=False) if t.number == earlier)
            seed = first.user_attrs.get(attrs.SEED)
            if seed is not None:
                return int(seed)
        return int(self.settings["seed"]) + trial.number

    def report_epoch(self, tune_trial_id: str, result: dict[str, Any]) -> bool:
        """Hand one epoch's value to Optuna; True when the study's pruner says stop."""
        record = self.records[tune_trial_id]
        record.epochs = int(result["epoch"])
        if "node" in result:
            record.node = {"node": result["node"], "gpus": result.get("gpus", [])}
        if self.stores_curves:  # the overfitting pruner reads both curves from the trial
            record.curve["train_loss"].append(float(result["train_loss"]))
            record.curve["val_loss"].append(float(result["val_loss"]))
            record.trial.set_user_attr(attrs.LOSS_CURVE, record.curve)
        value = float(result["objective"])
        if not math.isfinite(value):
            return False
        if record.progress is not None:
            return self._judged_on_front(record, result, value)
        record.trial.report(value, step=record.epochs)
        if result.get("replayed"):  # an epoch its interrupted run trained: recorded, not judged again
            return False
        # Asked even for the baseline and at a trial's last epoch: a rung pruner records the value
        # there, so it still ranks the others. The baseline runs its whole budget as the reference,
        # and a trial whose training ends after this epoch anyway (budget spent, or early stopping)
        # is left to finish COMPLETE: stopping it would save nothing and hide a finished network.
        prune = record.trial.should_prune()
        if prune and not record.baseline and not result.get("ends_training", False):
            record.pruned = True
            return True
        return False

    def _judged_on_front(self, record: TrialRecord, result: dict[str, Any], value: float) -> bool:
        """A multi-objective trial's epoch: True when the front pruner says stop (Optuna cannot prune it)."""
        progress, front = record.progress, self.front
        if progress is None or front is None:
            return False
        progress.curve[record.epochs] = value
        progress.costs.update(costs_in(result))
        if result.get("replayed") or record.baseline or result.get("ends_training", False):
            return False  # as for one objective: recorded, not judged; the reference; or ending anyway
        why = front.verdict(progress, self.finished.values())
        if why is None:
            return False
        record.pruned, record.pruned_because = True, why
        return True

    def optuna_trial_id(self, tune_trial_id: str) -> tuple[int, int] | None:
        """(Optuna trial_id, trial number) of a Tune trial, for the metrics sink."""
        record = self.records.get(tune_trial_id)
        return (self._trial_id(record.trial), record.trial.number) if record else None

    @held_ctrl_c()
    def finish(self, tune_trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        """Tell Optuna how the trial ended: PRUNED, FAIL (with the reason) or COMPLETE."""
        record = self.records.pop(tune_trial_id, None)
        if record is None:
            return
        trial, summary = record.trial, (result or {})
        ended: dict[str, Any] = {attrs.EPOCHS_RUN: record.epochs}
        if record.pruned:
            where = {attrs.NODE: record.node} if record.node else {}
            if record.progress is not None:
                self._set_constraints(trial, record.progress.costs)
                where |= {attrs.COSTS: record.progress.costs, attrs.PRUNED_BECAUSE: record.pruned_because}
            self._end(trial, TrialState.PRUNED, {**ended, attrs.STOP: str(StopReason.PRUNED), **where})
            return
        if error or summary.get("kind") != "summary":
            self._worker_died(trial, ended)
            return
        if "trivial" in summary and not self._trivial_stored:
            self.study.set_user_attr(
                attrs.TRIVIAL, json.loads(summary["trivial"])
            )  # the same data for every trial: once
            self._trivial_stored = True
        ended |= ended_attrs(summary)
        if "error" in summary:
            self._end(trial, TrialState.FAIL, {**ended, attrs.ERROR: summary["error"]})
            return
        value = float(summary["best_objective"])
        if self.front is not None:
            if not self._end_on_front(trial, record, ended | trained_attrs(summary), value, costs_in(summary)):
                return  # FAIL, or infeasible: not the best of anything
        else:
            self._end(trial, TrialState.COMPLETE, ended | trained_attrs(summary), value)
        best = self.outcomes.best_value
        if best is None or (value < best if self._minimize else value > best):
            self.outcomes.best_value = value

    def _end_on_front(
        self, trial: optuna.Trial, record: TrialRecord, ended: dict[str, Any], value: float, costs: dict[str, float]
    ) -> bool:
        """A multi-objective trial ends COMPLETE with one value per objective; outside a constraint it is
        recorded infeasible. Its curve and costs join the front pruner's reference. A trial that did not
        measure every objective ends FAIL. True when it ended COMPLETE and feasible."""
        measured = {self.objectives.validation.metric: value, **costs}
        if missing := [m for m in self.objectives.metrics if m not in measured]:  # a trainable that measures less
            self._end(trial, TrialState.FAIL, {**ended, attrs.ERROR: f"the trial measured no {', '.join(missing)}"})
            return False
        self._set_constraints(trial, measured)
        broken = self.objectives.broken(measured)
        ended = {**ended, attrs.COSTS: costs, **({attrs.INFEASIBLE: "; ".join(broken)} if broken else {})}
        values = [measured[m] for m in self.objectives.metrics]
        self._end(trial, TrialState.COMPLETE, ended, values, ranked_by=value)
        if record.progress is not None:
            record.progress.costs.update(costs)
            self.finished[trial.number] = record.progress
        self.outcomes.front = len(ranking.front_trials(self.study))
        return not broken

    def _set_constraints(self, trial: optuna.Trial, measured: dict[str, float]) -> None:
        """Each constraint's value for Optuna (<= 0: kept), which its samplers read; a metric the trial did
        not get to measure (a pruned trial's final validation value) counts as on its bound."""
        for constraint in self.objectives.constraints:
            value = measured.get(constraint.metric)
            trial.set_constraint(constraint.metric, 0.0 if value is None else constraint.violation(value))

    def _worker_died(self, trial: optuna.Trial, ended: dict[str, Any]) -> None:
        """FAIL with the reason; queue the same parameters again while retries are left."""
        attempt = int(trial.user_attrs.get(attrs.ATTEMPT, 1))  # set when the trial was queued
        retry = attempt <= self.max_retries
        then = "queued again" if retry else f"no retries left (max_retries {self.max_retries})"
        message = f"the trial's worker process died (killed, or out of memory) on attempt {attempt}; {then}"
        ended = {**ended, attrs.STOP: str(StopReason.WORKER_DIED), attrs.ERROR: message}
        if retry:
            ended[attrs.RETRIED] = True
        self._end(trial, TrialState.FAIL, ended)
        if retry:
            queue_again(self.study, trial, {attrs.ATTEMPT: attempt + 1})

    def interrupt(self) -> int:
        """Our running trials become FAIL (interrupted) and are queued to run again: a clean Ctrl-C."""
        stopped = list(self.records.values())
        self.records.clear()
        for record in stopped:
            self._end(record.trial, TrialState.FAIL, {attrs.STOP: str(StopReason.INTERRUPTED)})
            queue_again(self.study, record.trial)
        return len(stopped)

    def _end(
        self,
        trial: optuna.Trial,
        state: TrialState,
        ended: dict[str, Any],
        value: float | list[float] | None = None,
        ranked_by: float | None = None,
    ) -> None:
        """Store how the trial ended (one transaction), then tell Optuna its state (and its value, or one
        per objective); keep its model if it ranks (``ranked_by``: a multi-objective trial's validation value)."""
        if self.models is not None:  # registered while the trial still runs: Optuna adds nothing to a finished one
            queued_again = ended.get(attrs.STOP) in (StopReason.INTERRUPTED, StopReason.WORKER_DIED)
            finished = (ranked_by if ranked_by is not None else value) if state is TrialState.COMPLETE else None
            self.models.trial_ended(trial, finished, queued_again, ended.get(attrs.BEST_VAL_LOSS))
        set_user_attrs(self.storage_url, self._trial_id(trial), ended)
        self._tell(trial, state, value)
        if self.models is not None and state is TrialState.COMPLETE:
            self.models.trim()

    def _tell(self, trial: optuna.Trial, state: TrialState, value: float | list[float] | None = None) -> None:
        try:
            self.study.tell(trial, value if state is TrialState.COMPLETE else None, state=state)
        except Exception as error:  # noqa: BLE001 - Optuna stores the state before its sampler's after_trial can raise
            # GridSampler calls study.stop() when its grid is used up, which ask/tell cannot honour:
            # not a failure, our budget decides when the study ends.
            if "Study.stop" not in str(error):
                log.exception(
                    "the sampler failed after trial %d was stored %s; the study goes on", trial.number, state.name
                )
        self.outcomes.by_state[state.name] += 1
        self._budget_full = False


def ended_attrs(summary: dict[str, Any]) -> dict[str, Any]:
    """What every trial's summary says of how it ended: why, where, on what device."""
    ended = {
        attrs.STOP: summary["stop_reason"],
        attrs.NODE: {"node": summary.get("node"), "gpus": summary.get("gpus", [])},
    }
    if "device" in summary:
        ended[attrs.DEVICE] = json.loads(summary["device"])
    return ended


def trained_attrs(summary: dict[str, Any]) -> dict[str, Any]:
    """What a COMPLETE trial's summary says of the network it trained: best epoch, size, confusion counts,
    warnings (too many parameters for the data; a resume that could not be)."""
    trained: dict[str, Any] = {
        attrs.BEST_EPOCH: summary["best_epoch"],
        attrs.PARAMETER_COUNT: summary["parameter_count"],
        attrs.TRAINING_EXAMPLES: summary["training_examples"],
    }
    if "confusion" in summary:
        trained[attrs.CONFUSION] = json.loads(summary["confusion"])
    if "best_val_loss" in summary:  # (trainables that train nothing have none)
        trained[attrs.BEST_VAL_LOSS] = float(summary["best_val_loss"])
    warnings = [
        attrs.capacity_warning(summary["parameter_count"], summary["training_examples"]),
        summary.get("warning"),
    ]
    if warning := "; ".join(w for w in warnings if w):
        trained[attrs.WARNING] = warning
    return trained


def costs_in(result: dict[str, Any]) -> dict[str, float]:
    """The cost metrics a worker's result carries (a multi-objective trial's: config.objectives)."""
    return {metric: float(result[metric]) for metric in COST_METRICS if result.get(metric) is not None}


def queue_again(
    study: optuna.Study, trial: optuna.Trial | optuna.trial.FrozenTrial, user_attrs: dict[str, Any] | None = None
) -> None:
    """Enqueue a failed trial's parameters to run again (a retry, or a re-run after Ctrl-C); a baseline stays one."""
    carried = {attrs.BASELINE: True} if trial.user_attrs.get(attrs.BASELINE) else {}
    study.enqueue_trial(trial.params, user_attrs={attrs.RETRY_OF: trial.number, **carried, **(user_attrs or {})})


def _uses_curves(pruner: optuna.pruners.BasePruner | None) -> bool:
    """Whether an overfitting pruner sits anywhere in this (possibly wrapped) pruner."""
    while pruner is not None:
        if isinstance(pruner, OverfittingPruner):
            return True
        # Optuna's PatientPruner keeps the pruner it wraps private (no public accessor); ours name it openly
        pruner = getattr(pruner, "_wrapped_pruner", None) or getattr(pruner, "wrapped_pruner", None)
    return False


class OptunaSearcher(Searcher):
    """A Tune searcher over Optuna ask/tell through a StudyBridge."""

    def __init__(self, bridge: StudyBridge, metric: str, mode: str) -> None:
        super().__init__(metric=metric, mode=mode)
        self.bridge = bridge

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        state = self.bridge.budget()
        if state == "open":
            return self.bridge.ask(trial_id)
        return None if state == "wait" else Searcher.FINISHED  # None: Tune asks again later

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.bridge.finish(trial_id, result, error)

    def save(self, checkpoint_path: str) -> None:  # state lives in the database
        pass

    def restore(self, checkpoint_path: str) -> None:
        pass


class OptunaPruningScheduler(FIFOScheduler):
    """Reports every epoch to Optuna and stops the trials the study's pruner prunes."""

    def __init__(self, bridge: StudyBridge) -> None:
        super().__init__()
        self.bridge = bridge

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        if result.get("kind") == SUMMARY:
            # The summary is a trial's last word: stopping here spares the round trip Tune would
            # spend collecting the function's return. The searcher gets this result either way.
            return TrialScheduler.STOP
        if result.get("kind") != EPOCH:
            return TrialScheduler.CONTINUE
        return TrialScheduler.STOP if self.bridge.report_epoch(trial.trial_id, result) else TrialScheduler.CONTINUE
