"""A classifier's confusion matrix as a table a person reads: rows the true label, columns the predicted."""

from __future__ import annotations

import pandas as pd

from tuner.storage.ranking import ranked_rows


def confusion_frame(labels: list[str], matrix: list[list[int]]) -> pd.DataFrame:
    """Counts with the labels on both axes (index: true, columns: predicted)."""
    frame = pd.DataFrame(matrix, index=[str(label) for label in labels], columns=[str(label) for label in labels])
    frame.index.name, frame.columns.name = "true", "predicted"
    return frame


def best_trial_confusions(trials: pd.DataFrame, direction: str, test_result: dict | None) -> dict[str, pd.DataFrame]:
    """The best trial's confusion matrices: on validation (what its kept weights predict there) and, when the
    study's test data scored that trial, on test. Empty for a study of another task."""
    ranked = ranked_rows(trials, direction)
    if ranked.empty or not isinstance(ranked.iloc[0].get("confusion"), dict):
        return {}
    best, shown = ranked.iloc[0], {}
    stored = best["confusion"]
    shown[f"trial {int(best['number'])} on validation"] = confusion_frame(stored["labels"], stored["matrix"])
    scored = (test_result or {}).get("confusion")
    if scored and scored.get("test") and test_result.get("trial") == int(best["number"]):
        shown[f"trial {int(best['number'])} on test (no trial read it)"] = confusion_frame(
            scored["labels"], scored["test"]
        )
    return shown
