"""Early-stopping settings, as study files and exported configs spell them, checked into one dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuner.errors import BadInput, check_keys, int_at_least, is_number

MONITORS = ("objective", "val_loss")


@dataclass(frozen=True)
class EarlyStopping:
    """Stop a trial when the monitored metric has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor``: ``objective`` (the study's metric; among epochs that tie on it, a lower validation loss
    counts as better) or ``val_loss``. The kept weights are the monitored metric's best epoch; the trial's
    value is always the best objective value it reached. The default is ``objective``: in the
    classification panel (docs/benchmarks.md, two seeds) its kept networks scored as well or better on
    test than ``val_loss``'s on every set, and its validation figures flattered them less.
    """

    patience: int = 3
    min_delta: float = 0.0
    monitor: str = "objective"

    def as_settings(self) -> dict:
        """As a study stores it (no ``monitor`` key for the default: older studies compare equal)."""
        extra = {"monitor": self.monitor} if self.monitor != "objective" else {}
        return {"patience": self.patience, "min_delta": self.min_delta, **extra}


def parse_early_stopping(raw: Any, where: str, key: str = "early_stopping", patience: int = 3) -> EarlyStopping:
    """Check ``raw`` (``{patience, min_delta}``, both optional; ``patience`` is the default patience)."""
    if not isinstance(raw, dict):
        raise BadInput(where, key, "a mapping with patience and min_delta", raw)
    check_keys(where, key, raw, {"patience", "min_delta", "monitor"})
    checked_patience = int_at_least(raw, "patience", patience, where, f"{key}.patience")
    min_delta = raw.get("min_delta", 0.0)
    if not is_number(min_delta) or min_delta < 0:
        raise BadInput(where, f"{key}.min_delta", "a number >= 0", min_delta)
    monitor = raw.get("monitor", "objective")
    if monitor not in MONITORS:
        raise BadInput(where, f"{key}.monitor", "objective (the study's metric) or val_loss", monitor)
    return EarlyStopping(checked_patience, float(min_delta), monitor)
