"""Does a tuned network beat the nearest-neighbour rule on small, real classification sets?

Five public sets of the UCR/UEA time-series classification archive (Dau et al., "The UCR Time Series
Archive", 2019; Bagnall et al., "The UEA multivariate time series classification archive", 2018), as
shipped inside the aeon package's wheel (pinned, fetched once with pip into a cache folder, read
offline after that; nothing is copied into the repository): ArrowHead, BasicMotions, GunPoint,
OSULeaf, ACSF1, each with its own train and test files. Each set is converted to the long CSV format
a user would write, and a user-style study is run on it per arm, its test file named as
``test_data`` (no trial reads it; ``tuner run`` scores the chosen network on it at the end):

- ``today``: the behaviour before the small-data options: hold-out validation, the last step's
  readout, global standardisation, the kept network as its trial trained it;
- ``new``: the defaults a study gets when it names no ``val_fraction``: K-fold cross-validation
  where the validation split would be small (``data/folds.py``) and the fold networks' ensemble as
  the final network; per-sequence normalisation, the readout searched (last, mean, max, attention)
  and balanced class weights. Beside its ensemble's test accuracy, the same chosen trial refit on
  training + validation data (``refit: train_val``) is scored too (``refit_test_accuracy``), so the
  two final networks compare on the same selection.
- ``new_val_loss`` (run it with ``--arms new,new_val_loss``): the new defaults, with early stopping's
  ``monitor: val_loss`` (the epoch kept is the lowest validation loss, not the best accuracy): which
  ``monitor`` should be the default.

Both arms: the same space otherwise (learning rate, cell, hidden size, dropout), the same sampler
seed, ``--trials`` trials of at most ``--epochs`` epochs, 2 workers. Ties at an accuracy of 1.000
go to the lower validation loss in both (that rule has no switch). Per set and arm: test accuracy,
validation accuracy, selection optimism (validation minus test), against 1-nearest-neighbour with
Euclidean distance computed here on the same split (and the archive's published 1-NN DTW figure,
not measured here). The last line is JSON: per arm ``sets``, ``wins_vs_1nn``,
``mean_test_accuracy``, ``mean_optimism``.

    python benchmarks/classification_panel.py [--trials 10] [--epochs 60] [--seed 0] [--sets GunPoint,...]
        [--arms today,new,new_val_loss]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import local_ray, study_from

from tuner.orchestration.runner import run_study

WHEEL = "aeon==1.6.0"  # its datasets folder holds these sets' .ts files
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rnn-tuner" / "ucr"
SETS = ("ArrowHead", "BasicMotions", "GunPoint", "OSULeaf", "ACSF1")
# 1-NN with (full-window) DTW as listed on the archives' pages (not measured here)
PUBLISHED_DTW = {"ArrowHead": 0.703, "BasicMotions": 0.975, "GunPoint": 0.907, "OSULeaf": 0.591, "ACSF1": 0.640}
_NEW = {
    "options": {"normalize": "per_sequence", "class_weight": "balanced"},
    "readout": ["last", "mean", "max", "attention"],
    "refit": None,  # the default: the ensemble with folds, the network as trained without
}
ARMS = {
    "today": {"options": {}, "readout": ["last"], "refit": "none"},
    "new": _NEW,
    # the new defaults, but early stopping and the kept weights follow the validation loss
    "new_val_loss": {**_NEW, "monitor": "val_loss"},
}


def archive_files(name: str) -> tuple[Path, Path]:
    """The set's train and test .ts files, from the cached wheel (downloaded once)."""
    folder = CACHE / name
    train, test = folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"
    if train.exists() and test.exists():
        return train, test
    wheels = sorted(CACHE.glob("aeon-*.whl"))
    if not wheels:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), WHEEL], check=True
        )
        wheels = sorted(CACHE.glob("aeon-*.whl"))
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[-1]) as wheel:
        for member in wheel.namelist():
            if member.endswith((f"/{name}_TRAIN.ts", f"/{name}_TEST.ts")):
                (folder / Path(member).name).write_bytes(wheel.read(member))
    return train, test


