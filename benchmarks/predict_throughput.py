"""`tuner predict` against what a user would otherwise write, on a tiny and on a realistic network.

For each of two classifiers (4 features, 3 classes): a tiny one (1 x 32 LSTM, sequences of 20 steps)
and a realistic one (2 x 128 LSTM, sequences of 50 steps), a model file is made by `tuner train` (one
epoch, in a child process, so this process's peak memory is the scoring alone), and a Parquet file of
new sequences is scored twice, the same thread count each time:

1. `tuner predict MODEL --data FILE.parquet --out OUT.parquet`: reading, preparing the sequences the way
   training data was, the forward passes, writing labels and probabilities;
2. the user's own code: pandas reads the same file, standardises the features with the model's
   statistics and stacks them into one padded tensor, the same network in batches of 1,024, softmax,
   the same rows written with pandas.

Both run once on a small file first, so neither pays the imports and first calls in its time.

`ratio` is user / predict per network (1.0: predict costs what the user's own code costs; goal >= 0.9
for both); the JSON field `ratio` is the smaller of the two. Peak memory is this process's peak
resident set (the training ran elsewhere). The last line is JSON.

    python benchmarks/predict_throughput.py [--sequences 100000] [--realistic-sequences 20000] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from tuner.cli import main
from tuner.config.export_file import train_document
from tuner.config.studies import load_study
from tuner.training.model_file import load_model

NETWORKS = {
    "tiny": {"hidden_size": 32, "depth": 1, "steps": 20},
    "realistic": {"hidden_size": 128, "depth": 2, "steps": 50},
}


def long_frame(sequences: int, steps: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, sequences)
    values = rng.normal(size=(sequences, steps, 4)) + labels[:, None, None] * 0.3
    return pd.DataFrame(
        {
            "sequence_id": np.repeat(np.arange(sequences), steps),
            "step": np.tile(np.arange(steps), sequences),
            **{f"f{k}": values[..., k].ravel() for k in range(4)},
            "label": np.repeat(labels, steps),
        }
    )


def trained_model(folder: Path, hidden_size: int, depth: int, steps: int) -> Path:
    """One epoch of `tuner train` in a child process: its memory is not this process's."""
    long_frame(500, steps, seed=0).to_csv(folder / "train.csv", index=False)
    hp = {"hidden_size": hidden_size, "depth": depth, "batch_size": 64, "tbptt_length": steps}
    study = {
        "name": "bench",
        "task": {"name": "sequence_classification", "data": "train.csv", "options": {"val_fraction": 0.2}},
        "space": {"parameters": hp},
        "objective": {"metric": "val_accuracy"},
        "max_epochs": 1,
    }
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    spec = load_study(folder / "study.yaml")
    document = train_document("bench", 0, "COMPLETE", spec.settings(), hp, 0, None, None, None, threads=1)
    (folder / "best.yaml").write_text(yaml.safe_dump(document))
    command = [sys.executable, "-m", "tuner.cli", "train", str(folder / "best.yaml"), "--out", str(folder / "m.pt")]
    subprocess.run(command, check=True, capture_output=True)
    return folder / "m.pt"


def user_code(model_path: Path, data: Path, out: Path) -> None:
    """What a user would write without `tuner predict`: pandas in, one padded tensor, the forward, pandas out."""
    model = load_model(model_path)
    prep = model.preparation
    frame = pd.read_parquet(data).sort_values([prep["id_column"], prep["step_column"]])
    ids, counts = np.unique(frame[prep["id_column"]].to_numpy(), return_counts=True)
    values = (frame[prep["feature_columns"]].to_numpy(np.float32) - np.float32(prep["mean"])) / np.float32(prep["std"])
    padded = np.zeros((len(ids), counts.max(), values.shape[1]), np.float32)
    steps = np.arange(len(values)) - np.repeat(np.cumsum(counts) - counts, counts)
    padded[np.repeat(np.arange(len(ids)), counts), steps] = values
    inputs, last = torch.from_numpy(padded), torch.from_numpy(counts - 1)
    with torch.inference_mode():
        probabilities = torch.cat(
            [
                torch.softmax(
                    model.net(inputs[i : i + 1024])[0][torch.arange(len(inputs[i : i + 1024])), last[i : i + 1024]], -1
                )
                for i in range(0, len(inputs), 1024)
            ]
        ).numpy()
    classes = prep["classes"]
    result = pd.DataFrame({prep["id_column"]: ids, "predicted": np.asarray(classes)[probabilities.argmax(axis=1)]})
    for column, label in enumerate(classes):
        result[f"p_{label}"] = probabilities[:, column]
    result.to_parquet(out, index=False)


def tuner_predict(model_path: Path, data: Path, out: Path, threads: int) -> None:
    argv = ["predict", str(model_path), "--data", str(data), "--out", str(out), "--threads", str(threads)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0


def measure(name: str, sequences: int, threads: int, folder: Path) -> dict:
    network = NETWORKS[name]
    model_path = trained_model(folder, network["hidden_size"], network["depth"], network["steps"])
    data = folder / f"{name}.parquet"
    long_frame(sequences, network["steps"], seed=1).drop(columns=["label"]).to_parquet(data, index=False)
    torch.set_num_threads(threads)
    warm = folder / "warm.parquet"  # imports and first calls paid before either arm is timed
    long_frame(100, network["steps"], seed=2).drop(columns=["label"]).to_parquet(warm, index=False)
    user_code(model_path, warm, folder / "user.parquet")
    tuner_predict(model_path, warm, folder / "tuner.parquet", threads)
    started = time.perf_counter()
    user_code(model_path, data, folder / "user.parquet")
    user = time.perf_counter() - started
    started = time.perf_counter()
    tuner_predict(model_path, data, folder / "tuner.parquet", threads)
    predict = time.perf_counter() - started
    ours, theirs = pd.read_parquet(folder / "tuner.parquet"), pd.read_parquet(folder / "user.parquet")
    assert (ours["predicted"].to_numpy() == theirs["predicted"].to_numpy()).all()  # the same answers
    figures = {"sequences": sequences, "user_s": round(user, 3), "predict_s": round(predict, 3)}
    print(f"{name} ({network}): user code {user:.2f} s, tuner predict {predict:.2f} s, {len(ours):,} rows")
    return {**figures, "ratio": round(user / predict, 3)}


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=100_000)
    parser.add_argument("--realistic-sequences", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        results = {
            "tiny": measure("tiny", args.sequences, args.threads, folder),
            "realistic": measure("realistic", args.realistic_sequences, args.threads, folder),
        }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {args.threads} torch threads")
    ratio = min(r["ratio"] for r in results.values())
    print(json.dumps({**results, "ratio": ratio, "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main_benchmark()
