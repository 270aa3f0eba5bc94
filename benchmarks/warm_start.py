"""Does a warm start from an earlier study pay on a related one?

The target is a character model of text that ships with every Python installation and is not English
prose: the standard library's own top-level source files, read in name order and cut to ``--chars``
characters. The source is a finished study on Tiny Shakespeare (its first ``--chars`` characters) with
the same budget per network, run once (seed 100) and kept in the database.

Arms on the target, for each seed, through the real path (`run_study`: Ray Tune workers, Optuna on
SQLite, torch training), each network with the same budget (``--max-epochs``, the same early stopping):

  cold     TPE (5 random start-up trials) with Hyperband (min_resource 1, reduction factor 3), N trials
  warm     the same, warm-started from the source (top_k 5): its first 5 trials are the source's best,
           standing in for TPE's random start-up trials (``startup: replace``, the default)
  warm_keep  the same warm trials, then TPE's 5 random start-up trials still drawn (``startup: keep``)
  gp       Optuna's GP sampler with the same Hyperband, N trials
  default  the Deeplearning4j example's configuration alone (2 x 200 tanh LSTM, Adam 0.005)

Compute is epochs trained (pruned trials included) and wall seconds. For each seed: the epochs the cold
arm had spent when it first drew its final best, and the epochs each arm needed to reach that value;
``ratio_ARM_to_cold`` (warm and warm_keep) = its epochs to reach it / cold's, median over seeds, where a seed whose warm
arm never reached it counts as an infinitely bad ratio (as ``search_efficiency.py`` counts it: the median
is then "not reached" when half the seeds or more never got there); ``warm_reached`` says on how many
seeds warm got there at all. Goals: ratio <= 0.5; warm's first trial beats the default on the target
(``warm_first_beats_default``: on how many seeds of how many).

Writes the plot to docs/warm_start.svg (``--plot``); the last line is JSON.

    python benchmarks/warm_start.py [--seeds 5] [--first-seed 0] [--trials 16] [--max-epochs 3]
        [--chars 60000] [--keep DB] [--plot] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from _common import local_ray, study_from
from _svg import Series, page, panel
from search_efficiency import completion_curve, dl4j_default

from tuner.orchestration.runner import run_study

ROOT = Path(__file__).resolve().parents[1]
SOURCE_SEED = 100
HYPERBAND = {"type": "hyperband", "min_resource": 1, "reduction_factor": 3}
OVERRIDES = {
    "depth": {"type": "int", "low": 1, "high": 2},
    "hidden_size": {"type": "int", "low": 32, "high": 128, "step": 8},
}
ARMS = ("cold", "warm", "warm_keep", "gp", "default")
WARM_ARMS = ("warm", "warm_keep")


def stdlib_text(chars: int, folder: Path) -> Path:
    """The standard library's top-level .py files in name order, cut to ``chars`` characters."""
    library = Path(os.__file__).parent
    text = ""
    for source in sorted(library.glob("*.py")):
        text += source.read_text(encoding="utf-8", errors="replace")
        if len(text) >= chars:
            break
    path = folder / "stdlib.txt"
    path.write_text(text[:chars], encoding="utf-8")
    return path


@dataclass
class Settings:
    trials: int
    max_epochs: int
    chars: int


def document(
    name: str, data: str, sampler: dict, pruner: dict, trials: int, seed: int, s: Settings, **extra: Any
) -> dict:
    return {
        "name": name,
        "task": {"name": "char_lm", "data": data, "options": {"max_chars": s.chars, "seq_length": 200}},
        "space": {"path": str(ROOT / "search_spaces/rnn.yaml"), "overrides": OVERRIDES},
        "objective": {"metric": "val_loss", "direction": "minimize"},
        "sampler": {**sampler, "seed": seed},
        "pruner": pruner,
        "trials": trials,
        "max_epochs": s.max_epochs,
        "early_stopping": {"patience": 2, "min_delta": 0.0},
        "resources": {"cpu": 1},
        "checkpoints": {"keep_best": 0},
        "seed": seed,
        **extra,
    }


def arm_document(arm: str, seed: int, target: Path, s: Settings) -> dict:
    tpe = {"type": "tpe", "n_startup_trials": 5}
    name = f"stdlib-{arm}-seed{seed}-{s.trials}x{s.max_epochs}"
    if arm == "default":
        doc = document(name, str(target), {"type": "random"}, {"type": "none"}, 1, seed, s)
        doc["space"] = {"parameters": dl4j_default()}
        return doc
    if arm == "gp":
        return document(name, str(target), {"type": "gp", "n_startup_trials": 5}, HYPERBAND, s.trials, seed, s)
    startup = "keep" if arm == "warm_keep" else "replace"
    warm = {"warm_start": {"study": source_name(s), "top_k": 5, "startup": startup}} if arm in WARM_ARMS else {}
    return document(name, str(target), tpe, HYPERBAND, s.trials, seed, s, **warm)


def source_name(s: Settings) -> str:
    return f"shakespeare-source-{s.trials}x{s.max_epochs}"


def run(folder: Path, url: str, doc: dict) -> float:
    spec = study_from(doc, folder / f"{doc['name']}.yaml")
    clock = time.perf_counter()
    run_study(spec, url, doc["trials"], workers=2, show_progress=False)
    return time.perf_counter() - clock


def first_reach(curve: pd.DataFrame, target: float) -> int | None:
    """Epochs spent when the best-so-far first got to ``target`` (None: never)."""
    reached = curve[curve["best"] <= target + 1e-12]
    return int(reached["cum_epochs"].iloc[0]) if len(reached) else None


