"""What keeping a trial's weights costs: the Shakespeare baseline trial with and without kept models.

The baseline configuration (2 x 200 tanh LSTM, Adam 0.005, batch 32, TBPTT 50) trains 3 epochs
on the first 200,000 characters of Tiny Shakespeare as one trial of a real study (Ray Tune, an
Optuna study in SQLite), once with `checkpoints: {keep_best: 3}` (the default: a model file at
every best epoch, persisted by Tune and copied by the driver) and once with `keep_best: 0`,
alternately, `--repeats` times each; Ray starts before the clock. A trial's time is its Optuna
trial's start to end. `ratio` is the time without kept models over the time with them (1.0: free;
goal >= 0.97). The arm with kept models checkpoints its best epochs and its state after every
epoch (``resume``). Bytes written per trial: each file times the copies made of it (the worker's file,
Tune's persisted checkpoint, the driver's copy): a model file at each best epoch plus the artifact,
and a state after every epoch.
The last line is JSON.

    python benchmarks/checkpoint_cost.py [--chars 200000] [--epochs 3] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from pathlib import Path

import optuna
from _common import local_ray, study_from

from tuner.config.studies import load_study
from tuner.orchestration.runner import run_study

# the Shakespeare study's baseline trial (the Deeplearning4j example), from the study file itself
BASELINE = load_study(Path(__file__).resolve().parents[1] / "studies/shakespeare.yaml").baseline


def one_trial(
    folder: Path, name: str, chars: int, epochs: int, keep_best: int
) -> tuple[float, optuna.trial.FrozenTrial]:
    document = {
        "name": name,
        "task": {
            "name": "char_lm",
            "data": "builtin:tinyshakespeare",
            "options": {"max_chars": chars, "seq_length": 1000},
        },
        "space": {"parameters": BASELINE},
        "trials": 1,
        "max_epochs": epochs,
        "early_stopping": {"patience": epochs},
        "checkpoints": {"keep_best": keep_best},
    }
    spec = study_from(document, folder / f"{name}.yaml")
    url = f"sqlite:///{folder / f'{name}.db'}"
    run_study(spec, url, trials=1, workers=1, show_progress=False)
    (trial,) = optuna.load_study(study_name=name, storage=url).trials
    assert trial.state is optuna.trial.TrialState.COMPLETE, trial.user_attrs.get("error")
    return (trial.datetime_complete - trial.datetime_start).total_seconds(), trial


def state_bytes() -> int:
    """Size of the state a baseline trial hands in after each epoch (weights, Adam's moments, best weights)."""
    import io

    import torch

    from tuner.config.hyperparams import Hyperparameters
    from tuner.data.options import CharLMOptions
    from tuner.training import TrainSettings, train
    from tuner.training.tasks import task_for

    data = task_for("char_lm").load("builtin:tinyshakespeare", CharLMOptions(max_chars=5000, seq_length=1000))
    states: list[int] = []

    def measure(state: dict) -> None:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        states.append(len(buffer.getvalue()))

    train(Hyperparameters(**BASELINE), data, TrainSettings(max_epochs=1), on_state=measure)
    return states[-1]


def best_epochs(values: list[float]) -> int:
    """Epochs whose validation loss was the lowest so far: each wrote a model file."""
    return sum(1 for i, v in enumerate(values) if v < min(values[:i], default=float("inf")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    times: dict[int, list[float]] = {3: [], 0: []}
    with local_ray(num_cpus=2), tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        one_trial(folder, "warm-up", 20_000, 1, 3)  # worker start-up and the first data load, off the clock
        for repeat in range(args.repeats):
            for keep_best in (3, 0):
                seconds, trial = one_trial(folder, f"keep{keep_best}-{repeat}", args.chars, args.epochs, keep_best)
                times[keep_best].append(seconds)
                if keep_best:
                    kept = list((folder / f"keep{keep_best}-{repeat}-models" / "artifacts").iterdir())
                    model_bytes = kept[0].stat().st_size
                    improvements = len(
                        {v for v in trial.intermediate_values.values()}
                    )  # a falling loss: each epoch best
    with_models, without = statistics.median(times[3]), statistics.median(times[0])
    resume = state_bytes()
    # each file is written three times (the worker's, Tune's persisted checkpoint, the driver's copy);
    # a model file at each best epoch plus the kept artifact, a state after every epoch
    written = model_bytes * (3 * improvements + 1) + resume * 3 * args.epochs
    print(f"machine: {platform.machine()}, trials of {args.epochs} epochs over {args.chars:,} characters")
    print(f"with kept models: {times[3]} s; without: {times[0]} s (medians {with_models:.2f} and {without:.2f})")
    print(
        f"model file {model_bytes:,} bytes, state {resume:,} bytes; about {written:,} bytes written per trial ({improvements} best epochs)"
    )
    print(
        json.dumps(
            {
                "ratio": round(without / with_models, 3),
                "with_s": round(with_models, 2),
                "without_s": round(without, 2),
                "bytes_per_trial": written,
            }
        )
    )


if __name__ == "__main__":
    main()
