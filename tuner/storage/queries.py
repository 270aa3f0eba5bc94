"""Read-only queries over one storage URL, returned as pandas frames.

The CLI, the dashboard and export all read through here; none of these write.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
import pandas as pd
import sqlalchemy as sa

from tuner import attrs
from tuner.errors import BadInput, did_you_mean
from tuner.storage.engine import get_engine, optuna_storage
from tuner.storage.tables import EPOCH_METRICS, EpochRow

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")


def study_names(url: str) -> list[str]:
    return [s.study_name for s in optuna.get_all_study_summaries(optuna_storage(url), include_best_trial=False)]


def load_study(url: str, name: str, flag: str = "STUDY") -> optuna.Study:
    """Load an existing study, or raise BadInput listing the studies there are."""
    names = study_names(url)
    if name not in names:
        listed = ", ".join(names) if names else "none"
        raise BadInput(flag, None, f"a study in the storage (there: {listed})", name, did_you_mean(name, names))
    return optuna.load_study(study_name=name, storage=optuna_storage(url))


def studies_frame(url: str) -> pd.DataFrame:
    """One row per study: trial counts by state, best value, start and elapsed time."""
    rows = []
    for summary in optuna.get_all_study_summaries(optuna_storage(url), include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=optuna_storage(url))
        trials = study.get_trials(deepcopy=False)
        counts = pd.Series([t.state.name for t in trials]).value_counts()
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        best = (min if study.direction.name == "MINIMIZE" else max)((t.value for t in complete), default=None)
        starts = [t.datetime_start for t in trials if t.datetime_start]
        ends = [t.datetime_complete for t in trials if t.datetime_complete]
        rows.append(
            {
                "study": summary.study_name,
                "direction": study.direction.name.lower(),
                "trials": len(trials),
                **{state.lower(): int(counts.get(state, 0)) for state in STATES[:4]},
                "best_value": best,
                "started": min(starts) if starts else None,
                "elapsed_s": (max(ends + starts) - min(starts)).total_seconds() if starts else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["study", "direction", "trials", "complete", "pruned", "fail", "running", "best_value", "started", "elapsed_s"])


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, value, epochs, why it stopped, the error, then every parameter."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        user = trial.user_attrs
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "epochs": user.get(attrs.EPOCHS_RUN, len(trial.intermediate_values)),
                "stop_reason": user.get(attrs.STOP, "running" if trial.state.name == "RUNNING" else ""),
                "error": user.get(attrs.ERROR, ""),
                **{f"param_{k}": v for k, v in trial.params.items()},
            }
        )
    return pd.DataFrame(rows)


def epochs_frame(url: str, study_name: str, trial_numbers: Sequence[int] | None = None) -> pd.DataFrame:
    """Per-epoch metrics of a study's trials (all, or the given numbers), ordered by trial and epoch."""
    query = sa.select(EpochRow).where(EpochRow.study_name == study_name)
    if trial_numbers is not None:
        query = query.where(EpochRow.trial_number.in_(list(trial_numbers)))
    query = query.order_by(EpochRow.trial_number, EpochRow.epoch)
    columns = ["trial_id", "trial_number", "epoch", *EPOCH_METRICS]
    with get_engine(url).connect() as connection:
        if not sa.inspect(connection).has_table(EpochRow.__tablename__):
            return pd.DataFrame(columns=columns)
        frame = pd.read_sql(query, connection)
    return frame[columns]
