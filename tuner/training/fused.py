"""Fused recurrences for the CPU (C++), built on first use and cached by torch.

Softsign LSTM, GRU and plain RNN layers, and tanh GRU and plain RNN layers (torch's CPU
``nn.GRU`` and ``nn.RNN`` are slower; its ``nn.LSTM`` is not, and keeps its own path).
torch.utils.cpp_extension compiles ``fused_cells.cpp`` once per machine
(about 15 s on 2 cores; the build lands in ``fused_build.build_directory()``) and later
processes load it in a second. It is
built for this CPU (``-march=native``), so each kind of CPU gets a build of its
own: nodes of a Ray cluster that share a home folder must not load a build
made on a newer CPU (an illegal instruction would kill the worker). Where it
cannot be built (no C++ compiler), ``ActivationRecurrentLayer`` falls back to
its step-by-step Python loop and ``TanhGRU`` / ``TanhRNN`` to torch's own
kernels, with one warning; on a GPU they use those (and cuDNN) anyway.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from tuner.training.fused_build import SOURCE, build_directory


@functools.cache
def extension() -> Any | None:
    """The compiled operators (``torch.ops.tuner_recurrent``), or None where they cannot be built here."""
    # torch looks for `ninja` on PATH; the ninja package puts it beside this Python (a venv's bin/)
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    try:
        import fcntl  # POSIX; elsewhere the ImportError below means: unfused layers

        from torch.utils.cpp_extension import load

        folder = build_directory()
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "tuner.lock", "a") as lock:
            # torch guards a build with a lock *file*, which a process killed mid-build (a Ray worker
            # stopped by Ctrl-C) leaves behind, and every later load then waits for ever. An flock is
            # released by the OS when its process dies: whoever holds it is the only one building, so a
            # torch lock file seen then is stale.
            fcntl.flock(lock, fcntl.LOCK_EX)
            (folder / "lock").unlink(missing_ok=True)
            load(
                name=folder.name,  # the operators keep their namespace
                sources=[str(SOURCE)],
                extra_cflags=["-O3", "-march=native", "-ffast-math"],
                build_directory=str(folder),
                is_python_module=False,  # the library registers its operators with torch when loaded
                verbose=False,
            )
        return torch.ops.tuner_recurrent
    except Exception as error:  # noqa: BLE001 - any build failure means: the unfused layers
        warnings.warn(
            f"fused recurrent cells unavailable ({str(error).splitlines()[0]}); using the slower unfused layers",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


class SoftsignLSTMWindow(torch.autograd.Function):
    """hs, c_last = f(xproj (T, B, 4H), w_hh (4H, H), h0 (B, H), c0 (B, H)), with a hand-written backward.

    ``xproj`` is overwritten with the activated gates (the caller passes a temporary nothing else reads).
    """

    @staticmethod
    def forward(ctx, xproj: Tensor, w_hh: Tensor, h0: Tensor, c0: Tensor) -> tuple[Tensor, Tensor]:  # noqa: ANN001
        hs, cs, acts = extension().lstm_forward(xproj, w_hh, h0, c0)
        ctx.save_for_backward(hs, cs, acts, w_hh, h0, c0)
        return hs, cs[-1]

    @staticmethod
    def backward(ctx, grad_hs: Tensor | None, grad_c_last: Tensor | None):  # noqa: ANN001, ANN205
        hs, cs, acts, w_hh, h0, c0 = ctx.saved_tensors
        grad_hs = torch.zeros_like(hs) if grad_hs is None else grad_hs
        grad_c_last = torch.zeros_like(c0) if grad_c_last is None else grad_c_last
        d_xproj, d_w_hh, d_h0, d_c0 = extension().lstm_backward(grad_hs, grad_c_last, hs, cs, acts, w_hh, h0, c0)
        return d_xproj, d_w_hh, d_h0, d_c0


class GRUWindow(torch.autograd.Function):
    """hs = f(xproj (T, B, 3H), w_hh (3H, H), b_hh (3H,), h0 (B, H), softsign); ``xproj`` is overwritten, as above."""

    @staticmethod
    def forward(ctx, xproj: Tensor, w_hh: Tensor, b_hh: Tensor, h0: Tensor, softsign: bool) -> Tensor:  # noqa: ANN001
        hs, acts, hns = extension().gru_forward(xproj, w_hh, b_hh, h0, softsign)
        ctx.save_for_backward(hs, acts, hns, w_hh, h0)
        ctx.softsign = softsign
        return hs

    @staticmethod
    def backward(ctx, grad_hs: Tensor):  # noqa: ANN001, ANN205
        hs, acts, hns, w_hh, h0 = ctx.saved_tensors
        d_xproj, d_w_hh, d_b_hh, d_h0 = extension().gru_backward(grad_hs, hs, acts, hns, w_hh, h0, ctx.softsign)
        return d_xproj, d_w_hh, d_b_hh, d_h0, None


class RNNWindow(torch.autograd.Function):
    """hs = f(xproj (T, B, H), w_hh (H, H), h0 (B, H), softsign); ``xproj`` is used as scratch space."""

    @staticmethod
    def forward(ctx, xproj: Tensor, w_hh: Tensor, h0: Tensor, softsign: bool) -> Tensor:  # noqa: ANN001
        hs = extension().rnn_forward(xproj, w_hh, h0, softsign)
        ctx.save_for_backward(hs, w_hh, h0)
        ctx.softsign = softsign
        return hs

    @staticmethod
    def backward(ctx, grad_hs: Tensor):  # noqa: ANN001, ANN205
        hs, w_hh, h0 = ctx.saved_tensors
        d_xproj, d_w_hh, d_h0 = extension().rnn_backward(grad_hs, hs, w_hh, h0, ctx.softsign)
        return d_xproj, d_w_hh, d_h0, None


def softsign_lstm(
    x: Tensor, weights: tuple[Tensor, Tensor, Tensor, Tensor], state: tuple[Tensor, Tensor] | None
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One softsign LSTM layer over x (B, T, I), torch's parameter layout and state shapes (as below)."""
    w_ih, w_hh, b_ih, b_hh = weights
    zeros = x.new_zeros(x.shape[0], w_hh.shape[1])
    h0, c0 = (state[0][0], state[1][0]) if state is not None else (zeros, zeros)
    # time-major without a copy of the wide (.., 4H) projection: transpose the narrow input instead
    projected = F.linear(x.transpose(0, 1), w_ih, b_ih + b_hh).contiguous()  # (T, B, 4H)
    hs, c_last = SoftsignLSTMWindow.apply(projected, w_hh, h0.contiguous(), c0.contiguous())
    return hs.transpose(0, 1), (hs[-1].unsqueeze(0), c_last.unsqueeze(0))


