"""Does pruning a multi-objective study keep its front, for fewer epochs?

Tiny Shakespeare's first ``--chars`` characters, a character LSTM/GRU over hidden sizes 8 to 96 and
depths 1 to 2, two objectives: validation loss and ``params``. Two arms per seed through the real path
(`run_study`: Ray Tune workers, Optuna on SQLite, torch training), the same TPE sampler and seed, the
same budget of trials and epochs per network:

  unpruned  pruner none: every network trains until early stopping or ``--max-epochs``
  pruned    the front pruner (orchestration.front_pruning) around a median rule
            (n_startup_trials 3, n_warmup_steps 1): a trial is judged only against finished trials
            no larger than itself

Figures per arm: the hypervolume of the final front against a fixed reference point (val_loss
``REFERENCE_LOSS`` nats/char, ``REFERENCE_PARAMS`` parameters: a network worse or larger adds nothing),
the epochs trained (pruned trials included), and the hypervolume after each finished trial against the
epochs spent so far. ``hypervolume_ratio`` = pruned / unpruned final hypervolume, ``epochs_ratio`` =
pruned / unpruned epochs (medians over seeds); ``front_found`` = the share of the unpruned arm's front
points that the pruned arm's front reaches or dominates. Goal: hypervolume_ratio >= 0.98 with
epochs_ratio <= 0.6. The last line is JSON.

    python benchmarks/multi_objective.py [--seeds 3] [--first-seed 0] [--trials 16] [--max-epochs 6]
        [--chars 20000]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import optuna
from _common import local_ray, study_from
from optuna.trial import TrialState

from tuner import attrs
from tuner.insight.front import hypervolume
from tuner.orchestration.runner import run_study
from tuner.storage import ranking

REFERENCE_LOSS = 3.5  # nats/char: above the character-frequency predictor's (about 3.2 on this text)
REFERENCE_PARAMS = 150_000.0
MINIMIZE = [False, False]
ARMS = {
    "unpruned": {"type": "none"},
    "pruned": {"type": "median", "n_startup_trials": 3, "n_warmup_steps": 1},
}


def study_document(name: str, seed: int, pruner: dict, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "name": name,
        "task": {
            "name": "char_lm",
            "data": "builtin:tinyshakespeare",
            "options": {"max_chars": args.chars, "seq_length": 100},
        },
        "space": {
            "parameters": {
                "learning_rate": {"type": "float", "low": 0.002, "high": 0.03, "log": True},
                "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
                "hidden_size": {"type": "int", "low": 8, "high": 96, "step": 8},
                "depth": {"type": "int", "low": 1, "high": 2},
                "batch_size": 16,
                "tbptt_length": 50,
            }
        },
        "objectives": [{"metric": "val_loss"}, {"metric": "params"}],
        "sampler": {"type": "tpe", "seed": seed, "n_startup_trials": 5},
        "pruner": pruner,
        "trials": args.trials,
        "max_epochs": args.max_epochs,
        "early_stopping": {"patience": 2},
        "resources": {"cpu": 1},
        "seed": seed,
        "checkpoints": {"keep_best": 0},
    }


def front_points(study: optuna.Study) -> list[list[float]]:
    return [list(t.values) for t in ranking.front_trials(study)]


def run_arm(arm: str, seed: int, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    name = f"{arm}-{seed}"
    spec = study_from(study_document(name, seed, ARMS[arm], args), folder / f"{name}.yaml")
    url = f"sqlite:///{folder / name}.db"
    started = time.perf_counter()
    run_study(spec, url, args.trials, workers=2, show_progress=False)
    seconds = time.perf_counter() - started
    study = optuna.load_study(study_name=name, storage=url)
    finished = sorted(
        (t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)),
        key=lambda t: t.datetime_complete,
    )
    reference = [REFERENCE_LOSS, REFERENCE_PARAMS]
    curve, spent, complete = [], 0, []
    for trial in finished:  # hypervolume of the front of what had finished, against epochs spent
        spent += int(trial.user_attrs.get(attrs.EPOCHS_RUN, 0))
        if trial.state is TrialState.COMPLETE:
            complete.append(list(trial.values))
        points = [complete[i] for i in ranking.front_of(complete, MINIMIZE)] if complete else []
        curve.append((spent, hypervolume(points, reference, MINIMIZE)))
    return {
        "front": front_points(study),
        "hypervolume": curve[-1][1] if curve else 0.0,
        "epochs": spent,
        "curve": curve,
        "pruned": sum(t.state is TrialState.PRUNED for t in study.trials),
        "seconds": round(seconds, 1),
    }


def share_found(pruned_front: list[list[float]], unpruned_front: list[list[float]]) -> float:
    """The share of the unpruned front's points that some pruned-front point reaches or dominates."""
    if not unpruned_front:
        return 1.0
    found = sum(any(all(a <= b for a, b in zip(p, u, strict=True)) for p in pruned_front) for u in unpruned_front)
    return found / len(unpruned_front)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--max-epochs", type=int, default=6)
    parser.add_argument("--chars", type=int, default=20000)
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    rows = []
    with local_ray() as folder:
        for seed in seeds:
            arms = {arm: run_arm(arm, seed, folder, args) for arm in ARMS}
            pruned, unpruned = arms["pruned"], arms["unpruned"]
            row = {
                "seed": seed,
                "hypervolume_unpruned": round(unpruned["hypervolume"], 1),
                "hypervolume_pruned": round(pruned["hypervolume"], 1),
                "epochs_unpruned": unpruned["epochs"],
                "epochs_pruned": pruned["epochs"],
                "trials_pruned": pruned["pruned"],
                "hypervolume_ratio": pruned["hypervolume"] / unpruned["hypervolume"] if unpruned["hypervolume"] else 0,
                "epochs_ratio": pruned["epochs"] / unpruned["epochs"],
                "front_found": share_found(pruned["front"], unpruned["front"]),
                "seconds": {arm: arms[arm]["seconds"] for arm in ARMS},
            }
            rows.append(row)
            print(json.dumps(row))
    result = {
        "benchmark": "multi_objective",
        "machine": f"{platform.machine()}, {platform.system()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "reference_point": {"val_loss": REFERENCE_LOSS, "params": REFERENCE_PARAMS},
        "seeds": seeds,
        "trials": args.trials,
        "max_epochs": args.max_epochs,
        "hypervolume_ratio": round(statistics.median(r["hypervolume_ratio"] for r in rows), 3),
        "epochs_ratio": round(statistics.median(r["epochs_ratio"] for r in rows), 3),
        "front_found": round(statistics.median(r["front_found"] for r in rows), 3),
        "goal_met": None,
    }
    result["goal_met"] = result["hypervolume_ratio"] >= 0.98 and result["epochs_ratio"] <= 0.6
    print(json.dumps(result))


if __name__ == "__main__":
    main()
