"""A filesystem the driver serves to every Ray node, for a cluster whose nodes share no disk.

Ray Tune persists what trials hand it (here: kept models and resume states) under its ``storage_path``,
which every node must be able to write: a bucket or a shared mount. A cluster without either still
has Ray itself. ``served_folder`` starts a small actor on the driver's own node that owns a folder of
the driver's disk; ``DriverFiles`` is a ``pyarrow.fs.FileSystemHandler`` that sends each call to that
actor, so ``pyarrow.fs.PyFileSystem(DriverFiles(...))`` given to Tune as ``storage_filesystem`` makes
the driver's folder reachable from any node, with no set-up. Paths on it are the driver's own paths,
so the driver reads what trials wrote straight from its disk (``local_folder``).

Each file crosses in one piece through Ray's object store (a checkpoint file must fit in it; see
docs/clusters-and-gpus.md for measured speeds). The actor takes no CPU, so it runs even on a head
node started with ``--num-cpus 0``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow
import pyarrow.fs as pafs
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

_TYPES = {"file": pafs.FileType.File, "dir": pafs.FileType.Directory, "none": pafs.FileType.NotFound}


def _describe(path: str) -> tuple[str, str, int | None, float | None]:
    """(path, kind, size, mtime) of one path on this node's disk."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return path, "none", None, None
    kind = "dir" if os.path.isdir(path) else "file"
    return path, kind, status.st_size if kind == "file" else None, status.st_mtime


@ray.remote(num_cpus=0, max_concurrency=16)
class _FileServer:
    """Owns ``root`` on the driver's node; every path it is given must lie under it."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def _inside(self, path: str) -> str:
        real = os.path.realpath(path)
        if real != self.root and not real.startswith(self.root + os.sep):
            raise PermissionError(f"{path} is outside the served folder {self.root}")
        return real

    def info(self, paths: list[str]) -> list[tuple]:
        return [_describe(self._inside(p)) for p in paths]

    def listing(self, base: str, recursive: bool, allow_not_found: bool) -> list[tuple]:
        base = self._inside(base)
        if not os.path.isdir(base):
            if allow_not_found and not os.path.exists(base):
                return []
            raise FileNotFoundError(base)
        if not recursive:
            return [_describe(os.path.join(base, name)) for name in sorted(os.listdir(base))]
        found = []
        for folder, dirs, files in os.walk(base):
            found += [_describe(os.path.join(folder, name)) for name in sorted(dirs + files)]
        return found

    def make_folder(self, path: str, recursive: bool) -> None:
        path = self._inside(path)
        os.makedirs(path, exist_ok=True) if recursive else os.mkdir(path)

    def delete_folder(self, path: str, contents_only: bool, missing_ok: bool) -> None:
        path = self._inside(path)
        if not os.path.isdir(path):
            if missing_ok:
                return
            raise FileNotFoundError(path)
        if not contents_only:
            shutil.rmtree(path)
            return
        for entry in os.scandir(path):
            shutil.rmtree(entry.path) if entry.is_dir() else os.unlink(entry.path)

    def delete_file(self, path: str) -> None:
        os.unlink(self._inside(path))

    def move(self, source: str, target: str) -> None:
        os.replace(self._inside(source), self._inside(target))

    def copy(self, source: str, target: str) -> None:
        shutil.copyfile(self._inside(source), self._inside(target))

    def read(self, path: str) -> bytes:
        with open(self._inside(path), "rb") as file:
            return file.read()

    def write(self, path: str, data: bytes, append: bool) -> None:
        path = self._inside(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if append:
            with open(path, "ab") as file:
                file.write(data)
            return
        partial = f"{path}.{uuid.uuid4().hex}.partial"  # a reader never sees half a file
        with open(partial, "wb") as file:
            file.write(data)
        os.replace(partial, path)


class _Upload(io.BytesIO):
    """What a writer writes, sent to the driver's node in one piece when it is closed."""

    def __init__(self, handler: DriverFiles, path: str, append: bool) -> None:
        super().__init__()
        self.handler, self.path, self.append = handler, path, append

    def close(self) -> None:
        if not self.closed:
            self.handler.call("write", self.path, self.getvalue(), self.append)
        super().close()


