"""The training loop: epochs of TBPTT windows, validation, early stopping, metrics per epoch.

Every minibatch is walked in windows of ``tbptt_length`` steps; the hidden
state carries from one window to the next and is detached between them, so
gradients flow back at most one window. Per-step targets (a language model)
give a loss in every window; a per-sequence target (many-to-one) gives a loss
only in the window holding that sequence's last step, and windows without one
run forward only to carry the state.

Metrics leave through ``on_epoch`` callbacks (skorch style), so the same loop
serves a Ray Tune trial (which reports them) and ``tuner train`` (which prints them).

On a GPU the loop does not wait for the device inside an epoch: the data moves to the device once,
which outputs have targets is worked out from the lengths on the host (``terms.selections``), losses,
gradient norms and the clipped share add up on the device and are read once per epoch, and clipping
scales by a coefficient computed on the device (as ``torch.nn.utils.clip_grad_norm_`` does). So a
diverged loss is noticed at the end of its epoch, not at its window.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import Tensor

from tuner.attrs import StopReason
from tuner.config.hyperparams import Hyperparameters, Precision
from tuner.errors import Diverged
from tuner.training import fused
from tuner.training.ensemble import Ensemble
from tuner.training.models import RecurrentNet, State, detach_states
from tuner.training.precision import DEFAULT_PRECISION, allow_tf32, compute_dtype
from tuner.training.tasks.base import SequenceData, TaskData
from tuner.training.terms import Selection, Totals, encode, selections, window_terms
from tuner.training.updaters import make_optimizer


@dataclass(frozen=True)
class TrainSettings:
    """How long and where to train; the hyperparameters are separate."""

    max_epochs: int = 10
    patience: int = 3  # epochs without improvement of the monitored metric before stopping
    min_delta: float = 0.0  # an improvement smaller than this does not count
    # Early stopping and the weights kept follow the study's objective, the metric a trial's value is
    # the best of (as Keras' EarlyStopping(monitor=...)), so a retrained export keeps that value's epoch.
    monitor: str = "val_loss"
    maximize: bool = False
    seed: int = 0
    num_threads: int = 1  # torch threads: the trial's CPU share
    device: str = "cpu"
    precision: Precision = DEFAULT_PRECISION  # what recurrent layers compute in on CUDA (precision.py)
    # keep the last epoch's weights, not the best's: a refit on training + validation data (refit.py)
    # has no held-out value to choose an epoch by; it trains the epoch count selection chose
    keep_last: bool = False


@dataclass(frozen=True)
class EpochMetrics:
    """One epoch's numbers. Losses are means over targets (nats for classification, standardised MSE for regression)."""

    epoch: int  # numbered from 1
    train_loss: float
    val_loss: float
    metrics: dict[str, float]  # the task's validation metrics: val_loss and e.g. val_bpc, val_accuracy, val_mae
    grad_norm: float  # mean global gradient norm before clipping
    layer_grad_norms: tuple[float, ...]  # mean gradient norm of each recurrent layer, then of the output layer
    clipped_fraction: float  # share of steps whose gradient was clipped
    seconds: float
    steps_per_sec: float  # training time steps per second (characters, for char_lm)
    # training ends after this epoch (its budget spent, or early stopping): a pruner asked now
    # would save nothing, so the driver records the value but does not stop the trial
    ends_training: bool = False
    # a cross-validated trial's epoch: each fold's own figures (``fold_row``), in fold order
    folds: tuple[dict, ...] = ()

    def value(self, name: str) -> float:
        """A metric by name: a validation metric of the task, or a field such as train_loss."""
        return self.metrics[name] if name in self.metrics else float(getattr(self, name))

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> EpochMetrics:
        return cls(
            **{**values, "layer_grad_norms": tuple(values["layer_grad_norms"]), "folds": tuple(values.get("folds", ()))}
        )

    def fold_row(self) -> dict:
        """What the study keeps of one fold's epoch (``tuner_fold_epochs``)."""
        return {
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "metrics": dict(self.metrics),
            "seconds": self.seconds,
        }


