"""Raw SQL over Optuna's trial tables, in one place: several user attributes of one running trial
written in one transaction, one system attribute removed, a trial's id looked up.

Optuna's ``set_trial_user_attr`` commits once per key. A trial's start writes
three and its end up to seven, and every commit is time the driver spends
between trials, so the bridge writes them together here. Same table, same
JSON encoding as Optuna's RDB storage; only for trials that are still RUNNING
(Optuna caches a trial once it is finished: a finished trial written here would read one way in
the driver and another in a fresh process). ``delete_system_attr`` is the one write to a finished
trial, and why it is safe is said in ``orchestration/kept_models.py``.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from tuner.storage.engine import get_engine

_DELETE = sa.text("DELETE FROM trial_user_attributes WHERE trial_id = :trial_id AND key IN :keys").bindparams(
    sa.bindparam("keys", expanding=True)
)
_INSERT = sa.text("INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES (:trial_id, :key, :value)")


def set_user_attrs(url: str, trial_id: int, values: dict[str, Any]) -> None:
    """Set (or replace) ``values`` as user attributes of Optuna trial ``trial_id``."""
    if not values:
        return
    with get_engine(url).begin() as connection:
        connection.execute(_DELETE, {"trial_id": trial_id, "keys": list(values)})
        connection.execute(
            _INSERT, [{"trial_id": trial_id, "key": key, "value": json.dumps(value)} for key, value in values.items()]
        )


def delete_system_attr(url: str, trial_id: int, key: str) -> None:
    """Remove one system attribute of a trial, finished or not (Optuna's API can only add them):
    the record of an artifact whose file was removed, so Optuna's tools no longer list it."""
    with get_engine(url).begin() as connection:
        connection.execute(
            sa.text("DELETE FROM trial_system_attributes WHERE trial_id = :trial_id AND key = :key"),
            {"trial_id": trial_id, "key": key},
        )


def trial_id(url: str, study_name: str, number: int) -> int:
    """Optuna's storage id of trial ``number`` of a study (Optuna's ``Trial`` keeps it private)."""
    with get_engine(url).connect() as connection:
        found = connection.execute(
            sa.text(
                "SELECT trials.trial_id FROM trials JOIN studies ON trials.study_id = studies.study_id "
                "WHERE studies.study_name = :study AND trials.number = :number"
            ),
            {"study": study_name, "number": number},
        ).scalar()
    if found is None:
        raise KeyError(f"study {study_name} has no trial {number}")
    return int(found)
