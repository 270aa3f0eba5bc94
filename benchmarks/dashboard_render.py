"""How long each dashboard page takes to render with 1,000 trials x 50 epochs in the database.

Builds the database (Optuna's tables through Optuna's own API, our epoch table in
one bulk insert), then renders every page under Streamlit's AppTest with cold
caches, several times, and prints the slowest time of each page. The last line
is one JSON object; `max_page_seconds` is the slowest page. Goal: under 2 s.

    python benchmarks/dashboard_render.py [--trials 1000] [--epochs 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import optuna
import sqlalchemy as sa

from tuner import attrs
from tuner.config.hyperparams import Hyperparameters
from tuner.config.spaces import parse_space
from tuner.config.yaml_file import load_mapping
from tuner.storage.engine import get_engine
from tuner.storage.tables import EpochRow, create_tables

REPO = Path(__file__).resolve().parents[1]
PAGES = ["studies", "trials", "overfitting", "insight", "insight-fanova", "export"]


def build_database(url: str, trials: int, epochs: int, seed: int = 0) -> None:
    """A study shaped like a real one: the shipped space, curves that fall then overfit, a few pruned and failed."""
    rng = random.Random(seed)
    space = parse_space(load_mapping(REPO / "search_spaces/rnn.yaml"), "rnn.yaml")
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(study_name="bench", storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed))
    study.set_user_attr(
        attrs.SETTINGS,
        {
            "task": {"name": "char_lm", "data": "builtin:tinyshakespeare", "options": {}},
            "metric": "val_loss",
            "direction": "minimize",
            "max_epochs": epochs,
            "early_stopping": {"patience": 5, "min_delta": 0.0},
            "seed": 0,
        },
    )
    create_tables(get_engine(url))
    distributions = space.distributions()
    frozen, rows = [], []
    for number in range(trials):
        params = space.suggest(optuna.trial.FixedTrial({n: _sample(d, rng) for n, d in distributions.items()}))
        floor, speed, turn = rng.uniform(1.4, 2.5), rng.uniform(0.1, 0.5), rng.randint(10, 60)
        train = [floor + 2.5 * math.exp(-speed * e) - 0.004 * e for e in range(1, epochs + 1)]
        val = [t + 0.05 + 0.01 * max(0, e - turn) for e, t in enumerate(train, start=1)]
        state = rng.choices(
            [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL], [8, 2, 1]
        )[0]
        frozen.append(
            optuna.trial.create_trial(
                state=state,
                params={k: v for k, v in params.items() if k in distributions},
                distributions={k: distributions[k] for k in params if k in distributions},
                value=min(val) if state is optuna.trial.TrialState.COMPLETE else None,
                intermediate_values=dict(enumerate(val, start=1)),
                user_attrs={
                    attrs.HYPERPARAMETERS: Hyperparameters.from_dict(params, "bench", "").to_dict(),
                    attrs.SEED: number,
                    attrs.EPOCHS_RUN: epochs,
                    attrs.STOP: {"COMPLETE": "finished", "PRUNED": "pruned", "FAIL": "failed"}[state.name],
                    **({attrs.ERROR: "RuntimeError: out of memory"} if state.name == "FAIL" else {}),
                },
            )
        )
        rows += [
            {
                "trial_id": number + 1,
                "study_name": "bench",
                "trial_number": number,
                "epoch": e,
                "train_loss": t,
                "val_loss": v,
                "grad_norm": rng.uniform(0.1, 3),
                "clipped_fraction": 0.0,
                "seconds": 1.0,
                "steps_per_sec": 30000.0,
                "metrics": {"val_loss": v, "val_bpc": v / math.log(2)},
                "layer_grad_norms": [rng.uniform(0.1, 3), rng.uniform(0.1, 3)],
            }
            for e, (t, v) in enumerate(zip(train, val, strict=True), start=1)
        ]
    study.add_trials(frozen)
    with get_engine(url).begin() as connection:
        connection.execute(sa.insert(EpochRow), rows)


def _sample(distribution: optuna.distributions.BaseDistribution, rng: random.Random):  # noqa: ANN202
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return rng.choice(distribution.choices)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return rng.randrange(distribution.low, distribution.high + 1, distribution.step)
    if distribution.log:
        return math.exp(rng.uniform(math.log(distribution.low), math.log(distribution.high)))
    return rng.uniform(distribution.low, distribution.high)


def render_seconds(url: str, page: str) -> float:
    """Seconds for one cold render of ``page`` (Streamlit caches cleared first).

    ``insight-fanova`` is the insight page after switching its evaluator to fANOVA.
    """
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["TUNER_STORAGE"] = url
    st.cache_data.clear()
    app = AppTest.from_file(str(REPO / "tuner/dashboard/entry.py"), default_timeout=120)
    started = time.perf_counter()
    app.run()
    if page != "studies":
        st.cache_data.clear()
        app.switch_page(str(REPO / "tuner/dashboard/views" / f"{page.split('-')[0]}.py"))
        started = time.perf_counter()
        app.run()
        if page == "insight-fanova":
            app.radio[0].set_value("fanova")
            started = time.perf_counter()
            app.run()
    elapsed = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"page {page} raised: {app.exception[0].message}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        started = time.perf_counter()
        build_database(url, args.trials, args.epochs)
        print(f"built {args.trials} trials x {args.epochs} epochs in {time.perf_counter() - started:.1f} s")
        pages = {}
        for page in PAGES:
            times = [render_seconds(url, page) for _ in range(args.repeats)]
            pages[page] = round(max(times), 3)
            print(f"{page:12s} slowest of {args.repeats} cold renders: {pages[page]:.3f} s")
    print(
        json.dumps(
            {
                "benchmark": "dashboard_render",
                "trials": args.trials,
                "epochs_per_trial": args.epochs,
                "page_seconds": pages,
                "max_page_seconds": max(pages.values()),
                "goal_seconds": 2.0,
                "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
