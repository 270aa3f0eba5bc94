"""Scoring the network a study chose: its validation value, its value on test data the search never
saw, and what a trivial predictor scores on both.

The gap between validation and test is the *selection optimism*: the validation value chose this
network among many, so it flatters it; the test value does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tuner.config.task import TaskSpec
from tuner.training.checkpoint import load_checkpoint
from tuner.training.ensemble import Ensemble, fit_on
from tuner.training.inference import class_labels, confusion_on, evaluate_split, validation_confusion_of
from tuner.training.loop import TrainResult
from tuner.training.models import RecurrentNet
from tuner.training.tasks import Target, TaskData, task_for
from tuner.training.trivial import Trivial, trivial_baseline, trivial_over


@dataclass(frozen=True)
class FinalScores:
    metric: str
    validation: dict[str, float]  # the kept epoch's validation metrics
    test: dict[str, float] | None  # None: the study names no test data
    trivial_validation: Trivial
    trivial_test: Trivial | None
    confusion: dict[str, Any] | None = None  # a classifier's {labels, validation, test} counts (row: true label)
    fit_on: str = "train"  # what the scored network learned from (``fit_on``)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "validation": dict(self.validation),
            "test": None if self.test is None else dict(self.test),
            "trivial": {
                "validation": self.trivial_validation.as_dict(),
                "test": None if self.trivial_test is None else self.trivial_test.as_dict(),
            },
            **({"confusion": self.confusion} if self.confusion else {}),
            "fit_on": self.fit_on,
        }


def final_scores(result: TrainResult, task: dict[str, Any], refitted: TrainResult | None = None) -> FinalScores:
    """Score ``result``'s kept weights on the task's test data (read now, and only now), beside the trivial
    predictor; with ``refitted`` (``refit.py``), that network is the one scored on test, and the
    validation figures stay the selection run's (the refit trained on the validation sequences)."""
    validation = dict(result.epochs[result.best_epoch - 1].metrics)
    matrix = validation_confusion_of(result) if result.data.target is Target.CLASS else None
    final = None if refitted is None else refitted.model
    return _scores(result.model, result.data, validation, matrix, result.monitor, task, final, result.folds)


def model_file_scores(
    path: str, splits: Sequence[TaskData], task: dict[str, Any], final: RecurrentNet | None = None
) -> FinalScores:
    """The same for a kept model file of a trial (its validation metrics measured again on its one split,
    or, for a cross-validated trial's ensemble, whose members trained on one another's validation
    sequences, the fold means its file keeps); ``splits``: ``trial_run.task_splits``; ``final``: a refit
    of it, scored on test instead."""
    data, folds = splits[-1], splits if len(splits) > 1 else ()
    net, checkpoint = load_checkpoint(path)
    if isinstance(net, Ensemble):
        validation, matrix = dict(checkpoint["validation_metrics"]), None
    else:
        validation = evaluate_split(net, data.target, data.val, data.input_size, data.target_scale)
        matrix = confusion_on(net, data.val, data.input_size, data.output_size) if data.target is Target.CLASS else None
    return _scores(net, data, validation, matrix, checkpoint["metric"], task, final, folds)


def _scores(
    net: RecurrentNet | Ensemble,
    data: TaskData,
    validation: dict[str, float],
    validation_matrix: list[list[int]] | None,
    metric: str,
    task: dict[str, Any],
    final: RecurrentNet | None = None,
    folds: Sequence[TaskData] = (),
) -> FinalScores:
    """``net`` chose on validation; ``final`` (default: ``net``) is the network scored on test; ``folds``: a
    cross-validated study's, on whose validation parts the trivial predictor is scored as its trials were."""
    final = net if final is None else final
    spec = TaskSpec(**task)
    test = task_for(spec.name).load_test(spec.data, spec.test_data, spec.parsed_options(), data.preparation)
    trivial = trivial_over(folds) if folds else trivial_baseline(data)
    matrices = None
    if data.target is Target.CLASS:
        matrices = {"labels": class_labels(data.preparation, data.output_size)}
        if validation_matrix is not None:
            matrices["validation"] = validation_matrix
        if test is not None:
            matrices["test"] = confusion_on(final, test, data.input_size, data.output_size)
    return FinalScores(
        metric=metric,
        validation=validation,
        test=None if test is None else evaluate_split(final, data.target, test, data.input_size, data.target_scale),
        trivial_validation=trivial,
        trivial_test=None if test is None else trivial_baseline(data, test, trivial.predictor),
        confusion=matrices,
        fit_on=fit_on(net, final),
    )
