"""Eight trials writing through the driver while the dashboard reads, on one SQLite file.

Ray runs 8 trials at once (a quarter CPU each) with a trainable that trains
nothing and reports 20 epochs as fast as it can, so the driver writes
constantly; meanwhile a second process runs the dashboard's queries in a
loop. Counts every "database is locked" error: in the reader, in the trials
(stored FAIL) and in the driver. The last line is JSON; `locked_errors`
should be 0.

    python benchmarks/sqlite_load.py [--trials 40]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import optuna
from _common import local_ray, study_from

from tests.arithmetic import arithmetic_trial
from tuner.orchestration.runner import run_study


def read_like_the_dashboard(url: str, stop: multiprocessing.Event, counts: dict) -> None:
    from tuner.storage import queries

    while not stop.is_set():
        try:
            if "load" in queries.study_names(url):
                queries.studies_frame(url)
                trials = queries.trials_frame(url, "load")
                queries.epochs_frame(url, "load", list(trials["number"].tail(3)))
                counts["reads"] += 1
        except Exception as error:  # noqa: BLE001 - counting every failure is the point
            counts["errors"] += 1
            if "locked" in str(error):
                counts["locked"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    with local_ray() as folder:
        url = f"sqlite:///{folder}/load.db"
        document = {
            "name": "load",
            "task": {"name": "adding", "options": {"length": 2, "train_sequences": 1, "val_sequences": 1}},
            "space": {
                "parameters": {
                    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
                    "dropout": 0.3,
                }
            },
            "sampler": {"type": "random", "seed": 0},
            "pruner": {"type": "median", "n_startup_trials": 5},
            "trials": args.trials,
            "max_epochs": 20,
            "early_stopping": {"patience": 20},
            "resources": {"cpu": 0.25},
        }
        spec = study_from(document, folder / "study.yaml")
        manager = multiprocessing.Manager()
        counts, stop = manager.dict(reads=0, errors=0, locked=0), manager.Event()
        reader = multiprocessing.Process(target=read_like_the_dashboard, args=(url, stop, counts))
        reader.start()
        driver_locked = 0
        started = time.perf_counter()
        try:
            run_study(spec, url, args.trials, workers=8, show_progress=False, trainable=arithmetic_trial)
        except Exception as error:  # noqa: BLE001
            driver_locked = int("locked" in str(error))
        finally:
            elapsed = time.perf_counter() - started
            stop.set()
            reader.join()
        trials = optuna.load_study(study_name="load", storage=url).trials
        trial_locked = sum("locked" in str(t.user_attrs.get("error", "")) for t in trials)
        epoch_rows = sum(len(t.intermediate_values) for t in trials)
    locked = counts["locked"] + trial_locked + driver_locked
    print(
        f"{len(trials)} trials, {epoch_rows} epochs written in {elapsed:.1f} s by 8 concurrent trials; "
        f"{counts['reads']} dashboard reads; locked errors: {locked}"
    )
    print(
        json.dumps(
            {
                "benchmark": "sqlite_load",
                "concurrent_trials": 8,
                "trials": len(trials),
                "epoch_rows": epoch_rows,
                "seconds": round(elapsed, 1),
                "dashboard_reads": counts["reads"],
                "reader_errors": counts["errors"],
                "locked_errors": locked,
                "goal": 0,
            }
        )
    )


if __name__ == "__main__":
    main()
