"""rnn-tuner: hyperparameter tuning for recurrent networks.

Optuna decides what to try, Ray Tune runs trials, torch trains, SQL keeps every trial and its
learning curve. The ``tuner`` command and these functions do the same things:

    import tuner

    result = tuner.run("studies/quickstart.yaml", trials=4)   # -> StudyResult
    result.best_value, result.best_params, result.best_trial
    tuner.status()                                  # every study in the storage (a pandas frame)
    tuner.trials(result.name)                       # one row per trial
    tuner.epochs(result.name, trials=[0, 1])        # one row per trial and epoch: the learning curves
    tuner.importance(result.name)                   # each knob's share of the objective's variance
    config = tuner.export(result.name)              # the best trial, as the dict tuner export writes
    model = tuner.train(config, out="model.pt")     # retrained alone -> Model
    model.evaluate("data.txt"); tuner.load_model("model.pt").predict(frame)

A mistake in what is given raises ``tuner.BadInput`` with a one-line message. Importing this
package imports nothing heavy: torch, Ray and Optuna load when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuner.api import __all__ as _API  # tuner.api imports nothing heavy at import time

__version__ = "0.1.0"
__all__ = ["BadInput", "Model", *_API]

if TYPE_CHECKING:
    # re-exported for type checkers (the names load lazily, below)
    from tuner.api import StudyResult as StudyResult
    from tuner.api import epochs as epochs
    from tuner.api import export as export
    from tuner.api import importance as importance
    from tuner.api import load_model as load_model
    from tuner.api import run as run
    from tuner.api import status as status
    from tuner.api import train as train
    from tuner.api import trials as trials
    from tuner.errors import BadInput as BadInput
    from tuner.training.model_file import Model as Model

_LAZY = {
    "BadInput": "tuner.errors",
    "Model": "tuner.training.model_file",
    **{name: "tuner.api" for name in _API},
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (``import tuner`` stays instant)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
