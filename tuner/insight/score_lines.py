"""One-line summaries that put a network's value beside its trivial predictor's and its test value.

Torch- and optuna-free: ``tuner run``, ``tuner trials``, ``tuner train``, the report and the
dashboard all print these same lines.
"""

from __future__ import annotations

from typing import Any

from tuner.config.task import selection_optimism
from tuner.insight.analysis import TRIVIAL_MARGIN


def clearly_better(value: float, trivial: float, minimize: bool) -> bool:
    """Whether ``value`` beats the trivial predictor's by more than ``TRIVIAL_MARGIN`` of it (the fit-label rule)."""
    if minimize:
        return value < trivial - abs(trivial) * TRIVIAL_MARGIN
    return value > trivial + abs(trivial) * TRIVIAL_MARGIN


def versus_trivial(metric: str, minimize: bool, value: float, trivial: dict[str, Any] | None) -> str | None:
    """'trivial predictor (what it does): METRIC V; the best is X% lower' or '... no better than trivial'."""
    if not trivial or metric not in trivial.get("metrics", {}):
        return None
    base = float(trivial["metrics"][metric])
    line = f"trivial predictor ({trivial['predictor']}): {metric} {base:.4f}"
    if not clearly_better(value, base, minimize):
        return f"{line}; the best network ({value:.4f}) is no better than trivial"
    if minimize and base:  # a loss or an error: how much of it the network removed
        return f"{line}; the best is {abs(value - base) / abs(base):.1%} lower"
    # a score such as accuracy: the difference in its own units (a ratio of accuracies reads as noise)
    return f"{line}; the best is {abs(value - base):.4f} {'lower' if minimize else 'higher'}"


def score_lines(scores: dict[str, Any], minimize: bool) -> list[str]:
    """Validation and test values of a chosen network beside the trivial predictor's (``FinalScores.as_dict()``)."""
    metric = scores["metric"]
    name = metric.removeprefix("val_")
    trivial = scores["trivial"]
    lines = [
        f"validation {name} {scores['validation'][metric]:.4f}   trivial ({trivial['validation']['predictor']}) "
        f"{trivial['validation']['metrics'][metric]:.4f}"
    ]
    test = scores.get("test")
    if test is None:
        lines.append(
            "test: no test data was given (task.test_data or task.options.test_fraction in the study): "
            "the validation value chose this network among the trials, so it flatters it"
        )
        return lines
    optimism = selection_optimism(scores["validation"][metric], test[metric], maximize=not minimize)
    lines.append(
        f"test       {name} {test[metric]:.4f}   trivial {trivial['test']['metrics'][metric]:.4f}   "
        f"selection optimism {optimism:+.4f} (how much better validation makes it look than test: "
        "positive when choosing on validation flattered it)"
    )
    if not clearly_better(test[metric], trivial["test"]["metrics"][metric], minimize):
        lines.append(f"warning: on test data the network is no better than the trivial predictor ({name})")
    return lines
