"""How long a network takes to answer: the ``latency_ms`` objective of a multi-objective study.

Measured by the worker on the trial's own device, before the first epoch: a network's inference time
depends on its shape, not on its weights, so the pruner knows it from epoch 1 on. One batch of the
task's validation sequences (``batch_size`` of them, at most) goes through the network whole, with the
recurrent state carried through the sequence; ``WARMUP`` passes first (caches, the fused cells' first
call, CUDA's kernel choice), then the median of ``REPEATS`` timed passes, each waiting for the device.

On a shared CPU the figure moves with the load of other trials on the same cores: repeated calls on a
quiet machine agree within ``TOLERANCE`` (tests/test_objectives.py), a busy one can read slower.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from tuner.training.tasks.base import SequenceData
from tuner.training.terms import encode

WARMUP = 3
REPEATS = 15
TOLERANCE = 0.5  # relative spread of repeated measurements of one network that the tests accept


@torch.inference_mode()
def latency_ms(net: nn.Module, split: SequenceData, input_size: int, batch_size: int) -> float:
    """Median milliseconds of one forward pass of ``net`` over the first ``batch_size`` sequences of ``split``."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    rows = torch.arange(min(batch_size, split.sequences))
    longest = int(split.lengths[rows].max())
    inputs = encode(split.inputs[rows, :longest].to(device), input_size)
    lengths = split.lengths[rows]
    timings = []
    try:
        for repeat in range(WARMUP + REPEATS):
            started = time.perf_counter()
            net(inputs, lengths=lengths)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if repeat >= WARMUP:
                timings.append((time.perf_counter() - started) * 1000.0)
    finally:
        net.train(was_training)
    return statistics.median(timings)
