"""What the benchmark scripts share: a quiet local Ray whose files stay in a temporary folder."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import ray
import yaml

from tuner.config.studies import StudySpec, load_study

# The trainables that train nothing (tests/arithmetic.py) live with the tests, not in the package;
# run from the repository root, Ray's workers import them from there too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@contextlib.contextmanager
def local_ray(num_cpus: int = 2) -> Iterator[Path]:
    """Start Ray before the clock (start-up is not what the benchmarks measure); yields a temp folder."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    with tempfile.TemporaryDirectory() as folder:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            _temp_dir=f"{folder}/ray",  # Ray's one way to choose where its session files go
        )
        try:
            yield Path(folder)
        finally:
            ray.shutdown()


def study_from(document: dict, path: Path) -> StudySpec:
    """Write a study document as the YAML file a user would, and load it through the same checks."""
    path.write_text(yaml.safe_dump(document))
    return load_study(path)
