"""Forecasting a series: sliding windows of a numeric column, the next ``horizon`` values as targets.

many_to_one predicts the values after the window; many_to_many predicts, at
every step, the values after that step. The split is chronological: the
training part, then the validation part, then (with ``test_fraction``) the
test part at the very end. Every point of a held-out part is forecast from
the real values before it, earlier parts included (``held_out_windows``). Values are scaled with the training part's spread:

- ``scaling: standard`` subtracts the training part's mean;
- ``scaling: window`` subtracts each window's last input value from its inputs
  and targets, so the network learns changes, not levels: on a trending series
  later levels are ones the training part never had. Many-to-one only (a
  per-step target must not see the window's end).

Errors are reported, and forecasts returned, in the data's own units.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import Tensor

from tuner.config.task import TASKS, data_path
from tuner.data import folds, tabular
from tuner.data.options import RegressionOptions
from tuner.training.tasks.base import Prepared, SequenceData, Target, Task, TaskData, full_lengths


class Regression(Task):
    options = RegressionOptions
    metrics = TASKS["regression"].metrics

    def load(self, data: str | None, options: RegressionOptions) -> TaskData:
        series = tabular.read_series(_path(data), options)
        train, val, _ = tabular.series_parts(series, options)
        return self._task_data(series, options, len(train), len(train) + len(val), train)

    def fold_data(self, data: str | None, options: RegressionOptions) -> list[TaskData]:
        """Time-ordered folds of the part before the test part: fold k trains on blocks 0..k and forecasts
        block k + 1. Scaled by the first block's statistics, which every fold trains on (so no fold is
        scaled by values from its future, and the K networks of an ensemble read inputs scaled alike)."""
        series = tabular.read_series(_path(data), options)
        train, val, _ = tabular.series_parts(series, options)
        ends = folds.time_ordered_blocks(len(train) + len(val), options.folds)
        first = series[: ends[0]]
        return [self._task_data(series, options, start, end, first) for start, end in zip(ends, ends[1:], strict=False)]

    def _task_data(
        self, series: np.ndarray, options: RegressionOptions, split: int, end: int, scaled_by: np.ndarray
    ) -> TaskData:
        """Training windows of ``series[:split]``, forecasts of ``series[split:end]``, scaled by ``scaled_by``."""
        train = series[:split]
        preparation = {
            "column": options.column,
            "window": options.window,
            "horizon": options.horizon,
            "mode": options.mode,
            "scaling": options.scaling,
            "mean": float(scaled_by.mean()),
            "std": float(scaled_by.std() + 1e-8),
        }
        return TaskData(
            target=Target.VALUES if options.mode == "many_to_one" else Target.STEP_VALUES,
            train=windows(train, preparation, options.stride, labelled=True),
            val=held_out_windows(series, split, end, preparation),
            input_size=1,
            output_size=options.horizon,
            target_scale=preparation["std"],
            preparation=preparation,
            naive_lags=(1,) + ((options.season,) if options.season else ()),
        )

    def held_out_test(self, data: str | None, options: RegressionOptions, preparation: dict) -> SequenceData:
        series = tabular.read_series(_path(data), options)
        _, _, test = tabular.series_parts(series, options)
        return held_out_windows(series, len(series) - len(test), len(series), preparation)

    def prepare(self, source: str | Path | pd.DataFrame, preparation: dict, labelled: bool) -> Prepared:
        """Every window of the series (stride 1); to predict, also the last one, whose horizon lies past the end."""
        where = "data frame" if isinstance(source, pd.DataFrame) else str(source)
        options = RegressionOptions(
            column=preparation["column"], window=preparation["window"], horizon=preparation["horizon"]
        )
        window, horizon = preparation["window"], preparation["horizon"]
        frame = source if isinstance(source, pd.DataFrame) else tabular.read_table(source)
        series = tabular.read_series(frame, options, where=where, minimum_rows=window + horizon if labelled else window)
        data = windows(series, preparation, 1, labelled)
        keys = pd.DataFrame({"window_end": np.arange(data.sequences) + preparation["window"] - 1})
        # the window's last input value, which window scaling measures from
        last = series[keys["window_end"].to_numpy()]
        others = frame.drop(columns=[preparation["column"]]).reset_index(drop=True)
        return Prepared(data, keys.assign(_last=last), other_columns=others if len(others.columns) else None)

    def predictions(self, outputs: Tensor, prepared: Prepared, preparation: dict) -> pd.DataFrame:
        """One row per forecast point: the row it forecasts (0-based, past the end for the future),
        how many steps ahead of its window it is, and the forecast in the data's units."""
        horizon = preparation["horizon"]
        forecasts = outputs.float().numpy().reshape(len(prepared.keys), horizon) * preparation["std"]
        offset = prepared.keys["_last"].to_numpy() if preparation["scaling"] == "window" else preparation["mean"]
        forecasts = forecasts + np.reshape(offset, (-1, 1))
        ends = prepared.keys["window_end"].to_numpy()
        steps = np.arange(1, horizon + 1)
        frame = pd.DataFrame(
            {
                "position": (ends[:, None] + steps[None, :]).ravel(),
                "steps_ahead": np.tile(steps, len(ends)),
                "window_end": np.repeat(ends, horizon),
                f"forecast_{preparation['column']}": forecasts.ravel(),
            }
        )
        if prepared.other_columns is None:
            return frame
        # the file's other columns of the row each forecast is for (empty past the file's end: the future)
        others = prepared.other_columns.reindex(frame["position"].to_numpy()).reset_index(drop=True)
        return pd.concat([frame, others.drop(columns=[c for c in others if c in frame], errors="ignore")], axis=1)


