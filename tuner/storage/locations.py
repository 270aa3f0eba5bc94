"""Where a study keeps what outlives a trial: a local folder, a shared mount, or a bucket.

A ``Location`` is a path or any URI that ``pyarrow.fs.FileSystem.from_uri`` resolves (``s3://bucket/prefix``,
``gs://...``, ``hdfs://...``, ``file:///...``), read and written through that filesystem, so the driver,
``tuner export --model`` and the dashboard use one set of calls whatever the place. Credentials come
from the environment, as pyarrow (and so Ray Tune) reads them: ``AWS_ACCESS_KEY_ID``,
``AWS_ENDPOINT_URL``, ``GOOGLE_APPLICATION_CREDENTIALS`` and the rest.

``ArtifactStoreAt`` is an Optuna artifact store over a location; on a local folder its layout is that of
Optuna's ``FileSystemArtifactStore`` (one file per artifact id), so optuna-dashboard's ``--artifact-dir``
reads it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow.fs as pafs
from optuna.artifacts.exceptions import ArtifactNotFound

from tuner.storage import is_uri


@dataclass(frozen=True)
class Location:
    """A folder on some filesystem: ``uri`` is an absolute path or a URI."""

    uri: str

    @functools.cached_property
    def _resolved(self) -> tuple[pafs.FileSystem, str]:
        return pafs.FileSystem.from_uri(self.uri if is_uri(self.uri) else os.path.abspath(self.uri))

    @property
    def filesystem(self) -> pafs.FileSystem:
        return self._resolved[0]

    @property
    def path(self) -> str:
        """The folder's path on ``filesystem`` (for a bucket, ``bucket/prefix``)."""
        return self._resolved[1].rstrip("/")

    @property
    def local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def child(self, name: str) -> Location:
        return Location(f"{self.uri.rstrip('/')}/{name}")

    def _at(self, name: str) -> str:
        return f"{self.path}/{name}"

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a whole file: a reader never sees half of it (locally written aside, then renamed;
        an object store makes an object visible only once it is whole)."""
        with self._whole(name) as partial, self.filesystem.open_output_stream(partial) as stream:
            stream.write(data)

    def copy_from(self, filesystem: pafs.FileSystem, path: str, name: str) -> None:
        """Copy ``path`` of ``filesystem`` here as ``name``: inside one bucket the store copies it
        (no bytes through this process), elsewhere it is read and written."""
        if not filesystem.equals(self.filesystem):
            with filesystem.open_input_stream(path) as stream:
                self.write_bytes(name, stream.read())
            return
        with self._whole(name) as partial:
            self.filesystem.copy_file(path, partial)

    @contextlib.contextmanager
    def _whole(self, name: str) -> Iterator[str]:
        """The path to write ``name`` at so that it appears whole (see ``write_bytes``)."""
        self.filesystem.create_dir(self.path, recursive=True)
        target = self._at(name)
        partial = f"{target}.{uuid.uuid4().hex}.partial" if self.local else target
        yield partial
        if partial != target:
            self.filesystem.move(partial, target)

    def read_bytes(self, name: str) -> bytes | None:
        """The file's bytes, or None when there is no such file."""
        try:
            with self.filesystem.open_input_stream(self._at(name)) as stream:
                return stream.read()
        except FileNotFoundError:
            return None

    def exists(self, name: str) -> bool:
        return self.filesystem.get_file_info(self._at(name)).type != pafs.FileType.NotFound

    def delete(self, name: str) -> None:
        """Delete a file; one that is not there is already deleted."""
        try:
            self.filesystem.delete_file(self._at(name))
        except FileNotFoundError:
            pass

    def names(self, folders: bool = False) -> list[str]:
        """The names of the files (or, with ``folders``, the folders) directly in this folder."""
        selector = pafs.FileSelector(self.path, allow_not_found=True, recursive=False)
        wanted = pafs.FileType.Directory if folders else pafs.FileType.File
        return [info.base_name for info in self.filesystem.get_file_info(selector) if info.type == wanted]

    def delete_folder(self) -> None:
        """Delete the folder and everything under it (nothing when it is not there)."""
        if self.filesystem.get_file_info(self.path).type != pafs.FileType.NotFound:
            self.filesystem.delete_dir(self.path)


def probe(location: Location) -> str | None:
    """Write, read back and delete a small file at ``location``; None when all worked, else why not
    (one short line: a missing bucket, refused credentials, a folder that cannot be written)."""
    name, content = f".tuner-probe-{uuid.uuid4().hex}", b"rnn-tuner probe"
    try:
        location.write_bytes(name, content)
        back = location.read_bytes(name)
        location.delete(name)
    except (OSError, ValueError) as error:  # pyarrow's errors for a bad URI, endpoint, bucket or permission
        return short_reason(error)
    return None if back == content else "a file written there read back different"


def short_reason(error: BaseException, limit: int = 160) -> str:
    """An error's first line, cut to ``limit`` characters (cloud SDKs write paragraphs); of pyarrow's
    "Cannot create directory '<the path again>'. Detail: [errno 20] Not a directory", the detail."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    text = text.split(". Detail: ", 1)[-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ArtifactStoreAt:
    """Optuna's artifact store protocol (``open_reader``, ``write``, ``remove``) over a ``Location``."""

    def __init__(self, location: Location) -> None:
        self.location = location

    def open_reader(self, artifact_id: str) -> BinaryIO:
        data = self.location.read_bytes(artifact_id)
        if data is None:
            raise ArtifactNotFound(f"artifact {artifact_id} is not in {self.location.uri}")
        return io.BytesIO(data)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.location.write_bytes(artifact_id, content_body.read())

    def remove(self, artifact_id: str) -> None:
        if not self.location.exists(artifact_id):
            raise ArtifactNotFound(f"artifact {artifact_id} is not in {self.location.uri}")
        self.location.delete(artifact_id)
