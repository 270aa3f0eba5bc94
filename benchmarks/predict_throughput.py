"""`tuner predict` on 100,000 sequences against a bare batched torch forward of the same network.

A classifier (1 x 32 LSTM, 4 features, 3 classes) is trained for one epoch by `tuner train` on
a generated long-format file; then, in this process, the clock times

1. `tuner predict MODEL --data FILE.parquet --out OUT.parquet`: reading the file, preparing the
   sequences the way training data was, the forward passes, writing labels and probabilities;
2. the bare forward: the same network on the same sequences already as one padded tensor,
   batches of 1,024, softmax, nothing read or written.

`ratio` is bare / predict (1.0: predict costs no more than the forward itself; goal >= 0.9).
Peak memory is this process's peak resident set. The last line is JSON.

    python benchmarks/predict_throughput.py [--sequences 100000] [--steps 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import resource
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
from tuner.training.tasks import task_for


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


def trained_model(folder: Path) -> Path:
    long_frame(2000, 20, seed=0).to_csv(folder / "train.csv", index=False)
    study = {
        "name": "bench",
        "task": {"name": "sequence_classification", "data": "train.csv"},
        "space": {"parameters": {"hidden_size": 32, "depth": 1, "batch_size": 64, "tbptt_length": 20}},
        "objective": {"metric": "val_accuracy"},
        "max_epochs": 1,
    }
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    spec = load_study(folder / "study.yaml")
    hp = {"hidden_size": 32, "depth": 1, "batch_size": 64, "tbptt_length": 20}
    document = train_document("bench", 0, "COMPLETE", spec.settings(), hp, 0, None, None, None, threads=1)
    (folder / "best.yaml").write_text(yaml.safe_dump(document))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", str(folder / "best.yaml"), "--out", str(folder / "model.pt")]) == 0
    return folder / "model.pt"


@torch.inference_mode()
def bare_forward(net: torch.nn.Module, inputs: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    outputs = [torch.softmax(net(inputs[i : i + batch])[0][:, -1], dim=-1) for i in range(0, len(inputs), batch)]
    return torch.cat(outputs)


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        model_path = trained_model(folder)
        frame = long_frame(args.sequences, args.steps, seed=1).drop(columns=["label"])
        frame.to_parquet(folder / "new.parquet", index=False)
        model = load_model(model_path)
        prepared = task_for(model.task_name).prepare(frame, model.preparation, labelled=False).data.inputs
        torch.set_num_threads(args.threads)  # tuner train set its own count
        started = time.perf_counter()
        bare_forward(model.net, prepared)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert (
                main(
                    [
                        "predict",
                        str(model_path),
                        "--data",
                        str(folder / "new.parquet"),
                        "--out",
                        str(folder / "p.parquet"),
                    ]
                )
                == 0
            )
        predict = time.perf_counter() - started
        rows = len(pd.read_parquet(folder / "p.parquet"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads")
    print(f"bare batched forward: {bare:.2f} s for {args.sequences:,} sequences of {args.steps} steps")
    print(f"tuner predict (read, prepare, forward, write): {predict:.2f} s, {rows:,} rows written")
    print(
        json.dumps(
            {
                "sequences": args.sequences,
                "bare_s": round(bare, 3),
                "predict_s": round(predict, 3),
                "ratio": round(bare / predict, 3),
                "peak_rss_mb": round(peak_mb),
            }
        )
    )


if __name__ == "__main__":
    main_benchmark()
