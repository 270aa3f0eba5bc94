"""Where the fused CPU recurrences are built, whether they are, and a build started ahead of the trials.

Torch-free, so the driver of ``tuner run`` (which never imports torch) can tell
that this machine has no build yet and start one while Ray and its workers
start, instead of the first trial's worker building it (about 15 s) while the
other workers wait.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tuner.config.hyperparams import Activation, Cell

SOURCE = Path(__file__).parent / "fused_cells.cpp"
FUSED_CELLS = (Cell.GRU, Cell.RNN)  # a tanh LSTM stays on torch's nn.LSTM; every softsign cell is fused
BUILD_COMMAND = (sys.executable, "-c", "from tuner.training import fused; fused.extension()")


def cpu_fingerprint(cpuinfo: str | None = None) -> str:
    """A short hash of this CPU's model and instruction-set flags (``/proc/cpuinfo`` where there is one)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = f"{platform.machine()} {platform.processor()}"
    wanted = ("model name", "flags", "Features", "CPU implementer", "CPU part")
    lines = sorted({line.strip() for line in cpuinfo.splitlines() if line.startswith(wanted)})
    return hashlib.sha1("\n".join(lines or [cpuinfo]).encode(), usedforsecurity=False).hexdigest()[:10]


def _torch_version() -> str:
    torch = sys.modules.get("torch")
    return torch.__version__ if torch is not None else importlib.metadata.version("torch")


def build_directory() -> Path:
    """Where this CPU kind's build of this source lives: $TORCH_EXTENSIONS_DIR (default
    ~/.cache/torch_extensions), a folder per Python and torch version (a build for another torch would
    fail to load, or crash), then one per CPU kind and source (so a build found there is current)."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or Path.home() / ".cache" / "torch_extensions"
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    source = hashlib.sha1(SOURCE.read_bytes(), usedforsecurity=False).hexdigest()[:8]
    return Path(root) / f"{python}_torch{_torch_version()}" / f"tuner_recurrent_{cpu_fingerprint()}_{source}"


def is_built() -> bool:
    folder = build_directory()
    return (folder / f"{folder.name}.so").is_file()


def runs_fused_code(cell: Cell | str, activation: Activation | str) -> bool:
    """Whether a layer of this cell and activation runs the fused recurrence on the CPU (as models.make_layer
    builds them)."""
    return activation == Activation.SOFTSIGN or cell in FUSED_CELLS


@contextlib.contextmanager
def built_alongside(needed: bool) -> Iterator[bool]:
    """Build the fused cells in a process of their own while the body runs, where ``needed`` and not built yet.

    Yields whether a build was started. Trials that load the cells meanwhile wait for it (the
    build holds its lock). The body ending in an error stops the build; a later load starts over.
    """
    if not needed or is_built():
        yield False
        return
    # our own interpreter building our own module: no user input reaches the command
    build = subprocess.Popen(BUILD_COMMAND, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        yield True
    except BaseException:
        build.terminate()
        raise
    finally:
        build.wait()
