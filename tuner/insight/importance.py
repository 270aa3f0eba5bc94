"""Hyperparameter importance with Optuna's evaluators, from the trials frame (no RDB round trips)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import optuna
import pandas as pd

from tuner.insight import BOOTSTRAP

# Below this many COMPLETE trials an importance estimate is mostly noise.
RELIABLE_TRIALS = 20


class Evaluator(StrEnum):
    FANOVA = "fanova"
    PED_ANOVA = "ped-anova"


@dataclass(frozen=True)
class Importances:
    values: pd.DataFrame  # columns: parameter, importance (sums to 1), sorted descending
    trials: int  # COMPLETE trials behind the estimate

    @property
    def reliable(self) -> bool:
        return self.trials >= RELIABLE_TRIALS


@dataclass(frozen=True)
class Forest:
    """fANOVA's random forest. Optuna's default (64 trees, depth 64) takes ~20 s on 1,000 trials
    of our space on 2 cores; the dashboard uses ``LIGHT_FOREST`` (~1 s) to stay interactive."""

    trees: int = 64
    depth: int = 64


LIGHT_FOREST = Forest(trees=16, depth=8)


def _evaluator(kind: Evaluator, seed: int, forest: Forest) -> optuna.importance.BaseImportanceEvaluator:
    if kind is Evaluator.FANOVA:
        return optuna.importance.FanovaImportanceEvaluator(n_trees=forest.trees, max_depth=forest.depth, seed=seed)
    return optuna.importance.PedAnovaImportanceEvaluator()


def param_importances(
    trials: pd.DataFrame,
    dists: dict,
    direction: str,
    kind: Evaluator = Evaluator.FANOVA,
    seed: int = 0,
    forest: Forest = Forest(),
) -> Importances:
    """Importances over the COMPLETE trials of ``trials`` (a ``trials_frame``)."""
    complete = trials[trials["state"] == "COMPLETE"]
    study = optuna.create_study(direction=direction)
    frozen = []
    for row in complete.to_dict("records"):
        params = {
            name: row[f"param_{name}"] for name in dists if f"param_{name}" in row and pd.notna(row[f"param_{name}"])
        }
        frozen.append(
            optuna.trial.create_trial(params=params, distributions={n: dists[n] for n in params}, value=row["value"])
        )
    study.add_trials(frozen)
    empty = pd.DataFrame(columns=["parameter", "importance"])
    if len(frozen) < 2:
        return Importances(empty, len(frozen))
    try:
        with warnings.catch_warnings():
            # PED-ANOVA warns per parameter when few trials back it; callers say so once (see reliable)
            warnings.simplefilter("ignore", UserWarning)
            scores = optuna.importance.get_param_importances(study, evaluator=_evaluator(kind, seed, forest))
    except (ValueError, RuntimeError):  # e.g. every trial took the same values
        return Importances(empty, len(frozen))
    values = pd.DataFrame({"parameter": list(scores), "importance": list(scores.values())})
    return Importances(values, len(frozen))


@dataclass(frozen=True)
class Intervals:
    """Each parameter's importance with a bootstrap interval over the trials: the 5th to 95th percentile of
    the importances computed on ``resamples`` resamplings of the COMPLETE trials (with replacement),
    stretched where needed to hold the estimate on all trials."""

    values: pd.DataFrame  # parameter, importance (on all trials), low, high; sorted by importance
    trials: int
    resamples: int

    def top_two_overlap(self) -> bool:
        """Whether the two most important knobs' intervals overlap: their order is then not settled."""
        if len(self.values) < 2:
            return False
        first, second = self.values.iloc[0], self.values.iloc[1]
        return bool(first["low"] <= second["high"])


def bootstrap_importances(
    trials: pd.DataFrame,
    dists: dict,
    direction: str,
    resamples: int = BOOTSTRAP,
    kind: Evaluator = Evaluator.FANOVA,
    seed: int = 0,
    forest: Forest = Forest(),
) -> Intervals:
    """``param_importances`` with an interval per parameter from ``resamples`` bootstrap resamplings."""
    point = param_importances(trials, dists, direction, kind, seed, forest)
    empty = pd.DataFrame(columns=["parameter", "importance", "low", "high"])
    if point.values.empty:
        return Intervals(empty, point.trials, 0)
    if len(point.values) == 1:
        # importances sum to 1: a lone knob's is 1 on any resampling, so there is nothing to draw
        return Intervals(point.values.assign(low=1.0, high=1.0), point.trials, 0)
    complete = trials[trials["state"] == "COMPLETE"].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in point.values["parameter"]}
    for _ in range(resamples):
        sample = complete.iloc[rng.integers(0, len(complete), len(complete))]
        found = dict(param_importances(sample, dists, direction, kind, seed, forest).values.values)
        for name in draws:  # a knob the resample could not rank (one value left) counts as unimportant
            draws[name].append(float(found.get(name, 0.0)))
    # the 5th to 95th percentile, stretched to hold the estimate on all trials: resampling with
    # replacement repeats trials, and a forest finds a little structure in repeats, so a knob that does
    # not matter scores a little higher on most resamples than on the trials themselves
    estimate = dict(point.values.values)
    values = point.values.assign(
        low=[min(float(np.percentile(draws[n], 5)), estimate[n]) for n in point.values["parameter"]],
        high=[max(float(np.percentile(draws[n], 95)), estimate[n]) for n in point.values["parameter"]],
    )
    return Intervals(values.reset_index(drop=True), point.trials, resamples)
