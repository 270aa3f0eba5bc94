"""Does the search pay for itself? TPE with pruning against random search and the default config.

On two tasks (char_lm on the first 100,000 characters of Tiny Shakespeare, and
the adding problem at T = 50), for each seed, three arms run through the real
path (`run_study`: Ray Tune workers, Optuna on SQLite, torch training):

  tpe+pruner   TPE (multivariate, grouped for the conditional parameters, 5
               random start-up trials) with the task's pruner: char_lm
               Hyperband (min_resource 1, reduction factor 3: brackets that
               first prune at epoch 1 or at epoch 3), 4N trials; adding the
               median pruner with a 5-epoch warm-up (past the task's
               plateau), 2N trials
  random       random search, no pruning, N trials
  default      the Deeplearning4j example's configuration alone (2 x 200 tanh
               LSTM, Adam 0.005, L2 1e-4, TBPTT 50, minibatch 32, forget bias 1)

Pruning exists to spend the compute it saves on more trials, so the TPE arm
runs more trials; the arms are compared by compute, not trial
count. Both searches draw their first 5 trials alike (same seed: a paired
start). Every arm trains each network with the same budget (``max_epochs``,
the same early stopping), so "the tuned best beats the default at the same
training budget" compares like with like. Searches use search_spaces/rnn.yaml
with depth 1-2 and hidden 32-256 (adding: hidden 32-128, minibatch 16 or 32,
TBPTT 25 or 50) so that one run fits the time.

Compute is counted two ways: epochs trained (every epoch of every trial,
pruned ones included) and wall seconds since the study started. Trials are
taken in the order they finished; a trial's cost point is all epochs of the
trials finished up to it. The target for a seed is the best value random
search found; "to reach" is the compute spent when an arm's best-so-far first
got there. ``ratio_epochs`` = TPE's compute to reach it / random's compute to
reach it (its own best), median over seeds; ``ratio_epochs_to_random_budget``
divides by all the epochs random search trained instead (the issue's "its
compute" read as the whole search). ``*_unpaired`` are both ratios with TPE of each
seed against random search of every other seed, so no start-up trial is shared.
Goals: ratio <= 0.5; the tuned best beats the default on every seed.

Writes the plot to docs/search_efficiency.svg (``--plot``); the last line is JSON.

    python benchmarks/search_efficiency.py [--seeds 3] [--first-seed 0] [--tasks char_lm adding] [--quick]
        [--keep DB] [--arms tpe+pruner ...] [--from-db DB ...] [--max-epochs N] [--random-trials N]
        [--space FILE]   (another search space for both searches; the task's overrides still apply)
        [--pruner JSON]  (another pruner for the TPE arm, e.g. '{"type": "hyperband", "min_resource": 1}')
        [--tpe-startup N]  (TPE's random start-up trials, default 5)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import statistics
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from _common import local_ray, study_from
from _svg import Series, page, panel

from tuner.config.studies import load_study
from tuner.errors import BadInput
from tuner.orchestration.runner import run_study
from tuner.storage import queries

ROOT = Path(__file__).resolve().parents[1]
FULL_SPACE = ROOT / "search_spaces" / "rnn.yaml"


@functools.cache
def dl4j_default() -> dict[str, Any]:
    """The Deeplearning4j example's configuration, as the Shakespeare study's baseline trial holds it."""
    return load_study(ROOT / "studies" / "shakespeare.yaml").baseline


@dataclass
class Bench:
    """One task's study settings; arms differ only in sampler, pruner and space."""

    task: dict[str, Any]
    metric: str
    overrides: dict[str, Any]
    trials: int
    max_epochs: int
    pruner: dict[str, Any]  # the TPE arm's pruner
    tpe_trials: int  # the pruned arm may spend what pruning saves on more trials
    patience: int = 2
    space: Path = FULL_SPACE  # both searches' space (--space)
    tpe_startup: int = 5  # TPE's random start-up trials (--tpe-startup)
    # the TPE pruner whose studies carry no suffix in a kept database: the first runs' (char_lm's was
    # successive halving), so databases kept then still read right
    unnamed_pruner: dict[str, Any] | None = None


