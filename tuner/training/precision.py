"""The precision policy: which dtype each part of a network computes in, applied explicitly (no autocast).

On a CPU everything is float32. On a CUDA device a study chooses ``precision``:

- ``fp32`` (the default): everything float32; matmuls and cuDNN's RNN kernels may use TF32 tensor
  cores (``torch.backends.cuda.matmul.allow_tf32`` and ``torch.backends.cudnn.allow_tf32``), which keep
  float32's range and round products to a 10-bit mantissa.
- ``bf16``: a tanh layer (torch's cuDNN ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``) runs wholly in bfloat16: its
  input, weights and entering state are cast to bfloat16 here, outside autocast (whose RNN wrapper casts
  to float16 whatever dtype it is given); within one TBPTT window cuDNN carries the state in bfloat16.
  A softsign layer (our own loop) runs its two matmuls in bfloat16 and its gate arithmetic and state
  in float32. bfloat16 has float32's exponent range, so no loss scaling is needed (float16 would).

Under both: the master weights, their gradients and the optimiser state are float32; the state carried
from one TBPTT window to the next is float32; dropout sees the layer's output dtype; the output layer,
the loss and every metric are float32. Evaluation runs the network as it trained.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tuner.config.hyperparams import Precision
from tuner.training.cells import ActivationRecurrentLayer, State

# float32 until a GPU measurement says bfloat16 is worth its rounding (scripts/gpu_check.sh measures both)
DEFAULT_PRECISION = Precision.FP32


def compute_dtype(device: torch.device, precision: Precision) -> torch.dtype:
    """The dtype recurrent layers compute in: bfloat16 only where asked for and on a CUDA device."""
    return torch.bfloat16 if precision is Precision.BF16 and device.type == "cuda" else torch.float32


def allow_tf32() -> None:
    """Let float32 matmuls and cuDNN RNNs use TF32 tensor cores (PyTorch's recommended setting for training)."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def cast_state(state: State | None, dtype: torch.dtype) -> State | None:
    if state is None:
        return None
    return tuple(s.to(dtype) for s in state) if isinstance(state, tuple) else state.to(dtype)


def run_layer(layer: nn.Module, x: Tensor, state: State | None, dtype: torch.dtype) -> tuple[Tensor, State]:
    """One recurrent layer under the policy: (output in ``dtype``, the leaving state in float32)."""
    if dtype == torch.float32:
        return layer(x, state)
    if isinstance(layer, ActivationRecurrentLayer):
        return layer(x, state, matmul_dtype=dtype)
    # torch's own layer: call it with low-precision copies of its parameters; the casts are part of the
    # graph, so the float32 parameters get float32 gradients
    weights = {name: p.to(dtype) for name, p in layer.named_parameters()}
    out, leaving = torch.func.functional_call(layer, weights, (x.to(dtype), cast_state(state, dtype)))
    return out, cast_state(leaving, torch.float32)


def layer_dtypes(precision: Precision, device: torch.device) -> dict[str, str]:
    """What the policy runs in, per part of the network, on ``device`` (printed by the GPU check)."""
    low = str(compute_dtype(device, precision)).removeprefix("torch.")
    return {
        "tanh layer (cuDNN on CUDA)": low,
        "softsign layer matmuls": low,
        "softsign gates and state": "float32",
        "state between windows": "float32",
        "output layer, loss, metrics": "float32",
        "weights, gradients, optimiser": "float32",
    }
