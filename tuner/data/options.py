"""Options of the built-in tasks, and one checker for any task's options dataclass.

Torch-free. A user's own task declares its options the same way: a frozen
dataclass with a comment per field; the checker reads the field types.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from tuner.errors import BadInput, check_keys, is_integer, is_number


@dataclass(frozen=True)
class CharLMOptions:
    """Character-level language model on a text file."""

    max_chars: int | None = None  # use only the first N characters of the file (quick studies)
    seq_length: int = 1000  # characters per training sequence; TBPTT windows split it
    val_fraction: float = 0.1  # the last part of the text, held out for validation
    test_fraction: float | None = None  # the very last part, held out from the search for the final test


@dataclass(frozen=True)
class SequenceClassificationOptions:
    """Many-to-one classification of sequences from a long-format CSV or Parquet file."""

    id_column: str = "sequence_id"  # which rows belong to one sequence
    step_column: str = "step"  # the order of rows within a sequence
    label_column: str = "label"  # integer class of the sequence (the same on all its rows)
    feature_columns: list[str] | None = None  # default: every other numeric column
    val_fraction: float = 0.2  # share of sequences held out, chosen with split_seed
    split_seed: int = 0
    test_fraction: float | None = None  # share of sequences held out from the search (drawn first)
    # global: each feature minus the training split's mean, over its spread; per_sequence: each
    # sequence's feature minus its own mean, over its own spread (the UCR archive's convention: shape,
    # not level); none: the values as they are
    normalize: Literal["global", "per_sequence", "none"] = "global"
    # balanced: each class's loss weighted by n / (classes * its count in the training split), as
    # scikit-learn's class_weight="balanced"; None: every sequence counts the same
    class_weight: Literal["balanced"] | None = None
    # K-fold cross-validation of every trial, stratified by class (data/folds.py); not with val_fraction.
    # Unset (and no val_fraction): K folds when the validation split would be small, else a hold-out
    folds: int | None = None


@dataclass(frozen=True)
class RegressionOptions:
    """Forecasting a numeric column of a CSV or Parquet file from a sliding window."""

    column: str = "value"  # the series to forecast
    window: int = 50  # input time steps per example
    horizon: int = 1  # values ahead to predict
    mode: Literal["many_to_one", "many_to_many"] = "many_to_one"  # predict after the window, or after every step
    stride: int = 1  # steps between consecutive windows
    val_fraction: float = 0.2  # the last part of the series (chronological split)
    test_fraction: float | None = None  # the very last part, held out from the search for the final test
    # standard: (x - training mean) / training spread; window: each window relative to its last
    # input value (a network learns changes, not levels it never saw: trending series)
    scaling: Literal["standard", "window"] = "standard"
    season: int | None = None  # steps per season: the trivial forecast also tries the value one season back
    # K time-ordered folds (data/folds.py): fold k trains on the series up to a point and is validated on
    # the block after it; not with val_fraction. Unset: the chronological hold-out split
    folds: int | None = None


@dataclass(frozen=True)
class AddingOptions:
    """The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers of a long sequence."""

    length: int = 50  # time steps T; longer is harder for plain RNNs
    train_sequences: int = 2000
    val_sequences: int = 500
    seed: int = 0  # the data set is generated from this seed


def check_options(options_cls: type, options: Any, where: str, key_path: str) -> dict[str, Any]:
    """Check ``options`` against a dataclass's fields and types; returns them as a plain dict."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise BadInput(where, key_path, "a mapping of options", options)
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    check_keys(where, key_path, options, fields)
    hints = typing.get_type_hints(options_cls)
    for name, value in options.items():
        if not _matches(hints[name], value):
            raise BadInput(where, f"{key_path}.{name}", _describe(hints[name]), value)
        if is_number(value):
            _check_range(name, value, where, f"{key_path}.{name}")
    return dict(options)


def _matches(hint: Any, value: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(arg, value) for arg in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and bool(value) and all(_matches(item, v) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return is_number(value)
    if hint is int:
        return is_integer(value)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if origin is list:
        return f"a non-empty list of {_describe(typing.get_args(hint)[0])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "null"}.get(
        hint, str(hint)
    )


def _check_range(name: str, value: float, where: str, key_path: str) -> None:
    if name.endswith("fraction") and not 0 < value < 1:
        raise BadInput(where, key_path, "a number in (0, 1)", value)
    if name in _LOWEST and value < _LOWEST[name]:
        raise BadInput(where, key_path, f"an integer >= {_LOWEST[name]}", value)


# lowest value of each count option; the adding problem marks two steps, so its sequences need two
_LOWEST = dict.fromkeys(
    ("max_chars", "seq_length", "window", "horizon", "stride", "train_sequences", "val_sequences", "season"), 1
)
_LOWEST["length"] = 2
_LOWEST["folds"] = 2  # one fold would validate on nothing