def summarise(curves: dict[tuple[str, int], pd.DataFrame], seeds: list[int], arms: tuple[str, ...]) -> dict[str, Any]:
    """Per seed and warm arm: the epochs to cold's best against cold's, and the first trial against the default."""
    rows: list[dict[str, Any]] = []
    ratios: dict[str, list[float]] = {arm: [] for arm in WARM_ARMS if arm in arms}
    beats = dict.fromkeys(ratios, 0)
    for seed in seeds:
        cold = curves[("cold", seed)]
        default = float(curves[("default", seed)]["value"].min())
        cold_best = float(cold["best"].iloc[-1])
        cold_epochs = first_reach(cold, cold_best)
        row: dict[str, Any] = {"seed": seed, "cold_best": round(cold_best, 4), "cold_epochs_to_best": cold_epochs}
        for arm in ratios:
            warm = curves[(arm, seed)]
            warm_epochs = first_reach(warm, cold_best)
            ratio = warm_epochs / cold_epochs if warm_epochs is not None else float("inf")
            ratios[arm].append(ratio)
            first = warm.sort_values("number")["value"].dropna()
            warm_first = float(first.iloc[0]) if len(first) else float("inf")
            beats[arm] += warm_first < default
            row |= {
                f"{arm}_best": round(float(warm["best"].iloc[-1]), 4),
                f"{arm}_epochs_to_cold_best": warm_epochs,
                f"{arm}_first": round(warm_first, 4),
                f"{arm}_to_cold": round(ratio, 3) if ratio != float("inf") else "not reached",
            }
        if "gp" in arms:
            row |= {
                "gp_best": round(float(curves[("gp", seed)]["best"].iloc[-1]), 4),
                "gp_epochs_to_cold_best": first_reach(curves[("gp", seed)], cold_best),
            }
        rows.append({**row, "default": round(default, 4)})
    summary: dict[str, Any] = {"rows": rows}
    for arm, values in ratios.items():
        median = statistics.median(values)
        summary[f"ratio_{arm}_to_cold"] = round(median, 3) if median != float("inf") else "not reached"
        summary[f"{arm}_reached"] = f"{sum(v != float('inf') for v in values)} of {len(seeds)}"
        summary[f"{arm}_first_beats_default"] = f"{beats[arm]} of {len(seeds)}"
    return summary


def plot(curves: dict[tuple[str, int], pd.DataFrame], seeds: list[int], out: Path) -> None:
    colours = {"cold": "#1f77b4", "warm": "#d62728", "warm_keep": "#ff7f0e", "gp": "#2ca02c", "default": "#7f7f7f"}
    panels = []
    for seed in seeds:
        series = []
        for arm in ARMS:
            curve = curves.get((arm, seed))
            if curve is not None and len(curve):
                finite = curve[curve["best"] < float("inf")]
                points = list(zip(finite["cum_epochs"].astype(float), finite["best"].astype(float), strict=True))
                series.append(Series(arm, colours[arm], points, dashed=arm == "default"))
        panels.append(panel(f"seed {seed}", "epochs trained", "best validation loss", series))
    out.write_text(page(panels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--chars", type=int, default=60_000)
    parser.add_argument("--keep", help="keep the studies in this SQLite file (and reuse the ones it holds)")
    parser.add_argument("--plot", action="store_true", help="write docs/warm_start.svg")
    parser.add_argument("--arms", default=",".join(ARMS), help="cold and default are always run")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 6 trials of 1 epoch, 5,000 chars")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.max_epochs, args.chars = 1, 6, 1, 5_000
    settings = Settings(args.trials, args.max_epochs, args.chars)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with local_ray() as folder, tempfile.TemporaryDirectory() as data:
        url = f"sqlite:///{Path(args.keep).resolve()}" if args.keep else f"sqlite:///{folder / 'warm.db'}"
        target = stdlib_text(args.chars, Path(data))
        source = document(
            source_name(settings),
            "builtin:tinyshakespeare",
            {"type": "tpe", "n_startup_trials": 5},
            HYPERBAND,
            args.trials,
            SOURCE_SEED,
            settings,
        )
        seconds = {"source": round(run(folder, url, source), 1)}
        curves = {}
        arms = tuple(a for a in ARMS if a in {"cold", "default", *args.arms.split(",")})
        for seed in seeds:
            for arm in arms:
                doc = arm_document(arm, seed, target, settings)
                seconds[f"{arm}-{seed}"] = round(run(folder, url, doc), 1)
                curves[(arm, seed)] = completion_curve(url, doc["name"])
                best = float(curves[(arm, seed)]["best"].iloc[-1])
                print(
                    f"seed {seed} {arm:8s} best {best:.4f} after {int(curves[(arm, seed)]['cum_epochs'].iloc[-1])} epochs",
                    flush=True,
                )
    summary = summarise(curves, seeds, arms)
    print(pd.DataFrame(summary["rows"]).to_string(index=False))
    if args.plot:
        plot(curves, seeds, ROOT / "docs" / "warm_start.svg")
    print(
        json.dumps(
            {
                "benchmark": "warm_start",
                "machine": platform.machine(),
                "cores": os.cpu_count(),
                "seeds": seeds,
                "trials": args.trials,
                "max_epochs": args.max_epochs,
                "chars": args.chars,
                "seconds": seconds,
                **summary,
                "goals": {"ratio_warm_to_cold": "<= 0.5", "warm_first_beats_default": "every seed"},
            }
        )
    )


if __name__ == "__main__":
    main()