@dataclass
class TrainResult:
    epochs: list[EpochMetrics]
    best_epoch: int  # the epoch the monitored metric was best (its weights are the model's)
    best_val_loss: float  # validation loss at that epoch
    stop_reason: StopReason
    model: RecurrentNet | Ensemble  # holding the best epoch's weights (a cross-validated trial: its K networks)
    data: TaskData  # the split trained on (a cross-validated trial: its last fold, whose parts cover all folds')
    parameter_count: int = 0  # of one network (a cross-validated trial's ensemble holds K of this size)
    monitor: str = "val_loss"  # the metric early stopping followed
    folds: tuple[TaskData, ...] = ()  # a cross-validated trial's folds, in the order of its ensemble's members

    @property
    def best_value(self) -> float:
        """The monitored metric at the best epoch (for val_loss, best_val_loss)."""
        return self.epochs[self.best_epoch - 1].value(self.monitor) if self.best_epoch else math.nan


EpochCallback = Callable[[EpochMetrics], None]
# called with an epoch that is the best so far and the network holding its weights (a trial keeps them)
BestCallback = Callable[[EpochMetrics, RecurrentNet | Ensemble], None]
# called after every epoch with what training needs to go on from there (``resume``): plain tensors and values
StateCallback = Callable[[dict], None]
# called once before the first epoch with one network (a cross-validated trial's first fold's) and its data:
# to measure what does not change with training, such as the network's latency
StartCallback = Callable[["RecurrentNet | Ensemble", "TaskData"], None]


class Fit:
    """One network learning one split (the hold-out split, or one fold), an epoch at a time."""

    def __init__(self, hp: Hyperparameters, data: TaskData, settings: TrainSettings, shuffle_seed: int) -> None:
        self.hp, self.settings = hp, settings
        self.device = torch.device(settings.device)
        self.host_data, self.data = data, on_device(data, self.device)
        self.model = RecurrentNet(data.input_size, data.output_size, hp).to(self.device)
        if self.device.type == "cpu" and self.model.runs_fused_code():
            fused.extension()  # built (the first time, about 15 s) or loaded now, not timed as part of epoch 1
        self.optimizer = make_optimizer(self.model, hp)
        self.shuffle = torch.Generator().manual_seed(shuffle_seed)
        self.best_state = copy.deepcopy(self.model.state_dict())

    def epoch(self, number: int) -> EpochMetrics:
        """Train one pass over the training sequences, then measure the validation sequences."""
        started = time.perf_counter()
        train_loss, grad_norm, layer_norms, clipped = _train_epoch(
            self.model, self.optimizer, self.data, self.hp, self.shuffle, self.device, self.settings
        )
        train_seconds = time.perf_counter() - started
        metrics = evaluate(self.model, self.data, self.hp, self.device, self.settings)
        if not math.isfinite(metrics["val_loss"]):
            raise Diverged(f"validation loss is {metrics['val_loss']} at epoch {number}")
        return EpochMetrics(
            epoch=number,
            train_loss=train_loss,
            val_loss=metrics["val_loss"],
            metrics=metrics,
            grad_norm=grad_norm,
            layer_grad_norms=layer_norms,
            clipped_fraction=clipped,
            seconds=time.perf_counter() - started,
            steps_per_sec=self.data.train.steps / train_seconds,
        )

    def keep_best(self) -> None:
        self.best_state = copy.deepcopy(self.model.state_dict())

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "shuffle_rng": self.shuffle.get_state(),
            "best_state": self.best_state,
        }

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.shuffle.set_state(state["shuffle_rng"])
        self.best_state = state["best_state"]


