"""How a many-to-one network reads its recurrent outputs: the last step, or a pool over the steps so far.

Every readout is *running*: the output at step t reads steps 1..t only, so the output taken at a
sequence's last real step never sees the padding after it, and the running pool is carried from one
TBPTT window to the next (detached, like the recurrent state). ``last`` is the recurrent output itself;
``mean`` the running average; ``max`` the running maximum per unit; ``attention`` the running average
weighted by a learned score per step (a softmax over the steps so far).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tuner.config.hyperparams import Readout

Pool = tuple[Tensor, ...]  # the running pool carried between windows


class RunningReadout(nn.Module):
    """(B, T, H) recurrent outputs -> (B, T, H) read so far, and the pool to carry into the next window."""

    def __init__(self, kind: Readout, hidden_size: int) -> None:
        super().__init__()
        self.kind = kind
        # attention: one learned score per step, from that step's output
        self.score = nn.Linear(hidden_size, 1) if kind is Readout.ATTENTION else None

    def forward(self, h: Tensor, pool: Pool | None) -> tuple[Tensor, Pool | None]:
        h = h.float()
        if self.kind is Readout.MEAN:
            total, count = pool if pool is not None else (h.new_zeros(h[:, 0].shape), h.new_zeros(len(h), 1))
            sums = total[:, None] + h.cumsum(dim=1)  # (B, T, H)
            counts = count[:, None] + torch.arange(1, h.shape[1] + 1, device=h.device, dtype=h.dtype)[None, :, None]
            return sums / counts, (sums[:, -1], counts[:, -1])
        if self.kind is Readout.MAX:
            running = h.cummax(dim=1).values
            if pool is not None:
                running = torch.maximum(running, pool[0][:, None])
            return running, (running[:, -1],)
        if self.kind is Readout.ATTENTION:
            return self._attend(h, pool)
        return h, None

    def _attend(self, h: Tensor, pool: Pool | None) -> tuple[Tensor, Pool]:
        scores = self.score(h)  # (B, T, 1)
        top = scores.detach().amax(dim=1)  # (B, 1): a shift that keeps exp() <= 1 (exact: it cancels)
        if pool is not None:
            top = torch.maximum(top, pool[2])
        weights = torch.exp(scores - top[:, None])
        numerator, denominator = (weights * h).cumsum(dim=1), weights.cumsum(dim=1)
        if pool is not None:  # the earlier windows' sums, rescaled to this window's shift
            rescale = torch.exp(pool[2] - top)[:, None]  # (B, 1, 1)
            numerator = numerator + pool[0][:, None] * rescale
            denominator = denominator + pool[1][:, None] * rescale
        return numerator / denominator, (numerator[:, -1], denominator[:, -1], top)
