"""Reading a char_lm text file, with errors that name the file.

Torch-free, so a study file's text is checked when the study is parsed, and
the task reads it the same way in every trial.
"""

from __future__ import annotations

from pathlib import Path

from tuner.errors import BadInput
from tuner.taskoptions import CharLMOptions


def read_text(path: Path, options: CharLMOptions) -> str:
    """The text a char_lm study trains on: UTF-8, cut to ``max_chars``, long enough for both splits."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(
            str(path), None, "a UTF-8 text file", f"a byte that is not UTF-8 at offset {error.start}"
        ) from None
    except OSError as error:
        raise BadInput(str(path), None, "a readable text file", error.strerror or type(error).__name__) from None
    if options.max_chars is not None:
        text = text[: options.max_chars]
    split = int(len(text) * (1 - options.val_fraction))
    if split < 2 or len(text) - split < 2:  # each part needs an input and its next character
        raise BadInput(
            str(path),
            None,
            f"enough text for a training and a validation part (val_fraction {options.val_fraction})",
            f"{len(text)} characters",
        )
    return text
