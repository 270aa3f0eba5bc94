"""Read-only queries over one storage URL, returned as pandas frames.

The CLI, the dashboard and export read through here. Studies and trials are
read with plain SQL over Optuna's tables (its schema is versioned and stable),
which is what keeps a 1,000-trial study quick to show; nothing here writes,
and nothing creates tables in a database that has none.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tuner import attrs
from tuner.errors import BadInput, did_you_mean
from tuner.storage import ranking
from tuner.storage.engine import get_engine
from tuner.storage.tables import EPOCH_JSON, EPOCH_METRICS, EpochRow, FoldEpochRow

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
STUDY_COLUMNS = [
    "study",
    "direction",
    "trials",
    "complete",
    "pruned",
    "fail",
    "running",
    "best_value",
    "front",  # members of a multi-objective study's front (storage.ranking); None for one objective
    "started",
    "elapsed_s",
]
TRIAL_COLUMNS = [
    "number",
    "state",
    "value",
    "epochs",
    "stop_reason",
    attrs.BEST_VAL_LOSS,  # breaks ties between equal values (storage.ranking)
    attrs.CONFUSION,  # a classifier's {labels, matrix} on validation, else None
    "warm_start_from",  # "STUDY#N" for a trial a warm start queued, else ""
    "error",
    "warning",
    "started",
    "completed",
]
# user attrs shown in trial tables (the full hyperparameters stay in export)
_SHOWN_ATTRS = (
    attrs.STOP,
    attrs.ERROR,
    attrs.EPOCHS_RUN,
    attrs.WARNING,
    attrs.WARM_START_FROM,
    attrs.BEST_VAL_LOSS,
    attrs.CONFUSION,
    attrs.COSTS,  # the rest: a multi-objective study's (``_with_objectives``)
    attrs.INFEASIBLE,
    attrs.PRUNED_BECAUSE,
)


def has_optuna_tables(url: str) -> bool:
    with get_engine(url).connect() as connection:
        return sa.inspect(connection).has_table("studies")


def study_names(url: str) -> list[str]:
    if not has_optuna_tables(url):
        return []
    with get_engine(url).connect() as connection:
        return list(connection.execute(sa.text("SELECT study_name FROM studies ORDER BY study_id")).scalars())


def check_study(url: str, name: str, flag: str = "STUDY") -> None:
    """Raise BadInput, listing the studies there are, unless ``name`` is one of them."""
    names = study_names(url)
    if name not in names:
        listed = ", ".join(names) if names else "none"
        raise BadInput(flag, None, f"a study in the storage (there: {listed})", name, did_you_mean(name, names))


def _study_rows(url: str, sql: str, study_name: str, **params: Any) -> list[sa.Row]:
    """The rows of ``sql``, a query about the study its ``:study`` names."""
    with get_engine(url).connect() as connection:
        return connection.execute(sa.text(sql), {"study": study_name, **params}).all()


def trial_count(url: str, study_name: str) -> int:
    """Trials in a study, in any state (0 when there is no such study)."""
    if not has_optuna_tables(url):
        return 0
    sql = "SELECT COUNT(*) FROM trials t JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :study"
    return _study_rows(url, sql, study_name)[0][0]


def study_direction(url: str, study_name: str) -> str:
    """'minimize' or 'maximize' (the study must exist: see check_study); a multi-objective study's is its
    validation objective's, the ``value`` of its trials frame."""
    settings = study_user_attr(url, study_name, attrs.SETTINGS) or {}
    if settings.get("objectives"):
        return str(settings["direction"])
    sql = (
        "SELECT d.direction FROM study_directions d JOIN studies s ON s.study_id = d.study_id "
        "WHERE s.study_name = :study AND d.objective = 0"
    )
    (direction,) = _study_rows(url, sql, study_name)[0]
    return str(direction).lower()


