"""Orchestration: Optuna decides what to try, Ray Tune runs it, the driver records it."""
