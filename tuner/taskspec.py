"""What a study says about its task: which task, which data, which options.

Torch-free: the study parser checks a task's name, data file and options
here, before anything is trained or written to a database.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tuner.errors import BadInput, check_keys, did_you_mean

BUILTIN_PREFIX = "builtin:"
BUILTIN_DATA = {"tinyshakespeare": "tinyshakespeare.txt"}


@dataclass(frozen=True)
class CharLMOptions:
    """Options of the character-level language model task."""

    max_chars: int | None = None  # use only the first N characters of the file (quick studies)
    seq_length: int = 1000  # characters per training sequence; TBPTT windows split it
    val_fraction: float = 0.1  # the last part of the text, held out for validation


# task name -> (options dataclass, metrics it reports that a study may optimise, with their direction)
TASKS: dict[str, tuple[type, dict[str, str]]] = {
    "char_lm": (CharLMOptions, {"val_loss": "minimize", "val_bpc": "minimize"}),
}


@dataclass(frozen=True)
class TaskSpec:
    """A task, its data (a resolved path or ``builtin:NAME``) and its options."""

    name: str = "char_lm"
    data: str = BUILTIN_PREFIX + "tinyshakespeare"
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "data": self.data, "options": dict(self.options)}

    def metrics(self) -> dict[str, str]:
        return TASKS[self.name][1]


def data_path(data: str) -> Path:
    """The file behind a task's ``data`` value."""
    if data.startswith(BUILTIN_PREFIX):
        return Path(str(resources.files("tuner.data") / BUILTIN_DATA[data.removeprefix(BUILTIN_PREFIX)]))
    return Path(data)


def parse_task(raw: Any, where: str, base_dir: Path, key_path: str = "task") -> TaskSpec:
    """Check a ``task:`` mapping; a relative data path is resolved against ``base_dir``."""
    if not isinstance(raw, dict):
        raise BadInput(where, key_path, "a mapping with name, data and options", raw)
    check_keys(where, key_path, raw, {"name", "data", "options"})
    name = raw.get("name", "char_lm")
    if name not in TASKS:
        raise BadInput(where, f"{key_path}.name", "one of " + ", ".join(TASKS), name, did_you_mean(str(name), TASKS))
    data = raw.get("data", BUILTIN_PREFIX + "tinyshakespeare")
    if not isinstance(data, str):
        raise BadInput(where, f"{key_path}.data", "a file path or builtin:NAME", data)
    if data.startswith(BUILTIN_PREFIX):
        builtin = data.removeprefix(BUILTIN_PREFIX)
        if builtin not in BUILTIN_DATA:
            raise BadInput(
                where, f"{key_path}.data", "one of " + ", ".join(BUILTIN_PREFIX + b for b in BUILTIN_DATA), data
            )
    else:
        path = (base_dir / data).resolve()
        if not path.is_file():
            raise BadInput(where, f"{key_path}.data", "an existing data file", str(path))
        data = str(path)
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise BadInput(where, f"{key_path}.options", "a mapping", options)
    options_cls = TASKS[name][0]
    check_keys(where, f"{key_path}.options", options, [f.name for f in dataclasses.fields(options_cls)])
    _check_char_lm_options(options, where, f"{key_path}.options")
    return TaskSpec(name, data, dict(options))


def _check_char_lm_options(options: dict[str, Any], where: str, key_path: str) -> None:
    def positive_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    if "max_chars" in options and options["max_chars"] is not None and not positive_int(options["max_chars"]):
        raise BadInput(where, f"{key_path}.max_chars", "an integer >= 1 or null", options["max_chars"])
    if "seq_length" in options and not positive_int(options["seq_length"]):
        raise BadInput(where, f"{key_path}.seq_length", "an integer >= 1", options["seq_length"])
    fraction = options.get("val_fraction", 0.1)
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise BadInput(where, f"{key_path}.val_fraction", "a number in (0, 1)", fraction)
