"""rnn-tuner: hyperparameter tuning for recurrent networks.

Optuna decides what to try, Ray Tune runs trials, torch trains, SQL keeps
every trial and its learning curve. The command line is ``tuner.cli``.
Importing this package imports nothing heavy: torch, Ray and Optuna load
where they are needed (``tuner.load_model`` loads torch when called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["BadInput", "Model", "load_model"]

if TYPE_CHECKING:
    from tuner.errors import BadInput
    from tuner.training.model_file import Model, load_model

_LAZY = {
    "BadInput": "tuner.errors",
    "Model": "tuner.training.model_file",
    "load_model": "tuner.training.model_file",
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (``import tuner`` stays instant)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")
