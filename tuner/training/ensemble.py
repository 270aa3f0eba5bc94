"""The K networks of a cross-validated trial as one network (``refit: ensemble``).

Each fold's network learned from all sequences but its fold's; together they have seen every one.
The ensemble answers as one ``RecurrentNet`` does (same call, same output shapes), so training,
scoring, ``predict`` and the model file treat it like any network:

- a classifier's outputs are the log of the members' mean probabilities (softmax of them is the mean
  probability: averaging probabilities, as scikit-learn's soft voting, not logits);
- a forecaster's are the mean of the members' forecasts.

The members' recurrent states travel as one flat list (each member's in turn), so carrying a state
across windows and detaching it works as for one network.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tuner.config.hyperparams import Hyperparameters, Readout
from tuner.training.cells import State
from tuner.training.models import RecurrentNet


class Ensemble(nn.Module):
    """Members of the same configuration whose outputs are averaged (probabilities, or values)."""

    def __init__(self, members: list[RecurrentNet], probabilities: bool) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.probabilities = probabilities
        self.hp: Hyperparameters = members[0].hp

    @classmethod
    def of(cls, input_size: int, output_size: int, hp: Hyperparameters, count: int, probabilities: bool) -> Ensemble:
        """``count`` untrained members (to load a model file's weights into)."""
        return cls([RecurrentNet(input_size, output_size, hp) for _ in range(count)], probabilities)

    def _states_per_member(self) -> int:
        return self.hp.depth + (self.hp.readout is not Readout.LAST)  # a pooling readout carries its pool

    def forward(
        self,
        x: Tensor,
        states: list[State] | None = None,
        dtype: torch.dtype = torch.float32,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, list[State]]:
        size = self._states_per_member()
        outputs, new_states = [], []
        for k, member in enumerate(self.members):
            output, state = member(x, None if states is None else states[k * size : (k + 1) * size], dtype, lengths)
            outputs.append(output)
            new_states.extend(state)
        stacked = torch.stack(outputs)
        if self.probabilities:
            combined = torch.logsumexp(torch.log_softmax(stacked, dim=-1), dim=0) - math.log(len(outputs))
        else:
            combined = stacked.mean(dim=0)
        return combined, new_states

    def runs_fused_code(self) -> bool:
        return self.members[0].runs_fused_code()


def fit_on(chosen: RecurrentNet | Ensemble, final: RecurrentNet | Ensemble) -> str:
    """What the network scored on test learned from: ``train`` (as its trial trained it), ``folds`` (a
    cross-validated trial's fold networks, which together learned from training + validation) or
    ``train+val`` (a refit)."""
    if final is not chosen:
        return "train+val"
    return "folds" if isinstance(final, Ensemble) else "train"
