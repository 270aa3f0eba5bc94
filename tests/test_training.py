"""The trainer on tiny configs: every knob does what it says."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from tuner.config.hyperparams import Activation, Cell, Hyperparameters
from tuner.data.options import CharLMOptions
from tuner.training import TrainSettings, fused, train
from tuner.training.cells import ActivationRecurrentLayer, TanhGRU, TanhRNN
from tuner.training.loop import evaluate
from tuner.training.models import RecurrentNet, detach_states
from tuner.training.tasks import task_for
from tuner.training.updaters import make_optimizer


@pytest.fixture(scope="module")
def corpus():
    return task_for("char_lm").load("builtin:tinyshakespeare", CharLMOptions(max_chars=800, seq_length=60))


def tiny(**knobs) -> Hyperparameters:
    return Hyperparameters(
        **{"hidden_size": 12, "depth": 1, "batch_size": 4, "tbptt_length": 20, "learning_rate": 0.02, **knobs}
    )


@pytest.mark.parametrize("activation", ["tanh", "softsign"])
def test_forget_bias_sits_on_the_forget_slice_only(activation):
    hp = tiny(depth=2, forget_bias=5.0, activation=activation)
    model = RecurrentNet(10, 10, hp)
    h = hp.hidden_size
    for layer in model.layers:
        bias_ih = layer.bias_ih_l0 if isinstance(layer, nn.LSTM) else layer.bias_ih
        bias_hh = layer.bias_hh_l0 if isinstance(layer, nn.LSTM) else layer.bias_hh
        assert torch.all(bias_ih[h : 2 * h] == 5.0)
        assert torch.all(bias_ih[:h] == 0) and torch.all(bias_ih[2 * h :] == 0)
        assert torch.all(bias_hh == 0)  # the two biases are summed: the forget gate sees exactly 5


def test_the_fused_softsign_build_is_kept_apart_per_kind_of_cpu():
    # it is compiled with -march=native: a cluster's nodes sharing a home folder must not share one build
    from tuner.training.fused_build import cpu_fingerprint

    one_core = "processor\t: 0\nmodel name\t: Xeon E5\nflags\t\t: fpu sse2 avx2\n"
    two_cores = one_core + one_core.replace(": 0", ": 1")
    newer = one_core.replace("avx2", "avx2 avx512f")
    assert cpu_fingerprint(two_cores) == cpu_fingerprint(one_core)  # the same kind of CPU: one build
    assert cpu_fingerprint(newer) != cpu_fingerprint(one_core)


@pytest.mark.parametrize(
    "shape",
    [{"batch_first": False}, {"num_layers": 2}, {"bidirectional": True}],
    ids=["time-first", "stacked", "both-ways"],
)
def test_a_tanh_gru_built_in_a_shape_the_fused_code_does_not_cover_computes_what_torch_does(shape):
    kwargs = {"batch_first": True, **shape}
    ours, torchs = TanhGRU(4, 6, **kwargs), nn.GRU(4, 6, **kwargs)
    torchs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 5, 4)
    torch.testing.assert_close(ours(x)[0], torchs(x)[0])


@pytest.mark.parametrize(("cell", "activation"), [("gru", "tanh"), ("lstm", "softsign")])
def test_a_first_build_of_the_fused_code_is_not_timed_as_epoch_one_with_a_fake_slow_build(
    corpus, monkeypatch, cell, activation
):
    real, builds = fused.extension, []

    def slow_first_build():  # the real operators, after a pause the first time, as a build takes
        if not builds:
            time.sleep(2.0)
        builds.append(True)
        return real()

    monkeypatch.setattr(fused, "extension", slow_first_build)
    result = train(tiny(cell=cell, activation=activation), corpus, TrainSettings(max_epochs=1))
    assert builds and result.epochs[0].seconds < 1.0


def test_a_build_lock_left_by_a_process_killed_while_building_does_not_hang_the_next_load():
    assert fused.extension() is not None  # built, or loaded, here first
    stale = fused.build_directory() / "lock"
    stale.touch()  # what torch's build leaves when its process is killed half-way (a worker stopped by Ctrl-C)
    try:
        loads = [sys.executable, "-c", "from tuner.training import fused; assert fused.extension() is not None"]
        subprocess.run(loads, check=True, timeout=120)  # torch alone would wait on that file for ever
    finally:
        stale.unlink(missing_ok=True)


def test_softsign_selects_our_cell_and_tanh_selects_torch_layers():
    assert all(isinstance(layer, TanhGRU) for layer in RecurrentNet(5, 5, tiny(cell="gru", depth=2)).layers)
    assert type(RecurrentNet(5, 5, tiny(cell="lstm")).layers[0]) is nn.LSTM  # oneDNN's is faster than ours
    # torch's own layers underneath: their parameter names, state dicts and cuDNN path
    assert isinstance(RecurrentNet(5, 5, tiny(cell="rnn")).layers[0], nn.RNN)
    assert all(
        isinstance(layer, ActivationRecurrentLayer)
        for layer in RecurrentNet(5, 5, tiny(activation="softsign", depth=2)).layers
    )


@pytest.mark.parametrize("cell", list(Cell))
def test_our_cell_with_tanh_computes_exactly_what_torch_does(cell):
    torch_layer = {Cell.LSTM: nn.LSTM, Cell.GRU: nn.GRU, Cell.RNN: nn.RNN}[cell](6, 8, batch_first=True)
    ours = ActivationRecurrentLayer(cell, 6, 8, Activation.TANH)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(ours, name).data.copy_(getattr(torch_layer, f"{name}_l0").data)
    x = torch.randn(3, 7, 6)
    expected, _ = torch_layer(x)
    got, _ = ours(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_softsign_really_changes_the_activation():
    x = torch.randn(2, 5, 4)
    tanh_layer = ActivationRecurrentLayer(Cell.LSTM, 4, 6, Activation.TANH)
    softsign_layer = ActivationRecurrentLayer(Cell.LSTM, 4, 6, Activation.SOFTSIGN)
    softsign_layer.load_state_dict(tanh_layer.state_dict())
    assert not torch.allclose(tanh_layer(x)[0], softsign_layer(x)[0])


@pytest.mark.parametrize("activation", ["tanh", "softsign"])
def test_hidden_state_carries_across_tbptt_windows(activation):
    model = RecurrentNet(9, 9, tiny(activation=activation, depth=2)).eval()
    x = torch.randn(2, 30, 9)
    whole, _ = model(x)
    pieces, states = [], None
    for start in range(0, 30, 7):
        out, states = model(x[:, start : start + 7], states)
        states = detach_states(states)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=1e-5, atol=1e-6)
    assert all(not s.requires_grad for state in states for s in state)  # detached: BPTT is truncated


def test_the_loop_carries_state_so_window_length_does_not_change_validation_loss(corpus):
    hp_short, hp_long = tiny(tbptt_length=7), tiny(tbptt_length=60)
    model = RecurrentNet(corpus.input_size, corpus.output_size, hp_short)
    short = evaluate(model, corpus, hp_short, torch.device("cpu"), TrainSettings())["val_loss"]
    long = evaluate(model, corpus, hp_long, torch.device("cpu"), TrainSettings())["val_loss"]
    assert short == pytest.approx(long, rel=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "softsign"])
def test_training_lowers_the_loss_and_reports_every_metric(corpus, activation):
    result = train(tiny(activation=activation), corpus, TrainSettings(max_epochs=4, patience=10))
    losses = [m.train_loss for m in result.epochs]
    assert losses[-1] < losses[0] < math.log(len(corpus.vocab)) + 0.5
    first = result.epochs[0]
    assert first.epoch == 1 and first.metrics["val_bpc"] == pytest.approx(first.val_loss / math.log(2))
    assert first.grad_norm > 0 and first.seconds > 0 and first.steps_per_sec > 0
    assert len(first.layer_grad_norms) == 2 and all(n > 0 for n in first.layer_grad_norms)  # one layer + output
    assert result.best_val_loss == min(m.val_loss for m in result.epochs)


def test_early_stopping_stops_after_patience_epochs_without_improvement(corpus):
    # min_delta larger than any possible gain: only epoch 1 counts as an improvement
    seen: list[bool] = []
    result = train(
        tiny(),
        corpus,
        TrainSettings(max_epochs=10, patience=2, min_delta=100.0),
        [lambda m: seen.append(m.ends_training)],
    )
    assert len(result.epochs) == 3
    assert result.stop_reason == "early_stopped" and result.best_epoch == 1
    assert seen == [False, False, True]  # the callbacks hear that epoch 3 is the last one


def test_running_every_epoch_is_reported_as_finished(corpus):
    seen: list[bool] = []
    result = train(tiny(), corpus, TrainSettings(max_epochs=2, patience=5), [lambda m: seen.append(m.ends_training)])
    assert len(result.epochs) == 2 and result.stop_reason == "finished"
    assert seen == [False, True]


def test_same_seed_same_run_and_threads_follow_the_cpu_share(corpus):
    first = train(tiny(dropout=0.3, depth=2), corpus, TrainSettings(max_epochs=2, seed=3, num_threads=1))
    assert torch.get_num_threads() == 1
    second = train(tiny(dropout=0.3, depth=2), corpus, TrainSettings(max_epochs=2, seed=3, num_threads=1))
    assert [m.val_loss for m in first.epochs] == [m.val_loss for m in second.epochs]


def test_gradient_clipping_is_applied_and_counted(corpus):
    clipped = train(tiny(grad_clip=1e-4), corpus, TrainSettings(max_epochs=1))
    free = train(tiny(grad_clip=0.0), corpus, TrainSettings(max_epochs=1))
    assert clipped.epochs[0].clipped_fraction == 1.0
    assert free.epochs[0].clipped_fraction == 0.0
    assert clipped.epochs[0].train_loss > free.epochs[0].train_loss  # tiny steps learn less


def test_l1_shrinks_the_weights(corpus):
    def weight_mass(l1: float) -> float:
        result = train(tiny(l1=l1, l2=0.0, learning_rate=0.01), corpus, TrainSettings(max_epochs=3, patience=5))
        return sum(float(w.detach().abs().sum()) for w in result.model.weights())

    assert weight_mass(0.05) < 0.8 * weight_mass(0.0)


@pytest.mark.parametrize(
    ("updater", "cls"),
    [
        ("sgd", torch.optim.SGD),
        ("nesterovs", torch.optim.SGD),
        ("adam", torch.optim.Adam),
        ("nadam", torch.optim.NAdam),
        ("rmsprop", torch.optim.RMSprop),
        ("adagrad", torch.optim.Adagrad),
    ],
)
def test_updaters_and_l2_on_weights_only(updater, cls):
    model = RecurrentNet(5, 5, tiny())
    optimizer = make_optimizer(model, tiny(updater=updater, l2=0.01, momentum=0.8, learning_rate=0.3))
    assert type(optimizer) is cls
    weights, biases = optimizer.param_groups
    assert weights["lr"] == 0.3 and weights["weight_decay"] == 0.01 and biases["weight_decay"] == 0.0
    assert all("bias" not in name for name, p in model.named_parameters() if any(p is q for q in weights["params"]))
    if updater == "nesterovs":
        assert weights["nesterov"] and weights["momentum"] == 0.8


def test_dropout_is_active_between_layers_in_training_only():
    model = RecurrentNet(6, 6, tiny(depth=2, dropout=0.5))
    x = torch.randn(2, 5, 6)
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])


def test_orthogonal_init_makes_recurrent_weights_orthogonal():
    model = RecurrentNet(6, 6, tiny(cell="rnn", weight_init="orthogonal"))
    w = model.layers[0].weight_hh_l0.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(w.shape[0]), atol=1e-5, rtol=0)


def outputs_and_gradients(layer: nn.Module, x: torch.Tensor, state, use_fused: bool) -> list[torch.Tensor]:
    """Every output of ``layer`` on x and the gradient of a loss that touches each, with or without our fused code."""
    layer.use_fused = use_fused
    layer.zero_grad()
    inputs = x.clone().requires_grad_()
    out, last = layer(inputs, state)
    h, c = last if isinstance(last, tuple) else (last, torch.zeros(()))
    (out.sin().sum() + (h * 2).sum() + c.cos().sum()).backward()
    return [out, h, c, inputs.grad] + [p.grad.clone() for p in layer.parameters()]


def assert_fused_matches(layer: nn.Module, state) -> None:
    """``layer`` (5 inputs, 7 units, float64) gives the same outputs and gradients with and without our fused code."""
    assert fused.extension() is not None  # built here, or the test would compare a path with itself
    x = torch.randn(3, 9, 5, dtype=torch.double)
    ours, reference = outputs_and_gradients(layer, x, state, True), outputs_and_gradients(layer, x, state, False)
    for got, expected in zip(ours, reference, strict=True):
        torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("cell", [Cell.LSTM, Cell.GRU, Cell.RNN])
def test_fused_softsign_cells_match_the_reference_loop_forward_and_backward(cell, with_state):
    torch.manual_seed(1)
    layer = ActivationRecurrentLayer(cell, 5, 7, Activation.SOFTSIGN).double()
    for p in layer.parameters():
        p.data.normal_(0, 0.5)
    h0, c0 = torch.randn(1, 3, 7, dtype=torch.double), torch.randn(1, 3, 7, dtype=torch.double)
    assert_fused_matches(layer, ((h0, c0) if cell is Cell.LSTM else h0) if with_state else None)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("layer_class", [TanhGRU, TanhRNN])
def test_tanh_gru_and_rnn_on_the_cpu_match_torchs_own_kernel_forward_and_backward(layer_class, with_state):
    torch.manual_seed(2)
    layer = layer_class(5, 7, batch_first=True).double()
    for p in layer.parameters():
        p.data.normal_(0, 0.5)
    assert_fused_matches(layer, torch.randn(1, 3, 7, dtype=torch.double) if with_state else None)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_resumed_from_a_saved_state_ends_as_an_uninterrupted_run(corpus, cell, tmp_path):
    """The state after epoch 2, saved and loaded as a worker does (weights_only), goes on to epoch 4 exactly."""
    import copy

    hp = Hyperparameters(hidden_size=16, depth=1, cell=cell, dropout=0.2, batch_size=8, tbptt_length=25)
    settings = TrainSettings(max_epochs=4, patience=4, seed=3)
    states: list[dict] = []
    whole = train(hp, corpus, settings, on_state=lambda state: states.append(copy.deepcopy(state)))
    torch.save(states[1], tmp_path / "after-epoch-2.pt")
    resumed = train(hp, corpus, settings, resume=torch.load(tmp_path / "after-epoch-2.pt", weights_only=True))
    assert [m.val_loss for m in resumed.epochs] == [m.val_loss for m in whole.epochs]
    assert resumed.best_epoch == whole.best_epoch
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)
