"""Where a study's kept model files live: an Optuna artifact store in its models location.

Written by the driver (``orchestration.kept_models``), read by ``tuner export --model`` and the
dashboard's export page; so optuna-dashboard (``--artifact-dir`` on a local folder) and
``optuna.artifacts`` see the same files. The location is a folder or a bucket URI (``locations``).
"""

from __future__ import annotations

from optuna.artifacts.exceptions import ArtifactNotFound

from tuner.storage.locations import ArtifactStoreAt, Location

ARTIFACTS = "artifacts"  # the artifact store, inside a study's models location


def artifact_store(models: str) -> ArtifactStoreAt:
    """The artifact store inside the models location ``models`` (a folder path or a URI)."""
    return ArtifactStoreAt(Location(models).child(ARTIFACTS))


def kept_model(models_record: dict | None, number: int) -> bytes | None:
    """Trial ``number``'s kept model file, given a study's ``models`` record (``attrs.MODELS``: where the
    models are and which trial holds which artifact); None when it has none."""
    artifact_id = (models_record or {}).get("kept", {}).get(str(number))
    if not artifact_id:
        return None
    try:
        with artifact_store(models_record["folder"]).open_reader(artifact_id) as reader:
            return reader.read()
    except ArtifactNotFound:  # deleted since: as if never kept
        return None
