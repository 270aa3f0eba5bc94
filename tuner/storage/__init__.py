"""Storage: our SQLAlchemy tables beside Optuna's, and queries that return pandas frames.

Never imported by a Ray worker (workers report; the driver writes), and never imports training,
orchestration, insight, the CLI or the dashboard.
"""

# Relative to the working folder, like Optuna's own examples; `--storage` or $TUNER_STORAGE change it.
DEFAULT_STORAGE = "sqlite:///tuner.db"
# The environment variable that names the storage when --storage does not (the dashboard reads only this).
STORAGE_ENV = "TUNER_STORAGE"


def is_uri(text: str) -> bool:
    """A URI with a scheme (``s3://bucket/prefix``), not a path of this machine (``storage.locations``)."""
    return "://" in text
