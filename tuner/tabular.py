"""Reading a user's CSV or Parquet data for the sequence tasks, with errors that name file and column.

Torch-free (pandas and numpy), so a study file's data is checked when the
study is parsed, before anything is trained or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tuner.errors import BadInput
from tuner.taskoptions import RegressionOptions, SequenceClassificationOptions


@dataclass(frozen=True)
class LongSequences:
    """Sequences of a long-format file, in sequence-id order."""

    features: list[np.ndarray]  # each (L_i, F) float32, rows in step order
    labels: np.ndarray  # (N,) int64 class per sequence
    feature_names: list[str]


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV (any suffix but .parquet) or Parquet file as a frame."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError:
        raise BadInput(str(path), None, "an existing data file", "no such file") from None
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise BadInput(str(path), None, "a readable CSV or Parquet table", str(error).splitlines()[0]) from None


def _require_columns(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise BadInput(
                where,
                f"column {column!r}",
                "a column of the file (it has: " + ", ".join(map(str, frame.columns)) + ")",
                "no such column",
            )


def _require_numeric(frame: pd.DataFrame, column: str, where: str, what: str = "numbers") -> None:
    if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
        not_numbers = pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()
        if not not_numbers.any():  # e.g. a bool column
            raise BadInput(where, f"column {column!r}", what, str(frame[column].dtype))
        found = frame[column][not_numbers].iloc[0]
        raise BadInput(where, f"column {column!r}", what, found, f"row {_file_row(frame, not_numbers)} of the file")
    missing = frame[column].isna()
    if missing.any():
        raise BadInput(
            where, f"column {column!r}", "no missing values", f"NaN at row {_file_row(frame, missing)} of the file"
        )
    infinite = np.isinf(frame[column].to_numpy(np.float64))
    if infinite.any():
        at = _file_row(frame, pd.Series(infinite, index=frame.index))
        raise BadInput(
            where, f"column {column!r}", "finite numbers", f"{frame[column][infinite].iloc[0]} at row {at} of the file"
        )


def _file_row(frame: pd.DataFrame, flags: pd.Series) -> int:
    """The line of the file holding the first flagged row (line 1 is the header)."""
    return int(frame.index.get_loc(flags.idxmax())) + 2


def read_long_sequences(path: str | Path, options: SequenceClassificationOptions) -> LongSequences:
    """Sequences from a long-format table: one row per (sequence id, step), feature columns, a label."""
    where = str(path)
    frame = read_table(path)
    key_columns = [options.id_column, options.step_column, options.label_column]
    _require_columns(frame, key_columns + list(options.feature_columns or []), where)
    features = options.feature_columns or _numeric_features(frame, key_columns, where)
    for column in [options.step_column, *features]:
        _require_numeric(frame, column, where)
    _require_integer_labels(frame, options.label_column, where)
    _require_one_row_per_step(frame, options.id_column, options.step_column, where)
    ordered = frame.sort_values([options.id_column, options.step_column], kind="stable")
    groups = ordered.groupby(options.id_column, sort=True)
    per_sequence = groups[options.label_column].nunique()
    if (per_sequence > 1).any():
        raise BadInput(
            where,
            f"column {options.label_column!r}",
            "one label per sequence",
            f"several labels in sequence {_plain(per_sequence.idxmax())!r}",
        )
    values = [group[features].to_numpy(np.float32) for _, group in groups]
    labels = groups[options.label_column].first().to_numpy(np.int64)
    if len(np.unique(labels)) < 2:
        raise BadInput(
            where, f"column {options.label_column!r}", "at least 2 classes", f"only class {_plain(labels[0])!r}"
        )
    return LongSequences(values, labels, list(features))


def _numeric_features(frame: pd.DataFrame, key_columns: list[str], where: str) -> list[str]:
    """The default feature columns: every numeric column but the id, step and label."""
    others = [c for c in frame.columns if c not in key_columns]
    features = [c for c in others if pd.api.types.is_numeric_dtype(frame[c])]
    if not features:
        if others:  # a feature column with one stray text value: name it and the value
            _require_numeric(frame, others[0], where)
        raise BadInput(
            where, "feature columns", "at least one numeric column besides id, step and label", list(frame.columns)
        )
    return features


def _require_integer_labels(frame: pd.DataFrame, column: str, where: str) -> None:
    _require_numeric(frame, column, where, "integer class labels")
    fractional = np.mod(frame[column], 1) != 0
    if fractional.any():
        raise BadInput(where, f"column {column!r}", "integer class labels", _plain(frame[column][fractional].iloc[0]))


def _require_one_row_per_step(frame: pd.DataFrame, id_column: str, step_column: str, where: str) -> None:
    repeated = frame.duplicated([id_column, step_column])
    if repeated.any():
        first = repeated.idxmax()
        sequence, step = (_plain(frame.at[first, column]) for column in (id_column, step_column))
        raise BadInput(
            where,
            f"columns {id_column!r}, {step_column!r}",
            "one row per sequence and step",
            f"sequence {sequence!r} step {step!r} again at row {_file_row(frame, repeated)}",
        )


def read_series(path: str | Path, options: RegressionOptions) -> np.ndarray:
    """The numeric column to forecast, as float32; long enough for one window and its horizon."""
    where = str(path)
    frame = read_table(path)
    _require_columns(frame, [options.column], where)
    _require_numeric(frame, options.column, where)
    series = frame[options.column].to_numpy(np.float32)
    needed = options.window + options.horizon
    if len(series) * (1 - options.val_fraction) < needed or len(series) * options.val_fraction < needed:
        raise BadInput(
            where,
            f"column {options.column!r}",
            f"enough rows for a window of {options.window} plus a horizon of {options.horizon} in both the training and validation parts",
            f"{len(series)} rows",
        )
    return series


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (an error shows 3, not np.int64(3))."""
    return value.item() if isinstance(value, np.generic) else value


def split_indices(count: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, deterministic split of ``count`` items into (train, validation) indices."""
    order = np.random.default_rng(seed).permutation(count)
    n_val = max(1, int(round(count * val_fraction)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])