def studies_frame(url: str) -> pd.DataFrame:
    """One row per study: trial counts by state, best value, start and elapsed seconds."""
    if not has_optuna_tables(url):
        return pd.DataFrame(columns=STUDY_COLUMNS)
    sql = sa.text(
        """
        SELECT s.study_name AS study, d.direction AS direction, t.state AS state, COUNT(t.trial_id) AS n,
               MIN(CASE WHEN t.state = 'COMPLETE' THEN v.value END) AS lowest,
               MAX(CASE WHEN t.state = 'COMPLETE' THEN v.value END) AS highest,
               MIN(t.datetime_start) AS started, MAX(COALESCE(t.datetime_complete, t.datetime_start)) AS last
        FROM studies s
        JOIN study_directions d ON d.study_id = s.study_id AND d.objective = 0
        LEFT JOIN trials t ON t.study_id = s.study_id
        LEFT JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0
        GROUP BY s.study_id, s.study_name, d.direction, t.state
        ORDER BY s.study_id
        """
    )
    with get_engine(url).connect() as connection:
        raw = pd.read_sql(sql, connection)
    rows = []
    for (study, direction), group in raw.groupby(["study", "direction"], sort=False):
        counts = dict(zip(group["state"], group["n"], strict=True))
        best = group["lowest"].min() if direction == "MINIMIZE" else group["highest"].max()
        started, last = pd.to_datetime(group["started"]).min(), pd.to_datetime(group["last"]).max()
        if counts.get("RUNNING"):  # still running: its time runs until now (Optuna stamps local time)
            last = max(last, pd.Timestamp.now())
        rows.append(
            {
                "study": study,
                "direction": direction.lower(),
                "trials": int(sum(counts.values())),
                **{state.lower(): int(counts.get(state, 0)) for state in STATES[:4]},
                "best_value": None if pd.isna(best) else float(best),
                "started": None if pd.isna(started) else started,
                "elapsed_s": 0.0 if pd.isna(started) else (last - started).total_seconds(),
            }
        )
    return _with_fronts(url, pd.DataFrame(rows, columns=STUDY_COLUMNS))


def _with_fronts(url: str, studies: pd.DataFrame) -> pd.DataFrame:
    """Multi-objective studies' rows: the direction of their validation objective, its best feasible
    value, and how many trials their front holds (read only for those studies)."""
    for index, name in studies["study"].items():
        settings = study_user_attr(url, name, attrs.SETTINGS) or {}
        if not settings.get("objectives"):
            continue
        trials = trials_frame(url, name)
        feasible = trials[(trials["state"] == "COMPLETE") & (trials["infeasible"] == "")]["value"].dropna()
        best = feasible.max() if settings["direction"] == "maximize" else feasible.min()
        studies.loc[index, ["direction", "best_value", "front"]] = [
            settings["direction"],
            None if feasible.empty else float(best),
            int(trials["front"].sum()),
        ]
    return studies


def trials_frame(url: str, study_name: str) -> pd.DataFrame:
    """One row per trial: number, state, value, epochs, why it stopped, the error, then ``param_*`` columns."""
    with get_engine(url).connect() as connection:
        trials = pd.read_sql(
            sa.text(
                """
                SELECT t.trial_id, t.number, t.state, v.value, v.value_type,
                       t.datetime_start AS started, t.datetime_complete AS completed
                FROM trials t JOIN studies s ON s.study_id = t.study_id
                LEFT JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0
                WHERE s.study_name = :study ORDER BY t.number
                """
            ),
            connection,
            params={"study": study_name},
        )
        params = pd.read_sql(
            sa.text(
                "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json FROM trial_params p "
                "JOIN trials t ON t.trial_id = p.trial_id JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :study"
            ),
            connection,
            params={"study": study_name},
        )
        user = pd.read_sql(
            sa.text(
                "SELECT a.trial_id, a.key, a.value_json FROM trial_user_attributes a "
                "JOIN trials t ON t.trial_id = a.trial_id JOIN studies s ON s.study_id = t.study_id "
                "WHERE s.study_name = :study AND a.key IN :keys"
            ).bindparams(sa.bindparam("keys", expanding=True)),
            connection,
            params={"study": study_name, "keys": list(_SHOWN_ATTRS)},
        )
    values = zip(trials["value"], trials["value_type"], strict=True)
    frame = trials.assign(value=[_value(v, kind) for v, kind in values])
    attrs_wide = _pivot(user.assign(value=user["value_json"].map(json.loads)), "key", "value")
    frame = frame.merge(attrs_wide, how="left", left_on="trial_id", right_index=True)
    for key in _SHOWN_ATTRS:
        if key not in frame:
            frame[key] = None
    frame["epochs"] = (
        frame[attrs.EPOCHS_RUN].fillna(frame["trial_id"].map(_epoch_counts(url, study_name))).fillna(0).astype(int)
    )
    frame["stop_reason"] = frame[attrs.STOP].where(
        frame[attrs.STOP].notna(), frame["state"].map(lambda s: "running" if s == "RUNNING" else "")
    )
    frame["error"] = frame[attrs.ERROR].fillna("")
    frame["warning"] = frame[attrs.WARNING].fillna("")
    frame["warm_start_from"] = frame[attrs.WARM_START_FROM].fillna("")
    stored = zip(params["param_value"], params["distribution_json"], strict=True)
    decoded = params.assign(value=[_external(v, d) for v, d in stored])
    params_wide = _pivot(decoded.assign(param_name="param_" + decoded["param_name"]), "param_name", "value")
    frame = frame.merge(params_wide, how="left", left_on="trial_id", right_index=True)
    param_columns = [c for c in frame.columns if c.startswith("param_")]
    frame, objective_columns = _with_objectives(url, study_name, frame)
    return frame[["trial_id", *TRIAL_COLUMNS, *objective_columns, *param_columns]].reset_index(drop=True)


