"""Trials per hour with 1 and 2 workers on this machine, for a fixed small training trial.

Each trial trains a 1 x 64 LSTM for 3 epochs on 60,000 characters of Tiny
Shakespeare with one torch thread (resources: cpu 1). The same 8 trials (a
grid) run with --workers 1, then 2; Ray's start-up is excluded. The last
line is JSON; `ratio` = trials/hour with 2 workers / with 1. Goal >= 1.8 on 2 cores.

    python benchmarks/scaling.py [--trials 8]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import yaml
from _common import local_ray

from tuner.orchestration.runner import run_study
from tuner.storage import queries
from tuner.studies import load_study


def trials_per_hour(folder: Path, workers: int, trials: int) -> tuple[float, float]:
    """Trials per hour, and the mean seconds of one training epoch inside the trials."""
    document = {
        "name": f"scaling-{workers}",
        "task": {"name": "char_lm", "options": {"max_chars": 60000, "seq_length": 200}},
        "space": {
            "parameters": {
                "learning_rate": {
                    "type": "categorical",
                    "choices": [0.002, 0.004, 0.008, 0.016, 0.032, 0.064][:trials],
                },
                "hidden_size": 64,
                "depth": 1,
                "batch_size": 32,
                "tbptt_length": 50,
                "activation": "tanh",
                "cell": "lstm",
            }
        },
        "sampler": {"type": "grid"},
        "trials": trials,
        "max_epochs": 3,
        "early_stopping": {"patience": 3},
        "resources": {"cpu": 1},
    }
    path = folder / f"scaling-{workers}.yaml"
    path.write_text(yaml.safe_dump(document))
    spec = load_study(path)
    started = time.perf_counter()
    url = f"sqlite:///{folder}/scaling.db"
    run_study(spec, url, trials, workers=workers, show_progress=False)
    elapsed = time.perf_counter() - started
    return trials / elapsed * 3600, float(queries.epochs_frame(url, spec.name)["seconds"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    args = parser.parse_args()
    with local_ray() as folder:
        one, epoch_one = trials_per_hour(folder, 1, args.trials)
        two, epoch_two = trials_per_hour(folder, 2, args.trials)
    print(f"1 worker: {one:,.0f} trials/hour; 2 workers: {two:,.0f} trials/hour; ratio {two / one:.2f}")
    # an epoch that itself runs slower with 2 workers means they compete for the cores (with each
    # other and with the driver and Ray's own processes), not that the orchestration waits
    print(f"one epoch inside a trial: {epoch_one:.2f} s with 1 worker, {epoch_two:.2f} s with 2")
    print(
        json.dumps(
            {
                "benchmark": "scaling",
                "trials": args.trials,
                "cores": os.cpu_count(),
                "trials_per_hour_1_worker": round(one),
                "trials_per_hour_2_workers": round(two),
                "ratio": round(two / one, 3),
                "epoch_seconds_1_worker": round(epoch_one, 3),
                "epoch_seconds_2_workers": round(epoch_two, 3),
                "goal": 1.8,
            }
        )
    )


if __name__ == "__main__":
    main()