TASKS = {
    "char_lm": Bench(
        task={"name": "char_lm", "data": "builtin:tinyshakespeare", "options": {"max_chars": 100000}},
        metric="val_loss",
        overrides={
            "depth": {"type": "int", "low": 1, "high": 2},
            "hidden_size": {"type": "int", "low": 32, "high": 256, "step": 8},
        },
        # Epoch-1 validation loss ranks networks of one cell type much as their best does, but a plain
        # RNN leads after epoch 1 and ends behind LSTMs and GRUs. Successive halving with one rung at
        # epoch 1 stopped the gated networks and TPE then learnt from plain RNNs (it lost to the default
        # on 2-3 of seeds 0-4, 1 of the held-out 5-9); Hyperband's second bracket, which first prunes at
        # epoch 3, lets them finish (it beat the default on all 10).
        pruner={"type": "hyperband", "min_resource": 1, "reduction_factor": 3},
        unnamed_pruner={"type": "successive_halving", "min_resource": 1, "reduction_factor": 3, "bootstrap_count": 1},
        trials=16,
        tpe_trials=64,
        max_epochs=5,
    ),
    "adding": Bench(
        task={"name": "adding", "options": {"length": 50, "train_sequences": 2000, "val_sequences": 200}},
        metric="val_mse",
        overrides={  # small networks and minibatches: enough for T = 50, and enough updates in 10 epochs
            "depth": {"type": "int", "low": 1, "high": 2},
            "hidden_size": {"type": "int", "low": 32, "high": 128, "step": 8},
            "batch_size": {"type": "categorical", "choices": [16, 32]},
            "tbptt_length": {"type": "int", "low": 25, "high": 50, "step": 25},
        },
        # Every network sits at the mean predictor's MSE (~0.17) for a few epochs before it learns, so
        # early epochs rank nothing: the median pruner waits past that plateau (with 1 epoch it stopped
        # the late learners).
        pruner={"type": "median", "n_startup_trials": 3, "n_warmup_steps": 5},
        trials=16,
        tpe_trials=32,
        max_epochs=10,
        patience=4,  # a network that solves it sits at MSE ~0.17 for a few epochs, then drops
    ),
}

# --quick: a smoke run of the whole path in about a minute
QUICK = {
    "char_lm": dataclasses.replace(
        TASKS["char_lm"],
        task={**TASKS["char_lm"].task, "options": {"max_chars": 20000}},
        trials=4,
        tpe_trials=8,
        max_epochs=2,
    ),
    "adding": dataclasses.replace(
        TASKS["adding"],
        task={"name": "adding", "options": {"length": 50, "train_sequences": 100, "val_sequences": 50}},
        trials=4,
        tpe_trials=8,
        max_epochs=2,
    ),
}

ARMS = {  # sampler per arm; the TPE arm's pruner (Bench.pruner) and start-up trials (Bench.tpe_startup) are the task's
    "tpe+pruner": {"type": "tpe", "multivariate": True, "group": True},
    "random": {"type": "random"},
    "default": {"type": "random"},
}
COLOURS = {"tpe+pruner": "#d62728", "random": "#1f77b4", "default": "#555555"}


@dataclass
class Run:
    """One arm on one task with one seed: its trials in the order they finished."""

    task: str
    arm: str
    seed: int
    curve: pd.DataFrame  # number, state, value, epochs, cum_epochs, wall_s, best
    seconds: float  # the arm's wall time

    @property
    def best(self) -> float:
        return float(self.curve["best"].min())

    @property
    def epochs(self) -> int:
        """Every epoch the arm trained, pruned trials included."""
        return int(self.curve["cum_epochs"].iloc[-1])

    def cost_to_reach(self, target: float) -> tuple[float, float] | None:
        """(epochs, wall seconds) spent when the best-so-far first got to ``target``; None if never."""
        reached = self.curve[self.curve["best"] <= target + 1e-12]
        if reached.empty:
            return None
        first = reached.iloc[0]
        return float(first["cum_epochs"]), float(first["wall_s"])

    def best_within(self, epochs: float) -> float:
        """The best value found by the time ``epochs`` epochs had been trained."""
        spent = self.curve[self.curve["cum_epochs"] <= epochs]
        return float(spent["best"].min()) if not spent.empty else float("inf")


