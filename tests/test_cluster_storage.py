"""A cluster whose nodes share no disk with the driver, as separate machines or pods have.

The worker node runs in a mount namespace of its own with a private ``/tmp``: it sees neither the
driver's temporary folders nor the study's files, and trains every trial (the head offers no CPU).
Kept models and resume states must reach the driver through Ray (no set-up), or through a bucket
on a real S3-speaking server (moto's, started here) when ``checkpoints.path`` names one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from tests.conftest import (
    REPO,
    downloaded,
    freeze_driver_when,
    resume_states,
    tiny_study,
    trials_of,
    tuner_run,
    write_yaml,
)
from tests.test_dashboard import open_page
from tests.test_ray_cluster import free_port, ray_cluster
from tuner.cli import main

BUCKET = "tuner-checkpoints"


def namespaces_allowed() -> str:
    """'' when this process may start a program in a mount namespace with its own /tmp, else why not."""
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /tmp"],
        capture_output=True,
        text=True,
    )
    return "" if done.returncode == 0 else f"mount namespaces are not allowed here: {done.stderr.strip()}"


@pytest.fixture(scope="module")
def s3_server():
    """moto's standalone S3 server on 127.0.0.1 with one bucket: the environment its clients need."""
    import boto3

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ACCESS_KEY_ID": "tuner-test",
        "AWS_SECRET_ACCESS_KEY": "tuner-test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    try:
        client = boto3.client("s3", **_client_options(env))
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                assert time.monotonic() < deadline, "moto's S3 server did not start"
                time.sleep(0.3)
        yield env
    finally:
        server.kill()
        server.wait()


def _client_options(env: dict) -> dict:
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="module")
def cluster_without_shared_disk(s3_server):
    """A head node with no CPU and a 2-CPU worker node whose /tmp is its own; both know the S3 server.
    Yields the address, the environment its clients need, and the worker node's id."""
    if reason := namespaces_allowed():  # the worker node's private disk is the point: fail, never skip
        pytest.fail(f"the no-shared-disk cluster needs a private mount namespace for its worker node; {reason}")
    os.environ.update(s3_server)  # the driver's environment too, as a user's shell would have it
    try:
        with ray_cluster(
            ["--num-cpus", "0", "--num-gpus", "0"], ["--num-cpus", "2", "--num-gpus", "0"], private_tmp={1}
        ) as (address, env):
            yield address, env, worker_node(address, env)
    finally:
        for name in s3_server:
            os.environ.pop(name, None)


def worker_node(address: str, env: dict) -> str:
    """The id of the cluster's node that has CPUs (the one every trial must train on)."""
    script = "import json, sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); " + (
        "print(json.dumps([n['NodeID'] for n in ray.nodes() if n['Alive'] and n['Resources'].get('CPU')]))"
    )
    done = subprocess.run([sys.executable, "-c", script, address], capture_output=True, text=True, env=env, timeout=120)
    (node,) = json.loads(done.stdout.strip().splitlines()[-1])
    return node


def study_file(tmp_path, name: str, checkpoints: dict | None = None):
    """One char_lm trial of a few seconds over a file of the driver's (no node can read it)."""
    text = (REPO / "tuner/data/tinyshakespeare.txt").read_text()[:20000]
    (tmp_path / "mine.txt").write_text(text)
    document = tiny_study(
        tmp_path,
        name=name,
        trials=1,
        max_epochs=4,
        early_stopping={"patience": 4},
        task={"name": "char_lm", "data": "mine.txt", "options": {"seq_length": 100, "test_fraction": 0.1}},
        **({"checkpoints": checkpoints} if checkpoints else {}),
    )
    return write_yaml(tmp_path / f"{name}.yaml", document)


