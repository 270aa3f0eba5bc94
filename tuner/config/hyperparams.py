"""The hyperparameters of one RNN training run: names, defaults and legal values.

Torch-free on purpose: the space parser, the study parser and export check
names and values against this module without importing the trainer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tuner.errors import BadInput, check_keys, did_you_mean, is_number


class Cell(StrEnum):
    LSTM = "lstm"
    GRU = "gru"
    RNN = "rnn"


class Activation(StrEnum):
    TANH = "tanh"
    SOFTSIGN = "softsign"


class Updater(StrEnum):
    SGD = "sgd"
    NESTEROVS = "nesterovs"
    ADAM = "adam"
    NADAM = "nadam"
    RMSPROP = "rmsprop"
    ADAGRAD = "adagrad"


class Precision(StrEnum):
    """What a network's recurrent layers compute in on a CUDA device (a study's ``resources.precision``;
    the policy is ``training/precision.py``). On a CPU it is always float32."""

    FP32 = "fp32"
    BF16 = "bf16"


class WeightInit(StrEnum):
    XAVIER = "xavier"
    ORTHOGONAL = "orthogonal"


class Readout(StrEnum):
    """How a many-to-one network (a classifier, a one-step forecaster) reads its recurrent outputs:
    ``training/readout.py``. Tasks with a target at every step read every step (``last``)."""

    LAST = "last"
    MEAN = "mean"
    MAX = "max"
    ATTENTION = "attention"


@dataclass(frozen=True)
class Hyperparameters:
    """Every knob of one training run. Defaults are the Deeplearning4j char-LSTM example."""

    cell: Cell = Cell.LSTM  # recurrent cell type
    depth: int = 2  # stacked recurrent layers
    hidden_size: int = 200  # units per layer
    activation: Activation = Activation.TANH  # cell activation (softsign uses our own cell)
    dropout: float = 0.0  # between recurrent layers and before the output layer
    learning_rate: float = 0.005
    updater: Updater = Updater.ADAM
    momentum: float = 0.9  # used by nesterovs only
    l1: float = 0.0  # L1 penalty on weights (not biases)
    l2: float = 1e-4  # L2 penalty on weights (not biases), as 0.5 * l2 * ||w||^2
    forget_bias: float = 1.0  # initial LSTM forget-gate bias
    tbptt_length: int = 50  # truncated-BPTT window, in time steps
    grad_clip: float = 0.0  # max global gradient norm; 0 turns clipping off
    batch_size: int = 32  # sequences per minibatch
    weight_init: WeightInit = WeightInit.XAVIER
    readout: Readout = Readout.LAST  # many-to-one tasks: the last step, or a mean, max or attention pool
    # many-to-one tasks: each layer also reads its input backwards (models.py); causal tasks refuse it
    bidirectional: bool = False

    def __post_init__(self) -> None:
        # Accept plain strings (from YAML, JSON or Optuna) and keep enums inside.
        for name, enum in _ENUMS.items():
            object.__setattr__(self, name, enum(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """Plain built-in types only, ready for YAML, JSON or Optuna user attrs."""
        return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str, key_path: str) -> Hyperparameters:
        """Build from a mapping, checking every name and value; missing names take defaults."""
        check_keys(where, key_path, values, NAMES)
        for name, value in values.items():
            check_value(name, value, where, f"{key_path}.{name}" if key_path else name)
        converted = {name: _CONVERT[name](value) for name, value in values.items()}
        return cls(**converted)


NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Hyperparameters))

_ENUMS: dict[str, type[StrEnum]] = {
    "cell": Cell,
    "activation": Activation,
    "updater": Updater,
    "weight_init": WeightInit,
    "readout": Readout,
}

# name -> (rule in words, predicate); every numeric knob has one.
_RULES: dict[str, tuple[str, Callable[[float], bool]]] = {
    "depth": ("an integer >= 1", lambda v: v >= 1),
    "hidden_size": ("an integer >= 1", lambda v: v >= 1),
    "dropout": ("a number in [0, 1)", lambda v: 0 <= v < 1),
    "learning_rate": ("a number > 0", lambda v: v > 0),
    "momentum": ("a number in [0, 1)", lambda v: 0 <= v < 1),
    "l1": ("a number >= 0", lambda v: v >= 0),
    "l2": ("a number >= 0", lambda v: v >= 0),
    "forget_bias": ("a number", lambda v: True),
    "tbptt_length": ("an integer >= 1", lambda v: v >= 1),
    "grad_clip": ("a number >= 0 (0 turns clipping off)", lambda v: v >= 0),
    "batch_size": ("an integer >= 1", lambda v: v >= 1),
}
_INTEGERS = {"depth", "hidden_size", "tbptt_length", "batch_size"}

_BOOLEANS = {"bidirectional"}

_CONVERT: dict[str, Callable[[Any], Any]] = {
    **{name: enum for name, enum in _ENUMS.items()},
    **{name: (int if name in _INTEGERS else float) for name in _RULES},
    **{name: bool for name in _BOOLEANS},
}


def is_integer_knob(name: str) -> bool:
    return name in _INTEGERS


def check_value(name: str, value: Any, where: str, key_path: str) -> None:
    """Raise BadInput unless ``value`` is legal for hyperparameter ``name``."""
    if name in _ENUMS:
        allowed = [member.value for member in _ENUMS[name]]
        if value not in allowed:
            raise BadInput(
                where, key_path, f"{name} to be one of {', '.join(allowed)}", value, did_you_mean(str(value), allowed)
            )
        return
    if name in _BOOLEANS:
        if not isinstance(value, bool):
            raise BadInput(where, key_path, f"{name} to be true or false", value)
        return
    rule, holds = _RULES[name]
    if not is_number(value) or (name in _INTEGERS and value != int(value)) or not holds(value):
        raise BadInput(where, key_path, f"{name} to be {rule}", value)