def gru_or_rnn(
    gates: int, x: Tensor, weights: tuple[Tensor, Tensor, Tensor, Tensor], h0: Tensor | None, softsign: bool
) -> tuple[Tensor, Tensor]:
    """One GRU (``gates`` 3) or plain RNN (1) layer over x (B, T, I) with torch's parameter layout
    ``(weight_ih, weight_hh, bias_ih, bias_hh)``; h0 (1, B, H) or None. Returns out (B, T, H), h (1, B, H)."""
    w_ih, w_hh, b_ih, b_hh = weights
    h0 = (h0[0] if h0 is not None else x.new_zeros(x.shape[0], w_hh.shape[1])).contiguous()
    x_t = x.transpose(0, 1)  # (T, B, I), as above
    if gates == 3:
        # b_hh stays apart: r gates the recurrent part of n, bias included, as in torch's GRU
        projected = F.linear(x_t, w_ih, b_ih).contiguous()  # (T, B, 3H)
        hs = GRUWindow.apply(projected, w_hh, b_hh, h0, softsign)
    else:
        projected = F.linear(x_t, w_ih, b_ih + b_hh).contiguous()  # (T, B, H)
        hs = RNNWindow.apply(projected, w_hh, h0, softsign)
    return hs.transpose(0, 1), hs[-1].unsqueeze(0)
