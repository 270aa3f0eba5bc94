"""Shared fixtures: fixed seeds, one small Ray instance for the session, study-file helpers."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# Tests that start real components (a Ray instance, a PostgreSQL server, Chromium, a `tuner` process)
# are marked slow, so `pytest -m "not slow"` is the fast inner loop.
_SLOW_FIXTURES = {"ray_session", "small_study", "quickstart", "postgres_url", "maximize_study", "browser"}
_SLOW_MODULES = {
    "test_dashboard_browser",
    "test_ray_cluster",
    "test_cluster_storage",
    "test_resilience",
    "test_postgres",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SLOW_FIXTURES & set(item.fixturenames) or item.module.__name__.rsplit(".", 1)[-1] in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _ctrl_c_delivered() -> None:
    """Ctrl-C reaches the suite and the commands it starts, as from a terminal.

    A suite started in the background by a non-interactive shell (``cmd &`` in a script) inherits
    SIGINT ignored, and so would every ``tuner`` it starts: the Ctrl-C tests would see no interrupt.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # children get the default again at exec


@pytest.fixture(autouse=True)
def _fixed_seeds() -> None:
    import torch

    random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory):
    """One local Ray for the test process's whole session: 2 CPUs, no dashboard, temp files under pytest's
    tmp. Each of pytest-xdist's two processes has its own; tests run one trial at a time unless several at
    once is what they test, so that the two together keep a 2-core machine's cores busy, not oversubscribed."""
    import ray

    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    temp_dir = tmp_path_factory.mktemp("ray")
    # _temp_dir: Ray's one way to put a local instance's session files in a chosen folder (ray.init documents it)
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp_dir), logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


def run_args(study_file, url: str, address: str, *extra: str) -> list[str]:
    """`run STUDY --storage URL --address ADDRESS --quiet --workers 1`: one trial at a time unless the test
    says otherwise (a later --workers in ``extra`` wins)."""
    return ["run", str(study_file), "--storage", url, "--address", address, "--quiet", "--workers", "1", *extra]


def tuner_run_here(study_file, url: str, address: str, *extra: str) -> int:
    """``run_args`` run in the test's own process (it joins the same Ray): the exit code."""
    from tuner.cli import main

    return main(run_args(study_file, url, address, *extra))


