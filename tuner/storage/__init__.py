"""Storage: our SQLAlchemy tables beside Optuna's, and queries that return pandas frames."""
