"""Where a study's kept model files live: an Optuna file-system artifact store in its models folder.

Written by the driver (``orchestration.kept_models``), read by ``tuner export --model``; so
optuna-dashboard (``--artifact-dir``) and ``optuna.artifacts`` see the same files.
"""

from __future__ import annotations

from pathlib import Path

from optuna.artifacts import FileSystemArtifactStore

ARTIFACTS = "artifacts"  # the artifact store, inside a study's models folder


def artifact_store(folder: Path) -> FileSystemArtifactStore:
    (folder / ARTIFACTS).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(folder / ARTIFACTS))
