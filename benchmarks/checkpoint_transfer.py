"""What one checkpoint costs to persist where a cluster's trials hand it (tune_storage's three places).

A trial hands Tune a folder (its best model file and, for resumable studies, its state) that Tune
copies with ``pyarrow.fs.copy_files`` to its storage, from the worker's process; the driver then
reads it back to keep it. This measures that round trip, worker to driver, for each place:

- ``local``: a folder of the driver's disk (one machine; the default of a local run);
- ``served``: the driver's folder served through Ray (``served_files``: a cluster without a shared
  disk); the driver reads its own disk;
- ``bucket``: an S3 bucket (moto's S3 server on 127.0.0.1, so no network cost is in the figure); the
  driver downloads it as Tune's ``Checkpoint.as_directory`` does.

Sizes: the Shakespeare baseline's checkpoint (2 x 200 LSTM: model file and resume state, measured
by writing them) and a larger one (``--large-mb``). Workers are Ray tasks in their own processes on
this machine, so the ``served`` figure is Ray's object store and RPC cost, not a network's; on a real
cluster add the bytes over the link. The last line is JSON.

    python benchmarks/checkpoint_transfer.py [--repeats 5] [--large-mb 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.fs as pafs
import ray
from _common import local_ray

from tuner.orchestration.served_files import served_folder

BUCKET = "bench"


@ray.remote(num_cpus=1)
def upload(source: str, filesystem: pafs.FileSystem | None, target: str) -> float:
    """In a worker: what Tune's persist_current_checkpoint does (seconds)."""
    started = time.perf_counter()
    if filesystem is None:
        filesystem, target = pafs.FileSystem.from_uri(target)
    filesystem.create_dir(target)
    pafs.copy_files(source, target, destination_filesystem=filesystem, chunk_size=64 * 2**20)
    return time.perf_counter() - started


def download(filesystem: pafs.FileSystem | None, target: str, into: str) -> float:
    started = time.perf_counter()
    if filesystem is None:
        filesystem, target = pafs.FileSystem.from_uri(target)
    pafs.copy_files(target, into, source_filesystem=filesystem)
    return time.perf_counter() - started


def checkpoint_folder(folder: Path, sizes: dict[str, int]) -> str:
    folder.mkdir(parents=True)
    for name, size in sizes.items():
        (folder / name).write_bytes(os.urandom(size))
    return str(folder)


def baseline_sizes() -> dict[str, int]:
    """The Shakespeare baseline's model file and resume state, in bytes (written once to measure)."""
    import torch

    from tuner.config.hyperparams import Hyperparameters
    from tuner.training.models import RecurrentNet

    net = RecurrentNet(65, 65, Hyperparameters())  # the defaults are the baseline: 2 x 200 tanh LSTM
    adam = torch.optim.Adam(net.parameters())
    for parameter in net.parameters():
        parameter.grad = torch.zeros_like(parameter)
    adam.step()  # Adam's two moments per weight, as a trained state has them
    with tempfile.TemporaryDirectory() as folder:
        torch.save(net.state_dict(), f"{folder}/m")
        torch.save({"model": net.state_dict(), "optimizer": adam.state_dict()}, f"{folder}/s")
        return {"model.pt": os.path.getsize(f"{folder}/m"), "resume.pt": os.path.getsize(f"{folder}/s")}


def measure(source: str, filesystem: pafs.FileSystem | None, base: str, repeats: int, read_own_disk: bool) -> dict:
    ups, downs = [], []
    for index in range(repeats):
        target = f"{base}/ck-{index}"
        ups.append(ray.get(upload.remote(source, filesystem, target)))
        if read_own_disk:
            downs.append(0.0)  # the driver reads Tune's files where the actor wrote them
        else:
            into = tempfile.mkdtemp()
            downs.append(download(filesystem, target, into))
            shutil.rmtree(into)
    size = sum(p.stat().st_size for p in Path(source).iterdir())
    total = statistics.median(u + d for u, d in zip(ups, downs, strict=True))
    return {
        "mb": round(size / 1e6, 1),
        "upload_s": round(statistics.median(ups), 4),
        "driver_read_s": round(statistics.median(downs), 4),
        "seconds_per_checkpoint": round(total, 4),
        "mb_per_s": round(size / 1e6 / total, 1),
    }


def start_s3() -> subprocess.Popen:
    import boto3

    port = 5000 + os.getpid() % 1000
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            return server
        except Exception:  # noqa: BLE001 - still starting
            time.sleep(0.2)
    raise SystemExit("moto's S3 server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--large-mb", type=int, default=100)
    args = parser.parse_args()

    server = start_s3()  # before Ray, so its workers inherit the credentials as a node would
    results: dict[str, dict] = {}
    try:
        with local_ray(2) as folder:
            checkpoints = {
                "baseline": checkpoint_folder(folder / "baseline", baseline_sizes()),
                "large": checkpoint_folder(folder / "large", {"model.pt": args.large_mb * 10**6}),
            }
            for label, source in checkpoints.items():
                results[f"local/{label}"] = measure(
                    source, pafs.LocalFileSystem(), str(folder / "tune"), args.repeats, False
                )
                with served_folder() as (root, served):
                    results[f"served/{label}"] = measure(source, served, root, args.repeats, True)
                results[f"bucket/{label}"] = measure(source, None, f"s3://{BUCKET}/{label}", args.repeats, False)
    finally:
        server.kill()

    print(f"{'place/checkpoint':<18} {'MB':>6} {'upload s':>9} {'driver s':>9} {'total s':>8} {'MB/s':>7}")
    for name, row in results.items():
        print(
            f"{name:<18} {row['mb']:>6} {row['upload_s']:>9} {row['driver_read_s']:>9} "
            f"{row['seconds_per_checkpoint']:>8} {row['mb_per_s']:>7}"
        )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(json.dumps({"benchmark": "checkpoint_transfer", "machine": machine, "repeats": args.repeats, **results}))


if __name__ == "__main__":
    main()
