"""Reading a user's CSV or Parquet data for the sequence tasks, with errors that name file and column.

Torch-free (pandas and numpy), so a study file's data is checked when the
study is parsed, before anything is trained or written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tuner.data.options import RegressionOptions, SequenceClassificationOptions
from tuner.errors import BadInput


@dataclass(frozen=True)
class LongSequences:
    """Sequences of a long-format file, in sequence-id order, padded at the end."""

    ids: np.ndarray  # (N,) sequence ids as in the file, sorted
    values: np.ndarray  # (N, L, F) float32 features, zero after each sequence's last step
    lengths: np.ndarray  # (N,) int64 steps of each sequence
    labels: np.ndarray | None  # (N,) class of each sequence as in the file (int or str); None when unlabelled
    feature_names: list[str]

    def sequence_features(self, rows: np.ndarray) -> np.ndarray:
        """Every real (unpadded) step of the sequences ``rows``: (steps, F)."""
        mask = np.arange(self.values.shape[1])[None, :] < self.lengths[rows, None]
        return self.values[rows][mask]


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """A file that cannot be read as a table is BadInput naming it."""
    try:
        yield
    except FileNotFoundError:
        raise BadInput(str(path), None, "an existing data file", "no such file") from None
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise BadInput(str(path), None, "a readable CSV or Parquet table", str(error).splitlines()[0]) from None


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV (any suffix but .parquet) or Parquet file as a frame."""
    path = Path(path)
    with _reading(path):
        if not _is_parquet(path):
            with path.open("rb") as file:
                start = file.read(64).lstrip()
            if start.startswith((b"{", b"[")):
                raise BadInput(str(path), None, "a CSV or Parquet table", "JSON")
        return pd.read_parquet(path) if _is_parquet(path) else pd.read_csv(path)


def table_columns(path: str | Path) -> list[str]:
    """The column names of a CSV or Parquet file, read from its header alone."""
    path = Path(path)
    with _reading(path):
        if _is_parquet(path):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def _require_columns(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    """The columns are there (else: which is missing, a few the file has, the likely cause), and rows too."""
    for column in columns:
        if column not in frame.columns:
            raise BadInput(
                where,
                f"column {column!r}",
                f"one of its columns ({_few(frame.columns)})",
                "no such column",
                _likely_cause(frame),
            )
    if frame.empty:
        raise BadInput(where, None, "a table with at least one row", "only a header (" + _few(frame.columns) + ")")


def _few(names: Any, most: int = 4, width: int = 24) -> str:
    """A few of ``names``, each cut short: an error line stays one short line whatever the file holds."""
    shown = [str(n) if len(str(n)) <= width else str(n)[: width - 3] + "..." for n in list(names)[:most]]
    more = len(names) - most
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _likely_cause(frame: pd.DataFrame) -> str:
    """Why a table may lack its columns: read as CSV, another format's one column says which."""
    if len(frame.columns) != 1:
        return ""
    header = str(frame.columns[0])
    for mark, name in (("\t", "tab"), (";", "semicolon"), ("|", "pipe")):
        if mark in header:
            return f"{name}-separated? CSV columns are separated by commas"
    return ""


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


def read_long_sequences(
    source: str | Path | pd.DataFrame,
    options: SequenceClassificationOptions,
    labelled: bool = True,
    where: str = "",
    min_classes: int = 2,
) -> LongSequences:
    """Sequences from a long-format table: one row per (sequence id, step), feature columns, a label.

    ``source`` is a file or a frame already read (``where`` then names it in errors); ``labelled``
    False reads a file to predict on, which needs no label column. A training file needs
    ``min_classes`` classes; a file to evaluate on may hold only one.
    """
    # a copy, never the caller's frame; numbered rows, so errors can name a row
    frame = source.reset_index(drop=True) if isinstance(source, pd.DataFrame) else read_table(source)
    where = where or str(source)
    key_columns = [options.id_column, options.step_column] + ([options.label_column] if labelled else [])
    _require_columns(frame, key_columns + list(options.feature_columns or []), where)
    features = options.feature_columns or _numeric_features(frame, key_columns + [options.label_column], where)
    for column in [options.step_column, *features]:
        _require_numeric(frame, column, where)
    if labelled:
        _require_labels(frame, options.label_column, where)
    ordered = _in_sequence_order(frame, options.id_column, options.step_column)
    codes, ids = pd.factorize(ordered[options.id_column], sort=True)
    _require_one_row_per_step(ordered, codes, options.id_column, options.step_column, where)
    lengths = np.bincount(codes, minlength=len(ids)).astype(np.int64)
    # rows are grouped by sequence in step order: a row's position is its index minus its sequence's first row
    first_row = np.concatenate([[0], np.cumsum(lengths)[:-1]])[codes]
    positions = np.arange(len(codes)) - first_row
    values = np.zeros((len(ids), int(lengths.max()), len(features)), dtype=np.float32)
    values[codes, positions] = ordered[features].to_numpy(np.float32)
    labels = None
    if labelled:
        label_column = ordered[options.label_column]
        per_sequence = label_column.groupby(codes).nunique()
        if (per_sequence > 1).any():
            raise BadInput(
                where,
                f"column {options.label_column!r}",
                "one label per sequence",
                f"several labels in sequence {plain(ids[per_sequence.idxmax()])!r}",
            )
        labels = label_column.to_numpy()[first_row == np.arange(len(codes))]  # each sequence's first row
        if len(np.unique(labels)) < min_classes:
            raise BadInput(
                where, f"column {options.label_column!r}", "at least 2 classes", f"only class {plain(labels[0])!r}"
            )
    return LongSequences(np.asarray(ids), values, lengths, labels, list(features))


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


def _require_labels(frame: pd.DataFrame, column: str, where: str) -> None:
    """Class labels are integers or text (``cat``, ``dog``), never missing and never fractional."""
    labels = frame[column]
    missing = labels.isna()
    if missing.any():
        raise BadInput(
            where,
            f"column {column!r}",
            "no missing labels",
            f"an empty label at row {_file_row(frame, missing)} of the file",
        )
    if pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels):
        fractional = np.mod(labels, 1) != 0
        if fractional.any():
            raise BadInput(
                where, f"column {column!r}", "integer or text class labels", plain(labels[fractional].iloc[0])
            )
        if not pd.api.types.is_integer_dtype(labels):
            frame[column] = labels.astype(np.int64)
    elif not pd.api.types.is_bool_dtype(labels):
        frame[column] = labels.astype(str)  # a Parquet column may mix numbers and text: compare them as text


