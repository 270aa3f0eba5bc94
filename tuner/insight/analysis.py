"""Reading learning curves: best epoch, overfitting onset, generalisation gap, fit label.

Pure pandas, shared by the dashboard and reports. The rule, also in the README:

- **best epoch**: the epoch where the study's metric was best in its direction
  (lowest validation loss by default; highest accuracy for a study that
  maximises ``val_accuracy``); among tied epochs the one with the lowest
  validation loss (as the training loop keeps): the epoch whose weights
  ``tuner train`` keeps.
- **overfitting onset**: a sustained rise, not one noisy epoch: the epoch of
  the lowest validation loss, when validation loss never came back below it
  and ended more than ``OVERFIT_RISE`` (2%) above it while training loss
  kept falling (its last value below its value there). A curve whose lowest
  validation loss is at its last epoch, or that ends within 2% of it, has
  no onset.
- **gap**: validation loss minus training loss, per epoch.
- **label**:
  - *no better than trivial*: the best validation loss is not at least
    ``TRIVIAL_MARGIN`` (2%) below the validation loss of the study's trivial
    predictor (class or character frequencies, the last value repeated), so
    the network has learned nothing worth its cost, whatever its curve;
  - *overfit*: there is an onset (so onset and label never disagree);
  - *underfit*: otherwise, when validation loss was still falling at the last
    epoch by more than ``STILL_LEARNING`` (1%) or the trial ran a single
    epoch: more epochs or capacity would still pay;
  - *good fit*: otherwise (validation loss has levelled off without rising).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

OVERFIT_RISE = 0.02
STILL_LEARNING = 0.01
TRIVIAL_MARGIN = 0.02


class Fit(StrEnum):
    TRIVIAL = "no better than trivial"
    UNDERFIT = "underfit"
    GOOD = "good fit"
    OVERFIT = "overfit"


@dataclass(frozen=True)
class CurveReading:
    best_epoch: int  # where the study's metric was best
    best_val_loss: float  # validation loss at that epoch (where the chart marks it)
    onset_epoch: int | None
    fit: Fit


def read_curve(
    epochs: pd.DataFrame, metric: str = "val_loss", maximize: bool = False, trivial_val_loss: float | None = None
) -> CurveReading:
    """Read one trial's curve; ``epochs`` has columns epoch, train_loss, val_loss (and ``metric``), sorted by epoch.

    ``trivial_val_loss``: the validation loss of the study's trivial predictor, where known.
    """
    if epochs.empty:
        raise ValueError("a trial with no epochs has no curve to read")
    epoch = epochs["epoch"].to_numpy()
    train = epochs["train_loss"].to_numpy()
    val = epochs["val_loss"].to_numpy()
    monitored = epochs[metric].to_numpy() if metric in epochs else val
    top = monitored.max() if maximize else monitored.min()
    tied = [i for i in range(len(val)) if monitored[i] == top]
    best = min(tied, key=lambda i: (val[i], i))  # ties: the lower validation loss, as the loop keeps
    lowest = int(val.argmin())
    sustained = lowest < len(val) - 1 and val[-1] > val[lowest] * (1 + OVERFIT_RISE) and train[-1] < train[lowest]
    onset = int(epoch[lowest]) if sustained else None
    if trivial_val_loss is not None and not val.min() < trivial_val_loss * (1 - TRIVIAL_MARGIN):
        fit = Fit.TRIVIAL
    elif onset is not None:
        fit = Fit.OVERFIT
    elif len(val) < 2 or (val[-2] - val[-1]) / val[-2] > STILL_LEARNING:
        fit = Fit.UNDERFIT
    else:
        fit = Fit.GOOD
    return CurveReading(int(epoch[best]), float(val[best]), onset, fit)


def with_gap(epochs: pd.DataFrame) -> pd.DataFrame:
    """The epochs frame with a ``gap`` column: validation minus training loss."""
    return epochs.assign(gap=epochs["val_loss"] - epochs["train_loss"])


def best_so_far(trials: pd.DataFrame, direction: str) -> pd.DataFrame:
    """Per COMPLETE trial in number order, the best value reached up to it."""
    done = trials[trials["state"] == "COMPLETE"].sort_values("number")[["number", "value"]]
    running = done["value"].cummin() if direction == "minimize" else done["value"].cummax()
    return done.assign(best=running)


def read_curves(
    curves: dict[int, pd.DataFrame], metric: str, direction: str, trivial: dict | None = None
) -> dict[int, CurveReading]:
    """``read_curve`` for each trial of a study, by its metric and direction, against its trivial predictor."""
    trivial_loss = (trivial or {}).get("metrics", {}).get("val_loss")
    return {n: read_curve(c, metric, direction == "maximize", trivial_loss) for n, c in curves.items()}
