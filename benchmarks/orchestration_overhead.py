"""Cost per trial of our orchestration against bare Optuna, both on SQLite.

Ours: `run_study` with a trainable that trains nothing (`arithmetic_trial`, 3
epochs each), 2 workers, through real Ray Tune workers, the bridge, the
pruning scheduler and the epoch table. Bare: `study.optimize` in one process
with an objective that reports the same 3 values and asks `should_prune`.
Ray's start-up is excluded (Ray is started before the clock). A third run puts
the same trainable through bare Ray Tune (no searcher, no database): the floor
that any Tune-based orchestration pays on this machine (Tune's defaults,
its per-trial logger files included). The three runs are repeated (5 times), interleaved,
and each keeps its fastest (timings on a shared 2-core machine wander by tens
of percent). The last line is JSON; `overhead_ms_per_trial` = (ours - bare) /
trials. Goal: <= 30 ms.

    python benchmarks/orchestration_overhead.py [--trials 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import optuna
from _common import local_ray, study_from

from tests.arithmetic import arithmetic_trial, curve
from tuner.orchestration.runner import run_study

EPOCHS = 3


def ours(folder: Path, trials: int) -> float:
    folder = Path(tempfile.mkdtemp(dir=folder))  # a new study each repeat
    document = {
        "name": "overhead",
        "task": {"name": "adding", "options": {"length": 2, "train_sequences": 1, "val_sequences": 1}},
        "space": {
            "parameters": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}, "dropout": 0.3}
        },
        "sampler": {"type": "random", "seed": 0},
        "pruner": {"type": "median"},
        "trials": trials,
        "max_epochs": EPOCHS,
        "early_stopping": {"patience": EPOCHS},
        "resources": {"cpu": 1},
    }
    spec = study_from(document, folder / "study.yaml")
    started = time.perf_counter()
    run_study(
        spec, f"sqlite:///{folder / 'ours.db'}", trials, workers=2, show_progress=False, trainable=arithmetic_trial
    )
    return time.perf_counter() - started


def tune_only(folder: Path, trials: int) -> float:
    """The floor under ours: the same trainable through bare Ray Tune, no searcher, no database."""
    from ray import tune

    settings = {"max_epochs": EPOCHS}
    started = time.perf_counter()
    tune.Tuner(
        tune.with_resources(arithmetic_trial, {"cpu": 1}),
        param_space={"settings": settings, "hyperparameters": {"learning_rate": 0.01, "dropout": 0.3}},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=2, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(folder / "tune"), verbose=0),
    ).fit()
    return time.perf_counter() - started


def bare(folder: Path, trials: int) -> float:
    def objective(trial: optuna.Trial) -> float:
        hp = {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1.0, log=True), "dropout": 0.3}
        best = float("inf")
        for epoch in range(1, EPOCHS + 1):
            value = curve(hp, epoch)[1]
            best = min(best, value)
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return best

    study = optuna.create_study(
        storage=f"sqlite:///{folder / 'bare.db'}",
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(),
    )
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ours_s = tune_s = bare_s = float("inf")
    with local_ray() as folder:
        for _ in range(args.repeats):
            ours_s = min(ours_s, ours(folder, args.trials))
            tune_s = min(tune_s, tune_only(folder, args.trials))
            with tempfile.TemporaryDirectory() as bare_folder:
                bare_s = min(bare_s, bare(Path(bare_folder), args.trials))
    per_trial = (ours_s - bare_s) / args.trials * 1000
    print(f"ours {ours_s:.1f} s, bare Ray Tune {tune_s:.1f} s, bare Optuna {bare_s:.1f} s for {args.trials} trials")
    print(
        f"overhead per trial: {per_trial:.1f} ms, of which Ray Tune's own {(tune_s - bare_s) / args.trials * 1000:.1f} ms"
    )
    print(
        json.dumps(
            {
                "benchmark": "orchestration_overhead",
                "trials": args.trials,
                "repeats": args.repeats,
                "epochs_per_trial": EPOCHS,
                "ours_seconds": round(ours_s, 2),
                "bare_optuna_seconds": round(bare_s, 2),
                "ours_ms_per_trial": round(ours_s / args.trials * 1000, 1),
                "bare_ms_per_trial": round(bare_s / args.trials * 1000, 1),
                "tune_only_ms_per_trial": round(tune_s / args.trials * 1000, 1),
                "overhead_ms_per_trial": round(per_trial, 1),
                "goal_ms": 30,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            }
        )
    )


if __name__ == "__main__":
    main()
