"""Readouts of many-to-one networks: the last step, or a running mean, max or attention pool."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import REPO, tiny_study, write_yaml
from tests.test_own_data import classification_study, export_file
from tuner.cli import main
from tuner.config.hyperparams import Hyperparameters
from tuner.config.studies import load_study
from tuner.errors import BadInput
from tuner.training.model_file import load_model
from tuner.training.models import RecurrentNet

READOUTS = ["last", "mean", "max", "attention"]


def net(readout: str, cell: str = "lstm", activation: str = "tanh") -> RecurrentNet:
    hp = Hyperparameters(hidden_size=8, depth=2, readout=readout, cell=cell, activation=activation)
    return RecurrentNet(3, 2, hp).eval()


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize(("cell", "activation"), [("lstm", "tanh"), ("gru", "softsign")])
def test_a_padded_and_an_unpadded_copy_of_a_sequence_read_the_same(readout, cell, activation):
    model, x = net(readout, cell, activation), torch.randn(1, 7, 3)
    padded = torch.cat([x, torch.zeros(1, 5, 3)], dim=1)  # 5 steps of padding after the real 7
    alone, _ = model(x)
    together, _ = model(padded)
    torch.testing.assert_close(together[:, 6], alone[:, -1])  # read at the last real step: padding unseen


@pytest.mark.parametrize("readout", READOUTS)
def test_tbptt_windows_carry_the_pool_so_the_reading_is_the_whole_sequences(readout):
    model, x = net(readout), torch.randn(4, 12, 3)
    whole, _ = model(x)
    states, parts = None, []
    for start in range(0, 12, 5):
        out, states = model(x[:, start : start + 5], states)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)


def test_each_readout_reads_what_it_says_over_the_steps_so_far():
    h = torch.randn(2, 6, 8)  # (B, T, hidden_size)
    pooled = {r: net(r).readout(h, None)[0] for r in ("mean", "max")}
    torch.testing.assert_close(pooled["mean"][:, -1], h.mean(dim=1))
    torch.testing.assert_close(pooled["max"][:, 2], h[:, :3].amax(dim=1))
    attention = net("attention").readout
    weights = torch.softmax(attention.score(h)[..., 0], dim=1)  # over all 6 steps
    torch.testing.assert_close(attention(h, None)[0][:, -1], (weights[..., None] * h).sum(dim=1))


def test_a_char_lm_study_over_rnn_yaml_reads_every_step_and_refuses_a_pooling_readout(tmp_path):
    document = tiny_study(tmp_path, space={"path": str(REPO / "search_spaces/rnn.yaml")})
    spec = load_study(write_yaml(tmp_path / "s.yaml", document))
    (readout,) = [p for p in spec.space.params if p.name == "readout"]
    assert readout.value == "last" and "readout" not in spec.space.distributions()
    document["space"]["overrides"] = {"readout": "mean"}
    with pytest.raises(BadInput) as error:
        load_study(write_yaml(tmp_path / "s.yaml", document))
    assert "space.readout" in str(error.value) and "predicts at every step" in str(error.value)
    document["space"]["overrides"] = {"readout": "average"}
    with pytest.raises(BadInput) as error:
        load_study(write_yaml(tmp_path / "s.yaml", document))
    assert "last, mean, max, attention" in str(error.value) and "'average'" in str(error.value)


def test_a_classifier_with_an_attention_readout_trains_and_its_model_file_keeps_it(tmp_path, capsys):
    hp = {"learning_rate": 0.03, "hidden_size": 16, "depth": 1, "batch_size": 16, "tbptt_length": 40}
    config = export_file(tmp_path, classification_study(tmp_path), {**hp, "readout": "attention"})
    assert main(["train", str(config), "--out", str(tmp_path / "m.pt")]) == 0
    model = load_model(tmp_path / "m.pt")
    assert model.net.hp.readout == "attention" and model.net.readout.score is not None
    assert main(["evaluate", str(tmp_path / "m.pt"), "--data", str(tmp_path / "test.csv"), "--format", "json"]) == 0
    assert '"accuracy"' in capsys.readouterr().out
