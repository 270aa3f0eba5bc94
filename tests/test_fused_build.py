"""The fused CPU cells' build: where it lives, which studies need it, and the driver starting it ahead of the trials."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from conftest import tiny_study, write_yaml

from tests.arithmetic import arithmetic_trial
from tuner.config.hyperparams import Hyperparameters
from tuner.config.studies import load_study
from tuner.orchestration.runner import _may_train_fused_layers, run_study
from tuner.training import fused_build


def fake_build_command(seconds: float) -> tuple[str, ...]:
    """A stand-in for the compiler: waits, then leaves the library file where a build would."""
    script = (
        "import time; from tuner.training import fused_build; "
        f"time.sleep({seconds}); folder = fused_build.build_directory(); folder.mkdir(parents=True); "
        "(folder / f'{folder.name}.so').touch()"
    )
    return (sys.executable, "-c", script)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("activation", ["tanh", "softsign"])
def test_the_driver_knows_which_layers_run_the_fused_code_as_the_model_does(cell, activation):
    from tuner.training.models import RecurrentNet

    model = RecurrentNet(5, 5, Hyperparameters(cell=cell, activation=activation, depth=1, hidden_size=8))
    assert fused_build.runs_fused_code(cell, activation) == model.runs_fused_code()


def test_the_torch_free_driver_finds_the_build_the_workers_load():
    from tuner.training import fused

    assert fused.extension() is not None  # built or loaded here, as a worker does
    assert fused_build.is_built()


@pytest.mark.parametrize(
    ("parameters", "resources", "expected"),
    [
        ({"cell": {"type": "categorical", "choices": ["lstm", "gru"]}}, {"cpu": 1}, True),
        ({"cell": "rnn"}, {"cpu": 1}, True),
        ({"activation": {"type": "categorical", "choices": ["tanh", "softsign"]}}, {"cpu": 1}, True),
        ({"cell": "lstm", "activation": "tanh"}, {"cpu": 1}, False),  # torch's nn.LSTM
        ({"hidden_size": 8}, {"cpu": 1}, False),  # the defaults: a tanh LSTM
        ({"cell": {"type": "categorical", "choices": ["lstm", "gru"]}}, {"cpu": 1, "gpu": 1}, False),  # cuDNN
    ],
)
def test_only_studies_that_may_train_a_fused_layer_on_the_cpu_need_the_build(tmp_path, parameters, resources, expected):
    document = tiny_study(tmp_path, space={"parameters": {"learning_rate": 0.01, **parameters}}, resources=resources)
    assert _may_train_fused_layers(load_study(write_yaml(tmp_path / "s.yaml", document))) is expected


def test_a_fake_build_alongside_the_run_is_waited_for_and_not_started_twice(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(fused_build, "BUILD_COMMAND", fake_build_command(0.5))
    with fused_build.built_alongside(True) as building:
        assert building and not fused_build.is_built()  # the body runs while it builds
    assert fused_build.is_built()  # done when the block is
    with fused_build.built_alongside(True) as building:
        assert not building


def test_a_fake_build_is_stopped_when_the_run_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setattr(fused_build, "BUILD_COMMAND", fake_build_command(30))
    started: list[subprocess.Popen] = []
    popen = subprocess.Popen
    monkeypatch.setattr(fused_build.subprocess, "Popen", lambda *a, **k: started.append(popen(*a, **k)) or started[-1])
    with pytest.raises(KeyboardInterrupt), fused_build.built_alongside(True):
        raise KeyboardInterrupt
    [build] = started
    assert build.returncode == -signal.SIGTERM and not fused_build.is_built()  # stopped, not waited for


def test_run_study_of_a_fake_arithmetic_trainer_starts_a_fake_build_of_the_fused_cells_and_says_so(
    ray_session, tmp_path, monkeypatch, capsys
):
    # a machine without a build: the driver starts it while Ray's workers start, instead of a first trial
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "extensions"))
    monkeypatch.setattr(fused_build, "BUILD_COMMAND", fake_build_command(0.5))
    space = {"parameters": {"learning_rate": {"type": "float", "low": 1e-3, "high": 1.0, "log": True}, "cell": "gru"}}
    spec = load_study(write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, space=space, trials=2)))
    run_study(spec, f"sqlite:///{tmp_path / 'b.db'}", trials=2, workers=1, trainable=arithmetic_trial)
    assert "building the fused recurrent cells for this CPU" in capsys.readouterr().out
    assert fused_build.is_built()
