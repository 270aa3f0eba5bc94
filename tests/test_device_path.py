"""The GPU path, checked on the CPU: the loop does not wait on its device, the precision policy runs
where it says, and nothing falls back to the CPU in silence."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from tuner.config.hyperparams import Activation, Cell, Hyperparameters, Precision
from tuner.data.options import CharLMOptions, SequenceClassificationOptions
from tuner.errors import NoGpu
from tuner.training import TrainSettings, train
from tuner.training.cells import ActivationRecurrentLayer
from tuner.training.precision import compute_dtype, run_layer
from tuner.training.tasks import task_for
from tuner.training.tasks.base import SequenceData, Target, TaskData
from tuner.training.trial_run import train_settings

TUNER = str(Path(__file__).parents[1] / "tuner")
# calls that make the host wait for a GPU when the tensor lives on one
SYNCING = ("item", "__bool__", "__float__", "__int__", "tolist", "cpu")


@pytest.fixture
def sync_calls(monkeypatch):
    """Counts the syncing calls made from the product's own code (torch's optimisers read CPU step counters,
    which costs a GPU nothing, so calls from inside torch are not counted)."""
    calls: list[str] = []
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            if sys._getframe(1).f_code.co_filename.startswith(TUNER):
                calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return calls


def _one_epoch(data, tbptt: int, clip: float) -> None:
    hp = Hyperparameters(hidden_size=8, batch_size=4, tbptt_length=tbptt, grad_clip=clip, learning_rate=0.01)
    train(hp, data, TrainSettings(max_epochs=1, patience=5))


def _sequences_of_different_lengths(target: Target) -> TaskData:
    """Padded windows: per-step targets that stop early, and per-sequence targets in the middle of windows."""
    generator = torch.Generator().manual_seed(0)
    n, longest = 40, 60
    lengths = torch.randint(5, longest + 1, (n,), generator=generator)
    inputs = torch.randn(n, longest, 2, generator=generator)
    if target is Target.CLASS:
        targets, outputs = torch.randint(0, 3, (n,), generator=generator), 3
    else:
        targets, outputs = torch.randn(n, longest, 1, generator=generator), 1
    split = SequenceData(inputs, targets, lengths)
    return TaskData(target, split, split, input_size=2, output_size=outputs)


@pytest.mark.parametrize("task", ["char_lm", "control_charts", Target.CLASS, Target.STEP_VALUES])
def test_an_epoch_waits_on_its_device_a_handful_of_times_however_many_windows_it_has(task, sync_calls):
    if task == "char_lm":
        data = task_for(task).load("builtin:tinyshakespeare", CharLMOptions(max_chars=1200, seq_length=60))
    elif task == "control_charts":
        data = task_for("sequence_classification").load("builtin:control_charts", SequenceClassificationOptions())
    else:
        data = _sequences_of_different_lengths(task)
    _one_epoch(data, tbptt=60, clip=0.5)
    few_windows = len(sync_calls)
    sync_calls.clear()
    _one_epoch(data, tbptt=3, clip=0.5)  # twenty times as many windows, each clipped
    assert len(sync_calls) == few_windows, sync_calls
    assert few_windows <= 6, sync_calls


def test_a_trial_that_asks_for_a_gpu_where_there_is_none_fails_instead_of_training_on_the_cpu():
    settings = {
        "max_epochs": 1,
        "early_stopping": {"patience": 1, "min_delta": 0.0},
        "metric": "val_loss",
        "direction": "minimize",
    }
    if torch.cuda.is_available():
        pytest.fail("this check is for a machine without CUDA: the GPU check script covers the other side")
    with pytest.raises(NoGpu, match="asked for 0.25 GPU but torch sees no CUDA device"):
        train_settings(settings, seed=0, cpus=1, gpus=0.25)
    assert train_settings(settings, seed=0, cpus=1, gpus=0).device == "cpu"


def test_bfloat16_runs_only_on_a_cuda_device():
    assert compute_dtype(torch.device("cpu"), Precision.BF16) == torch.float32
    assert compute_dtype(torch.device("cuda"), Precision.BF16) == torch.bfloat16
    assert compute_dtype(torch.device("cuda"), Precision.FP32) == torch.float32


@pytest.mark.parametrize("activation", [Activation.TANH, Activation.SOFTSIGN])
@pytest.mark.parametrize("cell", [Cell.LSTM, Cell.GRU])
def test_a_bfloat16_layer_keeps_float32_weights_gradients_and_state(cell, activation):
    # the policy's code path run on the CPU's bfloat16 kernels: what dtype goes where, and how close
    from tuner.training.models import make_layer

    torch.manual_seed(0)
    layer = make_layer(cell, 6, 16, activation)
    if isinstance(layer, ActivationRecurrentLayer) or hasattr(layer, "use_fused"):
        layer.use_fused = False  # the fused CPU code is float32 only; on a GPU these run the loop
    x = torch.randn(4, 10, 6)
    exact, exact_state = layer(x)
    low, state = run_layer(layer, x, None, torch.bfloat16)
    states = state if isinstance(state, tuple) else (state,)
    assert all(s.dtype == torch.float32 for s in states)  # carried to the next window in float32
    assert (low.float() - exact).abs().max() < 0.05  # bfloat16 keeps 8 bits of mantissa
    low.float().square().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in layer.parameters())
    if isinstance(layer, nn.LSTM):
        assert low.dtype == torch.bfloat16  # torch's layer ran wholly in bfloat16


def _exported_as_if_trained_on_a_gpu(tmp_path: Path) -> Path:
    from tests.conftest import write_yaml
    from tuner.config.export_file import train_document

    settings = {
        "task": {"name": "adding", "data": None, "options": {"length": 10, "train_sequences": 64, "val_sequences": 32}},
        "metric": "val_loss",
        "direction": "minimize",
        "max_epochs": 1,
        "early_stopping": {"patience": 1, "min_delta": 0.0},
    }
    hp = Hyperparameters(hidden_size=8, batch_size=16).to_dict()
    device = {"kind": "cuda", "precision": "bf16"}
    document = train_document("s", 0, "COMPLETE", settings, hp, 0, 0.1, 1, 1, threads=1, device=device)
    assert document["training"]["device"] == "cuda" and document["training"]["precision"] == "bf16"
    return write_yaml(tmp_path / "best.yaml", document)


def test_tuner_train_of_a_gpu_trial_on_a_machine_without_one_says_it_falls_back_to_the_cpu(tmp_path, capsys):
    from tuner.cli import main

    code = main(["train", str(_exported_as_if_trained_on_a_gpu(tmp_path)), "--out", str(tmp_path / "m.pt")])
    out = capsys.readouterr().out
    assert code == 0
    assert "the trial trained on cuda in bf16" in out and "training on the CPU in float32" in out
    assert "drift" in out
    assert (tmp_path / "m.pt").exists()


def test_tuner_train_device_cuda_where_there_is_none_is_one_line(tmp_path, capsys):
    from tuner.cli import main

    code = main(["train", str(_exported_as_if_trained_on_a_gpu(tmp_path)), "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--device" in err and "CUDA device" in err and "Traceback" not in err


def test_the_gpu_check_script_runs_every_part_on_the_cpu_so_it_is_ready_when_a_gpu_is(ray_session):
    import json
    import os
    import subprocess

    from tests.conftest import REPO

    # its study joins the session's Ray (ray.init reads RAY_ADDRESS), as `tuner run` joins any running one
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address}
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run"], capture_output=True, text=True, cwd=REPO, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    parts = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    names = [p["part"] for p in parts]
    assert names[:3] == ["environment", "policy", "syncs"] and names[-2:] == ["study", "summary"]
    assert all(p["ok"] for p in parts), parts
    found = {p["part"]: p for p in parts}
    # what a dry run can check on a CPU, checked: the product's host reads per epoch do not grow with
    # the number of TBPTT windows; the bf16 policy's dtypes; the CPU repeats itself exactly
    reads = found["syncs"]["per_epoch"]
    assert reads["tbptt 10"] == reads["tbptt 50"] <= 10, reads
    observed = found["policy"]["observed"]
    assert observed["tanh LSTM output/state under bf16"] == "bfloat16/float32", observed
    assert observed["softsign LSTM output/state under bf16"].endswith("/float32"), observed
    for name in [n for n in names if n.startswith("agreement")]:
        assert found[name]["relative_drift"] == 0.0, found[name]
    assert found["study"]["states"] == ["COMPLETE"], found["study"]
