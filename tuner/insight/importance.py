"""Hyperparameter importance with Optuna's evaluators, from the trials frame (no RDB round trips)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum

import optuna
import pandas as pd

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
