"""`tuner run --address` on a real two-node Ray cluster started on this machine."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import psutil
import pytest
from optuna.trial import TrialState

import tuner
from tests.conftest import tiny_study, write_yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def own_tmp(folder: str) -> str:
    """A shell line, run in a new mount namespace, that gives it an empty /tmp of its own and then runs its
    arguments. The installed package stays visible (every node of a cluster has it installed): when it
    lives under /tmp (a checkout there, installed with pip -e), it is bound back at the same path."""
    package = str(Path(tuner.__file__).resolve().parents[1])
    if not package.startswith("/tmp/"):
        return 'mount -t tmpfs tmpfs /tmp && exec "$@"'
    keep = tempfile.mkdtemp(prefix="tuner-node-", dir="/var/tmp")  # a mount point outside /tmp
    return (
        f"mount --bind {shlex.quote(package)} {keep} && mount -t tmpfs tmpfs /tmp && "
        f'mkdir -p {shlex.quote(package)} && mount --bind {keep} {shlex.quote(package)} && exec "$@"'
    )


@contextlib.contextmanager
def ray_cluster(
    *nodes: list[str], private_tmp: frozenset[int] | set[int] = frozenset()
) -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray cluster on 127.0.0.1, one `ray start` per node (the first is the head), in a temp folder of its own.

    The nodes whose indexes are in ``private_tmp`` start in a mount namespace with a ``/tmp`` of their own
    (Linux, as root): they share no temporary folder with the driver, as another machine would not.
    Yields its address and the environment its clients need.
    """
    folder = tempfile.mkdtemp(prefix="trc-", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = free_port()
    # Ray authenticates cluster members and clients with a shared token: every process gets it
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    ray = [sys.executable, "-m", "ray.scripts.scripts", "start", "--node-ip-address", "127.0.0.1"]
    head = ["--head", "--port", str(port), "--include-dashboard", "false", f"--temp-dir={folder}"]
    try:
        for index, resources in enumerate(nodes):
            where = head if index == 0 else ["--address", f"127.0.0.1:{port}"]
            command = [*ray, *where, *resources, "--disable-usage-stats"]
            if index in private_tmp:
                command = [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    own_tmp(folder),
                    "sh",
                    *command,
                ]
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, env=env)
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


@pytest.fixture()
def two_node_cluster():
    """A head node and a second node, 1 CPU each."""
    one_cpu = ["--num-cpus", "1", "--num-gpus", "0"]
    with ray_cluster(one_cpu, one_cpu) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def one_gpu_node():
    """One node with 4 CPUs and 1 GPU, as Ray counts them (Ray schedules by these numbers alone)."""
    with ray_cluster(["--num-cpus", "4", "--num-gpus", "1"]) as cluster:
        yield cluster


def run_driver(script: str, address: str, study_file: object, url: str, env: dict) -> subprocess.CompletedProcess:
    """A driver script of its own (argv: address, study file, storage URL) joined to the cluster; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", script, address, str(study_file), url],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done


REMOVING_DRIVER = """
import sys
from pathlib import Path

import ray

from tuner.orchestration.runner import run_study
from tuner.config.studies import load_study

address, study_file, url = sys.argv[1:]
spec = load_study(study_file)
Path(spec.task.data).unlink()  # parsed, then gone: no node has the file
ray.init(address=address, log_to_driver=False)
summary = run_study(spec, url, trials=4, workers=2, show_progress=False)
print(summary.test_result["from"] if summary.test_result else summary.test_problem)
"""


def test_trials_land_on_both_nodes_with_data_whose_file_is_gone(two_node_cluster, tmp_path):
    """The data travels with the trials: the file is removed once the study is parsed, before Ray runs a trial."""
    from tests.conftest import REPO

    address, env = two_node_cluster
    text = (REPO / "tuner/data/tinyshakespeare.txt").read_text()[:800]
    (tmp_path / "mine.txt").write_text(text)
    task = {"name": "char_lm", "data": "mine.txt", "options": {"seq_length": 50, "test_fraction": 0.2}}
    study_file = write_yaml(
        tmp_path / "s.yaml", tiny_study(tmp_path, name="cluster", task=task, trials=4, max_epochs=2)
    )
    url = f"sqlite:///{tmp_path / 'c.db'}"
    driver = run_driver(REMOVING_DRIVER, address, study_file, url, env)
    assert not (tmp_path / "mine.txt").exists()
    trials = optuna.load_study(study_name="cluster", storage=url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4, [t.user_attrs.get("error") for t in trials]
    assert len({t.user_attrs["node"]["node"] for t in trials}) == 2
    assert driver.stdout.strip().splitlines()[-1] == "kept model"  # its test part scored too, on the kept network


GATHER_DRIVER = """
import sys