@pytest.mark.parametrize("where", ["served by the driver", "bucket"])
def test_a_study_on_a_cluster_without_a_shared_disk_trains_resumes_and_exports_on_the_worker_node(
    cluster_without_shared_disk, s3_server, tmp_path, capsys, monkeypatch, downloads, where
):
    from tuner.storage.queries import epochs_frame

    address, env, node = cluster_without_shared_disk
    prefix = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}"
    checkpoints = {"path": prefix} if where == "bucket" else None
    name = "served" if checkpoints is None else "bucket"
    path, url = study_file(tmp_path, name, checkpoints), f"sqlite:///{tmp_path / 'c.db'}"

    def epochs_of_running() -> bool:  # a trial has trained two epochs, its state is with the driver, it runs on
        running = [t.number for t in trials_of(url, name) if t.state is TrialState.RUNNING]
        rows = epochs_frame(url, name) if running else None
        return bool(running) and (rows["trial_number"].isin(running)).sum() >= 2 and any(map(kept, running))

    driver = tuner_run(path, url, address, env=env)
    kept = resume_states(path, url)
    freeze_driver_when(driver, epochs_of_running)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver dies: the same command must resume its trials
    driver.wait()
    again = tuner_run(path, url, address, env=env)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err

    trials = trials_of(url, name)
    finished = [t for t in trials if t.state is TrialState.COMPLETE]
    interrupted = [t for t in trials if t.user_attrs.get("stop_reason") == "interrupted"]
    assert len(finished) == 1 and interrupted, [(t.state, t.user_attrs.get("error")) for t in trials]
    assert {t.user_attrs["node"]["node"] for t in finished} == {node}  # every trial trained on the worker node
    # a trial the kill interrupted went on from the state its first run left (its early epochs replayed as
    # they were, their very timings), on the worker node: the state came back through the driver or bucket
    rows = epochs_frame(url, name)
    resumed = []
    for rerun in (t for t in finished if t.user_attrs.get("retry_of") is not None):
        before = rows[rows["trial_number"] == rerun.user_attrs["retry_of"]].set_index("epoch")["seconds"]
        after = rows[rows["trial_number"] == rerun.number].set_index("epoch")["seconds"]
        if len(before) and all(after.get(e) == s for e, s in before.items() if e < before.index.max()):
            resumed.append(rerun)
    assert resumed, rows
    # the kept model comes back to the driver and scores the held-out text
    model = tmp_path / "best.pt"
    assert main(["export", name, "--storage", url, "--model", str(model)]) == 0
    assert main(["evaluate", str(model), "--data", str(tmp_path / "mine.txt")]) == 0
    assert "loss" in capsys.readouterr().out
    if where == "bucket":  # the kept models are artifacts in the bucket, and nothing of Tune's is left there
        import boto3

        page = open_page(monkeypatch, url, "export")  # the dashboard reads the kept model from the bucket too
        assert downloaded(downloads, page.get("download_button")[1]) == model.read_bytes()

        keys = [  # not the folder markers pyarrow leaves ("prefix/artifacts/")
            o["Key"]
            for o in boto3.client("s3", **_client_options(s3_server)).list_objects_v2(
                Bucket=BUCKET, Prefix=prefix.removeprefix(f"s3://{BUCKET}/")
            )["Contents"]
            if not o["Key"].endswith("/")
        ]
        assert len([k for k in keys if "/artifacts/" in k]) == 1, keys  # the finished trial's model
        assert not [k for k in keys if "/tune-runs/" in k], keys


def test_a_location_the_worker_node_cannot_see_is_one_line_before_the_study_is_written(
    cluster_without_shared_disk, tmp_path
):
    # a file:// URI says "every node writes here itself": the driver can, the worker node (own /tmp) cannot
    address, env, _ = cluster_without_shared_disk
    path = study_file(tmp_path, "unseen", {"path": f"file://{tmp_path / 'models'}"})
    driver = tuner_run(path, f"sqlite:///{tmp_path / 'u.db'}", address, env=env)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "checkpoints.path" in lines[0] and "every Ray node can read and write" in lines[0]
    assert "does not see the file the driver wrote there" in lines[0]
    assert "unseen" not in [s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'u.db'}")]


def test_a_bucket_that_does_not_exist_is_one_line_before_anything_is_written(s3_server, tmp_path, capsys):
    os.environ.update(s3_server)
    try:
        path = study_file(tmp_path, "nobucket", {"path": "s3://no-such-bucket/models"})
        code = main(["run", str(path), "--storage", f"sqlite:///{tmp_path / 'n.db'}"])
    finally:
        for name in s3_server:
            os.environ.pop(name, None)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "checkpoints.path" in err[0] and "s3://no-such-bucket/models" in err[0]
    assert not (tmp_path / "n.db").exists()
