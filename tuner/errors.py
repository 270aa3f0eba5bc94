"""One root exception type, and the user-input error the CLI turns into exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TunerError(Exception):
    """Root of every error rnn-tuner raises on purpose."""


class BadInput(TunerError):
    """A mistake in something the user gave us: a file, a flag, a URL or data.

    The message is one line: where (file or flag), which key, what was
    expected and what was found.
    """

    def __init__(self, where: str, key: str | None, expected: str, found: object, hint: str = "") -> None:
        self.where = where
        self.key = key
        self.expected = expected
        self.found = found
        self.hint = hint
        location = f"{where}: {key}" if key else where
        message = f"{location}: expected {expected}, found {found!r}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)

    def __reduce__(self) -> tuple:
        # rebuilt from its parts when it crosses a process (a Ray worker reading a user's file)
        return (type(self), (self.where, self.key, self.expected, self.found, self.hint))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return a 'did you mean ...?' hint for a misspelt name, or ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def check_keys(where: str, key_path: str, mapping: dict, allowed: Iterable[str]) -> None:
    """Raise BadInput for the first key of ``mapping`` not in ``allowed``."""
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            path = f"{key_path}.{key}" if key_path else str(key)
            raise BadInput(where, path, "one of " + ", ".join(sorted(allowed)), key, did_you_mean(str(key), allowed))


def is_integer(value: object) -> bool:
    """An int that is not a bool (YAML's true is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """An int or a float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def integer(raw: dict, key: str, default: int | None, where: str, key_path: str | None = None) -> int:
    """``raw[key]`` (or ``default``; None: required) if it is an integer."""
    value = raw.get(key, default)
    if not is_integer(value):
        raise BadInput(where, key_path or key, "an integer", value)
    return value


def positive(name: str, value: object) -> None:
    """A count given as a flag or an argument (``--trials``, ``workers=``): None, or an integer >= 1."""
    if value is not None and (not is_integer(value) or value < 1):
        raise BadInput(name, None, "an integer >= 1", value)


def int_at_least(
    raw: dict, key: str, default: int | None, where: str, key_path: str | None = None, minimum: int = 1
) -> int:
    """``raw[key]`` (or ``default``; None: required) if it is an integer >= ``minimum``."""
    value = raw.get(key, default)
    if not is_integer(value) or value < minimum:
        raise BadInput(where, key_path or key, f"an integer >= {minimum}", value)
    return value


class Diverged(TunerError):
    """Training produced a NaN or infinite loss; the trial stops at once."""


class NoGpu(TunerError):
    """A trial asked for a GPU on a node where torch sees no CUDA device: it fails rather than train on the CPU."""
