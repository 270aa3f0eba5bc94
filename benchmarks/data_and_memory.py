"""Input-pipeline share of epoch time, and peak memory of one Shakespeare baseline trial.

1. Pipeline: one epoch of the baseline config (2 x 200 LSTM, batch 32, TBPTT 50)
   on a slice of Tiny Shakespeare, timed whole; then the same epoch's data work
   alone (shuffling, batch gathering, window slicing, one-hot encoding) timed
   on its own. Goal: the data work under 5% of the epoch.
2. Memory: `tuner train` on the exported baseline trial (all of Tiny
   Shakespeare, one epoch) in a child process; its peak resident memory.
   Goal: under 1.5 GB on CPU.

The last line is JSON with `pipeline_fraction` and `peak_rss_mb`.

    python benchmarks/data_and_memory.py [--chars 200000] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from tuner.config.export_file import train_document
from tuner.config.hyperparams import Hyperparameters
from tuner.data.options import CharLMOptions
from tuner.training import TrainSettings, train
from tuner.training.loop import _batches
from tuner.training.tasks import TaskData, task_for
from tuner.training.terms import encode as _encode


def pipeline_seconds(data: TaskData, hp: Hyperparameters) -> float:
    """The data work of one training epoch, without the model."""
    started = time.perf_counter()
    order = torch.randperm(data.train.sequences, generator=torch.Generator().manual_seed(0))
    for inputs, _targets, _lengths in _batches(data.train, order, hp.batch_size, torch.device("cpu")):
        for start in range(0, inputs.shape[1], hp.tbptt_length):
            _encode(inputs[:, start : start + hp.tbptt_length], data.input_size)
    return time.perf_counter() - started


def peak_memory_mb(threads: int) -> float:
    """Peak RSS of a child `tuner train` on the Shakespeare baseline, one epoch of the whole text."""
    settings = {
        "task": {
            "name": "char_lm",
            "data": "builtin:tinyshakespeare",
            "options": {"seq_length": 1000, "val_fraction": 0.1},
        },
        "metric": "val_loss",
        "direction": "minimize",
        "max_epochs": 1,
        "early_stopping": {"patience": 1, "min_delta": 0.0},
        "seed": 0,
    }
    document = train_document(
        "shakespeare-char", 0, "COMPLETE", settings, Hyperparameters().to_dict(), 0, None, None, None
    )
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "baseline.yaml"
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tuner.cli",
                "train",
                str(config),
                "--out",
                str(Path(folder) / "m.pt"),
                "--threads",
                str(threads),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    data = task_for("char_lm").load("builtin:tinyshakespeare", CharLMOptions(max_chars=args.chars, seq_length=1000))
    hp = Hyperparameters()
    result = train(hp, data, TrainSettings(max_epochs=1, patience=1, num_threads=threads))
    epoch = result.epochs[0].seconds
    pipeline = min(pipeline_seconds(data, hp) for _ in range(3))
    print(f"epoch {epoch:.2f} s, data pipeline {pipeline:.3f} s ({pipeline / epoch:.2%})")
    peak = None if args.skip_memory else peak_memory_mb(threads)
    if peak is not None:
        print(f"peak memory of one baseline trial (all of Tiny Shakespeare): {peak:,.0f} MB")
    print(
        json.dumps(
            {
                "benchmark": "data_and_memory",
                "device": "cpu",
                "threads": threads,
                "cores": os.cpu_count(),
                "machine": platform.machine(),
                "torch": torch.__version__,
                "epoch_seconds": round(epoch, 3),
                "pipeline_seconds": round(pipeline, 4),
                "pipeline_fraction": round(pipeline / epoch, 4),
                "pipeline_goal": 0.05,
                "peak_rss_mb": None if peak is None else round(peak),
                "memory_goal_mb": 1536,
            }
        )
    )


if __name__ == "__main__":
    main()
