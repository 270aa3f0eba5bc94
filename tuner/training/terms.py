"""What training, evaluation, prediction and the trivial baselines share: encoding inputs, the loss
terms of a stretch of outputs, and turning summed terms into the task's metrics.

One place, so a validation value during a study, ``tuner evaluate`` on a file and a trivial
predictor's score are the same formulas.

Nothing here waits on a GPU: which outputs of a window have targets depends only on the
sequences' lengths, so it is worked out on the host (``Selection``), and sums stay on the device
until ``Totals.metrics`` reads them, once per pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from tuner.training.per_class import balanced_accuracy_and_macro_f1
from tuner.training.tasks.base import Target


@dataclass
class Totals:
    """Sums over targets, kept on the device (float64) and read once, when turned into metrics."""

    count: int = 0  # known on the host
    sums: Tensor | None = None  # (loss, correct, absolute error, then a classifier's confusion counts, C x C)

    def add(self, terms: Terms | None) -> None:
        if terms is not None:
            loss_sum, count, correct, abs_error, confusion = terms
            parts = [torch.stack([loss_sum.double(), correct.double(), abs_error.double()])]
            if confusion is not None:  # in the same tensor: still one read per pass
                parts.append(confusion.double().flatten())
            window = torch.cat(parts)
            self.sums = window if self.sums is None else self.sums + window
            self.count += count

    def metrics(self, target: Target, target_scale: float = 1.0) -> dict[str, float]:
        """The task's validation metrics (``val_loss`` first), errors of values on the data's own scale."""
        read = self.sums.tolist() if self.sums is not None else [0.0, 0.0, 0.0]
        loss_sum, correct, abs_error = read[:3]
        loss = loss_sum / self.count if self.count else math.nan
        if target is Target.NEXT_TOKEN:
            return {"val_loss": loss, "val_bpc": loss / math.log(2)}
        if target is Target.CLASS:
            classes = math.isqrt(len(read) - 3)
            counts = np.asarray(read[3:], dtype=np.int64).reshape(classes, classes)
            balanced, macro_f1 = balanced_accuracy_and_macro_f1(counts)
            return {
                "val_loss": loss,
                "val_accuracy": correct / self.count if self.count else math.nan,
                "val_balanced_accuracy": balanced,
                "val_macro_f1": macro_f1,
            }
        return {
            "val_loss": loss,
            "val_mse": loss * target_scale**2,
            "val_mae": abs_error / self.count * target_scale,
        }


# (summed loss, target count, correct predictions, summed absolute error, a classifier's confusion counts
# (C, C) or None); the tensors are on the device
Terms = tuple[Tensor, int, Tensor, Tensor, Tensor | None]


def encode(x: Tensor, input_size: int) -> Tensor:
    """Token ids become one-hot vectors; features pass through."""
    return F.one_hot(x, input_size).float() if x.dtype == torch.long else x


@dataclass(frozen=True)
class Selection:
    """The outputs of the window [start, start + steps) that have a target, found from the lengths on the host.

    ``rows`` and ``cols`` (step within the window) index them on the device, in row-major order;
    both None: every output of the window has one (no padding in it).
    """

    start: int
    steps: int
    count: int
    rows: Tensor | None = None
    cols: Tensor | None = None


def _host_selection(
    target: Target, lengths: np.ndarray, start: int, steps: int
) -> tuple[int, np.ndarray | None, np.ndarray | None]:
    if target.every_step:
        if (lengths >= start + steps).all():
            return len(lengths) * steps, None, None
        rows, cols = np.nonzero(np.arange(start, start + steps)[None, :] < lengths[:, None])  # row-major, (B, T)
        return len(rows), rows, cols
    last = lengths - 1  # a per-sequence target sits at the sequence's last step
    rows = np.nonzero((last >= start) & (last < start + steps))[0]
    return len(rows), rows, last[rows] - start


def selections(
    target: Target, lengths: np.ndarray, total_steps: int, window: int, device: torch.device
) -> list[Selection]:
    """Every window's selection for a batch of sequences with these (host) ``lengths``: one copy to the device.

    Worked out with numpy, so it never touches a tensor (nor, on a GPU, waits for one).
    """
    found = []
    for start in range(0, total_steps, window):
        steps = min(window, total_steps - start)
        found.append((start, steps, *_host_selection(target, lengths, start, steps)))
    indexed = [np.concatenate([rows, cols]) for *_, rows, cols in found if rows is not None]
    if not indexed:
        return [Selection(start, steps, count) for start, steps, count, _, _ in found]
    moved = torch.from_numpy(np.concatenate(indexed).astype(np.int64)).to(device, non_blocking=True)
    result, offset = [], 0
    for start, steps, count, rows, _ in found:
        if rows is None:
            result.append(Selection(start, steps, count))
            continue
        rows_at, cols_at = moved[offset : offset + count], moved[offset + count : offset + 2 * count]
        result.append(Selection(start, steps, count, rows_at, cols_at))
        offset += 2 * count
    return result


def window_terms(
    target: Target, outputs: Tensor, targets: Tensor, selection: Selection, class_weights: Tensor | None = None
) -> Terms | None:
    """The loss terms of one window's ``outputs`` (B, steps, O), or None when no target falls in it.

    ``class_weights`` (C,) weigh each target's loss by its class (training on imbalanced classes).
    """
    if selection.count == 0:
        return None
    start, steps = selection.start, selection.steps
    if selection.rows is None:  # every output has a target: no gather
        predicted = outputs.flatten(0, 1)
        wanted = targets[:, start : start + steps].flatten(0, 1)
    else:
        predicted = outputs[selection.rows, selection.cols]
        wanted = targets[selection.rows, start + selection.cols] if target.every_step else targets[selection.rows]
    if target.classification:
        loss = F.cross_entropy(predicted.float(), wanted, weight=class_weights, reduction="sum")
        said = predicted.argmax(dim=-1)
        classes = predicted.shape[-1]
        confusion = None
        if target is Target.CLASS:  # per-class metrics (balanced accuracy, macro F1) need the counts
            confusion = torch.bincount(wanted * classes + said, minlength=classes * classes)
        return loss, wanted.numel(), (said == wanted).sum(), predicted.new_zeros(()), confusion
    error = predicted.float() - wanted
    return (error**2).sum(), error.numel(), predicted.new_zeros((), dtype=torch.long), error.abs().sum(), None


def whole_terms(target: Target, outputs: Tensor, targets: Tensor, lengths: Tensor) -> Terms | None:
    """The loss terms of whole sequences' ``outputs`` (one window from step 0)."""
    [selection] = selections(target, lengths.cpu().numpy(), outputs.shape[1], outputs.shape[1], outputs.device)
    return window_terms(target, outputs, targets, selection)
