"""Recurrent layers whose cell activation can be softsign.

``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` cannot change their tanh, so softsign
needs a cell of our own. Parameters use torch's names and layout
(``weight_ih``: (G*H, I), ``weight_hh``: (G*H, H), biases (G*H,), LSTM gates
``[i | f | g | o]``, GRU gates ``[r | z | n]``), so initialisation and the
forget-bias slice are the same code for both paths.

Speed: the input projection of a whole window is one matmul; only the
recurrent matmul and the elementwise gate maths run per time step. On the CPU a
softsign layer runs that recurrence in fused C++ (``fused.py``); on a GPU it
runs the step-by-step loop below, which is also the reference the fused code
is tested against. Tanh layers are torch's own, but on the CPU a tanh GRU or
plain RNN runs the same fused code (``TanhGRU``, ``TanhRNN``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from tuner.config.hyperparams import Activation, Cell
from tuner.training import fused

GATES = {Cell.LSTM: 4, Cell.GRU: 3, Cell.RNN: 1}

# A layer's state: LSTM (h, c), GRU/RNN h; each (1, B, H) as torch's own layers use.
State = Tensor | tuple[Tensor, Tensor]


class ActivationRecurrentLayer(nn.Module):
    """One recurrent layer (batch first) with a chosen cell activation."""

    def __init__(self, cell: Cell, input_size: int, hidden_size: int, activation: Activation) -> None:
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

    @property
    def fused_on_cpu(self) -> bool:
        """Whether this layer runs the fused recurrence on a CPU: softsign layers do."""
        return self.use_fused and self.act is F.softsign

    def forward(
        self, x: Tensor, state: State | None = None, matmul_dtype: torch.dtype | None = None
    ) -> tuple[Tensor, State]:
        """``matmul_dtype``: what the two matmuls compute in (``precision.py``; default the input's);
        the gates and the state are float32 at least whatever it is."""
        if self.fused_on_cpu and not x.is_cuda and matmul_dtype is None and fused.extension():
            return self._fused(x, state)
        return self._loop(x, state, matmul_dtype or x.dtype)

    def _fused(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if self.cell is Cell.LSTM:
            return fused.softsign_lstm(x, weights, state)
        return fused.gru_or_rnn(GATES[self.cell], x, weights, state, softsign=True)

    def _loop(self, x: Tensor, state: State | None, matmul_dtype: torch.dtype) -> tuple[Tensor, State]:
        batch, steps, _ = x.shape  # (B, T, I)
        exact = torch.promote_types(x.dtype, torch.float32)  # what the gates and the state compute in
        # .to() is a no-op in float32; in bfloat16 the casts are part of the graph (float32 gradients)
        w_ih, b_ih, w_hh, b_hh = (
            p.to(matmul_dtype) for p in (self.weight_ih, self.bias_ih, self.weight_hh, self.bias_hh)
        )
        projected = F.linear(x.to(matmul_dtype), w_ih, b_ih).to(exact)  # (B, T, G*H)
        zeros = x.new_zeros(1, batch, self.hidden_size, dtype=exact)
        if self.cell is Cell.LSTM:
            h, c = state if state is not None else (zeros, zeros)
            h, c = h[0], c[0]
        else:
            h = state[0] if state is not None else zeros[0]
        outputs = []
        for t in range(steps):
            recurrent = F.linear(h.to(matmul_dtype), w_hh, b_hh).to(exact)  # (B, G*H)
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


class _FusedOnTheCPU:
    """torch's one-layer, batch-first nn.GRU / nn.RNN (its parameters, state dict and cuDNN path), whose
    forward on the CPU runs the fused recurrence instead: torch's own runs several kernels per step there."""

    gates: int
    use_fused: bool = True  # tests and benchmarks switch it off to compare against torch's own kernel

    @property
    def fused_on_cpu(self) -> bool:
        """The shape our models build; any other (time first, stacked, bidirectional) is torch's."""
        return self.use_fused and self.batch_first and self.num_layers == 1 and not self.bidirectional and self.bias

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.fused_on_cpu and x.dim() == 3 and not x.is_cuda and fused.extension():  # unbatched: torch's
            weights = (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
            return fused.gru_or_rnn(self.gates, x, weights, hx, softsign=False)
        return super().forward(x, hx)


class TanhGRU(_FusedOnTheCPU, nn.GRU):
    gates = GATES[Cell.GRU]


class TanhRNN(_FusedOnTheCPU, nn.RNN):
    gates = GATES[Cell.RNN]
