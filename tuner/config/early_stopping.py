"""Early-stopping settings, as study files and exported configs spell them, checked into one dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuner.errors import BadInput, check_keys, int_at_least, is_number


@dataclass(frozen=True)
class EarlyStopping:
    """Stop a trial when its objective metric has not improved by ``min_delta`` for ``patience`` epochs."""

    patience: int = 3
    min_delta: float = 0.0


def parse_early_stopping(raw: Any, where: str, key: str = "early_stopping", patience: int = 3) -> EarlyStopping:
    """Check ``raw`` (``{patience, min_delta}``, both optional; ``patience`` is the default patience)."""
    if not isinstance(raw, dict):
        raise BadInput(where, key, "a mapping with patience and min_delta", raw)
    check_keys(where, key, raw, {"patience", "min_delta"})
    checked_patience = int_at_least(raw, "patience", patience, where, f"{key}.patience")
    min_delta = raw.get("min_delta", 0.0)
    if not is_number(min_delta) or min_delta < 0:
        raise BadInput(where, f"{key}.min_delta", "a number >= 0", min_delta)
    return EarlyStopping(checked_patience, float(min_delta))
