"""Our training loop against a plain hand-written PyTorch loop: same model, data, windows and optimiser.

Both train the Deeplearning4j baseline network (2 x 200 LSTM, batch 32,
TBPTT 50, Adam) on the same slice of Tiny Shakespeare for one epoch; the
figure is training characters per second (validation excluded from both).
The last line is JSON; `ratio` = ours / plain, goal >= 0.95 on CPU.
On a GPU (``--device cuda``) the plain loop is float32 with its data moved to the device once, as
ours; ``--precision bf16`` runs ours under the bf16 policy against that float32 plain loop.

    python benchmarks/trainer_overhead.py [--chars 120000] [--repeats 3] [--device cuda] [--precision bf16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch
from torch.nn import functional as F

from tuner.config.hyperparams import Hyperparameters, Precision
from tuner.data.options import CharLMOptions
from tuner.training import TrainSettings, train
from tuner.training.models import RecurrentNet, detach_states
from tuner.training.tasks import TaskData, task_for


def ours(hp: Hyperparameters, data: TaskData, device: str, precision: str) -> float:
    settings = TrainSettings(
        max_epochs=1, patience=1, num_threads=torch.get_num_threads(), device=device, precision=Precision(precision)
    )
    return train(hp, data, settings).epochs[0].steps_per_sec


def plain(hp: Hyperparameters, data: TaskData, device: str) -> float:
    """What a user would write by hand: shuffle, batch, TBPTT windows, detach, step."""
    torch.manual_seed(0)
    model = RecurrentNet(data.input_size, data.output_size, hp).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp.learning_rate, weight_decay=hp.l2)
    inputs, targets, vocab = data.train.inputs.to(device), data.train.targets.to(device), data.input_size
    started = time.perf_counter()
    model.train()
    order = torch.randperm(len(inputs))
    for first in range(0, len(order), hp.batch_size):
        rows = order[first : first + hp.batch_size].to(device)
        x_batch, y_batch, states = inputs[rows], targets[rows], None
        for start in range(0, x_batch.shape[1], hp.tbptt_length):
            x = F.one_hot(x_batch[:, start : start + hp.tbptt_length], vocab).float()
            y = y_batch[:, start : start + hp.tbptt_length]
            logits, states = model(x, states)
            loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            states = detach_states(states)
    if device == "cuda":
        torch.cuda.synchronize()
    return data.train.steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=120_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="ours, on CUDA")
    args = parser.parse_args()
    data = task_for("char_lm").load("builtin:tinyshakespeare", CharLMOptions(max_chars=args.chars, seq_length=1000))
    hp = Hyperparameters()  # the DL4J baseline: 2 x 200 LSTM, Adam 0.005, batch 32, TBPTT 50
    figures = {"ours": [], "plain": []}
    for _ in range(args.repeats):  # interleaved, so a busy moment hurts both alike
        figures["plain"].append(plain(hp, data, args.device))
        figures["ours"].append(ours(hp, data, args.device, args.precision))
    best = {name: max(values) for name, values in figures.items()}
    for name, value in best.items():
        print(f"{name:6s} {value:10,.0f} chars/s (best of {args.repeats})")
    print(
        json.dumps(
            {
                "benchmark": "trainer_overhead",
                "device": args.device,
                "device_name": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor(),
                "precision": args.precision if args.device == "cuda" else "fp32",
                "threads": torch.get_num_threads(),
                "cores": os.cpu_count(),
                "machine": platform.machine(),
                "torch": torch.__version__,
                "train_chars": data.train.steps,
                "ours_chars_per_sec": round(best["ours"]),
                "plain_chars_per_sec": round(best["plain"]),
                "ratio": round(best["ours"] / best["plain"], 3),
                "goal": 0.95,
            }
        )
    )


if __name__ == "__main__":
    main()
