"""Read a YAML file into a mapping, turning every failure into one BadInput line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tuner.errors import BadInput


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.1, which PyYAML follows, reads 1e-3 and 1e-05 (no dot) as text; YAML 1.2 and JSON read numbers.
# Users write learning rates that way, and a JSON export (JSON is YAML too) holds them so: read them as numbers.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Load ``path`` as YAML and check that its top level is a mapping with no key given twice."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise BadInput(where, None, "an existing YAML file", "a folder" if path.is_dir() else "no such file")
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
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
