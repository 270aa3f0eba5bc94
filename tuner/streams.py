"""Output streams: ones whose reader has gone away (`tuner ... | head`), and holding back what a library writes."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO


def discard_writes(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at /dev/null, so later writes (ours, Ray's, the exit flush) succeed.

    Python ignores SIGPIPE, so once the reader of a pipe has exited every write raises
    BrokenPipeError; pointing the descriptor elsewhere is the documented way to stop that.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


@contextlib.contextmanager
def held_stderr() -> Iterator[list[str]]:
    """Hold back what is written to file descriptor 2 (Ray's C++ core writes there directly) inside the block.

    Yields a list that holds the text once the block ends; the caller decides whether it is shown
    (``sys.stderr.write``) or summed up in one line.
    """
    held: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            held.append(capture.read().decode(errors="replace"))
