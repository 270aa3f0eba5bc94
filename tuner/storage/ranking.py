"""Which trials of a study are best: one rule for every place that ranks COMPLETE trials.

Trials are ranked by their value in the study's direction; trials whose values tie (accuracy 1.000
on a small validation split, say) are ranked by the validation loss at their best epoch (user attr
``best_val_loss``: lower is better), then by number. The training loop breaks ties between epochs
the same way (``training.loop``), so the best epoch, the kept models, ``tuner trials``, the report,
the dashboard, ``export`` and ``narrow`` all agree on the same trial.

A multi-objective study (``objectives:`` in its file) ranks the same way on its validation objective,
among its feasible trials; its *front* (``front_trials``) is the set of feasible COMPLETE trials
that no other feasible trial dominates (no worse on every objective, better on one), as Optuna's
``best_trials``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from tuner import attrs


def rank_key(value: float, tie_loss: float | None, maximize: bool) -> tuple[float, float]:
    """Lower sorts first: the value in the study's direction, then the validation loss of its best epoch."""
    tie = float(tie_loss) if tie_loss is not None and not pd.isna(tie_loss) else math.inf
    return (-value if maximize else value, tie)


def objective_metrics(settings: dict | None) -> list[str]:
    """A study's objectives by name, in the order of a trial's values (from its stored settings)."""
    settings = settings or {}
    return [o["metric"] for o in settings.get("objectives", [])] or [settings.get("metric", "value")]


def validation_index(settings: dict | None) -> int:
    """Which of a trial's values is the study's validation objective (its settings' ``metric``): the only
    one, or its place in a multi-objective study's ``objectives``."""
    metrics = objective_metrics(settings)
    return metrics.index(settings["metric"]) if len(metrics) > 1 else 0  # type: ignore[index]


def is_multi_objective(study: optuna.Study) -> bool:
    return len(study.directions) > 1


def feasible(trial: FrozenTrial) -> bool:
    """Whether a trial kept its study's constraints (a study without constraints has only feasible trials)."""
    return attrs.INFEASIBLE not in trial.user_attrs


def _validation_of(study: optuna.Study) -> tuple[int, bool]:
    """(index among a trial's values, maximize) of ``study``'s validation objective."""
    index = validation_index(study.user_attrs.get(attrs.SETTINGS)) if is_multi_objective(study) else 0
    return index, study.directions[index] is optuna.study.StudyDirection.MAXIMIZE


def ranked(trials: Iterable[FrozenTrial], maximize: bool, index: int = 0) -> list[FrozenTrial]:
    """The feasible COMPLETE ``trials``, best first by their ``index``-th value (a stable sort: among
    whole ties, the earlier trial first)."""
    complete = sorted((t for t in trials if t.state is TrialState.COMPLETE and feasible(t)), key=lambda t: t.number)
    return sorted(complete, key=lambda t: rank_key(t.values[index], t.user_attrs.get(attrs.BEST_VAL_LOSS), maximize))


def maximizes(study: optuna.Study) -> bool:
    """Whether the study's (validation) objective is maximised."""
    return _validation_of(study)[1]


def ranked_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's feasible COMPLETE trials, best first by its (validation) objective."""
    index, maximize = _validation_of(study)
    return ranked(study.get_trials(deepcopy=False), maximize, index)


def best_trials(study: optuna.Study, k: int) -> list[FrozenTrial]:
    """The study's best trials: its best ``k`` by the objective, or a multi-objective study's front (which
    has no top K: every member is best at its own trade-off)."""
    return front_trials(study) if is_multi_objective(study) else ranked_trials(study)[:k]


def best_numbers(study: optuna.Study, k: int) -> list[int]:
    """Numbers of the best ``k`` COMPLETE trials of ``study``, best first."""
    return [t.number for t in ranked_trials(study)[:k]]


def ranked_above(study: optuna.Study, value: float, tie_loss: float | None) -> int:
    """How many of the study's COMPLETE trials rank above a trial ending with ``value`` (and that
    validation loss at its best epoch): 0 means it would be the best."""
    index, maximize = _validation_of(study)
    own = rank_key(value, tie_loss, maximize)
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if feasible(t)]
    return sum(1 for t in complete if rank_key(t.values[index], t.user_attrs.get(attrs.BEST_VAL_LOSS), maximize) < own)


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best COMPLETE trial, ties broken as above (Optuna's ``best_trial`` takes the first of a tie)."""
    best = ranked_trials(study)
    return best[0] if best else None


def dominates(a: Sequence[float], b: Sequence[float], maximize: Sequence[bool]) -> bool:
    """Whether values ``a`` are no worse than ``b`` on every objective and better on one."""
    signed = [(-x, -y) if up else (x, y) for x, y, up in zip(a, b, maximize, strict=True)]
    return all(x <= y for x, y in signed) and any(x < y for x, y in signed)


def front_of(points: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[int]:
    """Indices of the points no other point dominates (the Pareto front), in their order."""
    return [i for i, p in enumerate(points) if not any(dominates(q, p, maximize) for q in points)]


def front_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The front of a multi-objective study: its feasible COMPLETE trials no other one dominates, by number."""
    complete = sorted(
        (t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if feasible(t)),
        key=lambda t: t.number,
    )
    maximize = [d is optuna.study.StudyDirection.MAXIMIZE for d in study.directions]
    return [complete[i] for i in front_of([t.values for t in complete], maximize)]


def ranked_rows(frame: pd.DataFrame, direction: str) -> pd.DataFrame:
    """The feasible COMPLETE rows of a trials frame (``queries.trials_frame``), best first."""
    complete = frame[frame["state"] == "COMPLETE"].sort_values("number")
    if "infeasible" in complete:  # a multi-objective study's trials outside its constraints
        complete = complete[complete["infeasible"] == ""]
    maximize = direction == "maximize"
    keys = [rank_key(v, t, maximize) for v, t in zip(complete["value"], complete[attrs.BEST_VAL_LOSS], strict=True)]
    order = sorted(range(len(complete)), key=lambda i: keys[i])
    return complete.iloc[order]
