"""Per-class scores of a classifier: the confusion matrix, precision and recall per class, balanced
accuracy and macro F1, as scikit-learn defines them (a class never predicted has precision 0, not a
division by zero; a class absent from the data is left out of the averages)."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion(actual: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(C, C) counts: row = the true class, column = the predicted one."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (actual, predicted), 1)
    return matrix


def rates(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per class of a confusion matrix: (precision, recall, f1, support)."""
    hits = np.diag(matrix).astype(float)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return precision, recall, f1, support


def balanced_accuracy_and_macro_f1(matrix: np.ndarray) -> tuple[float, float]:
    """The mean recall and the mean F1 over the classes present (scikit-learn's ``balanced_accuracy_score``
    and ``f1_score(average="macro")`` over the labels that occur)."""
    _, recall, f1, support = rates(matrix)
    present = support > 0
    if not present.any():
        return float("nan"), float("nan")
    return float(recall[present].mean()), float(f1[present].mean())


def class_report(matrix: np.ndarray, labels: list) -> dict[str, Any]:
    """``balanced_accuracy``, ``macro_f1``, ``per_class`` (label -> precision, recall, f1, support) and
    ``confusion`` ({labels, matrix}) of a confusion matrix, in plain values (JSON-ready)."""
    precision, recall, f1, support = rates(matrix)
    balanced, macro_f1 = balanced_accuracy_and_macro_f1(matrix)
    per_class = {
        str(label): {
            "precision": float(precision[k]),
            "recall": float(recall[k]),
            "f1": float(f1[k]),
            "support": int(support[k]),
        }
        for k, label in enumerate(labels)
    }
    return {
        "balanced_accuracy": balanced,
        "macro_f1": macro_f1,
        "per_class": per_class,
        "confusion": {"labels": [str(label) for label in labels], "matrix": matrix.tolist()},
    }
