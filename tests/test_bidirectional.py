"""Bidirectional layers: the same outputs and gradients as torch's own bidirectional LSTM, padding
never read, every cell, and causal tasks refusing them."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tests.conftest import tiny_study, write_yaml
from tuner.config.hyperparams import Hyperparameters
from tuner.config.studies import load_study
from tuner.errors import BadInput
from tuner.training.models import RecurrentNet


def bidirectional_net(cell: str = "lstm", activation: str = "tanh", readout: str = "last") -> RecurrentNet:
    hp = Hyperparameters(cell=cell, activation=activation, hidden_size=8, depth=2, bidirectional=True, readout=readout)
    return RecurrentNet(3, 4, hp)


def reference_copy(net: RecurrentNet) -> nn.LSTM:
    """torch's bidirectional 2-layer LSTM holding ``net``'s weights (forward and reverse per layer)."""
    reference = nn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True)
    with torch.no_grad():
        for k in range(2):
            for direction, layer in (("", net.layers[k]), ("_reverse", net.backward_layers[k])):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(reference, f"{name}_l{k}{direction}").copy_(getattr(layer, f"{name}_l0"))
    return reference


def test_outputs_and_gradients_match_torchs_bidirectional_lstm_on_a_batch():
    net = bidirectional_net()
    reference = reference_copy(net)
    x = torch.randn(5, 9, 3)
    target = torch.randint(0, 4, (5,))
    logits, _ = net(x)
    hidden, _ = reference(x)
    expected = net.head(hidden)  # the same output layer over torch's outputs
    assert torch.allclose(logits, expected, atol=1e-5)
    nn.functional.cross_entropy(logits[:, -1], target).backward()
    ours = {k: net.layers[k].weight_hh_l0.grad for k in range(2)} | {
        f"{k}r": net.backward_layers[k].weight_ih_l0.grad for k in range(2)
    }
    net.zero_grad()
    nn.functional.cross_entropy(net.head(reference(x)[0])[:, -1], target).backward()
    for k in range(2):
        assert torch.allclose(
            ours[k], reference.weight_hh_l0.grad if k == 0 else reference.weight_hh_l1.grad, atol=1e-5
        )
        reverse = reference.weight_ih_l0_reverse.grad if k == 0 else reference.weight_ih_l1_reverse.grad
        assert torch.allclose(ours[f"{k}r"], reverse, atol=1e-5)


def test_padded_sequences_read_as_torchs_packed_sequences():
    net = bidirectional_net()
    reference = reference_copy(net)
    x, lengths = torch.randn(4, 10, 3), torch.tensor([10, 7, 3, 1])
    for row, length in enumerate(lengths):
        x[row, length:] = 99.0  # padding that must never be read
    logits, _ = net(x, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    hidden, _ = pad_packed_sequence(reference(packed)[0], batch_first=True)
    for row, length in enumerate(lengths):
        assert torch.allclose(logits[row, :length], net.head(hidden[row, :length]), atol=1e-5)


@pytest.mark.parametrize(
    ("cell", "activation"), [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("gru", "softsign")]
)
@pytest.mark.parametrize("readout", ["last", "attention"])
def test_every_cell_reads_a_padded_and_an_unpadded_copy_the_same(cell, activation, readout):
    net = bidirectional_net(cell, activation, readout).eval()
    x = torch.randn(1, 6, 3)
    alone, _ = net(x)
    padded = torch.cat([x, torch.full((1, 4, 3), 7.0)], dim=1)
    together, _ = net(padded, lengths=torch.tensor([6]))
    assert torch.allclose(alone[0, -1], together[0, 5], atol=1e-5)


@pytest.mark.parametrize("task", [{"name": "char_lm"}, {"name": "regression", "options": {"mode": "many_to_many"}}])
def test_a_causal_task_fixes_a_searched_bidirectional_at_false_and_refuses_a_fixed_true(tmp_path, task):
    document = tiny_study(tmp_path, task=task, space={"path": "builtin:rnn"})
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    (knob,) = [p for p in spec.space.params if p.name == "bidirectional"]
    assert knob.value is False and "bidirectional" not in spec.space.distributions()
    document["space"]["overrides"] = {"bidirectional": True}
    with pytest.raises(BadInput) as error:
        load_study(write_yaml(tmp_path / "s.yaml", document))
    assert "space.bidirectional" in str(error.value) and "from the steps before it" in str(error.value)
