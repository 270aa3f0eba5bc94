"""What a predictor that learns nothing scores on the same data: the bar every tuned network must clear.

- classification: the training split's class frequencies as probabilities (their log loss), and
  always the most frequent class (its accuracy);
- char_lm: the training split's character frequencies;
- series forecasting: the last input value repeated over the horizon and, with ``season``, the value
  one season back (the better of the two on the validation data is the baseline);
- other real-valued targets: the training split's mean target.

The scores come from the same formulas as a network's (``terms``), in the same units.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from tuner.training.tasks.base import SequenceData, Target, TaskData
from tuner.training.terms import Totals, whole_terms

Predictor = Callable[[SequenceData], Tensor]  # a split -> outputs (N, L, O) shaped like the network's


@dataclass(frozen=True)
class Trivial:
    predictor: str  # what it does, in words
    metrics: dict[str, float]  # the task's metrics, named as the network's (val_loss, val_accuracy, ...)

    def as_dict(self) -> dict:
        return {"predictor": self.predictor, "metrics": dict(self.metrics)}


def trivial_baseline(data: TaskData, split: SequenceData | None = None, predictor: str | None = None) -> Trivial:
    """The trivial predictor's metrics on ``split`` (default: validation); ``predictor`` picks one by
    name (the one chosen on validation, to score on test), else the best on ``split`` is taken."""
    split = data.val if split is None else split
    candidates = _candidates(data)
    if predictor is not None:
        candidates = {predictor: candidates[predictor]}
    scored = [Trivial(name, score(data, split, outputs(split))) for name, outputs in candidates.items()]
    return min(scored, key=lambda trivial: trivial.metrics["val_loss"])


def score(data: TaskData, split: SequenceData, outputs: Tensor) -> dict[str, float]:
    totals = Totals()
    totals.add(whole_terms(data.target, outputs, split.targets, split.lengths))
    return totals.metrics(data.target, data.target_scale)


def _candidates(data: TaskData) -> dict[str, Predictor]:
    train = data.train
    if data.target is Target.NEXT_TOKEN:
        valid = torch.arange(train.targets.shape[1])[None, :] < train.lengths[:, None]
        log_p = _log_frequencies(train.targets[valid], data.output_size)
        return {"character frequencies": lambda split: _everywhere(split, log_p)}
    if data.target is Target.CLASS:
        log_p = _log_frequencies(train.targets, data.output_size)
        return {"class frequencies; for accuracy, the most frequent class": lambda split: _everywhere(split, log_p)}
    if data.naive_lags:
        return {_lag_name(lag): (lambda split, lag=lag: _naive_forecast(split, lag, data)) for lag in data.naive_lags}
    mean = train.targets.float().mean(dim=tuple(range(train.targets.dim() - 1)))  # (O,)
    return {"training mean": lambda split: _everywhere(split, mean)}


def _log_frequencies(labels: Tensor, classes: int) -> Tensor:
    counts = (
        torch.bincount(labels.flatten(), minlength=classes).float() + 1e-3
    )  # a class never seen is unlikely, not impossible
    return (counts / counts.sum()).log()


def _everywhere(split: SequenceData, output: Tensor) -> Tensor:
    """The same output at every step of every sequence: (N, L, O), a view."""
    return output.expand(split.sequences, split.inputs.shape[1], -1)


def _lag_name(lag: int) -> str:
    return "the last value repeated" if lag == 1 else f"the value one season ({lag} steps) back"


def _naive_forecast(split: SequenceData, season: int, data: TaskData) -> Tensor:
    """Seasonal naive forecast: target k steps after step t is the input at t - ((season - k) mod season)
    (season 1: the input at t, repeated). Inputs and targets share their scaling, so no unit changes."""
    values = split.inputs[..., 0]  # (N, L): the series itself is the only feature
    ahead = torch.arange(1, data.output_size + 1)
    back = (season - ahead) % season  # (H,)
    if data.target is Target.STEP_VALUES:  # at every step t (season 1 only: the study refuses others)
        return values[..., None].expand(-1, -1, data.output_size)
    last = split.lengths - 1  # (N,)
    forecast = values[torch.arange(split.sequences)[:, None], last[:, None] - back[None, :]]  # (N, H)
    return forecast[:, None, :].expand(-1, split.inputs.shape[1], -1)


def trivial_over(splits: Sequence[TaskData]) -> Trivial:
    """The trivial predictor on the validation part of each split, its metrics averaged (a cross-validated
    study's K folds, judged as its trials are); the predictor is the one chosen on the first split."""
    first = trivial_baseline(splits[0])
    if len(splits) == 1:
        return first
    scored = [first] + [trivial_baseline(split, predictor=first.predictor) for split in splits[1:]]
    return Trivial(first.predictor, {name: statistics.fmean(t.metrics[name] for t in scored) for name in first.metrics})
