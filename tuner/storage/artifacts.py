"""Where a study's kept model files live: an Optuna artifact store in its models location.

Written by the driver (``orchestration.kept_models``), read by ``tuner export --model`` and the
dashboard's export page; so optuna-dashboard (``--artifact-dir`` on a local folder) and
``optuna.artifacts`` see the same files. The location is a folder or a bucket URI (``locations``).
"""

from __future__ import annotations

from tuner.storage.locations import ArtifactStoreAt, Location

ARTIFACTS = "artifacts"  # the artifact store, inside a study's models location


def artifact_store(models: str) -> ArtifactStoreAt:
    """The artifact store inside the models location ``models`` (a folder path or a URI)."""
    return ArtifactStoreAt(Location(models).child(ARTIFACTS))
