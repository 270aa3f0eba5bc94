"""Names of what we store on Optuna trials and studies (user attrs), and why a trial stopped.

Kept torch- and ray-free: the trainer, the driver, the CLI and the dashboard all read these.
"""

from __future__ import annotations

from enum import StrEnum


class StopReason(StrEnum):
    FINISHED = "finished"  # ran every epoch it was given
    EARLY_STOPPED = "early_stopped"  # validation loss stopped improving (patience)
    PRUNED = "pruned"  # the study's pruner stopped it
    FAILED = "failed"  # raised an error (traceback stored)
    DIVERGED = "diverged"  # NaN or infinite loss
    INTERRUPTED = "interrupted"  # its driver died or was stopped; re-run on resume
    WORKER_DIED = "worker_died"  # its process was killed (out of memory, SIGKILL)
    NO_GPU = "no_gpu"  # it asked for a GPU on a node where torch sees none (never silently a CPU run)


# Trial user attrs
HYPERPARAMETERS = "hyperparameters"  # every knob, searched or not: what export writes
SEED = "seed"  # the torch seed the trial trained with
WARM_START_FROM = "warm_start_from"  # "STUDY#N": the source trial a warm-started trial's configuration came from
DEVICE = "device"  # {"kind": "cuda" or "cpu", "precision": "fp32" or "bf16"}: what it trained on and in
THREADS = "threads"  # torch threads it trained with: a retrain reproduces its value exactly only with as many
STOP = "stop_reason"
ERROR = "error"  # traceback or message of a failed trial
EPOCHS_RUN = "epochs_run"
BEST_EPOCH = "best_epoch"
CONFUSION = "confusion"  # a classifier's {labels, matrix} on validation with its kept weights (row: true label)
BEST_VAL_LOSS = "best_val_loss"  # validation loss at the best epoch: breaks ties between trials (storage.ranking)
PARAMETER_COUNT = "parameter_count"
TRAINING_EXAMPLES = "training_examples"  # targets the model learned from; fewer than parameters invites overfitting
WARNING = "warning"  # e.g. more parameters than training examples
LOSS_CURVE = "loss_curve"  # {"train_loss": [...], "val_loss": [...]} so far, for the overfitting pruner
NODE = "node"  # {"node": Ray node id, "gpus": GPU ids} where the trial ran
DRIVER = "driver"  # the `tuner run` process running the trial (host:pid:start)
ATTEMPT = "attempt"  # 1 for a first run; a retry after a worker died counts up
RETRIED = "retried"  # this failed trial was queued again: it does not use up the budget
RETRY_OF = "retry_of"  # number of the interrupted trial this one re-runs
BASELINE = "baseline"  # the study's baseline config (trial 0): never pruned, the full-budget reference
# multi-objective studies (config.objectives)
COSTS = "costs"  # {"params": n, "latency_ms": x, "train_seconds": s}: what the trial's network costs
INFEASIBLE = "infeasible"  # the constraints a trial broke, as text ("params 250000 > 200000"); absent when feasible
PRUNED_BECAUSE = "pruned_because"  # one line: why the front pruner stopped the trial

# Study user attrs
SETTINGS = "settings"  # task, metric, epochs, early stopping, seed: what a trial needs besides its knobs
SPACE = "space"  # the search space's distributions, to refuse a changed space on resume
SPACE_DOCUMENT = "space_document"  # the search space as its file spells it, conditions included (tuner narrow)
MODELS = "models"  # {"folder": ..., "keep_best": K}: where the study keeps its best trials' model files
TRIVIAL = "trivial"  # {"predictor": ..., "metrics": {...}}: what a predictor that learns nothing scores on validation
TEST_RESULT = (
    "test_result"  # {"trial": n, "metric", "validation", "test", "trivial"}: the best trial scored on test data
)
SEARCH = "search"  # {"sampler": ..., "pruner": ...} as the latest run's study file gave them (Optuna keeps neither)


def torch_threads(cpus: float) -> int:
    """Torch threads for a trial holding ``cpus`` of Ray's CPUs (a fraction still trains on one)."""
    return max(1, int(cpus))


def capacity_warning(parameters: int, examples: int) -> str | None:
    """The seed's rule of thumb: more parameters than training examples invites overfitting."""
    if parameters > examples:
        return f"{parameters:,} parameters > {examples:,} training examples: expect overfitting"
    return None
