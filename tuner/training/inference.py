"""Applying a trained network to prepared data in large batches: outputs, and the task's metrics.

``tuner evaluate`` and ``tuner predict`` run the same batched forward passes, so
the accuracy evaluate reports is the accuracy of the labels predict writes.
Whole sequences go through at once (the state carries through them as it does
across TBPTT windows), sorted by length so little padding is computed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from tuner.training.models import RecurrentNet

if TYPE_CHECKING:
    from tuner.training.loop import TrainResult
from tuner.training.per_class import confusion
from tuner.training.tasks.base import SequenceData, Target
from tuner.training.terms import Totals, encode, whole_terms


def idle_cores() -> int:
    """Threads for scoring that cannot oversubscribe this machine: the cores this process may use, less
    the load already on them (the last minute's average), at least one. On a busy 2-core machine torch's
    default of one thread per core made the same ``tuner evaluate`` take 3 s in some runs and 27 s in
    others (2.3 s with one thread)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, cores - round(os.getloadavg()[0])))


def use_threads(threads: int | None) -> int:
    """Set torch's thread count for scoring (``None``: ``idle_cores()``); returns the count set."""
    count = threads if threads is not None else idle_cores()
    torch.set_num_threads(count)
    return count


BATCH_SIZE = 1024  # sequences per forward pass, at most
STEPS_PER_BATCH = 2**17  # and at most this many time steps (long texts go in fewer sequences at once)


def _forward_batches(
    net: RecurrentNet, split: SequenceData, input_size: int, batch_size: int
) -> Iterator[tuple[Tensor, Tensor]]:
    """(rows, outputs (B, L, O) on the network's device) per batch; rows of similar length share a batch."""
    net.eval()
    device = next(net.parameters()).device
    batch_size = max(1, min(batch_size, STEPS_PER_BATCH // max(1, split.inputs.shape[1])))
    order = torch.argsort(split.lengths, stable=True)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        longest = int(split.lengths[rows].max())
        outputs, _ = net(encode(split.inputs[rows, :longest].to(device), input_size), lengths=split.lengths[rows])
        yield rows, outputs


@torch.inference_mode()
def last_step_outputs(net: RecurrentNet, split: SequenceData, input_size: int, batch_size: int = BATCH_SIZE) -> Tensor:
    """The output at each sequence's last real step, in the split's order: (N, O)."""
    result = None
    for rows, outputs in _forward_batches(net, split, input_size, batch_size):
        last = outputs[torch.arange(len(rows)), split.lengths[rows] - 1].cpu()
        if result is None:
            result = last.new_empty((split.sequences, last.shape[-1]))
        result[rows] = last
    return result


@torch.inference_mode()
def evaluate_split(
    net: RecurrentNet,
    target: Target,
    split: SequenceData,
    input_size: int,
    target_scale: float = 1.0,
    batch_size: int = BATCH_SIZE,
) -> dict[str, float]:
    """The task's metrics of ``net`` on ``split`` (named ``val_*`` as during the study)."""
    totals = Totals()
    for rows, outputs in _forward_batches(net, split, input_size, batch_size):
        totals.add(whole_terms(target, outputs, split.targets[rows].to(outputs.device), split.lengths[rows]))
    return totals.metrics(target, target_scale)


def confusion_on(net: RecurrentNet, split: SequenceData, input_size: int, classes: int) -> list[list[int]]:
    """A classifier's confusion counts on ``split`` (row: the true class, column: the predicted one)."""
    predicted = last_step_outputs(net, split, input_size).argmax(dim=-1).numpy()
    return confusion(split.targets.cpu().numpy(), predicted, classes).tolist()


def validation_confusion_of(result: TrainResult) -> list[list[int]]:
    """A classifier's confusion counts on validation with its kept weights; a cross-validated trial's
    are out of fold: each fold's network on its own fold's validation sequences, added up."""
    data = result.data
    if not result.folds:
        return confusion_on(result.model, data.val, data.input_size, data.output_size)
    counts = [
        confusion_on(member, fold.val, data.input_size, data.output_size)
        for member, fold in zip(result.model.members, result.folds, strict=True)
    ]
    return torch.tensor(counts).sum(dim=0).tolist()


def class_labels(preparation: dict, classes: int) -> list[str]:
    """A classifier's labels as its training file spells them (as text), in class order."""
    return [str(label) for label in preparation.get("classes", range(classes))]
