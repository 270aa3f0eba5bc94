"""A study's data file travels to its trials through Ray, so a node joined with ``--address`` needs
neither the file nor the same path.

``load_study`` reads the file's bytes once, when it checks it. For a run, a small Ray actor holds
them (its name goes into every trial's config); a worker process fetches them once, writes them to
a local file named after their hash, and loads the task from there (``trialrun.use_local_copy``).
Built-in data ships inside the package on every node, and a user task class that loads its own data
(no ``data`` file) is left as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray


@ray.remote(num_cpus=0)
class _DataHolder:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def get(self) -> bytes:
        return self.blob


@contextlib.contextmanager
def shared(blob: bytes | None) -> Iterator[str | None]:
    """For the length of a run: the name of an actor holding ``blob`` (None when there is nothing to share)."""
    if blob is None:
        yield None
        return
    name, holder = hold(blob)
    try:
        yield name
    finally:
        release(holder)


def hold(blob: bytes) -> tuple[str, Any]:
    """An actor holding ``blob`` until ``release``: (its name, its handle)."""
    name = f"tuner-data-{uuid.uuid4().hex}"
    return name, _DataHolder.options(name=name).remote(ray.put(blob))


def release(handle: Any) -> None:
    ray.kill(handle)


def fetch(actor_name: str) -> bytes:
    """In a worker: the bytes an actor holds."""
    return ray.get(ray.get_actor(actor_name).get.remote())


def local_copy(actor_name: str, original: str) -> str:
    """In a worker: the shared bytes as a local file (written once per node and content), keeping the suffix."""
    blob = fetch(actor_name)
    folder = Path(tempfile.gettempdir()) / "tuner-data"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.sha1(blob, usedforsecurity=False).hexdigest()}{Path(original).suffix}"
    if not path.exists():
        partial = path.with_suffix(path.suffix + f".{uuid.uuid4().hex}.partial")  # workers may race: rename whole files
        partial.write_bytes(blob)
        partial.replace(path)
    return str(path)
