"""The training loop: epochs of TBPTT windows, validation, early stopping, metrics per epoch.

Metrics leave through ``on_epoch`` callbacks (skorch style), so the same loop
serves a Ray Tune trial (which reports them) and ``tuner train`` (which prints them).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn import functional as F

from tuner.attrs import StopReason
from tuner.errors import Diverged
from tuner.hyperparams import Hyperparameters
from tuner.training.models import RecurrentNet, detach_states
from tuner.training.tasks.char_lm import CharCorpus, SequenceData
from tuner.training.updaters import make_optimizer


@dataclass(frozen=True)
class TrainSettings:
    """How long and where to train; the hyperparameters are separate."""

    max_epochs: int = 10
    patience: int = 3  # epochs without improvement before stopping
    min_delta: float = 0.0  # an improvement smaller than this does not count
    seed: int = 0
    num_threads: int = 1  # torch threads: the trial's CPU share
    device: str = "cpu"


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch's numbers; losses are mean nats per character."""

    epoch: int  # numbered from 1
    train_loss: float
    val_loss: float
    val_bpc: float  # bits per character: val_loss / ln 2
    grad_norm: float  # mean global gradient norm before clipping
    clipped_fraction: float  # share of steps whose gradient was clipped
    seconds: float
    chars_per_sec: float  # training characters per second

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass
class TrainResult:
    epochs: list[EpochMetrics]
    best_epoch: int
    best_val_loss: float
    stop_reason: StopReason
    model: RecurrentNet  # holding the best epoch's weights
    vocab: str
    parameter_count: int = 0
    extra: dict = field(default_factory=dict)


EpochCallback = Callable[[EpochMetrics], None]


def train(
    hp: Hyperparameters,
    corpus: CharCorpus,
    settings: TrainSettings,
    on_epoch: list[EpochCallback] | None = None,
) -> TrainResult:
    """Train a RecurrentNet on ``corpus`` with early stopping on validation loss."""
    torch.set_num_threads(max(1, settings.num_threads))
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    vocab_size = len(corpus.vocab)
    model = RecurrentNet(vocab_size, vocab_size, hp).to(device)
    optimizer = make_optimizer(model, hp)
    shuffle = torch.Generator().manual_seed(settings.seed)
    history: list[EpochMetrics] = []
    best_loss, best_epoch, best_state, waited = math.inf, 0, copy.deepcopy(model.state_dict()), 0
    stop_reason = StopReason.FINISHED
    for epoch in range(1, settings.max_epochs + 1):
        started = time.perf_counter()
        train_loss, grad_norm, clipped = _train_epoch(model, optimizer, corpus.train, hp, vocab_size, shuffle, device)
        train_seconds = time.perf_counter() - started
        val_loss = evaluate(model, corpus.val, hp, vocab_size, device)
        if not math.isfinite(val_loss):
            raise Diverged(f"validation loss is {val_loss} at epoch {epoch}")
        metrics = EpochMetrics(
            epoch=epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            val_bpc=val_loss / math.log(2),
            grad_norm=grad_norm,
            clipped_fraction=clipped,
            seconds=time.perf_counter() - started,
            chars_per_sec=corpus.train.chars / train_seconds,
        )
        history.append(metrics)
        if val_loss < best_loss - settings.min_delta:
            best_loss, best_epoch, waited = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
        for callback in on_epoch or []:
            callback(metrics)
        if waited >= settings.patience:
            stop_reason = StopReason.EARLY_STOPPED
            break
    model.load_state_dict(best_state)
    return TrainResult(
        epochs=history,
        best_epoch=best_epoch,
        best_val_loss=best_loss,
        stop_reason=stop_reason,
        model=model,
        vocab=corpus.vocab,
        parameter_count=sum(p.numel() for p in model.parameters()),
    )


def _windows(data: SequenceData, order: Tensor, batch_size: int, tbptt: int, device: torch.device):
    """Yield (x, y, new_batch) TBPTT windows; new_batch says where the hidden state resets."""
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        inputs, targets = data.inputs[rows].to(device), data.targets[rows].to(device)  # (B, L)
        for w in range(0, inputs.shape[1], tbptt):
            yield inputs[:, w : w + tbptt], targets[:, w : w + tbptt], w == 0


def _train_epoch(
    model: RecurrentNet,
    optimizer: torch.optim.Optimizer,
    data: SequenceData,
    hp: Hyperparameters,
    vocab_size: int,
    shuffle: torch.Generator,
    device: torch.device,
) -> tuple[float, float, float]:
    """One pass over the training sequences; returns mean loss, mean grad norm, clipped share."""
    model.train()
    order = torch.randperm(len(data.inputs), generator=shuffle)
    total_loss, total_chars, norms, clipped_steps = 0.0, 0, [], 0
    max_norm = hp.grad_clip if hp.grad_clip > 0 else math.inf
    states = None
    for x, y, new_batch in _windows(data, order, hp.batch_size, hp.tbptt_length, device):
        if new_batch:
            states = None
        logits, states = model(F.one_hot(x, vocab_size).float(), states)  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
        if not torch.isfinite(loss):
            raise Diverged(f"training loss is {loss.item()}")
        objective = loss + hp.l1 * sum(w.abs().sum() for w in model.weights()) if hp.l1 > 0 else loss
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
        norms.append(norm)
        clipped_steps += norm > max_norm
        optimizer.step()
        states = detach_states(states)
        total_loss += loss.item() * y.numel()
        total_chars += y.numel()
    return total_loss / total_chars, sum(norms) / len(norms), clipped_steps / len(norms)


@torch.no_grad()
def evaluate(
    model: RecurrentNet, data: SequenceData, hp: Hyperparameters, vocab_size: int, device: torch.device
) -> float:
    """Mean validation loss (nats per character), carrying the state across windows like training."""
    model.eval()
    order = torch.arange(len(data.inputs))
    total_loss, total_chars, states = 0.0, 0, None
    for x, y, new_batch in _windows(data, order, hp.batch_size, hp.tbptt_length, device):
        if new_batch:
            states = None
        logits, states = model(F.one_hot(x, vocab_size).float(), states)
        total_loss += F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1), reduction="sum").item()
        total_chars += y.numel()
    return total_loss / total_chars