class DriverFiles(pafs.FileSystemHandler):
    """pyarrow filesystem calls, sent to the ``_FileServer`` actor named ``actor_name`` (picklable: Tune
    ships it to every trial)."""

    def __init__(self, actor_name: str, root: str) -> None:
        self.actor_name = actor_name
        self.root = root
        self._actor: Any = None

    def __getstate__(self) -> dict:
        return {"actor_name": self.actor_name, "root": self.root}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["actor_name"], state["root"])

    def call(self, method: str, *args: Any) -> Any:
        if self._actor is None:
            self._actor = ray.get_actor(self.actor_name)
        try:
            return ray.get(getattr(self._actor, method).remote(*args))
        except ray.exceptions.RayTaskError as error:  # pyarrow tells a missing file by FileNotFoundError
            if isinstance(error.cause, OSError):
                raise error.cause from None
            raise

    def get_type_name(self) -> str:
        return "tuner-driver"

    def normalize_path(self, path: str) -> str:
        return path

    def equals(self, other: Any) -> bool:
        return isinstance(other, DriverFiles) and other.actor_name == self.actor_name

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return [_info(*row) for row in self.call("info", list(paths))]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        rows = self.call("listing", selector.base_dir, selector.recursive, selector.allow_not_found)
        return [_info(*row) for row in rows]

    def create_dir(self, path: str, recursive: bool) -> None:
        self.call("make_folder", path, recursive)

    def delete_dir(self, path: str) -> None:
        self.call("delete_folder", path, False, False)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.call("delete_folder", path, True, missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        self.call("delete_folder", self.root, True, True)

    def delete_file(self, path: str) -> None:
        self.call("delete_file", path)

    def move(self, src: str, dest: str) -> None:
        self.call("move", src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.call("copy", src, dest)

    def open_input_stream(self, path: str) -> pyarrow.NativeFile:
        return pyarrow.BufferReader(self.call("read", path))

    def open_input_file(self, path: str) -> pyarrow.NativeFile:
        return pyarrow.BufferReader(self.call("read", path))

    def open_output_stream(self, path: str, metadata: Any = None) -> pyarrow.NativeFile:
        return pyarrow.PythonFile(_Upload(self, path, append=False), mode="w")

    def open_append_stream(self, path: str, metadata: Any = None) -> pyarrow.NativeFile:
        return pyarrow.PythonFile(_Upload(self, path, append=True), mode="w")


def _info(path: str, kind: str, size: int | None, mtime: float | None) -> pafs.FileInfo:
    return pafs.FileInfo(path, _TYPES[kind], size=size, mtime=mtime)


@contextlib.contextmanager
def served_folder(prefix: str = "tuner-ray-") -> Iterator[tuple[str, pafs.FileSystem]]:
    """For the length of a run: a new folder of the driver's disk, and a filesystem that reaches it from any
    node of the Ray cluster (started on the driver's node). The folder and the actor go afterwards."""
    root = tempfile.mkdtemp(prefix=prefix)
    name = f"tuner-files-{uuid.uuid4().hex}"
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    actor = _FileServer.options(name=name, scheduling_strategy=here).remote(root)
    try:
        ray.get(actor.info.remote([root]))  # up and answering before Tune writes through it
        yield root, pafs.PyFileSystem(DriverFiles(name, root))
    finally:
        ray.kill(actor)
        shutil.rmtree(root, ignore_errors=True)


def local_folder(filesystem: pafs.FileSystem, path: str) -> Path | None:
    """The driver's own path of ``path`` on ``filesystem`` when the driver serves it, else None."""
    handler = getattr(filesystem, "handler", None)
    return Path(path) if isinstance(handler, DriverFiles) else None