def study_document(bench: Bench, arm: str, seed: int) -> dict[str, Any]:
    pruner = bench.pruner if arm == "tpe+pruner" else {"type": "none"}
    if arm == "default":
        space: dict[str, Any] = {"parameters": dl4j_default()}
        trials = 1
    else:
        space = {"path": str(bench.space), "overrides": bench.overrides}
        trials = bench.tpe_trials if arm == "tpe+pruner" else bench.trials
    # a run with another training budget (--max-epochs) or a bigger random search (--random-trials)
    # keeps its own studies in a kept database
    standard = TASKS[bench.task["name"]]
    budget = "" if bench.max_epochs == standard.max_epochs else f"-{bench.max_epochs}epochs"
    if arm == "random" and bench.trials != standard.trials:
        budget += f"-{bench.trials}trials"
    if arm != "default" and bench.space != FULL_SPACE:
        budget += f"-{bench.space.stem}"
    if arm == "tpe+pruner" and bench.pruner != (standard.unnamed_pruner or standard.pruner):
        budget += f"-{bench.pruner['type']}" + ("-grouped" if "group_by" in bench.pruner else "")
    if arm == "tpe+pruner" and bench.tpe_startup != standard.tpe_startup:
        budget += f"-startup{bench.tpe_startup}"
    return {
        "name": f"{bench.task['name']}-{arm}-seed{seed}{budget}",
        "task": bench.task,
        "space": space,
        "objective": {"metric": bench.metric, "direction": "minimize"},
        "sampler": {
            **ARMS[arm],
            "seed": seed,
            **({"n_startup_trials": bench.tpe_startup} if arm == "tpe+pruner" else {}),
        },
        "pruner": pruner,
        "trials": trials,
        "max_epochs": bench.max_epochs,
        "early_stopping": {"patience": bench.patience, "min_delta": 0.0},
        "resources": {"cpu": 1},
        "seed": seed,
    }


def completion_curve(url: str, study: str) -> pd.DataFrame:
    """Finished trials in completion order with the compute spent up to each and the best value so far."""
    every = queries.trials_frame(url, study)
    started = pd.to_datetime(every["started"]).min()
    trials = every[every["completed"].notna()].sort_values("completed").reset_index(drop=True)
    values = trials["value"].where(trials["state"] == "COMPLETE")
    return pd.DataFrame(
        {
            "number": trials["number"],
            "state": trials["state"],
            "value": values,
            "epochs": trials["epochs"].fillna(0).astype(int),
            "cum_epochs": trials["epochs"].fillna(0).astype(int).cumsum(),
            "wall_s": (pd.to_datetime(trials["completed"]) - started).dt.total_seconds(),
            "best": values.cummin().ffill().fillna(float("inf")),
        }
    )


def run_arm(folder: Path, url: str, bench: Bench, arm: str, seed: int) -> Run:
    document = study_document(bench, arm, seed)
    spec = study_from(document, folder / f"{document['name']}.yaml")
    clock = time.perf_counter()
    ran = run_study(spec, url, document["trials"], workers=2, show_progress=False).ran
    # an arm a kept database already holds runs nothing now: its time comes from its trials
    return read_arm(url, bench, arm, seed, time.perf_counter() - clock if ran else None)