import ray

from tests.arithmetic import GATHERING, Gathering, gathering_trial
from tuner.orchestration.runner import run_study
from tuner.config.studies import load_study

address, study_file, url = sys.argv[1:]
ray.init(address=address, log_to_driver=False)
gathering = Gathering.options(name=GATHERING).remote(4)
run_study(load_study(study_file), url, trials=4, workers=4, show_progress=False, trainable=gathering_trial)
"""


def test_a_quarter_gpu_each_runs_four_fake_arithmetic_trials_on_one_gpu_at_once(one_gpu_node, tmp_path):
    # Each trial waits until all four have started: they finish only if Ray ran them side by side.
    address, env = one_gpu_node
    document = tiny_study(
        tmp_path, name="shared", trials=4, max_epochs=2, resources={"cpu": 1, "gpu": 0.25}, max_retries=0
    )
    study_file = write_yaml(tmp_path / "s.yaml", document)
    url = f"sqlite:///{tmp_path / 'g.db'}"
    run_driver(GATHER_DRIVER, address, study_file, url, env)
    trials = optuna.load_study(study_name="shared", storage=url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4, [t.user_attrs.get("error") for t in trials]
    assert all(t.user_attrs["node"]["gpus"] == ["0"] for t in trials)  # the one GPU, shared


TRAINING_DRIVER = """
import sys

import ray

from tuner.orchestration.runner import run_study
from tuner.config.studies import load_study

address, study_file, url = sys.argv[1:]
ray.init(address=address, log_to_driver=False)
run_study(load_study(study_file), url, trials=1, workers=1, show_progress=False)
"""


def test_a_trial_given_a_gpu_that_torch_cannot_see_fails_as_no_gpu_instead_of_training_on_the_cpu(
    one_gpu_node, tmp_path
):
    # Ray counts the node's GPU (declared with --num-gpus), but this machine has no CUDA device
    address, env = one_gpu_node
    document = tiny_study(
        tmp_path, name="nogpu", trials=1, max_epochs=1, resources={"cpu": 1, "gpu": 0.5}, max_retries=0
    )
    run_driver(
        TRAINING_DRIVER, address, write_yaml(tmp_path / "s.yaml", document), f"sqlite:///{tmp_path / 'n.db'}", env
    )
    trials = optuna.load_study(study_name="nogpu", storage=f"sqlite:///{tmp_path / 'n.db'}").trials
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert trials[0].user_attrs["stop_reason"] == "no_gpu"
    assert "torch sees no CUDA device" in trials[0].user_attrs["error"]


def test_a_driver_without_the_clusters_token_gets_one_line_saying_to_set_it(one_gpu_node, tmp_path):
    address, env = one_gpu_node
    without_token = {k: v for k, v in env.items() if not k.startswith("RAY_AUTH")}
    # Ray retries a refused connection for about 20 s; its operator setting shortens that to 2 attempts
    without_token["RAY_gcs_server_port_wait_time_s"] = "2"
    study_file = write_yaml(tmp_path / "s.yaml", tiny_study(tmp_path, trials=1))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuner.cli",
            "run",
            str(study_file),
            "--address",
            address,
            "--storage",
            f"sqlite:///{tmp_path / 'a.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=without_token,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # Ray's own retries are held back
    assert "RAY_AUTH_TOKEN" in done.stderr and "wants an authentication token" in done.stderr
