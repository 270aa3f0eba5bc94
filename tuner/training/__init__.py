"""Training: torch only. Imports neither optuna nor ray, so `tuner train` runs alone."""

from tuner.training.loop import EpochMetrics, TrainResult, TrainSettings, train

__all__ = ["EpochMetrics", "TrainResult", "TrainSettings", "train"]
