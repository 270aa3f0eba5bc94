"""Which trials of a study are best: one rule for every place that ranks COMPLETE trials.

Trials are ranked by their value in the study's direction; trials whose values tie (accuracy 1.000
on a small validation split, say) are ranked by the validation loss at their best epoch (user attr
``best_val_loss``: lower is better), then by number. The training loop breaks ties between epochs
the same way (``training.loop``), so the best epoch, the kept models, ``tuner trials``, the report,
the dashboard, ``export`` and ``narrow`` all agree on the same trial.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from tuner import attrs


def rank_key(value: float, tie_loss: float | None, maximize: bool) -> tuple[float, float]:
    """Lower sorts first: the value in the study's direction, then the validation loss of its best epoch."""
    tie = float(tie_loss) if tie_loss is not None and not pd.isna(tie_loss) else math.inf
    return (-value if maximize else value, tie)


def ranked(trials: Iterable[FrozenTrial], maximize: bool) -> list[FrozenTrial]:
    """The COMPLETE ``trials``, best first (a stable sort: among whole ties, the earlier trial first)."""
    complete = sorted((t for t in trials if t.state is TrialState.COMPLETE), key=lambda t: t.number)
    return sorted(complete, key=lambda t: rank_key(t.value, t.user_attrs.get(attrs.BEST_VAL_LOSS), maximize))


def maximizes(study: optuna.Study) -> bool:
    return study.direction is optuna.study.StudyDirection.MAXIMIZE


def best_numbers(study: optuna.Study, k: int) -> list[int]:
    """Numbers of the best ``k`` COMPLETE trials of ``study``, best first."""
    return [t.number for t in ranked(study.get_trials(deepcopy=False), maximizes(study))[:k]]


def ranked_above(study: optuna.Study, value: float, tie_loss: float | None) -> int:
    """How many of the study's COMPLETE trials rank above a trial ending with ``value`` (and that
    validation loss at its best epoch): 0 means it would be the best."""
    maximize = maximizes(study)
    own = rank_key(value, tie_loss, maximize)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sum(1 for t in complete if rank_key(t.value, t.user_attrs.get(attrs.BEST_VAL_LOSS), maximize) < own)


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best COMPLETE trial, ties broken as above (Optuna's ``best_trial`` takes the first of a tie)."""
    best = ranked(study.get_trials(deepcopy=False), maximizes(study))
    return best[0] if best else None


def ranked_rows(frame: pd.DataFrame, direction: str) -> pd.DataFrame:
    """The COMPLETE rows of a trials frame (``queries.trials_frame``), best first."""
    complete = frame[frame["state"] == "COMPLETE"].sort_values("number")
    maximize = direction == "maximize"
    keys = [rank_key(v, t, maximize) for v, t in zip(complete["value"], complete[attrs.BEST_VAL_LOSS], strict=True)]
    order = sorted(range(len(complete)), key=lambda i: keys[i])
    return complete.iloc[order]
