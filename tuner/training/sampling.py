"""Generating text from a trained character model."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from tuner.training.models import RecurrentNet


@torch.no_grad()
def sample_text(model: RecurrentNet, vocab: str, prime: str, length: int, temperature: float, seed: int = 0) -> str:
    """``prime`` followed by ``length`` characters drawn one at a time from the model's softmax."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    index = {ch: i for i, ch in enumerate(vocab)}
    size = len(vocab)
    tokens = torch.tensor([[index[ch] for ch in prime]])  # (1, P)
    logits, states = model(F.one_hot(tokens, size).float())
    out = []
    for _ in range(length):
        probabilities = F.softmax(logits[0, -1] / temperature, dim=-1)
        nxt = int(torch.multinomial(probabilities, 1, generator=generator))
        out.append(vocab[nxt])
        logits, states = model(F.one_hot(torch.tensor([[nxt]]), size).float(), states)
    return prime + "".join(out)
