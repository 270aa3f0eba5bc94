"""Where Ray Tune persists a run's checkpoints, chosen so that every node that trains can write there.

Tune copies what a trial hands it (a kept model, a resume state) to its ``storage_path``, which on a
cluster every node must reach. The choice, made once per run before any trial starts:

- ``checkpoints.path`` is a URI (``s3://bucket/prefix``): a run folder under it; every node writes
  there itself, with the credentials of its own environment.
- a Ray of one node (the one ``tuner run`` starts on this machine): a temporary folder of the driver's.
- a cluster of several nodes (``--address``, or a Ray the caller joined): the models folder
  (``checkpoints.path``, or the default beside the database) when every node reads what the driver
  wrote there (a shared mount); else a folder of the driver's that the driver serves to every node
  through Ray (``served_files``): no set-up.

Before that, ``check_nodes`` has each other node of the cluster read a file the driver wrote at a
bucket URI and write one of its own: a bucket a node cannot reach (no credentials, another network)
is one line before the study is written, not a study whose every trial fails.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow.fs as pafs
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from tuner.errors import BadInput
from tuner.orchestration.served_files import served_folder
from tuner.storage import is_uri
from tuner.storage.locations import Location, probe, short_reason

NODE_ANSWER_S = 60.0  # how long a node has to answer the probe (a node busy starting workers is slow)
TUNE_RUNS = "tune-runs"  # Tune's run folders, inside a bucket or shared models location


@dataclass(frozen=True)
class TunePlace:
    """Where Tune persists: ``kind`` says which of the module's choices, for the run's first lines."""

    kind: str  # "local", "bucket", "shared", "served"
    location: str | None = None  # the bucket URI or shared folder, when Tune writes there


def check_location(uri: str, where: str) -> None:
    """The driver can write, read back and delete a file at ``uri`` (made when missing): else one line."""
    if (reason := probe(Location(uri))) is not None:
        expected = "a location this machine can write" + (" (credentials from the environment)" if is_uri(uri) else "")
        raise BadInput(where, "checkpoints.path", expected, uri, reason)


def choose(models: str, where: str) -> TunePlace:
    """Where Tune persists for a run whose models location is ``models`` (Ray is up)."""
    if is_uri(models):
        check_location(models, where)
        check_nodes(models, where, must=True)
        return TunePlace("bucket", models)
    if not _other_nodes():
        return TunePlace("local")
    return TunePlace("shared", models) if check_nodes(models, where, must=False) else TunePlace("served")


def _other_nodes() -> list[str]:
    """The ids of the cluster's alive nodes other than the driver's."""
    here = ray.get_runtime_context().get_node_id()
    return [n["NodeID"] for n in ray.nodes() if n.get("Alive") and n["NodeID"] != here]


def check_nodes(uri: str, where: str, must: bool) -> bool:
    """Whether every other alive node reads a file the driver wrote at ``uri`` and writes one of its own.

    With ``must``, a node that cannot is one line (BadInput) instead of False.
    """
    location, name, content = Location(uri), f".tuner-probe-{uuid.uuid4().hex}", uuid.uuid4().bytes
    if not (others := _other_nodes()):
        return True
    location.write_bytes(name, content)
    try:
        calls = {
            node: _probe_on_node.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(
                uri, name, content
            )
            for node in others
        }
        for node, call in calls.items():
            try:
                reason = ray.get(call, timeout=NODE_ANSWER_S)
            except ray.exceptions.GetTimeoutError:
                reason = f"it did not answer within {NODE_ANSWER_S:g} s"
            if reason is not None:
                if must:
                    raise BadInput(
                        where,
                        "checkpoints.path",
                        "a location every Ray node can read and write (credentials from each node's environment)",
                        uri,
                        f"node {node[:8]}: {reason}",
                    )
                return False
        return True
    finally:
        location.delete(name)


@ray.remote(num_cpus=0)
def _probe_on_node(uri: str, name: str, content: bytes) -> str | None:
    """On one node: None when it reads the driver's probe file at ``uri`` and writes its own, else why not."""
    location = Location(uri)
    try:
        seen = location.read_bytes(name)
    except (OSError, ValueError) as error:
        return short_reason(error)
    if seen != content:
        return "it does not see the file the driver wrote there (not a shared disk)"
    return probe(location)


@dataclass(frozen=True)
class RunOwner:
    """Whose run a Tune folder in a bucket or shared folder is: one study of one database, one driver."""

    storage_url: str
    study_name: str
    driver_id: str
    is_gone: Callable[[str], bool]  # whether a driver id's process can no longer be running

    def study_key(self) -> str:
        """A folder name for the study (the URL may hold a password: hashed, never written)."""
        return hashlib.sha1(f"{self.storage_url}\0{self.study_name}".encode(), usedforsecurity=False).hexdigest()[:16]


def _folder_name(driver_id: str) -> str:
    return base64.urlsafe_b64encode(driver_id.encode()).decode().rstrip("=")


def _driver_of(folder_name: str) -> str:
    return base64.urlsafe_b64decode(folder_name + "=" * (-len(folder_name) % 4)).decode(errors="replace")


def _clear_dead_runs(runs: Location, owner: RunOwner) -> None:
    """Delete the Tune folders that drivers of this study left when they died (SIGKILL): a bucket keeps
    what nobody deletes. Folders of live drivers (another ``tuner run`` on the study) stay."""
    for name in runs.names(folders=True):
        if owner.is_gone(_driver_of(name)):
            with contextlib.suppress(OSError):
                runs.child(name).delete_folder()


@contextlib.contextmanager
def storage_for_run(place: TunePlace, owner: RunOwner) -> Iterator[tuple[str, pafs.FileSystem | None]]:
    """Tune's (storage_path, storage_filesystem) for one run; its folder is deleted afterwards."""
    if place.kind == "served":
        with served_folder() as (root, filesystem):
            yield root, filesystem
        return
    if place.kind == "local":
        folder = tempfile.mkdtemp(prefix="tuner-ray-")
        try:
            yield folder, None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if place.location is None:  # bucket and shared places always carry theirs
        raise ValueError(f"a {place.kind} place for Tune without a location")
    runs = Location(place.location).child(TUNE_RUNS).child(owner.study_key())
    _clear_dead_runs(runs, owner)
    run = runs.child(_folder_name(owner.driver_id))
    try:
        yield run.uri, None
    finally:
        with contextlib.suppress(OSError):  # a bucket that went away afterwards: the study is stored
            run.delete_folder()
