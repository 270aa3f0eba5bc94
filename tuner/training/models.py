"""A stacked recurrent network with a softmax output, small enough to hold in your head.

tanh layers are torch's own (``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``, cuDNN on a
GPU; a GRU or plain RNN runs our fused recurrence on the CPU, where torch's is
slower); softsign layers are ``ActivationRecurrentLayer``. One layer per module
keeps initialisation and state handling the same for both.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tuner.config.hyperparams import Activation, Cell, Hyperparameters, Readout, WeightInit
from tuner.training.cells import ActivationRecurrentLayer, State, TanhGRU, TanhRNN
from tuner.training.precision import run_layer
from tuner.training.readout import RunningReadout

_TANH_LAYERS = {Cell.LSTM: nn.LSTM, Cell.GRU: TanhGRU, Cell.RNN: TanhRNN}


def make_layer(cell: Cell, input_size: int, hidden_size: int, activation: Activation) -> nn.Module:
    if activation is Activation.TANH:
        return _TANH_LAYERS[cell](input_size, hidden_size, batch_first=True)
    return ActivationRecurrentLayer(cell, input_size, hidden_size, activation)


def reversed_steps(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Each sequence's real steps in reverse order, its padding left where it is (at the end): a
    backward layer then reads a sequence from its last real step, never from the padding."""
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    valid = lengths.to(x.device)[:, None]  # (B, 1)
    index = torch.where(steps < valid, valid - 1 - steps, steps)  # (B, T)
    return x.gather(1, index[:, :, None].expand(-1, -1, x.shape[2]))


class RecurrentNet(nn.Module):
    """Input (one-hot or features) -> depth x recurrent layer (dropout between) -> linear output.

    ``bidirectional``: each layer is a pair, one reading forwards and one reading backwards, their
    outputs side by side (2 x hidden_size), as ``nn.LSTM(bidirectional=True)``. The backward layer
    starts from a zero state at the last real step of each TBPTT window (it cannot carry a state from
    the future into the next window), so it reads a whole sequence when ``tbptt_length`` covers it.
    """

    def __init__(self, input_size: int, output_size: int, hp: Hyperparameters) -> None:
        super().__init__()
        self.hp = hp
        width = hp.hidden_size * (2 if hp.bidirectional else 1)
        sizes = [input_size] + [width] * hp.depth
        self.layers = nn.ModuleList(
            make_layer(hp.cell, sizes[k], hp.hidden_size, hp.activation) for k in range(hp.depth)
        )
        self.backward_layers = (
            nn.ModuleList(make_layer(hp.cell, sizes[k], hp.hidden_size, hp.activation) for k in range(hp.depth))
            if hp.bidirectional
            else None
        )
        self.dropout = nn.Dropout(hp.dropout)
        self.readout = RunningReadout(hp.readout, width)
        self.head = nn.Linear(width, output_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier (or orthogonal recurrent) weights, zero biases, the LSTM forget slice at forget_bias."""
        hidden = self.hp.hidden_size
        for name, param in self.named_parameters():
            if "bias" in name:
                nn.init.zeros_(param)
            elif "weight_hh" in name and self.hp.weight_init is WeightInit.ORTHOGONAL:
                nn.init.orthogonal_(param)
            else:
                nn.init.xavier_uniform_(param)
        if self.hp.cell is Cell.LSTM:
            # bias_ih and bias_hh are summed inside the cell: put the whole
            # forget bias on bias_ih's forget slice [H:2H] and leave bias_hh's at 0.
            for layer in [*self.layers, *(self.backward_layers or [])]:
                bias_ih = layer.bias_ih_l0 if isinstance(layer, nn.LSTM) else layer.bias_ih
                bias_ih.data[hidden : 2 * hidden].fill_(self.hp.forget_bias)

    def forward(
        self,
        x: Tensor,
        states: list[State] | None = None,
        dtype: torch.dtype = torch.float32,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, list[State]]:
        """x: (B, T, I) -> float32 logits (B, T, O) and the new (float32) state of every layer's forward
        direction (then, for a pooling readout, its running pool).

        ``dtype``: what the recurrent layers compute in (``precision.py``); readout and output layer float32.
        ``lengths``: each sequence's real steps in ``x`` (a bidirectional network's backward layers start
        at the last of them; None: every step is real).
        """
        new_states: list[State] = []
        for k, layer in enumerate(self.layers):
            if k > 0:
                x = self.dropout(x)
            out, state = run_layer(layer, x, None if states is None else states[k], dtype)
            if self.backward_layers is not None:
                back, _ = run_layer(self.backward_layers[k], reversed_steps(x, lengths), None, dtype)
                out = torch.cat([out, reversed_steps(back, lengths)], dim=-1)
            x = out
            new_states.append(state)
        pooling = self.hp.readout is not Readout.LAST
        read, pool = self.readout(x, states[-1] if pooling and states is not None else None)  # (B, T, H)
        if pooling:
            new_states.append(pool)
        return self.head(self.dropout(read)), new_states

    def layer_groups(self) -> list[nn.Module]:
        """The parameters by layer, for gradient norms and clipping: each recurrent layer (with its
        backward twin), then the output layer with the readout."""
        pairs = zip(self.layers, self.backward_layers or [None] * len(self.layers), strict=True)
        recurrent = [nn.ModuleList([f] if b is None else [f, b]) for f, b in pairs]
        return [*recurrent, nn.ModuleList([self.head, self.readout])]

    def runs_fused_code(self) -> bool:
        """Whether a layer runs the fused CPU recurrence (built on first use) when on the CPU."""
        return any(getattr(layer, "fused_on_cpu", False) for layer in self.layers)  # nn.LSTM has none

    def weights(self) -> list[nn.Parameter]:
        """Weight matrices only: L1 and L2 apply to these, never to biases."""
        return [p for name, p in self.named_parameters() if "bias" not in name]

    def biases(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if "bias" in name]


def detach_states(states: list[State]) -> list[State]:
    """Cut the graph between TBPTT windows while carrying the values across."""
    return [tuple(s.detach() for s in st) if isinstance(st, tuple) else st.detach() for st in states]
