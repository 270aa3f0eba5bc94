"""Read a YAML file into a mapping, turning every failure into one BadInput line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tuner.errors import BadInput


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Load ``path`` as YAML and check that its top level is a mapping."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise BadInput(where, None, "an existing YAML file", "no such file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise BadInput(where, None, "well-formed YAML", f"{problem} at {at}") from None
    except UnicodeDecodeError:
        raise BadInput(where, None, "a UTF-8 text file", "binary data") from None
    if not isinstance(document, dict):
        raise BadInput(where, None, "a mapping of keys to values at the top level", type(document).__name__)
    return document