def _with_objectives(url: str, study_name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A multi-objective study's trials: ``value`` is the validation objective's; a column per cost
    objective (``params``, ``latency_ms``, ...), ``infeasible`` (the constraints a trial broke, else "")
    and ``front`` (True for the members of the front: storage.ranking). Nothing added for one objective."""
    settings = study_user_attr(url, study_name, attrs.SETTINGS) or {}
    objectives = settings.get("objectives")
    if not objectives:
        return frame, []
    sql = (
        "SELECT v.trial_id, v.objective, v.value, v.value_type FROM trial_values v "
        "JOIN trials t ON t.trial_id = v.trial_id JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :study"
    )
    rows = _study_rows(url, sql, study_name)
    values = {(r[0], r[1]): _value(r[2], r[3]) for r in rows}
    metrics = [o["metric"] for o in objectives]
    measured = [c if isinstance(c, dict) else {} for c in frame[attrs.COSTS]]  # a pruned trial's costs too
    for index, metric in enumerate(metrics):
        frame[metric] = [
            values.get((t, index), m.get(metric)) for t, m in zip(frame["trial_id"], measured, strict=True)
        ]
    frame["value"] = frame[settings["metric"]].where(frame["state"] == "COMPLETE")
    frame["infeasible"] = frame[attrs.INFEASIBLE].fillna("").astype(str)
    candidates = frame[(frame["state"] == "COMPLETE") & (frame["infeasible"] == "")]
    maximize = [o["direction"] == "maximize" for o in objectives]
    on_front = candidates.index[ranking.front_of(candidates[metrics].to_numpy().tolist(), maximize)]
    frame["front"] = frame.index.isin(on_front)
    frame[attrs.PRUNED_BECAUSE] = frame[attrs.PRUNED_BECAUSE].fillna("").astype(str)
    costs = [m for m in metrics if m != settings["metric"]]
    return frame, [*costs, "infeasible", "front", attrs.PRUNED_BECAUSE]


def readable_trials(frame: pd.DataFrame) -> pd.DataFrame:
    """A trials frame as a table for people: no ids, errors, warnings or times; parameters by their names;
    the warm-start column only for a study that was warm-started."""
    hidden = ["trial_id", "error", "warning", "started", "completed", attrs.BEST_VAL_LOSS, attrs.CONFUSION]
    if not (frame["warm_start_from"] != "").any():
        hidden.append("warm_start_from")
    if "front" in frame:  # a multi-objective study: its front members marked, why trials stopped said apart
        frame = frame.assign(front=frame["front"].map({True: "*", False: ""}))
        hidden.append(attrs.PRUNED_BECAUSE)
    return frame.drop(columns=hidden).rename(columns=lambda c: c.removeprefix("param_"))


def _epoch_counts(url: str, study_name: str) -> dict[int, int]:
    """Epoch rows per trial so far: how far a RUNNING trial has got."""
    with get_engine(url).connect() as connection:
        if not sa.inspect(connection).has_table(EpochRow.__tablename__):
            return {}
        rows = connection.execute(
            sa.select(EpochRow.trial_id, sa.func.count())
            .where(EpochRow.study_name == study_name)
            .group_by(EpochRow.trial_id)
        ).all()
    return dict(rows)


def epochs_frame(url: str, study_name: str, trial_numbers: Sequence[int] | None = None) -> pd.DataFrame:
    """Per-epoch metrics of a study's trials (all, or the given numbers), ordered by trial and epoch.

    The task's own validation metrics (``val_bpc``, ``val_accuracy``, ...) come as columns too.
    """
    columns = ["trial_id", "trial_number", "epoch", *EPOCH_METRICS, *EPOCH_JSON]
    return _per_epoch(url, EpochRow, columns, EPOCH_JSON, study_name, trial_numbers)


def fold_epochs_frame(url: str, study_name: str, trial_numbers: Sequence[int] | None = None) -> pd.DataFrame:
    """Each fold's epochs of a study's cross-validated trials (``task.options.folds``), ordered by trial,
    epoch and fold, the task's validation metrics as columns; empty for a study of hold-out trials."""
    columns = ["trial_number", "epoch", "fold", "train_loss", "val_loss", "seconds", "metrics"]
    frame = _per_epoch(url, FoldEpochRow, columns, ("metrics",), study_name, trial_numbers, FoldEpochRow.fold)
    return frame.drop(columns=["metrics"])


def _per_epoch(
    url: str,
    table: type,
    columns: list[str],
    json_columns: Sequence[str],
    study_name: str,
    trial_numbers: Sequence[int] | None,
    *then: Any,
) -> pd.DataFrame:
    """Rows of one of our per-epoch tables, ordered by trial, epoch and ``then``; the ``metrics`` mapping
    spread into columns too (an empty frame of ``columns`` when the table does not exist yet)."""
    query = sa.select(*[getattr(table, c) for c in columns]).where(table.study_name == study_name)
    if trial_numbers is not None:
        query = query.where(table.trial_number.in_([int(n) for n in trial_numbers]))
    query = query.order_by(table.trial_number, table.epoch, *then)
    with get_engine(url).connect() as connection:
        if not sa.inspect(connection).has_table(table.__tablename__):
            return pd.DataFrame(columns=columns)
        frame = pd.read_sql(query, connection)
    if frame.empty:
        return frame
    # JSON columns come back as text from some drivers and as objects from others
    for name in json_columns:
        frame[name] = frame[name].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    extra = pd.DataFrame(list(frame["metrics"]), index=frame.index).drop(columns=["val_loss"], errors="ignore")
    return pd.concat([frame, extra], axis=1)


def study_user_attr(url: str, study_name: str, key: str) -> Any:
    """One user attribute of a study (None when unset)."""
    sql = (
        "SELECT a.value_json FROM study_user_attributes a JOIN studies s ON s.study_id = a.study_id "
        "WHERE s.study_name = :study AND a.key = :key"
    )
    rows = _study_rows(url, sql, study_name, key=key)
    return json.loads(rows[0][0]) if rows else None


def study_metric(url: str, study_name: str) -> str:
    """The metric the study optimises, from its settings; "objective" for a study made with Optuna's own API."""
    return (study_user_attr(url, study_name, attrs.SETTINGS) or {}).get("metric", "objective")


def baseline_result(url: str, study_name: str) -> tuple[int, float] | None:
    """(number, value) of the study's COMPLETE baseline trial (the last, if it was re-run), or None."""
    sql = (
        "SELECT t.number, v.value, v.value_type FROM trials t JOIN studies s ON s.study_id = t.study_id "
        "JOIN trial_user_attributes a ON a.trial_id = t.trial_id AND a.key = :key "
        "JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0 "
        "WHERE s.study_name = :study AND t.state = 'COMPLETE' ORDER BY t.number DESC"
    )
    rows = _study_rows(url, sql, study_name, key=attrs.BASELINE)
    return (int(rows[0][0]), _value(rows[0][1], rows[0][2])) if rows else None


def _pivot(long: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
    if long.empty:
        return pd.DataFrame(index=pd.Index([], name="trial_id"))
    return long.pivot(index="trial_id", columns=column, values=value)


def _value(value: float | None, kind: str | None) -> float | None:
    if kind == "INF_POS":
        return math.inf
    if kind == "INF_NEG":
        return -math.inf
    return None if value is None or pd.isna(value) else float(value)


@functools.lru_cache(maxsize=1024)
def _distribution(distribution_json: str):  # noqa: ANN202 (an Optuna distribution)
    from optuna.distributions import json_to_distribution

    return json_to_distribution(distribution_json)


def _external(internal: float, distribution_json: str) -> Any:
    """Optuna stores a categorical as its index: turn stored values back into what was suggested."""
    return _distribution(distribution_json).to_external_repr(internal)


def distributions(url: str, study_name: str) -> dict[str, Any]:
    """Each parameter's Optuna distribution in a study (the last one recorded, per name)."""
    sql = (
        "SELECT DISTINCT p.param_name, p.distribution_json FROM trial_params p "
        "JOIN trials t ON t.trial_id = p.trial_id JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :study"
    )
    return {name: _distribution(raw) for name, raw in _study_rows(url, sql, study_name)}


def budget_counts(url: str, study_name: str) -> tuple[int, int]:
    """(trials that use up the budget, trials running now) of a study, across every driver.

    FAIL trials that were interrupted or retried do not count: their parameters run again.
    """
    sql = """
        SELECT t.state, COUNT(*) FROM trials t JOIN studies s ON s.study_id = t.study_id
        WHERE s.study_name = :study AND NOT EXISTS (
            SELECT 1 FROM trial_user_attributes a WHERE a.trial_id = t.trial_id AND t.state = 'FAIL'
            AND ((a.key = :stop AND a.value_json = :interrupted) OR a.key = :retried))
        GROUP BY t.state
        """
    interrupted = json.dumps(str(attrs.StopReason.INTERRUPTED))
    counts = dict(_study_rows(url, sql, study_name, stop=attrs.STOP, interrupted=interrupted, retried=attrs.RETRIED))
    return sum(counts.get(s, 0) for s in ("COMPLETE", "PRUNED", "FAIL")), counts.get("RUNNING", 0)
