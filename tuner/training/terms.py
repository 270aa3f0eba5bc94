"""What training, evaluation, prediction and the trivial baselines share: encoding inputs, the loss
terms of a stretch of outputs, and turning summed terms into the task's metrics.

One place, so a validation value during a study, ``tuner evaluate`` on a file and a trivial
predictor's score are the same formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from tuner.training.tasks.base import Target


@dataclass
class Totals:
    """Sums over targets, turned into metrics at the end of a pass."""

    loss: float = 0.0
    count: int = 0
    correct: int = 0
    abs_error: float = 0.0

    def add(self, terms: tuple[Tensor, int, int, Tensor] | None) -> None:
        if terms is not None:
            loss_sum, count, correct, abs_error = terms
            self.loss += float(loss_sum)
            self.count += count
            self.correct += correct
            self.abs_error += float(abs_error)

    def metrics(self, target: Target, target_scale: float = 1.0) -> dict[str, float]:
        """The task's validation metrics (``val_loss`` first), errors of values on the data's own scale."""
        loss = self.loss / self.count
        if target is Target.NEXT_TOKEN:
            return {"val_loss": loss, "val_bpc": loss / math.log(2)}
        if target is Target.CLASS:
            return {"val_loss": loss, "val_accuracy": self.correct / self.count}
        return {
            "val_loss": loss,
            "val_mse": loss * target_scale**2,
            "val_mae": self.abs_error / self.count * target_scale,
        }


def encode(x: Tensor, input_size: int) -> Tensor:
    """Token ids become one-hot vectors; features pass through."""
    return F.one_hot(x, input_size).float() if x.dtype == torch.long else x


def ends_in(lengths: Tensor, start: int, steps: int) -> Tensor:
    """Which sequences have their last step inside the window [start, start + steps)."""
    last = lengths - 1
    return (last >= start) & (last < start + steps)


def window_terms(
    target: Target, outputs: Tensor, targets: Tensor, lengths: Tensor, start: int
) -> tuple[Tensor, int, int, Tensor] | None:
    """(summed loss, target count, correct predictions, summed absolute error) of one window, or None without targets."""
    steps = outputs.shape[1]
    if target.every_step:
        wanted = targets[:, start : start + steps]
        if bool((lengths >= start + steps).all()):  # no padding in this window: skip the masked copy
            predicted, wanted = outputs.flatten(0, 1), wanted.flatten(0, 1)
        else:
            positions = torch.arange(start, start + steps, device=outputs.device)
            mask = positions[None, :] < lengths[:, None]  # (B, T)
            predicted, wanted = outputs[mask], wanted[mask]
    else:
        ends = ends_in(lengths, start, steps)
        if not bool(ends.any()):
            return None
        predicted, wanted = outputs[ends, lengths[ends] - 1 - start], targets[ends]
    if target.classification:
        loss = F.cross_entropy(predicted.float(), wanted, reduction="sum")
        correct = int((predicted.argmax(dim=-1) == wanted).sum())
        return loss, wanted.numel(), correct, predicted.new_zeros(())
    error = predicted.float() - wanted
    return (error**2).sum(), error.numel(), 0, error.abs().sum()