def _in_sequence_order(frame: pd.DataFrame, id_column: str, step_column: str) -> pd.DataFrame:
    """The rows by sequence id, then step; a file already in that order (most are) is not sorted again."""
    ids, steps = frame[id_column], frame[step_column].to_numpy()
    try:
        grouped = ids.is_monotonic_increasing
    except TypeError:  # ids of mixed kinds: let the sort say what it can
        grouped = False
    if grouped:
        same_sequence = ids.to_numpy()[1:] == ids.to_numpy()[:-1]
        if (~same_sequence | (steps[1:] > steps[:-1])).all():
            return frame
    return frame.sort_values([id_column, step_column], kind="stable")


def _require_one_row_per_step(
    ordered: pd.DataFrame, codes: np.ndarray, id_column: str, step_column: str, where: str
) -> None:
    """In sequence order a repeated (sequence, step) pair is two neighbouring rows: the later one is named."""
    steps = ordered[step_column].to_numpy()
    repeated = (codes[1:] == codes[:-1]) & (steps[1:] == steps[:-1])
    if repeated.any():
        label = ordered.index[int(repeated.argmax()) + 1]  # with a stable sort, the later row of the file
        sequence, step = (plain(ordered.at[label, column]) for column in (id_column, step_column))
        raise BadInput(
            where,
            f"columns {id_column!r}, {step_column!r}",
            "one row per sequence and step",
            f"sequence {sequence!r} step {step!r} again at row {int(label) + 2}",
        )


def read_series(
    source: str | Path | pd.DataFrame, options: RegressionOptions, where: str = "", minimum_rows: int | None = None
) -> np.ndarray:
    """The numeric column to forecast, as float32.

    A training file must give every part of the split (training, validation, test) a window and
    its horizon; a file to evaluate or predict on needs ``minimum_rows``.
    """
    frame = source if isinstance(source, pd.DataFrame) else read_table(source)
    where = where or str(source)
    _require_columns(frame, [options.column], where)
    _require_numeric(frame, options.column, where)
    series = frame[options.column].to_numpy(np.float32)
    needed = options.window + options.horizon
    if minimum_rows is not None:
        if len(series) < minimum_rows:
            raise BadInput(
                where,
                f"column {options.column!r}",
                f"at least {minimum_rows} rows (the model's window)",
                f"{len(series)} rows",
            )
        return series
    parts = series_parts(series, options)
    if min(len(part) for part in parts if part is not None) < needed:
        test = " and test" if options.test_fraction else ""
        raise BadInput(
            where,
            f"column {options.column!r}",
            f"enough rows for a window of {options.window} plus a horizon of {options.horizon} in each of the training, validation{test} parts",
            f"{len(series)} rows",
        )
    return series


def series_parts(series: np.ndarray, options: RegressionOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(training, validation, test) parts of a series, in time order: the test part (``test_fraction``)
    is the very end, held out first; the validation part is the end of what is left."""
    n_test = int(len(series) * options.test_fraction) if options.test_fraction else 0
    rest, test = series[: len(series) - n_test], (series[len(series) - n_test :] if options.test_fraction else None)
    split = int(len(rest) * (1 - options.val_fraction))
    return rest[:split], rest[split:], test


def plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (an error shows 3, not np.int64(3))."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Split:
    """Indices of the training, validation and (held out before both) test items."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(count: int, val_fraction: float, seed: int, test_fraction: float | None = None) -> Split:
    """A seeded, deterministic split of ``count`` items.

    The test items are drawn first, from the same seeded order, so a study without a test
    fraction splits exactly as it always did; the validation share is of all ``count`` items.
    """
    order = np.random.default_rng(seed).permutation(count)
    n_test = int(round(count * test_fraction)) if test_fraction else 0
    n_val = max(1, int(round(count * val_fraction)))
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return Split(np.sort(train), np.sort(val), np.sort(test))
