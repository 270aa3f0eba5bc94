"""What a study says about its task: which task, which data, which options.

Torch-free: the study parser checks a task's name, data and options here,
before anything is trained or written to a database. Built-in tasks are
named (``char_lm``); a user's own task is ``package.module:ClassName`` (that
module is imported when the study is parsed, to read its options and metrics).
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from tuner.data.options import (
    AddingOptions,
    CharLMOptions,
    RegressionOptions,
    SequenceClassificationOptions,
    check_options,
)
from tuner.errors import BadInput, check_keys, did_you_mean

BUILTIN_PREFIX = "builtin:"
BUILTIN_DATA = {
    "tinyshakespeare": "tinyshakespeare.txt",
    "control_charts": "control_charts.csv",
    "mackey_glass": "mackey_glass.csv",
}
MINIMIZE, MAXIMIZE = "minimize", "maximize"


@dataclass(frozen=True)
class TaskInfo:
    """What the study parser needs to know of a task."""

    options: type  # a frozen dataclass of the task's options
    metrics: dict[str, str]  # validation metrics a study may optimise -> their direction
    data: Literal["text", "table", "generated", "any"]  # what `data:` must name
    default_data: str | None = None
    # ``module:Class`` of the task's implementation (torch-side, imported only when it trains or scores)
    implementation: str = ""


# the one registry of built-in tasks: what a study file may say about each, and where its code is
TASKS: dict[str, TaskInfo] = {
    "char_lm": TaskInfo(
        CharLMOptions,
        {"val_loss": MINIMIZE, "val_bpc": MINIMIZE},
        "text",
        "builtin:tinyshakespeare",
        "tuner.training.tasks.char_lm:CharLM",
    ),
    "sequence_classification": TaskInfo(
        SequenceClassificationOptions,
        {
            "val_loss": MINIMIZE,
            "val_accuracy": MAXIMIZE,
            "val_balanced_accuracy": MAXIMIZE,  # the mean of the classes' recalls: imbalanced classes
            "val_macro_f1": MAXIMIZE,
        },
        "table",
        "builtin:control_charts",
        "tuner.training.tasks.sequence_classification:SequenceClassification",
    ),
    "regression": TaskInfo(
        RegressionOptions,
        {"val_loss": MINIMIZE, "val_mse": MINIMIZE, "val_mae": MINIMIZE},
        "table",
        "builtin:mackey_glass",
        "tuner.training.tasks.regression:Regression",
    ),
    "adding": TaskInfo(
        AddingOptions,
        {"val_loss": MINIMIZE, "val_mse": MINIMIZE, "val_mae": MINIMIZE},
        "generated",
        None,
        "tuner.training.tasks.adding:Adding",
    ),
}


@dataclass(frozen=True)
class TaskSpec:
    """A task, its data (a resolved path, ``builtin:NAME`` or None), its options and its test data.

    ``test_data`` (a second file in the data's format) is never read by a trial: only the network
    a study chose is scored on it (``tuner train``, ``tuner evaluate``).
    """

    name: str = "char_lm"
    data: str | None = BUILTIN_PREFIX + "tinyshakespeare"
    options: dict[str, Any] = field(default_factory=dict)
    test_data: str | None = None
    # how trials are judged (hold-out or K folds) and why, for `tuner run` to say; not stored
    selection: str = field(default="", compare=False)
    # how many sequences one network learns from (a fold's training part, else the training split), where
    # the study reads them when it is read (classifiers): the default budget follows it (config/budget.py)
    training_sequences: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        # no test_data key when there is none: studies stored before it existed compare equal
        extra = {"test_data": self.test_data} if self.test_data else {}
        return {"name": self.name, "data": self.data, "options": dict(self.options), **extra}

    def info(self) -> TaskInfo:
        return task_info(self.name, "task", "name")

    def has_test_data(self) -> bool:
        """Whether the study holds data back for the final test (a file, or a fraction of its data)."""
        return self.test_data is not None or bool(self.options.get("test_fraction"))

    def metrics(self) -> dict[str, str]:
        return self.info().metrics

    def targets_every_step(self) -> bool:
        """Whether the task has a target at every step (char_lm, many-to-many forecasts): then its
        networks read each step's own output and have no readout to choose."""
        return self.name == "char_lm" or (self.name == "regression" and self.options.get("mode") == "many_to_many")

    def parsed_options(self) -> Any:
        return self.info().options(**self.options)

    def folds(self) -> int | None:
        """K when every trial is cross-validated on K folds, None for a single hold-out split."""
        return self.options.get("folds")


def data_path(data: str) -> Path:
    """The file behind a task's ``data`` value."""
    if data.startswith(BUILTIN_PREFIX):
        return Path(str(resources.files("tuner.data") / BUILTIN_DATA[data.removeprefix(BUILTIN_PREFIX)]))
    return Path(data)


def task_info(name: Any, where: str, key_path: str) -> TaskInfo:
    """A built-in task's info, or a user task class's (``module:Class``), imported now."""
    if not isinstance(name, str):
        raise BadInput(where, key_path, "a task name", name)
    if name in TASKS:
        return TASKS[name]
    if ":" not in name:
        raise BadInput(
            where,
            key_path,
            "one of " + ", ".join(TASKS) + ", or module:Class for your own task",
            name,
            did_you_mean(name, TASKS),
        )
    module_name, _, class_name = name.partition(":")
    try:
        task_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise BadInput(where, key_path, "an importable task class (module:Class)", f"{name} ({error})") from None
    options, metrics = getattr(task_class, "options", None), getattr(task_class, "metrics", None)
    if not (dataclasses.is_dataclass(options) and isinstance(metrics, dict) and metrics):
        raise BadInput(where, key_path, "a Task subclass with an `options` dataclass and a `metrics` mapping", name)
    return TaskInfo(options, dict(metrics), "any", implementation=name)


def parse_task(raw: Any, where: str, base_dir: Path, key_path: str = "task", default_folds: bool = True) -> TaskSpec:
    """Check a ``task:`` mapping, its options and its data; a relative data path resolves against ``base_dir``.

    ``default_folds``: apply the default selection rule (``data/folds.py``) when the file says neither
    ``folds`` nor ``val_fraction``; an exported trial's task is taken as it was stored.
    """
    if not isinstance(raw, dict):
        raise BadInput(where, key_path, "a mapping with name, data and options", raw)
    check_keys(where, key_path, raw, {"name", "data", "options", "test_data"})
    name = raw.get("name", "char_lm")
    info = task_info(name, where, f"{key_path}.name")
    options = check_options(info.options, raw.get("options"), where, f"{key_path}.options")
    if name == "sequence_classification":
        _check_no_key_column_is_a_feature(info.options(**options), where, f"{key_path}.options.feature_columns")
    if name == "regression":
        _check_regression_options(info.options(**options), where, f"{key_path}.options")
    data = _resolve_data(raw.get("data", info.default_data), info, where, base_dir, f"{key_path}.data")
    test_data = None
    if raw.get("test_data") is not None:
        if info.data not in ("table", "text"):
            raise BadInput(
                where, f"{key_path}.test_data", "no test file (this task has no data file format)", raw["test_data"]
            )
        if options.get("test_fraction") is not None:
            raise BadInput(
                where, f"{key_path}.test_data", "either test_data or options.test_fraction, not both", raw["test_data"]
            )
        test_data = _resolve_data(raw["test_data"], info, where, base_dir, f"{key_path}.test_data")
    if "folds" in options and "val_fraction" in options:
        raise BadInput(
            where,
            f"{key_path}.options.folds",
            "either folds (cross-validation) or val_fraction (a hold-out split), not both",
            options["folds"],
        )
    selection, training_sequences = "", None
    if data is not None and info.data in ("table", "text"):
        options, selection, training_sequences = _check_data(
            name, data, options, info, where, f"{key_path}.options", default_folds
        )
        if test_data is not None:
            _check_test_data(info, data, test_data, where, f"{key_path}.test_data")
            _check_test_rows(name, data, test_data, info.options(**options), where, f"{key_path}.test_data")
    return TaskSpec(name, data, options, test_data, selection, training_sequences)


def _check_regression_options(options: RegressionOptions, where: str, key_path: str) -> None:
    if options.scaling == "window" and options.mode == "many_to_many":
        # a per-step target would see the window's last value, which lies in its future
        raise BadInput(where, f"{key_path}.scaling", "standard with mode many_to_many", options.scaling)
    if options.season is not None and options.mode == "many_to_many":
        raise BadInput(where, f"{key_path}.season", "no season with mode many_to_many", options.season)
    if options.season is not None and options.season > options.window:
        # the value one season back must be inside the window
        raise BadInput(
            where, f"{key_path}.season", f"a season of at most the window ({options.window} steps)", options.season
        )


def _check_test_data(info: TaskInfo, data: str, test_data: str, where: str, key_path: str) -> None:
    """A test file is in the training file's format: text, or a table with the same columns."""
    if info.data == "text":
        from tuner.data.text import read_plain_text

        read_plain_text(data_path(test_data))
        return
    from tuner.data import tabular  # pandas: only for the tasks that read tables

    trained, tested = tabular.table_columns(data_path(data)), tabular.table_columns(data_path(test_data))
    if set(trained) != set(tested):
        raise BadInput(
            where, key_path, "a file with the training file's columns (" + ", ".join(trained) + ")", ", ".join(tested)
        )


def _check_test_rows(name: str, data: str, test_data: str, options: Any, where: str, key_path: str) -> None:
    """The test file reads as the task reads its data, and a classifier's test labels are labels its
    training file has: else every trial would run, and only then would the test part fail to score."""
    from tuner.data import tabular

    if name == "sequence_classification":
        tested = tabular.read_long_sequences(data_path(test_data), options, where=test_data, min_classes=1)
        trained = tabular.read_long_sequences(data_path(data), options)
        known = {tabular.plain(label) for label in trained.labels}
        if unknown := sorted({tabular.plain(label) for label in tested.labels} - known, key=str):
            raise BadInput(
                where,
                key_path,
                f"labels the training file has ({', '.join(map(str, sorted(known, key=str)[:10]))})",
                ", ".join(map(str, unknown[:5])),
                f"{test_data} has labels the network could never predict",
            )
    elif name == "regression":
        tabular.read_series(data_path(test_data), options)


def _check_no_key_column_is_a_feature(options: SequenceClassificationOptions, where: str, key_path: str) -> None:
    """The label as a feature would leak the answer; the id and step number are bookkeeping, not signal."""
    keys = (options.id_column, options.step_column, options.label_column)
    if leaked := [column for column in options.feature_columns or [] if column in keys]:
        raise BadInput(where, key_path, "columns other than the id, step and label columns", leaked[0])


def _resolve_data(data: Any, info: TaskInfo, where: str, base_dir: Path, key_path: str) -> str | None:
    if info.data == "generated":
        if data is not None:
            raise BadInput(where, key_path, "no data file (this task generates its data)", data)
        return None
    if data is None and info.data == "any":
        return None
    if not isinstance(data, str):
        raise BadInput(where, key_path, "a file path or builtin:NAME", data)
    if data.startswith(BUILTIN_PREFIX):
        if data.removeprefix(BUILTIN_PREFIX) not in BUILTIN_DATA:
            raise BadInput(where, key_path, "one of " + ", ".join(BUILTIN_PREFIX + b for b in BUILTIN_DATA), data)
        return data
    path = (base_dir / data).resolve()
    if not path.is_file():
        raise BadInput(where, key_path, "an existing data file", str(path))
    return str(path)


def _check_data(
    name: str, data: str, options: dict[str, Any], info: TaskInfo, where: str, key_path: str, default_folds: bool
) -> tuple[dict[str, Any], str, int | None]:
    """Read the data as the task will, so a bad file is refused before anything is written; returns the
    options with the fold count the default rule chose (``data/folds.py``), how trials are judged, and
    how many sequences one network trains on (classifiers; None for the other tasks)."""
    import numpy as np

    from tuner.data import folds, tabular  # pandas: only for the tasks that read tables
    from tuner.data.text import read_text

    parsed = info.options(**options)
    training: int | None = None  # sequences one network trains on: known here for classifiers only
    if name == "char_lm":
        read_text(data_path(data), parsed)
        return options, "", None  # one chronological split of a text: nothing to choose
    if name == "sequence_classification":
        table = tabular.read_long_sequences(data_path(data), parsed)
        split = tabular.split_indices(len(table.ids), parsed.val_fraction, parsed.split_seed, parsed.test_fraction)
        if not (len(split.train) and len(split.val) and (len(split.test) or not parsed.test_fraction)):
            raise BadInput(
                data,
                "task.options",
                "val_fraction and test_fraction that leave sequences for training, validation and test",
                f"{len(split.train)}, {len(split.val)} and {len(split.test)} of {len(table.ids)} sequences",
            )
        selectable = table.labels[np.sort(np.r_[split.train, split.val])]
        if default_folds and parsed.folds is None and "val_fraction" not in options:
            chosen = folds.default_selection(selectable, len(split.val), parsed.val_fraction)
            options = {**options, **({"folds": chosen.folds} if chosen.folds else {})}
            return options, chosen.describe(), _fold_training(len(selectable), chosen.folds, len(split.train))
        if parsed.folds is not None:
            _check_class_folds(selectable, parsed.folds, where, key_path)
            described = folds.Selection(parsed.folds, "folds in the study file").describe()
            return options, described, _fold_training(len(selectable), parsed.folds, len(split.train))
        training = len(split.train)
    elif name == "regression":
        series = tabular.read_series(data_path(data), parsed)
        if parsed.folds is not None:
            _check_series_folds(series, parsed, where, key_path)
            return options, folds.Selection(parsed.folds, "folds in the study file, in time order").describe(), None
    reason = "val_fraction in the study file" if "val_fraction" in options else "the task's default split"
    return options, folds.Selection(None, reason).describe(), training


def _fold_training(selectable: int, fold_count: int | None, hold_out_training: int) -> int:
    """Sequences one network trains on: all but a fold's share under K folds, else the training split."""
    return selectable - selectable // fold_count if fold_count else hold_out_training


def _check_class_folds(labels: Any, count: int, where: str, key_path: str) -> None:
    """Stratified folds need every class in every fold: at most the smallest class's count of them."""
    import numpy as np

    values, counts = np.unique(labels.astype(str), return_counts=True)
    if count > counts.min():
        raise BadInput(
            where,
            f"{key_path}.folds",
            f"at most {counts.min()} (class {str(values[counts.argmin()])!r} has {counts.min()} sequences to share out)",
            count,
        )


def _check_series_folds(series: Any, options: RegressionOptions, where: str, key_path: str) -> None:
    """Each of the K + 1 time-ordered blocks must hold one whole window and its horizon (the first is
    trained on; a many-to-many network's validation windows stay inside their block)."""
    from tuner.data import folds

    n_test = int(len(series) * options.test_fraction) if options.test_fraction else 0
    ends = folds.time_ordered_blocks(len(series) - n_test, options.folds)
    first = min(end - start for start, end in zip([0, *ends], ends, strict=False))
    if first < options.window + options.horizon:
        raise BadInput(
            where,
            f"{key_path}.folds",
            f"fewer folds: each of the {options.folds + 1} blocks must hold a window and its horizon "
            f"({options.window + options.horizon} points)",
            f"{options.folds} ({first} points per block)",
        )


def selection_optimism(validation: float, test: float, maximize: bool) -> float:
    """How much better the chosen network looks on validation than on test, in the metric's units:
    positive when choosing on validation flattered it, for a minimised metric (a loss, an error) and a
    maximised one (an accuracy) alike."""
    return validation - test if maximize else test - validation


REFITS = ("none", "train_val", "ensemble")


def parse_refit(raw: Any, where: str, key: str, folds: int | None) -> str:
    """A study's (or an export's) ``refit``: which network the study ends with (``training/refit.py``).

    ``none``: the network as its trial trained it (hold-out); ``ensemble``: a cross-validated trial's K
    fold networks, their probabilities or forecasts averaged; ``train_val``: the configuration trained
    again on training + validation data. Unset: ``ensemble`` with folds, ``none`` without.
    """
    if raw is None:
        return "ensemble" if folds else "none"
    if raw not in REFITS:
        expected = "none (the network as its trial trained it), ensemble (folds only) or train_val (trained again)"
        raise BadInput(where, key, expected, raw)
    if raw == "ensemble" and not folds:
        raise BadInput(where, key, "none or train_val (ensemble needs task.options.folds)", raw)
    if raw == "none" and folds:
        raise BadInput(where, key, "ensemble or train_val (a cross-validated trial trains K networks)", raw)
    return raw


def describe_refit(refit: str, folds: int | None) -> str:
    """Which network a study ends with, in a few words (``tuner run`` says it beside the selection)."""
    return {
        "none": "the best trial's network as it trained",
        "ensemble": f"the best trial's {folds} fold networks, their outputs averaged (refit: ensemble)",
        "train_val": "the best configuration trained again on training + validation data (refit: train_val)",
    }[refit]
