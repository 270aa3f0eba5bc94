"""Output streams whose reader has gone away (`tuner ... | head`)."""

from __future__ import annotations

import os
from typing import TextIO


def discard_writes(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so later writes (ours, Ray's, the exit flush) succeed.

    Python ignores SIGPIPE, so once the reader of a pipe has exited every write raises
    BrokenPipeError; pointing the descriptor elsewhere is the documented way to stop that.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)
