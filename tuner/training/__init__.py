"""Training: torch only. Models and cells (the fused C++ recurrence), tasks, the loop with TBPTT
and early stopping, the precision policy, model files, evaluate and predict, and turning a stored
trial into a training run (``trial_run``).

Must never import optuna, ray, storage, orchestration, the CLI or the dashboard, so ``tuner train``
and ``tuner.load_model`` run alone.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["EpochMetrics", "TrainResult", "TrainSettings", "train"]

if TYPE_CHECKING:
    from tuner.training.loop import EpochMetrics, TrainResult, TrainSettings, train


def __getattr__(name: str) -> Any:
    """The loop's names, imported on first use: ``fused_build`` (torch-free) is imported by the driver."""
    if name in __all__:
        from tuner.training import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'tuner.training' has no attribute {name!r}")