def in_step(per_fold: list[EpochMetrics], fits: list[Fit], seconds: float) -> EpochMetrics:
    """The epoch of K networks trained in step: each figure the mean of the folds' (so the pruner and
    early stopping see one curve), the time their sum, each fold's own figures kept in ``folds``."""
    if len(per_fold) == 1:
        return per_fold[0]
    mean = statistics.fmean
    steps = [fit.data.train.steps for fit in fits]
    train_seconds = sum(n / m.steps_per_sec for n, m in zip(steps, per_fold, strict=True))
    return EpochMetrics(
        epoch=per_fold[0].epoch,
        train_loss=mean([m.train_loss for m in per_fold]),
        val_loss=mean([m.val_loss for m in per_fold]),
        metrics={name: mean([m.metrics[name] for m in per_fold]) for name in per_fold[0].metrics},
        grad_norm=mean([m.grad_norm for m in per_fold]),
        layer_grad_norms=tuple(np.mean([m.layer_grad_norms for m in per_fold], axis=0).tolist()),
        clipped_fraction=mean([m.clipped_fraction for m in per_fold]),
        seconds=seconds,
        steps_per_sec=sum(steps) / train_seconds,
        folds=tuple(m.fold_row() for m in per_fold),
    )


def train(
    hp: Hyperparameters,
    data: TaskData | Sequence[TaskData],
    settings: TrainSettings,
    on_epoch: list[EpochCallback] | None = None,
    on_best: BestCallback | None = None,
    on_state: StateCallback | None = None,
    resume: dict | None = None,
    on_start: StartCallback | None = None,
) -> TrainResult:
    """Train a RecurrentNet on ``data`` with early stopping on ``settings.monitor`` (validation loss by default).

    ``data``: one split, or the K folds of a cross-validated trial (``task.options.folds``): then K networks
    train in step, each epoch's figures are the folds' means (``in_step``), early stopping follows that
    mean, and the result's model is the K networks' ``Ensemble`` at the best epoch.

    ``resume``: a state ``on_state`` gave after some epoch; training goes on from the next epoch exactly
    as it would have without the stop (weights, optimiser, random generators, early-stopping count).
    """
    splits = [data] if isinstance(data, TaskData) else list(data)
    torch.set_num_threads(max(1, settings.num_threads))
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    if device.type == "cuda":
        allow_tf32()
    fits = [Fit(hp, split, settings, settings.seed + k) for k, split in enumerate(splits)]
    sign = -1.0 if settings.maximize else 1.0  # scores are compared lower-is-better
    history, best_score, best_epoch, waited = [], math.inf, 0, 0
    stop_reason = StopReason.FINISHED
    if resume is not None:
        history, best_score, best_epoch, waited = _restore(fits, resume, device)
    model = fits[0].model if len(fits) == 1 else Ensemble([fit.model for fit in fits], splits[0].target.classification)
    if on_start is not None:
        on_start(fits[0].model, fits[0].data)  # one network's: the configuration's costs, as parameter_count
    for epoch in range(len(history) + 1, settings.max_epochs + 1):
        started = time.perf_counter()
        epoch_metrics = in_step([fit.epoch(epoch) for fit in fits], fits, time.perf_counter() - started)
        score = sign * epoch_metrics.value(settings.monitor)
        best_loss = history[best_epoch - 1].val_loss if best_epoch else math.inf
        improved = improves(score, epoch_metrics.val_loss, best_score, best_loss, settings.min_delta)
        if improved:
            best_score, best_epoch, waited = score, epoch, 0
            for fit in fits:
                fit.keep_best()
        else:
            waited += 1
        stopping_early = waited >= settings.patience
        epoch_metrics = replace(epoch_metrics, ends_training=stopping_early or epoch == settings.max_epochs)
        history.append(epoch_metrics)
        if improved and on_best is not None:
            on_best(epoch_metrics, model)
        if on_state is not None:
            on_state(_state(fits, device, history, best_score, best_epoch, waited))
        for callback in on_epoch or []:
            callback(epoch_metrics)
        if stopping_early:
            stop_reason = StopReason.EARLY_STOPPED
            break
    if settings.keep_last:
        best_epoch = len(history)
    else:
        for fit in fits:
            fit.model.load_state_dict(fit.best_state)
    return TrainResult(
        epochs=history,
        best_epoch=best_epoch,
        best_val_loss=history[best_epoch - 1].val_loss if best_epoch else math.inf,
        monitor=settings.monitor,
        stop_reason=stop_reason,
        model=model,
        data=fits[-1].host_data,
        # the configuration's size: one network's (an ensemble holds K of them)
        parameter_count=sum(p.numel() for p in fits[0].model.parameters()),
        folds=tuple(splits) if len(splits) > 1 else (),
    )


