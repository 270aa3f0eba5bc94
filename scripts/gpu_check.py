"""Everything in rnn-tuner that needs CUDA, checked in a few minutes on one GPU (run by gpu_check.sh).

Each part prints one JSON line; a part whose check fails says so in its line (``"ok": false``) and
the script goes on, so one run gives every figure. Exit code 1 when any part failed.

Parts:
  environment   torch, CUDA, cuDNN and the device
  policy        the dtype each layer kind runs in under fp32 and bf16 (the policy's table, and what
                the layers really return on this device)
  syncs         host-device synchronisations per epoch, counted by torch.cuda.set_sync_debug_mode,
                for two window counts (the loop reads the device a handful of times per epoch)
  agreement     one tanh LSTM (cuDNN), one seed: CPU fp32 against CUDA fp32 (TF32) and CUDA bf16;
                and a softsign LSTM (our loop on CUDA) against the CPU's fused code
  epoch_time    one Shakespeare baseline epoch (2 x 200 LSTM, batch 32, TBPTT 50) on CPU, CUDA fp32, CUDA bf16
  study         a short real study with resources {gpu: 0.25}: four trials at once on one GPU,
                each under its memory share

Tolerances (written down before any GPU run): validation loss after two epochs within 2% of the
CPU's for CUDA fp32 (TF32 rounds products to a 10-bit mantissa; the trajectories drift apart slowly)
and within 5% for CUDA bf16 (8-bit mantissa in the recurrent layers).

    python scripts/gpu_check.py [--dry-run]

``--dry-run`` runs every part on the CPU with tiny sizes (the "cuda" arms on the CPU, no sync
counting): a test runs it so this script does not rot between GPU loans.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import yaml

from tuner.config.hyperparams import Activation, Cell, Hyperparameters, Precision
from tuner.data.options import CharLMOptions
from tuner.training import TrainSettings, train
from tuner.training.models import make_layer
from tuner.training.precision import layer_dtypes, run_layer
from tuner.training.tasks import TaskData, task_for

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = {Precision.FP32: 0.02, Precision.BF16: 0.05}  # relative, on validation loss after two epochs
FAILED: list[str] = []


def report(part: str, ok: bool = True, **figures: Any) -> None:
    if not ok:
        FAILED.append(part)
    print(json.dumps({"part": part, "ok": ok, **figures}), flush=True)


def environment(gpu: str) -> None:
    figures: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda}
    if gpu == "cuda":
        figures.update(device=torch.cuda.get_device_name(), cudnn=torch.backends.cudnn.version())
        figures["memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    report("environment", torch.cuda.is_available() or gpu == "cpu", **figures)


def policy(gpu: str) -> None:
    """The layers run in bf16 as the policy says (on the CPU too, in a dry run: the same code path), and the
    state they leave, which crosses windows, stays float32."""
    device = torch.device(gpu)
    seen = {}
    for activation in (Activation.TANH, Activation.SOFTSIGN):
        layer = make_layer(Cell.LSTM, 4, 8, activation).to(device)
        x = torch.randn(2, 5, 4, device=device)
        out, (h, _) = run_layer(layer, x, None, torch.bfloat16)
        seen[f"{activation} LSTM output/state under bf16"] = f"{out.dtype}/{h.dtype}".replace("torch.", "")
    table = {str(p): layer_dtypes(p, device) for p in Precision}
    state_float32 = all(s.endswith("/float32") for s in seen.values())
    tanh_in_bf16 = seen["tanh LSTM output/state under bf16"].startswith("bfloat16/")
    report("policy", state_float32 and tanh_in_bf16, declared=table, observed=seen)


def shakespeare(chars: int) -> TaskData:
    return task_for("char_lm").load("builtin:tinyshakespeare", CharLMOptions(max_chars=chars, seq_length=1000))


SYNCING = ("item", "__bool__", "__float__", "__int__", "tolist", "cpu")  # reads that wait on a device


@contextlib.contextmanager
def host_reads() -> Iterator[list[str]]:
    """The calls of the product's own code that read a tensor back to the host (each a sync on a GPU):
    the dry run's stand-in for CUDA's sync debug mode (torch's own reads, of CPU step counters, cost a
    GPU nothing and are not counted)."""
    calls: list[str] = []
    product = str(REPO / "tuner")
    originals = {name: getattr(torch.Tensor, name) for name in SYNCING}

    def counting(name: str, original: Any) -> Any:
        def counted(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if sys._getframe(1).f_code.co_filename.startswith(product):
                calls.append(name)
            return original(self, *args, **kwargs)

        return counted

    for name, original in originals.items():
        setattr(torch.Tensor, name, counting(name, original))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def syncs(gpu: str, data: TaskData) -> None:
    """An epoch waits on its device a handful of times, however many TBPTT windows it has."""
    if gpu != "cuda":
        counts = {}
        for tbptt in (50, 10):
            hp = Hyperparameters(hidden_size=16, depth=1, tbptt_length=tbptt, grad_clip=1.0)
            with host_reads() as calls:
                train(hp, data, TrainSettings(max_epochs=1))
            counts[f"tbptt {tbptt}"] = len(calls)
        few, many = counts.values()
        report("syncs", many == few and many <= 10, per_epoch=counts, counted="host reads from tuner code (dry run)")
        return
    counts = {}
    for tbptt in (50, 10):
        hp = Hyperparameters(hidden_size=64, depth=1, tbptt_length=tbptt, grad_clip=1.0)
        train(hp, data, TrainSettings(max_epochs=1, device="cuda"))  # warm-up: cuDNN plans, allocator
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                train(hp, data, TrainSettings(max_epochs=1, device="cuda"))
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts[f"tbptt {tbptt}"] = sum("synchroniz" in str(w.message) for w in caught)
    few, many = counts.values()
    report("syncs", many <= few + 2 and many <= 10, per_epoch=counts)


def val_loss_after(
    hp: Hyperparameters, data: TaskData, device: str, precision: Precision, epochs: int, threads: int
) -> float:
    settings = TrainSettings(
        max_epochs=epochs, patience=epochs, seed=7, device=device, precision=precision, num_threads=threads
    )
    return train(hp, data, settings).epochs[-1].val_loss


def agreement(gpu: str, data: TaskData, epochs: int) -> None:
    threads = 4 if gpu == "cuda" else 1  # a dry run shares a small machine; one thread repeats itself as well
    for activation in (Activation.TANH, Activation.SOFTSIGN):
        hp = Hyperparameters(hidden_size=64, depth=2, activation=activation, tbptt_length=50)
        cpu = val_loss_after(hp, data, "cpu", Precision.FP32, epochs, threads)
        precisions = [Precision.FP32, Precision.BF16] if activation is Activation.TANH else [Precision.FP32]
        for precision in precisions:
            on_gpu = val_loss_after(hp, data, gpu, precision, epochs, threads)
            drift = abs(on_gpu - cpu) / cpu
            # a dry run compares the CPU with itself: the same seed and threads must give the same loss
            tolerance = TOLERANCE[precision] if gpu == "cuda" else 0.0
            report(
                f"agreement {activation} lstm {precision}",
                drift <= tolerance,
                cpu_val_loss=round(cpu, 5),
                gpu_val_loss=round(on_gpu, 5),
                relative_drift=round(drift, 5),
                tolerance=tolerance,
            )


def epoch_time(gpu: str, data: TaskData) -> None:
    # the DL4J baseline: 2 x 200 LSTM, batch 32, TBPTT 50; a dry run times nothing, so two layers of 16 on a thread
    hp = Hyperparameters() if gpu == "cuda" else Hyperparameters(hidden_size=16)
    arms = [("cpu", Precision.FP32), (gpu, Precision.FP32), (gpu, Precision.BF16)]
    figures = {}
    threads = torch.get_num_threads() if gpu == "cuda" else 1
    for device, precision in arms:
        settings = TrainSettings(max_epochs=1, device=device, precision=precision, num_threads=threads)
        epoch = train(hp, data, settings).epochs[0]
        figures[f"{device} {precision}"] = {
            "seconds": round(epoch.seconds, 2),
            "chars_per_sec": round(epoch.steps_per_sec),
        }
    timed = all(f["seconds"] > 0 and f["chars_per_sec"] > 0 for f in figures.values())
    report("epoch_time", timed, train_chars=data.train.steps, **figures)


def study(gpu: str, chars: int) -> None:
    """A real study whose trials share one GPU (a quarter each); a dry run's is the smallest that runs
    the same code: one trial of one epoch on the CPU."""
    share = 0.25 if gpu == "cuda" else 0
    trials = 4 if share else 1
    document = {
        "name": "gpu-check",
        "task": {
            "name": "char_lm",
            "data": "builtin:tinyshakespeare",
            "options": {"max_chars": chars, "seq_length": 200},
        },
        "space": {
            "path": str(REPO / "search_spaces/rnn.yaml"),
            "overrides": {"hidden_size": {"type": "int", "low": 32, "high": 128}},
        },
        "sampler": {"type": "random", "seed": 0},
        "pruner": {"type": "none"},
        "trials": trials,
        "max_epochs": 2 if share else 1,
        "resources": {"cpu": 1, "gpu": share},
        "checkpoints": {"keep_best": 1},
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "study.yaml"
        path.write_text(yaml.safe_dump(document))
        url = f"sqlite:///{folder}/gpu.db"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tuner.cli", "run", str(path), "--storage", url, "--workers", str(trials)],
            capture_output=True,
            text=True,
            cwd=folder,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            report("study", False, error=done.stderr.strip().splitlines()[-1:] or done.stdout[-500:])
            return
        import optuna

        trials = optuna.load_study(study_name="gpu-check", storage=url).trials
        devices = [t.user_attrs.get("device", {}) for t in trials]
        cap = share * torch.cuda.get_device_properties(0).total_memory / 2**20 if share else None
        peaks = [d.get("peak_memory_mib") for d in devices]
        ok = all(t.state.name == "COMPLETE" for t in trials) and all(
            d.get("kind") == ("cuda" if share else "cpu") for d in devices
        )
        if cap:
            ok = ok and all(p is not None and p <= cap for p in peaks)
        report(
            "study",
            ok,
            seconds=round(seconds, 1),
            states=[t.state.name for t in trials],
            reasons=[t.user_attrs.get("stop_reason") for t in trials],
            peak_memory_mib=peaks,
            share_mib=round(cap, 1) if cap else None,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="every part on the CPU with tiny sizes")
    args = parser.parse_args()
    gpu = "cpu" if args.dry_run else "cuda"
    if gpu == "cuda" and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device here (use --dry-run to check the script on a CPU)", file=sys.stderr)
        return 2
    small = shakespeare(3_000 if args.dry_run else 60_000)
    environment(gpu)
    policy(gpu)
    syncs(gpu, small)
    agreement(gpu, small, epochs=1 if args.dry_run else 2)
    epoch_time(gpu, shakespeare(3_000 if args.dry_run else 1_200_000))
    study(gpu, 3_000 if args.dry_run else 50_000)
    print(json.dumps({"part": "summary", "ok": not FAILED, "failed": FAILED}))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
