"""Recurrent layers whose cell activation can be softsign.

``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` cannot change their tanh, so softsign
needs a cell of our own. Parameters use torch's names and layout
(``weight_ih``: (G*H, I), ``weight_hh``: (G*H, H), biases (G*H,), LSTM gates
``[i | f | g | o]``, GRU gates ``[r | z | n]``), so initialisation and the
forget-bias slice are the same code for both paths.

Speed: the input projection of a whole window is one matmul; only the
recurrent matmul and the elementwise gate maths run per time step. On the CPU a
softsign layer runs that recurrence in fused C++ (``fused.py``); tanh layers
here (tests only: models use torch's own for tanh) and GPUs use the
step-by-step loop below, which is also the reference the fused code is tested
against.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from tuner.hyperparams import Activation, Cell
from tuner.training import fused

GATES = {Cell.LSTM: 4, Cell.GRU: 3, Cell.RNN: 1}

# A layer's state: LSTM (h, c), GRU/RNN h; each (1, B, H) as torch's own layers use.
State = Tensor | tuple[Tensor, Tensor]


class ActivationRecurrentLayer(nn.Module):
    """One recurrent layer (batch first) with a chosen cell activation."""

    def __init__(self, cell: Cell, input_size: int, hidden_size: int, activation: Activation):
        super().__init__()
        self.cell, self.hidden_size = cell, hidden_size
        self.act = F.softsign if activation is Activation.SOFTSIGN else torch.tanh
        gates = GATES[cell] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.zeros(gates))
        self.bias_hh = nn.Parameter(torch.zeros(gates))

    use_fused: bool = True  # tests switch it off to compare against the reference loop

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if self.use_fused and self.act is F.softsign and not x.is_cuda and fused.extension():
            return self._fused(x, state)
        return self._loop(x, state)

    def _fused(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        zeros = x.new_zeros(x.shape[0], self.hidden_size)
        # time-major without a copy of the wide (.., G*H) projection: transpose the narrow input instead.
        # A GRU keeps b_hh apart (r gates the recurrent part of n, bias included), as torch's GRU does.
        x_t = x.transpose(0, 1)  # (T, B, I)
        if self.cell is Cell.LSTM:
            h0, c0 = (state[0][0], state[1][0]) if state is not None else (zeros, zeros)
            projected = F.linear(x_t, self.weight_ih, self.bias_ih + self.bias_hh).contiguous()  # (T, B, 4H)
            hs, c_last = fused.SoftsignLSTMWindow.apply(projected, self.weight_hh, h0.contiguous(), c0.contiguous())
            return hs.transpose(0, 1), (hs[-1].unsqueeze(0), c_last.unsqueeze(0))
        h0 = (state[0] if state is not None else zeros).contiguous()
        if self.cell is Cell.GRU:
            projected = F.linear(x_t, self.weight_ih, self.bias_ih).contiguous()  # (T, B, 3H)
            hs = fused.SoftsignGRUWindow.apply(projected, self.weight_hh, self.bias_hh, h0)
        else:
            projected = F.linear(x_t, self.weight_ih, self.bias_ih + self.bias_hh).contiguous()  # (T, B, H)
            hs = fused.SoftsignRNNWindow.apply(projected, self.weight_hh, h0)
        return hs.transpose(0, 1), hs[-1].unsqueeze(0)

    def _loop(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        batch, steps, _ = x.shape  # (B, T, I)
        projected = F.linear(x, self.weight_ih, self.bias_ih)  # (B, T, G*H)
        zeros = x.new_zeros(1, batch, self.hidden_size)
        if self.cell is Cell.LSTM:
            h, c = state if state is not None else (zeros, zeros)
            h, c = h[0], c[0]
        else:
            h = state[0] if state is not None else zeros[0]
        outputs = []
        for t in range(steps):
            recurrent = F.linear(h, self.weight_hh, self.bias_hh)  # (B, G*H)
            if self.cell is Cell.LSTM:
                i, f, g, o = (projected[:, t] + recurrent).chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.act(g)
                h = torch.sigmoid(o) * self.act(c)
            elif self.cell is Cell.GRU:
                xr, xz, xn = projected[:, t].chunk(3, dim=1)
                hr, hz, hn = recurrent.chunk(3, dim=1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                h = (1 - z) * self.act(xn + r * hn) + z * h
            else:
                h = self.act(projected[:, t] + recurrent)
            outputs.append(h)
        out = torch.stack(outputs, dim=1)  # (B, T, H)
        if self.cell is Cell.LSTM:
            return out, (h.unsqueeze(0), c.unsqueeze(0))
        return out, h.unsqueeze(0)