def tuner_run(study_file, url: str, address: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    """``run_args`` as a `tuner` process of its own session (so a test can kill it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", *run_args(study_file, url, address, *extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
        start_new_session=True,
    )


@pytest.fixture()
def downloads(monkeypatch: pytest.MonkeyPatch) -> list:
    """Streamlit AppTest's in-memory media storages, recorded so that downloaded bytes can be read back."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    storages: list[MemoryMediaFileStorage] = []

    class RecordingStorage(MemoryMediaFileStorage):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            storages.append(self)

    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", RecordingStorage)
    return storages


def downloaded(storages: list, button: object) -> bytes:
    """The bytes a dashboard download button serves (``storages``: the ``downloads`` fixture)."""
    return storages[-1].get_file(button.proto.url.rsplit("/", 1)[1]).content


class _StopBeforeRay(Exception):
    """Raised by a fake run_spec: what `tuner run` prints before it runs is all a test reads."""


def lines_before_a_fake_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> str:
    """What `tuner run ARGS` prints before it runs a study, with a fake run_spec that stops it there."""
    import tuner.api
    from tuner.cli import main

    def fake_run_spec(*_: object, **__: object) -> None:
        raise _StopBeforeRay

    monkeypatch.setattr(tuner.api, "run_spec", fake_run_spec)
    capsys.readouterr()
    with pytest.raises(_StopBeforeRay):
        main(["run", *map(str, args)])
    return capsys.readouterr().out


def wait_for(predicate, timeout: float = 180.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def freeze_driver_when(driver: subprocess.Popen, holds: Callable[[], bool]) -> None:
    """Wait until ``holds()`` is true of the database while ``driver`` (a ``tuner_run``) is frozen by SIGSTOP,
    and leave it frozen. The driver writes every trial's state and epochs: frozen, what the test saw is still
    the state when it then kills or interrupts it (running, a trial could finish between the look and the kill).
    Trials go on training in Ray's workers meanwhile; only their results wait."""

    def frozen_and_holds() -> bool:
        if driver.poll() is not None:  # it ended before the test could stop it: say why
            raise AssertionError(f"the driver exited with {driver.returncode}: {driver.communicate()[1][-2000:]}")
        os.killpg(driver.pid, signal.SIGSTOP)
        if holds():
            return True
        os.killpg(driver.pid, signal.SIGCONT)
        return False

    wait_for(frozen_and_holds)


def resume_states(study_file: Path, url: str) -> Callable[[int], bool]:
    """Whether the driver already holds the state a trial resumes from, by trial number: where the study
    keeps it (its checkpoints location for this storage, as KeptModels names it)."""
    from tuner.config.studies import load_study
    from tuner.orchestration.kept_models import KeptModels
    from tuner.storage.locations import Location

    location = Location(load_study(study_file).checkpoints.location(url))
    return lambda number: location.exists(KeptModels.state_name(number))


def trials_of(url: str, name: str) -> list:
    """The trials of study ``name`` (FrozenTrial), none while the study does not exist yet."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=url).trials
    except KeyError:
        return []


def sqlite_dump(url: str) -> list[str]:
    """Every row of a SQLite database as SQL text: to show that something wrote nothing."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return list(connection.iterdump())


def write_yaml(path: Path, document: object) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def tiny_study(tmp_path: Path, **overrides: object) -> dict:
    """A study document small enough to run in seconds: a few hundred characters, hidden 8-16."""
    document = {
        "name": "tiny",
        "task": {"name": "char_lm", "data": "builtin:tinyshakespeare", "options": {"max_chars": 600, "seq_length": 50}},
        "space": {
            "parameters": {
                "learning_rate": {"type": "float", "low": 0.005, "high": 0.05, "log": True},
                "cell": {"type": "categorical", "choices": ["lstm", "gru"]},
                "forget_bias": {"type": "float", "low": 0.0, "high": 5.0, "condition": {"cell": "lstm"}},
                "hidden_size": {"type": "int", "low": 8, "high": 16, "step": 8},
                "depth": 1,
                "batch_size": 4,
                "tbptt_length": 25,
            }
        },
        "sampler": {"type": "tpe", "seed": 1},
        "pruner": {"type": "none"},
        "trials": 4,
        "max_epochs": 2,
        "early_stopping": {"patience": 2},
        "resources": {"cpu": 1},
        "seed": 0,
    }
    document.update(overrides)
    return document


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary folder every test process of this run sees (pytest-xdist's processes each have their own
    below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def small_study(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A real small study (4 trials x 3 epochs through Ray Tune) in its own SQLite file: (url, name).
    Run once per test run: the first test process to need it runs it, the other reads the same file.
    Its study file is ``study.yaml`` beside the database."""
    from filelock import FileLock

    from tuner.config.studies import load_study
    from tuner.orchestration.runner import run_study

    folder = shared_folder(tmp_path_factory) / "small-study"
    url = f"sqlite:///{folder / 'small.db'}"
    with FileLock(str(folder.parent / "small-study.lock")):
        if not (folder / "finished").exists():
            request.getfixturevalue("ray_session")
            folder.mkdir(exist_ok=True)
            document = tiny_study(folder, name="small", trials=4, max_epochs=3, early_stopping={"patience": 3})
            spec = load_study(write_yaml(folder / "study.yaml", document))
            run_study(spec, url, trials=4, workers=1, show_progress=False)
            (folder / "finished").touch()
    return url, "small"


def copy_of_small_study(small_study: tuple[str, str], folder: Path, stem: str) -> tuple[str, Path]:
    """A copy of the shared small study in ``folder`` as ``STEM.db`` (SQLite's backup API: the WAL's pages
    too), with its kept models: (its URL, the small study's file)."""
    import shutil

    shared = Path(small_study[0].removeprefix("sqlite:///"))
    copy = folder / f"{stem}.db"
    with sqlite3.connect(shared) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    if (models := shared.with_name(f"{shared.stem}-models")).exists():
        shutil.copytree(models, folder / f"{stem}-models")
    return f"sqlite:///{copy}", shared.with_name("study.yaml")


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server in a temporary folder on 127.0.0.1, for the session: a psycopg URL.

    Uses the machine's PostgreSQL binaries (initdb, pg_ctl); as root, they run as the
    `postgres` user, since PostgreSQL refuses to run as root.
    """
    import getpass
    import shutil
    import socket
    import subprocess
    import tempfile

    bindir = (
        Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]) if Path("/usr/lib/postgresql").exists() else None
    )
    initdb = str(bindir / "initdb") if bindir else shutil.which("initdb")
    pg_ctl = str(bindir / "pg_ctl") if bindir else shutil.which("pg_ctl")
    assert initdb and pg_ctl, "PostgreSQL server binaries (initdb, pg_ctl) are needed: apt-get install postgresql"
    as_user = ["runuser", "-u", "postgres", "--"] if getpass.getuser() == "root" else []
    folder = Path(tempfile.mkdtemp(prefix="tuner-pg-"))
    (folder / "pw").write_text("s3cret\n")
    if as_user:
        shutil.chown(folder, "postgres")
        shutil.chown(folder / "pw", "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = folder / "data"
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run(initdb, "-D", str(data), "-U", "tuner", "--auth=scram-sha-256", f"--pwfile={folder / 'pw'}", "-E", "UTF8")
    run(pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w", "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start")
    try:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=tuner password=s3cret dbname=postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE tuner")
        yield f"postgresql+psycopg://tuner:s3cret@127.0.0.1:{port}/tuner"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