def read_ts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A .ts file (equal-length series): values (N, T, D) and labels (N,) as text."""
    series, labels, data = [], [], False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not data:
            data = line.lower().startswith("@data")
            continue
        *dimensions, label = line.split(":")
        series.append([[float(v) if v != "?" else np.nan for v in d.split(",")] for d in dimensions])
        labels.append(label.strip())
    values = np.asarray(series, dtype=np.float64).transpose(0, 2, 1)  # (N, D, T) -> (N, T, D)
    return np.nan_to_num(values), np.asarray(labels)


def long_csv(values: np.ndarray, labels: np.ndarray, path: Path) -> None:
    """The long format a user writes: sequence_id, step, x0..x{D-1}, label."""
    n, t, d = values.shape
    frame = pd.DataFrame(values.reshape(n * t, d), columns=[f"x{k}" for k in range(d)])
    frame.insert(0, "step", np.tile(np.arange(t), n))
    frame.insert(0, "sequence_id", np.repeat(np.arange(n), t))
    frame["label"] = np.repeat(labels, t)
    frame.to_csv(path, index=False)


def one_nn(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray) -> float:
    """Test accuracy of 1-nearest-neighbour with Euclidean distance over the whole series."""
    a, b = train.reshape(len(train), -1), test.reshape(len(test), -1)
    distances = (b**2).sum(1)[:, None] - 2 * b @ a.T + (a**2).sum(1)[None, :]
    return float((train_labels[distances.argmin(axis=1)] == test_labels).mean())


def study_document(name: str, arm: dict, length: int, trials: int, epochs: int, seed: int) -> dict:
    return {
        "name": f"{name}-{seed}",
        "task": {
            "name": "sequence_classification",
            "data": "train.csv",
            "test_data": "test.csv",
            # today's arm names its hold-out split; the new one leaves the choice to the default rule
            "options": {
                **({"val_fraction": 0.25} if arm["refit"] == "none" else {}),
                "split_seed": seed,
                **arm["options"],
            },
        },
        "space": {
            "parameters": {
                "learning_rate": {"type": "float", "low": 1.0e-3, "high": 3.0e-2, "log": True},
                "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
                "hidden_size": {"type": "int", "low": 16, "high": 64, "step": 16},
                "dropout": {"type": "float", "low": 0.0, "high": 0.3},
                "readout": {"type": "categorical", "choices": arm["readout"]},
                "depth": 1,
                "batch_size": 16,
                "tbptt_length": length,  # the whole series: full BPTT
            }
        },
        "objective": {"metric": "val_accuracy"},
        "sampler": {"type": "tpe", "seed": seed, "n_startup_trials": 4},
        "pruner": {"type": "median", "n_startup_trials": 3, "n_warmup_steps": 10},
        "trials": trials,
        "max_epochs": epochs,
        # a few dozen training sequences: a few steps an epoch
        "early_stopping": {"patience": 12, **({"monitor": arm["monitor"]} if "monitor" in arm else {})},
        "resources": {"cpu": 1},
        "seed": seed,
        **({"refit": arm["refit"]} if arm["refit"] else {}),
    }


def refit_test_accuracy(summary) -> float:  # noqa: ANN001 (RunSummary)
    """The chosen trial's configuration trained again on training + validation data for its best epoch
    count (``refit: train_val``), scored on the test file; NaN when that refit diverges."""
    import optuna

    from tuner import attrs
    from tuner.config.task import TaskSpec
    from tuner.errors import Diverged
    from tuner.training.inference import evaluate_split
    from tuner.training.tasks import task_for
    from tuner.training.trial_run import refit_training

    best = summary.best
    study = optuna.load_study(study_name=summary.study_name, storage=summary.storage_url)
    settings = study.user_attrs[attrs.SETTINGS]
    hyperparameters, seed = best.user_attrs[attrs.HYPERPARAMETERS], best.user_attrs[attrs.SEED]
    try:
        final = refit_training(settings, hyperparameters, seed, best.user_attrs[attrs.BEST_EPOCH], cpus=2)
    except Diverged:  # its loss went to NaN: a refit that has no test score
        return float("nan")
    spec = TaskSpec(**settings["task"])
    test = task_for(spec.name).load_test(spec.data, spec.test_data, spec.parsed_options(), final.data.preparation)
    return evaluate_split(final.model, final.data.target, test, final.data.input_size)["val_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--arms", default=",".join(ARMS))
    args = parser.parse_args()

    rows = []
    with local_ray(2) as scratch:
        for name in args.sets.split(","):
            train_file, test_file = archive_files(name)
            train, train_labels = read_ts(train_file)
            test, test_labels = read_ts(test_file)
            nn = one_nn(train, train_labels, test, test_labels)
            for arm_name in args.arms.split(","):
                arm = ARMS[arm_name]
                folder = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{name}-{arm_name}-"))
                long_csv(train, train_labels, folder / "train.csv")
                long_csv(test, test_labels, folder / "test.csv")
                document = study_document(name, arm, train.shape[1], args.trials, args.epochs, args.seed)
                spec = study_from(document, folder / "study.yaml")
                started = time.perf_counter()
                summary = run_study(spec, f"sqlite:///{folder / 'p.db'}", args.trials, 2, show_progress=False)
                scored = summary.test_result or {}
                test_accuracy = (scored.get("test") or {}).get("val_accuracy", float("nan"))
                validation = summary.best.value if summary.best else float("nan")
                rows.append(
                    {
                        "set": name,
                        "arm": arm_name,
                        "train": len(train),
                        "test": len(test),
                        "steps": train.shape[1],
                        "features": train.shape[2],
                        "classes": len(set(train_labels)),
                        "validation": round(validation, 4),
                        "test_accuracy": round(test_accuracy, 4),
                        "optimism": round(validation - test_accuracy, 4),
                        "selection": spec.task.selection,
                        "refit_test_accuracy": round(refit_test_accuracy(summary), 4) if summary.best else None,
                        "one_nn_euclidean": round(nn, 4),
                        "published_one_nn_dtw": PUBLISHED_DTW.get(name),
                        "minutes": round((time.perf_counter() - started) / 60, 1),
                        "best": summary.best.params if summary.best else None,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    print(table.drop(columns=["best"]).to_string(index=False))
    arms = {}
    for arm_name, group in table.groupby("arm", sort=False):
        arms[arm_name] = {
            "sets": len(group),
            "wins_vs_1nn": int((group["test_accuracy"] > group["one_nn_euclidean"]).sum()),
            "mean_test_accuracy": round(float(group["test_accuracy"].mean()), 4),
            "mean_optimism": round(float(group["optimism"].mean()), 4),
            "wins_vs_1nn_refit": int((group["refit_test_accuracy"] > group["one_nn_euclidean"]).sum()),
            "mean_refit_test_accuracy": round(float(group["refit_test_accuracy"].mean()), 4),
            "mean_one_nn_euclidean": round(float(group["one_nn_euclidean"].mean()), 4),
        }
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(json.dumps({"benchmark": "classification_panel", "machine": machine, "seed": args.seed, **arms}))


if __name__ == "__main__":
    main()