def read_arm(url: str, bench: Bench, arm: str, seed: int, seconds: float | None = None) -> Run:
    """One arm's results from the database (``seconds``: the run's wall time, else first start to last end)."""
    curve = completion_curve(url, study_document(bench, arm, seed)["name"])
    seconds = float(curve["wall_s"].iloc[-1]) if seconds is None else seconds
    run = Run(bench.task["name"], arm, seed, curve, round(seconds, 1))
    print(
        f"{run.task:8s} {arm:10s} seed {seed}: best {run.best:.4f} after {run.epochs} epochs,"
        f" {seconds:.0f} s, {int((curve['state'] == 'PRUNED').sum())} pruned",
        flush=True,
    )
    return run


def locate_kept(
    databases: list[Path], benches: Iterable[Bench], seeds: range, arms: Iterable[str]
) -> dict[tuple[str, int], str]:
    """For each task and seed, the URL of the first of ``databases`` holding all of ``arms``' studies
    (databases earlier --keep runs left); BadInput naming the first study none of them holds."""
    for database in databases:
        if not database.is_file():  # SQLite would make an empty one
            raise BadInput(str(database), None, "a database an earlier --keep run left", "no such file")
    held = {database: set(queries.study_names(f"sqlite:///{database}")) for database in databases}
    located = {}
    for bench in benches:
        for seed in seeds:
            names = [study_document(bench, arm, seed)["name"] for arm in arms]
            holding = [database for database in databases if held[database].issuperset(names)]
            if not holding:
                missing = [name for name in names if not any(name in held[d] for d in databases)]
                found = missing[0] if missing else "its arms split over several databases"
                expected = f"a database holding every arm of {bench.task['name']} seed {seed}"
                raise BadInput(", ".join(map(str, databases)), None, expected, found)
            located[bench.task["name"], seed] = f"sqlite:///{holding[0]}"
    return located


def read_every_arm(located: dict[tuple[str, int], str], benches: Iterable[Bench], seeds: range) -> list[Run]:
    """Every arm of every task and seed, from the databases ``locate_kept`` found them in."""
    return [
        read_arm(located[bench.task["name"], seed], bench, arm, seed)
        for bench in benches
        for seed in seeds
        for arm in ARMS
    ]


def median_or_none(ratios: list[float | None]) -> float | None:
    """The median ratio; a target never reached counts as an infinitely bad ratio. None if there is none."""
    if not ratios:
        return None
    value = statistics.median(r if r is not None else float("inf") for r in ratios)
    return None if value == float("inf") else round(value, 3)


def unpaired_ratios(by: dict[tuple[str, int], Run], seeds: list[int]) -> dict[str, float | None]:
    """Both ratios with TPE of one seed against random search of every other seed.

    Paired by seed, both searches share their random start-up trials, and where random search's
    best is one of them the strict ratio is about 1 by construction. Across seeds nothing is shared.
    """
    randoms = [by["random", seed] for seed in seeds]
    strict, whole = [], []
    for tpe_seed in seeds:
        for rnd in randoms:
            if rnd.seed == tpe_seed:
                continue
            reached = by["tpe+pruner", tpe_seed].cost_to_reach(rnd.best)
            strict.append(reached[0] / rnd.cost_to_reach(rnd.best)[0] if reached else None)
            whole.append(reached[0] / rnd.epochs if reached else None)
    return {
        "unpaired_pairs": len(strict),
        "ratio_epochs_unpaired": median_or_none(strict),
        "ratio_epochs_to_random_budget_unpaired": median_or_none(whole),
    }


