"""Forecasting a series: sliding windows of a numeric column, the next ``horizon`` values as targets.

many_to_one predicts the values after the window; many_to_many predicts, at
every step, the values after that step. The split is chronological (the
last part validates); the series is standardised with the training part's
mean and spread, and errors are reported back on the original scale.
"""

from __future__ import annotations

import numpy as np
import torch

from tuner import tabular
from tuner.taskoptions import RegressionOptions
from tuner.taskspec import TASKS, data_path
from tuner.training.tasks.base import SequenceData, Target, Task, TaskData, full_lengths


class Regression(Task):
    options = RegressionOptions
    metrics = TASKS["regression"].metrics

    def load(self, data: str | None, options: RegressionOptions) -> TaskData:
        series = tabular.read_series(data_path(data or "builtin:mackey_glass"), options)
        split = int(len(series) * (1 - options.val_fraction))
        mean, std = float(series[:split].mean()), float(series[:split].std() + 1e-8)
        scaled = (series - mean) / std
        return TaskData(
            target=Target.VALUES if options.mode == "many_to_one" else Target.STEP_VALUES,
            train=windows(scaled[:split], options),
            val=windows(scaled[split:], options),
            input_size=1,
            output_size=options.horizon,
            target_scale=std,
        )


def windows(series: np.ndarray, options: RegressionOptions) -> SequenceData:
    w, h = options.window, options.horizon
    starts = np.arange(0, len(series) - w - h + 1, options.stride)
    inputs = np.stack([series[s : s + w] for s in starts])[..., None]  # (N, W, 1)
    if options.mode == "many_to_one":
        targets = np.stack([series[s + w : s + w + h] for s in starts])  # (N, H)
    else:
        targets = np.stack([[series[s + t + 1 : s + t + 1 + h] for t in range(w)] for s in starts])  # (N, W, H)
    inputs_t = torch.from_numpy(inputs.astype(np.float32))
    return SequenceData(inputs_t, torch.from_numpy(targets.astype(np.float32)), full_lengths(inputs_t))
