"""Reading a char_lm text file, with errors that name the file.

Torch-free, so a study file's text is checked when the study is parsed, and
the task reads it the same way in every trial.
"""

from __future__ import annotations

from pathlib import Path

from tuner.data.options import CharLMOptions
from tuner.errors import BadInput


def read_plain_text(path: Path) -> str:
    """A UTF-8 text file, or BadInput naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(
            str(path), None, "a UTF-8 text file", f"a byte that is not UTF-8 at offset {error.start}"
        ) from None
    except OSError as error:
        raise BadInput(str(path), None, "a readable text file", error.strerror or type(error).__name__) from None


def read_text(path: Path, options: CharLMOptions) -> str:
    """The text a char_lm study trains on: UTF-8, cut to ``max_chars``, long enough for every part of the split."""
    text = read_plain_text(path)
    if options.max_chars is not None:
        text = text[: options.max_chars]
    if min(len(part) for part in text_parts(text, options) if part is not None) < 2:
        # each part needs an input and its next character
        test = f", test_fraction {options.test_fraction}" if options.test_fraction else ""
        raise BadInput(
            str(path),
            None,
            f"enough text for a training and a validation part{' and a test part' if test else ''} (val_fraction {options.val_fraction}{test})",
            f"{len(text)} characters",
        )
    return text


def text_parts(text: str, options: CharLMOptions) -> tuple[str, str, str | None]:
    """(training, validation, test) parts of a text, in order: the test part (``test_fraction``) is the
    very end, held out first; the validation part is the end of what is left."""
    n_test = int(len(text) * options.test_fraction) if options.test_fraction else 0
    rest, test = text[: len(text) - n_test], (text[len(text) - n_test :] if options.test_fraction else None)
    split = int(len(rest) * (1 - options.val_fraction))
    return rest[:split], rest[split:], test