def summarise(task: str, runs: list[Run]) -> dict[str, Any]:
    """Per seed: random's best as the target, the compute each search needed for it, the default's value."""
    by = {(r.arm, r.seed): r for r in runs}
    seeds = sorted({r.seed for r in runs})
    per_seed = []
    for seed in seeds:
        tpe, rnd, default = by["tpe+pruner", seed], by["random", seed], by["default", seed]
        target = rnd.best
        rnd_cost, tpe_cost = rnd.cost_to_reach(target), tpe.cost_to_reach(target)
        per_seed.append(
            {
                "seed": seed,
                "target": round(target, 4),
                "tpe_best": round(tpe.best, 4),
                "tpe_best_at_random_compute": round(tpe.best_within(rnd.epochs), 4),
                "default": round(default.best, 4),
                "random_epochs_to_target": rnd_cost[0],
                "random_seconds_to_target": round(rnd_cost[1]),
                "tpe_epochs_to_target": tpe_cost[0] if tpe_cost else None,
                "tpe_seconds_to_target": round(tpe_cost[1]) if tpe_cost else None,
                "ratio_epochs": round(tpe_cost[0] / rnd_cost[0], 3) if tpe_cost else None,
                "ratio_seconds": round(tpe_cost[1] / rnd_cost[1], 3) if tpe_cost else None,
                # the other reading of "its compute": all that random search spent, not what it
                # had spent when it found its best
                "ratio_epochs_to_random_budget": (round(tpe_cost[0] / rnd.epochs, 3) if tpe_cost else None),
                "tpe_total_epochs": tpe.epochs,
                "random_total_epochs": rnd.epochs,
                "default_epochs": default.epochs,
                "tpe_total_seconds": tpe.seconds,
                "random_total_seconds": rnd.seconds,
                "tuned_beats_default": tpe.best < default.best,
            }
        )

    def median_ratio(key: str) -> float | None:
        return median_or_none([s[key] for s in per_seed])

    return {
        "task": task,
        "seeds": per_seed,
        "ratio_epochs": median_ratio("ratio_epochs"),
        "ratio_seconds": median_ratio("ratio_seconds"),
        "ratio_epochs_to_random_budget": median_ratio("ratio_epochs_to_random_budget"),
        **unpaired_ratios(by, seeds),
        "tpe_reached_target": sum(s["tpe_epochs_to_target"] is not None for s in per_seed),
        "tuned_beats_default": sum(s["tuned_beats_default"] for s in per_seed),
    }


