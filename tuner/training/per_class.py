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


def class_report(matrix: np.ndarray, labels: list) -> dict[str, Any]:
    """``balanced_accuracy``, ``macro_f1``, ``per_class`` (label -> precision, recall, f1, support) and
    ``confusion`` ({labels, matrix}) of a confusion matrix, in plain values (JSON-ready)."""
    hits = np.diag(matrix).astype(float)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    present = support > 0
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
        "balanced_accuracy": float(recall[present].mean()) if present.any() else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "per_class": per_class,
        "confusion": {"labels": [str(label) for label in labels], "matrix": matrix.tolist()},
    }
