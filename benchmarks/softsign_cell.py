"""Our softsign cell against torch's own layer (tanh): training throughput on the same shapes.

2 layers x 200 units, batch 32, TBPTT windows of 50 steps, 65 one-hot inputs
(Tiny Shakespeare's vocabulary), forward + backward + Adam step. Arms, interleaved:
  torch-tanh     torch's nn.LSTM / nn.GRU / nn.RNN kernel
  tanh           what a tanh model runs: torch's LSTM; a GRU or RNN runs our fused recurrence on the CPU
  softsign       our softsign cell (fused recurrence on the CPU)
  softsign-loop  our softsign cell on its step-by-step Python loop (the path without the fused code)
Prints chars/s of each and the ratios to torch-tanh; the last line is JSON.
Goal: softsign / torch-tanh >= 0.75 on CPU (>= 0.5 against cuDNN on a GPU).

    python benchmarks/softsign_cell.py [--cell lstm|gru|rnn] [--device cpu] [--windows 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch
from torch.nn import functional as F

from tuner.config.hyperparams import Hyperparameters
from tuner.training.cells import ActivationRecurrentLayer, TanhGRU, TanhRNN
from tuner.training.models import RecurrentNet, detach_states

VOCAB, BATCH, TBPTT, HIDDEN, DEPTH = 65, 32, 50, 200, 2


def chars_per_second(cell: str, arm: str, windows: int, device: torch.device) -> float:
    """Training throughput of one arm (see the module's docstring)."""
    torch.manual_seed(0)
    activation = "softsign" if arm.startswith("softsign") else "tanh"
    ActivationRecurrentLayer.use_fused = arm != "softsign-loop"
    TanhGRU.use_fused = TanhRNN.use_fused = arm != "torch-tanh"
    hp = Hyperparameters(
        cell=cell, hidden_size=HIDDEN, depth=DEPTH, activation=activation, tbptt_length=TBPTT, batch_size=BATCH
    )
    model = RecurrentNet(VOCAB, VOCAB, hp).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.randint(0, VOCAB, (windows + 3, BATCH, TBPTT + 1), device=device)
    states = None

    def step(window: torch.Tensor) -> None:
        nonlocal states
        x, y = window[:, :-1], window[:, 1:]
        logits, states = model(F.one_hot(x, VOCAB).float(), states)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        states = detach_states(states)

    for window in data[:3]:  # warm-up: allocator, kernels, any compilation
        step(window)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for window in data[3:]:
        step(window)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return windows * BATCH * TBPTT / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--windows", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    runs: dict[str, list[float]] = {"torch-tanh": [], "tanh": [], "softsign": [], "softsign-loop": []}
    if args.cell == "lstm":
        del runs["tanh"]  # a tanh LSTM is torch's own: the same as torch-tanh
    for _ in range(args.repeats):  # interleaved, so a busy moment hurts all alike
        for arm in runs:
            runs[arm].append(chars_per_second(args.cell, arm, args.windows, device))
    # best of several runs: the figure is what the code can do, not what a busy machine did once
    results = {arm: max(values) for arm, values in runs.items()}
    for arm, value in results.items():
        print(f"{arm:14s} {value:10,.0f} chars/s")
    torch_tanh = results["torch-tanh"]
    print(
        json.dumps(
            {
                "benchmark": "softsign_cell",
                "device": str(device),
                "device_name": torch.cuda.get_device_name(device)
                if device.type == "cuda"
                else platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
                "cores": os.cpu_count(),
                "torch": torch.__version__,
                "cell": args.cell,
                "chars_per_sec": {arm: round(value) for arm, value in results.items()},
                "ratio": round(results["softsign"] / torch_tanh, 3),
                "loop_ratio": round(results["softsign-loop"] / torch_tanh, 3),
                "tanh_ratio": round(results.get("tanh", torch_tanh) / torch_tanh, 3),
                "goal": 0.75 if device.type == "cpu" else 0.5,
            }
        )
    )


if __name__ == "__main__":
    main()