def print_table(summary: dict[str, Any]) -> None:
    print(f"\n{summary['task']}: best value per seed and compute to reach random search's best")
    print(
        "| seed | random best | TPE+pruner best (at random's compute) | default "
        "| random to its best (epochs / s) | TPE to it (epochs / s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for s in summary["seeds"]:
        tpe = (
            f"{s['tpe_epochs_to_target']:.0f} / {s['tpe_seconds_to_target']}"
            if s["tpe_epochs_to_target"]
            else "not reached"
        )
        print(
            f"| {s['seed']} | {s['target']} | {s['tpe_best']} ({s['tpe_best_at_random_compute']}) | {s['default']} "
            f"| {s['random_epochs_to_target']:.0f} / {s['random_seconds_to_target']} | {tpe} |"
        )

    def shown(key: str) -> str:  # None: the median pair never reached its target
        return "not reached" if summary[key] is None else str(summary[key])

    print(
        f"median ratio (TPE / random compute to reach the target): epochs {shown('ratio_epochs')}, "
        f"seconds {shown('ratio_seconds')}; against random's whole budget: epochs "
        f"{shown('ratio_epochs_to_random_budget')}; tuned beats default on {summary['tuned_beats_default']} "
        f"of {len(summary['seeds'])} seeds"
    )
    if summary["unpaired_pairs"]:
        print(
            f"unpaired (TPE of each seed against random search of every other, {summary['unpaired_pairs']} pairs): "
            f"epochs {shown('ratio_epochs_unpaired')}; against random's whole budget: "
            f"{shown('ratio_epochs_to_random_budget_unpaired')}"
        )


def plot(runs: list[Run], tasks: list[str], metric_of: dict[str, str], out: Path) -> None:
    """Best-so-far against epochs trained (left) and wall seconds (right), one row per task."""
    panels = []
    for task in tasks:
        defaults = statistics.median(r.best for r in runs if r.task == task and r.arm == "default")
        for x_column, x_label in (("cum_epochs", "epochs trained (all trials)"), ("wall_s", "wall seconds")):
            series = []
            for arm in ("random", "tpe+pruner"):
                arm_runs = [r for r in runs if r.task == task and r.arm == arm]
                for i, run in enumerate(arm_runs):
                    found = run.curve[run.curve["best"] < float("inf")]
                    points = [(float(x), float(y)) for x, y in zip(found[x_column], found["best"], strict=True)]
                    series.append(Series(arm, COLOURS[arm], points, width=1.5, legend=i == 0))
            x_end = max(x for s in series for x, _ in s.points)
            series.append(
                Series("default config (median)", COLOURS["default"], [(0, defaults), (x_end, defaults)], dashed=True)
            )
            panels.append(panel(task, x_label, f"best {metric_of[task]} so far", series))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(panels, columns=2))
    print(f"plot written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from this one (fresh seeds: 5)")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS), help="run only these arms")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "search_efficiency.svg")
    parser.add_argument("--keep", type=Path, help="keep the SQLite database here (for tuner report / compare)")
    parser.add_argument(
        "--from-db",
        type=Path,
        nargs="+",
        help="only summarise and plot databases earlier --keep runs left (each seed from the first that holds it)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run: 4 trials, 2 epochs, small data")
    parser.add_argument("--max-epochs", type=int, help="train every network this many epochs (default: per task)")
    parser.add_argument("--random-trials", type=int, help="random search's trial count (default: per task, 16)")
    parser.add_argument(
        "--space", type=Path, help="search space file for both searches (default: search_spaces/rnn.yaml)"
    )
    parser.add_argument(
        "--pruner",
        type=json.loads,
        help='the TPE arm\'s pruner as a study file\'s JSON, e.g. \'{"type": "hyperband", "min_resource": 1}\' '
        "(default: per task)",
    )
    parser.add_argument("--tpe-startup", type=int, help="TPE's random start-up trials (default 5)")
    args = parser.parse_args()
    if set(args.arms) != set(ARMS) and not args.keep:
        parser.error("--arms needs --keep DB: the other arms are read from that database")
    # multivariate and grouped TPE are marked experimental; said once here, not per study
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    benches = {name: QUICK[name] if args.quick else TASKS[name] for name in args.tasks}
    overrides = {  # flags given on the command line replace the task's settings
        "max_epochs": args.max_epochs or None,  # 0 counts as not given, as before
        "trials": args.random_trials or None,
        "space": args.space.resolve() if args.space else None,
        "pruner": args.pruner or None,
        "tpe_startup": args.tpe_startup,
    }
    given = {field: value for field, value in overrides.items() if value is not None}
    benches = {name: dataclasses.replace(bench, **given) for name, bench in benches.items()}

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    try:  # what is read from a database must be there before anything runs
        if args.from_db:
            located = locate_kept(args.from_db, benches.values(), seeds, ARMS)
        elif set(args.arms) != set(ARMS):
            located = locate_kept([args.keep], benches.values(), seeds, [arm for arm in ARMS if arm not in args.arms])
    except BadInput as error:
        parser.error(str(error))

    clock = time.perf_counter()
    runs: list[Run] = []
    if args.from_db:
        runs = read_every_arm(located, benches.values(), seeds)
    else:
        with local_ray() as folder:
            url = f"sqlite:///{args.keep or folder / 'search.db'}"
            for bench in benches.values():
                for seed in seeds:
                    for arm in args.arms:
                        runs.append(run_arm(folder, url, bench, arm, seed))
    if set(args.arms) != set(ARMS):  # the others are in the database from an earlier --keep run
        runs = read_every_arm(located, benches.values(), seeds)
    summaries = [summarise(task, [r for r in runs if r.task == task]) for task in args.tasks]
    for summary in summaries:
        print_table(summary)
    plot(runs, args.tasks, {name: bench.metric for name, bench in benches.items()}, args.plot)
    print(
        json.dumps(
            {
                "benchmark": "search_efficiency",
                "cores": os.cpu_count(),
                "minutes": round((time.perf_counter() - clock) / 60, 1),
                "goal_ratio": 0.5,
                "tasks": summaries,
            }
        )
    )


if __name__ == "__main__":
    main()