def _path(data: str | None) -> Path:
    return data_path(data or "builtin:mackey_glass")


def held_out_windows(series: np.ndarray, start: int, end: int, preparation: dict) -> SequenceData:
    """Forecasts of every point of the held-out part ``series[start:end]`` (validation or test), each
    from the window of real values before it, reaching back into the earlier part of the series as a
    forecaster in use would: a part of 17 points gives 17 one-step forecasts (``len - horizon + 1``
    windows), not only the windows that fit inside it. Stride 1. A many-to-many network has a target
    at every step of its window, so its windows stay inside the part (no earlier part's targets)."""
    if preparation["mode"] != "many_to_one":
        return windows(series[start:end], preparation, 1, labelled=True)
    return windows(series[max(0, start - preparation["window"]) : end], preparation, 1, labelled=True)


def windows(series: np.ndarray, preparation: dict, stride: int, labelled: bool) -> SequenceData:
    """Windows of ``window`` inputs and, when ``labelled``, their ``horizon`` targets, scaled as ``preparation`` says.

    Unlabelled, the windows run to the series' end and the targets are empty.
    """
    w, h, std = preparation["window"], preparation["horizon"], preparation["std"]
    span = w + h if labelled else w
    views = sliding_window_view(series.astype(np.float32), span)[::stride]  # (N, span)
    if preparation["scaling"] == "window":
        views = (views - views[:, w - 1 : w]) / std  # relative to each window's last input
    else:
        views = (views - preparation["mean"]) / std
    inputs = torch.from_numpy(np.ascontiguousarray(views[:, :w, None], dtype=np.float32))  # (N, W, 1)
    if not labelled:
        targets = np.zeros((len(views), 0), np.float32)
    elif preparation["mode"] == "many_to_one":
        targets = views[:, w:]  # (N, H)
    else:
        ahead = np.arange(w)[:, None] + 1 + np.arange(h)[None, :]  # step t predicts t+1 .. t+H
        targets = views[:, ahead]  # (N, W, H)
    return SequenceData(inputs, torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32)), full_lengths(inputs))