def _state(
    fits: list[Fit], device: torch.device, history: list[EpochMetrics], best_score: float, best_epoch: int, waited: int
) -> dict:
    """What ``resume`` needs to go on after the last epoch of ``history``: plain tensors and values."""
    states = [fit.state() for fit in fits]
    return {
        # one split keeps the layout states had before folds: an interrupted study resumes
        **(states[0] if len(fits) == 1 else {"fits": states}),
        "torch_rng": torch.get_rng_state(),
        **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}),
        "best_score": best_score,
        "best_epoch": best_epoch,
        "waited": waited,
        "history": [m.as_dict() for m in history],
    }


def _restore(fits: list[Fit], resume: dict, device: torch.device) -> tuple[list[EpochMetrics], float, int, int]:
    """Load a ``_state`` into ``fits`` and the random generators; (history, best score, best epoch, waited)."""
    for fit, state in zip(fits, resume.get("fits", [resume]), strict=True):
        fit.load(state)
    torch.set_rng_state(resume["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in resume:  # dropout on a GPU draws from the device's generator
        torch.cuda.set_rng_state(resume["cuda_rng"], device)
    history = [EpochMetrics.from_dict(h) for h in resume["history"]]
    return history, resume["best_score"], resume["best_epoch"], resume["waited"]


def improves(score: float, val_loss: float, best_score: float, best_loss: float, min_delta: float) -> bool:
    """Whether an epoch beats the best so far: its monitored score (lower is better) by more than
    ``min_delta``, or the same score with a lower validation loss. Accuracy saturates at 1.000 on a
    small validation split while the loss still falls: among tied epochs the lower loss wins (as
    ``storage.ranking`` ranks tied trials), never simply the first to tie."""
    return score < best_score - min_delta or (score == best_score and val_loss < best_loss)


def on_device(data: TaskData, device: torch.device) -> TaskData:
    """The training and validation tensors moved to ``device`` once; lengths stay on the host (they
    decide which outputs have targets without asking the device)."""
    if device.type == "cpu":
        return data

    def moved(split: SequenceData) -> SequenceData:
        return replace(split, inputs=split.inputs.to(device), targets=split.targets.to(device))

    weights = data.class_weights.to(device) if data.class_weights is not None else None
    return replace(data, train=moved(data.train), val=moved(data.val), class_weights=weights)


def _batches(data: SequenceData, order: Tensor, batch_size: int) -> Iterator[tuple[Tensor, Tensor, np.ndarray]]:
    """(inputs, targets) on the data's device and the lengths (numpy, on the host) of each minibatch, in ``order``."""
    on_data, lengths = order.to(data.inputs.device), data.lengths.numpy()[order.numpy()]
    for start in range(0, len(order), batch_size):
        rows = on_data[start : start + batch_size]
        yield data.inputs[rows], data.targets[rows], lengths[start : start + batch_size]


def _windows(
    model: RecurrentNet,
    data: TaskData,
    inputs: Tensor,
    lengths: np.ndarray,
    hp: Hyperparameters,
    settings: TrainSettings,
) -> Iterator[tuple[Selection, Callable[[], Tensor]]]:
    """Yield (targets of the window, forward) per TBPTT window; the caller runs forward with or without gradients."""
    states: list[State] | None = None
    dtype = compute_dtype(inputs.device, settings.precision)
    for selection in selections(data.target, lengths, inputs.shape[1], hp.tbptt_length, inputs.device):

        def forward(start: int = selection.start) -> Tensor:
            nonlocal states
            window = encode(inputs[:, start : start + hp.tbptt_length], data.input_size)
            steps = None  # a bidirectional network's backward layers start at each window's last real step
            if hp.bidirectional:
                steps = torch.from_numpy(np.clip(lengths - start, 0, window.shape[1]))
            outputs, new_states = model(window, states, dtype, steps)
            states = detach_states(new_states)
            return outputs

        yield selection, forward


def _train_epoch(
    model: RecurrentNet,
    optimizer: torch.optim.Optimizer,
    data: TaskData,
    hp: Hyperparameters,
    shuffle: torch.Generator,
    device: torch.device,
    settings: TrainSettings,
) -> tuple[float, float, tuple[float, ...], float]:
    """One pass over the training sequences: mean loss, mean grad norm, mean per-layer norms, clipped share.

    Everything is summed on the device and read back once, at the end (a NaN loss raises ``Diverged`` then).
    """
    model.train()
    order = torch.randperm(data.train.sequences, generator=shuffle)
    max_norm = hp.grad_clip if hp.grad_clip > 0 else math.inf
    layers = model.layer_groups()
    # summed loss, summed global norm, clipped windows, then each layer's summed norm
    sums = torch.zeros(3 + len(layers), dtype=torch.float64, device=device)
    count, steps = 0, 0
    for inputs, targets, lengths in _batches(data.train, order, hp.batch_size):
        for selection, forward in _windows(model, data, inputs, lengths, hp, settings):
            if selection.count == 0:
                with torch.no_grad():  # no target here: carry the state forward only
                    forward()
                continue
            loss_sum, window_count, *_ = window_terms(data.target, forward(), targets, selection, data.class_weights)
            loss = loss_sum / window_count
            objective = loss + hp.l1 * sum(w.abs().sum() for w in model.weights()) if hp.l1 > 0 else loss
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            per_layer, norm = _clip_gradients(layers, max_norm)
            sums += torch.cat([torch.stack([loss_sum.detach(), norm, (norm > max_norm).float()]), per_layer]).double()
            optimizer.step()
            count += window_count
            steps += 1
    loss_total, norm_total, clipped, *layer_totals = sums.tolist()
    if not math.isfinite(loss_total):
        raise Diverged(f"training loss is {loss_total / count}")
    return loss_total / count, norm_total / steps, tuple(t / steps for t in layer_totals), clipped / steps


def _clip_gradients(layers: list[torch.nn.Module], max_norm: float) -> tuple[Tensor, Tensor]:
    """Each layer's gradient norm and the global norm (before clipping), then clip to ``max_norm``.

    One fused norm over all gradients serves both the diagnostics and the clipping; the scale is
    computed on the device (1.0 when within the limit), so nothing is read back.
    """
    grouped = [[p.grad for p in layer.parameters() if p.grad is not None] for layer in layers]
    flat = [g for group in grouped for g in group]
    # the fused multi-tensor kernels torch.nn.utils.clip_grad_norm_ itself uses: no public form returns the
    # per-tensor norms the per-layer diagnostics need
    squares = torch.stack(torch._foreach_norm(flat)) ** 2
    sizes = [len(group) for group in grouped]
    per_layer = torch.stack([chunk.sum() for chunk in squares.split(sizes)]).sqrt()
    total = squares.sum().sqrt()
    if math.isfinite(max_norm):
        # the scale in float64, as a Python float would be: the same weights as reading the norm back
        torch._foreach_mul_(flat, torch.clamp(max_norm / (total.double() + 1e-6), max=1.0).to(flat[0].dtype))
    return per_layer, total


@torch.no_grad()
def evaluate(
    model: RecurrentNet,
    data: TaskData,
    hp: Hyperparameters,
    device: torch.device,
    settings: TrainSettings,
    split: SequenceData | None = None,
) -> dict[str, float]:
    """The task's metrics on ``split`` (default: the validation data), carrying the state across windows like training."""
    model.eval()
    totals = Totals()
    split = data.val if split is None else split
    for inputs, targets, lengths in _batches(split, torch.arange(split.sequences), hp.batch_size):
        for selection, forward in _windows(model, data, inputs, lengths, hp, settings):
            totals.add(window_terms(data.target, forward(), targets, selection))
    return totals.metrics(data.target, data.target_scale)
