"""`tuner run --address` on a real two-node Ray cluster started on this machine."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile

import optuna
import psutil
import pytest

from tests.conftest import tiny_study, tuner_run, write_yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def two_node_cluster():
    """A head node and a second node, 1 CPU each, both on 127.0.0.1, in their own temp folder."""
    folder = tempfile.mkdtemp(prefix="trc-", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = free_port()
    # Ray authenticates cluster members and clients with a shared token: every process gets it
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    ray = [sys.executable, "-m", "ray.scripts.scripts", "start"]
    common = ["--num-cpus", "1", "--num-gpus", "0", "--disable-usage-stats"]
    try:
        subprocess.run(
            [
                *ray,
                "--head",
                "--node-ip-address",
                "127.0.0.1",
                "--port",
                str(port),
                "--include-dashboard",
                "false",
                f"--temp-dir={folder}",
                *common,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        subprocess.run(
            [*ray, "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1", *common],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        yield f"127.0.0.1:{port}", env
    finally:
        # `ray stop` would stop every Ray on the machine (the test session's too): kill only ours
        for process in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if folder in cmdline or f"127.0.0.1:{port}" in cmdline:
                try:
                    process.kill()
                except psutil.Error:
                    pass
        shutil.rmtree(folder, ignore_errors=True)


def test_trials_land_on_both_nodes(two_node_cluster, tmp_path):
    address, env = two_node_cluster
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, name="cluster", trials=4, max_epochs=2))
    url = f"sqlite:///{tmp_path / 'c.db'}"
    driver = tuner_run(study_file, url, address, "--workers", "2", env=env)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    trials = optuna.load_study(study_name="cluster", storage=url).trials
    nodes = {t.user_attrs["node"]["node"] for t in trials}
    assert len(trials) == 4 and len(nodes) == 2
