"""Summaries of studies for people: importances of one study, two studies side by side, the best against the baseline.

Read-only over the storage; the CLI prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from tuner import attrs
from tuner.errors import BadInput
from tuner.insight.analysis import best_so_far
from tuner.insight.front import hypervolume
from tuner.insight.importance import Evaluator, bootstrap_importances, param_importances
from tuner.insight.score_lines import score_lines, versus_trivial
from tuner.storage import queries


@dataclass(frozen=True)
class ImportanceTable:
    values: pd.DataFrame  # one column per evaluator, one row per parameter; empty when too few trials
    trials: int  # COMPLETE trials behind it
    resamples: int = 0  # bootstrap resamplings behind the fANOVA interval (columns low and high), 0: none
    top_two_overlap: bool = False  # the two most important knobs' intervals overlap: their order is noise


def importance_table(url: str, study: str, bootstrap: int = 0) -> ImportanceTable:
    """fANOVA (Optuna's default forest) and PED-ANOVA importances, sorted by fANOVA; with ``bootstrap``
    resamplings of the trials, fANOVA's 90% interval too (columns ``low``, ``high``)."""
    direction = queries.study_direction(url, study)
    trials = queries.trials_frame(url, study)
    distributions = queries.distributions(url, study)
    fanova = bootstrap_importances(trials, distributions, direction, bootstrap) if bootstrap else None
    columns, complete = {}, 0
    for evaluator in (Evaluator.FANOVA, Evaluator.PED_ANOVA):
        result = param_importances(trials, distributions, direction, evaluator)
        columns[evaluator.value] = result.values.set_index("parameter")["importance"]
        complete = result.trials
    if not any(len(c) for c in columns.values()):
        return ImportanceTable(pd.DataFrame(), complete)
    # a knob a method did not rank stays empty (NaN: "not ranked"), never a 0 beside another's first place
    table = pd.DataFrame(columns).sort_values(Evaluator.FANOVA.value, ascending=False)
    if fanova is None or fanova.values.empty:
        return ImportanceTable(table, complete)
    intervals = fanova.values.set_index("parameter")
    for position, end in enumerate(("low", "high"), start=1):  # fANOVA's interval beside its estimate
        table.insert(position, end, intervals[end].reindex(table.index))
    return ImportanceTable(table, complete, fanova.resamples, fanova.top_two_overlap())


def compare_table(url: str, study_a: str, study_b: str, target: float | None = None) -> pd.DataFrame:
    """Best values, trial counts, trials needed to reach ``target`` (default: the worse of the two
    bests) and the top fANOVA importances of two studies, one column each."""
    names = (study_a, study_b)
    directions = {name: queries.study_direction(url, name) for name in names}
    if directions[study_a] != directions[study_b]:
        raise BadInput("STUDY_B", None, f"a study that also {directions[study_a]}s", directions[study_b])
    minimize = directions[study_a] == "minimize"
    trials = {name: queries.trials_frame(url, name) for name in names}
    curves = {name: best_so_far(trials[name], directions[name]) for name in names}
    bests = [curve["best"].iloc[-1] for curve in curves.values() if len(curve)]
    if target is None and bests:
        target = max(bests) if minimize else min(bests)
    reach = f"trials to reach {target:.4g}" if target is not None else "trials to reach target"
    rows = {}
    for label, name in zip("AB", names, strict=True):
        curve = curves[name]
        hit = curve[curve["best"] <= target] if minimize else curve[curve["best"] >= target]
        result = param_importances(trials[name], queries.distributions(url, name), directions[name], Evaluator.FANOVA)
        rows[f"{label}: {name}"] = {
            "best value": curve["best"].iloc[-1] if len(curve) else None,
            "trials": len(trials[name]),
            "COMPLETE": int((trials[name]["state"] == "COMPLETE").sum()) if len(trials[name]) else 0,
            reach: int(hit["number"].iloc[0]) + 1 if len(hit) else "never",
            "warm-started trials": _warm_started(trials[name], minimize),
            "top importances (fANOVA)": ", ".join(
                f"{p} {v:.2f}" for p, v in result.values.head(3).itertuples(index=False)
            )
            or "-",
        }
    _compare_fronts(url, names, trials, rows)
    return pd.DataFrame(rows)


def _compare_fronts(url: str, names: tuple[str, str], trials: dict[str, pd.DataFrame], rows: dict) -> None:
    """Two multi-objective studies of the same objectives: each front's size and hypervolume, against one
    reference point (per objective, the worst value among both studies' feasible COMPLETE trials)."""
    settings = [queries.study_user_attr(url, n, attrs.SETTINGS) or {} for n in names]
    objectives = [s.get("objectives") for s in settings]
    if not any(objectives):
        return
    if objectives[0] != objectives[1]:
        raise BadInput("STUDY_B", None, f"a study of the same objectives as {names[0]}", names[1])
    metrics = [o["metric"] for o in objectives[0]]
    maximize = [o["direction"] == "maximize" for o in objectives[0]]
    columns = ["value" if m == settings[0]["metric"] else m for m in metrics]  # the frame's validation column
    feasible = {
        n: trials[n][(trials[n]["state"] == "COMPLETE") & (trials[n]["infeasible"] == "")][columns].to_numpy().tolist()
        for n in names
    }
    every = feasible[names[0]] + feasible[names[1]]
    if not every:
        return
    reference = [min(p[i] for p in every) if up else max(p[i] for p in every) for i, up in enumerate(maximize)]
    label = "hypervolume (reference " + ", ".join(f"{m} {r:.4g}" for m, r in zip(metrics, reference, strict=True)) + ")"
    for key, name in zip(rows, names, strict=True):
        rows[key]["front members"] = int(trials[name]["front"].sum())
        rows[key][label] = hypervolume(feasible[name], reference, maximize)


def _warm_started(trials: pd.DataFrame, minimize: bool) -> str:
    """How many trials a warm start queued, and the best of them ("none" for a study without one)."""
    warm = trials[(trials["warm_start_from"] != "") & (trials["state"] == "COMPLETE")] if len(trials) else trials
    if warm.empty:
        return "none"
    best = warm["value"].min() if minimize else warm["value"].max()
    return f"{len(warm)} (best {best:.4g})"


def against_baseline(url: str, study: str, trials: pd.DataFrame | None = None) -> str | None:
    """One line: the baseline trial's value and how much better the best trial is; None without a finished baseline.

    ``trials``: the study's whole trials frame when the caller has read it already.
    """
    baseline = queries.baseline_result(url, study)
    if baseline is None:
        return None
    minimize = queries.study_direction(url, study) == "minimize"
    frame = queries.trials_frame(url, study) if trials is None else trials
    return baseline_summary(frame, baseline, minimize, queries.study_metric(url, study))


def baseline_summary(
    trials: pd.DataFrame, baseline: tuple[int, float] | None, minimize: bool, metric: str
) -> str | None:
    """``against_baseline`` over a trials frame already read (the dashboard's cached one)."""
    if baseline is None:
        return None
    number, value = baseline
    complete = trials[trials["state"] == "COMPLETE"]
    line = f"baseline trial {number}: {metric} {value:.4f}"
    if complete.empty:  # a cached frame read a moment before the baseline finished
        return line
    best = complete.loc[complete["value"].idxmin() if minimize else complete["value"].idxmax()]
    if int(best["number"]) == number or best["value"] == value:
        return f"{line}; no trial beat it"
    change = abs(best["value"] - value) / abs(value) * 100 if value else math.inf
    return f"{line}; the best trial {int(best['number'])} is {change:.1f}% {'lower' if minimize else 'higher'}"


def against_trivial(url: str, study: str, trials: pd.DataFrame | None = None) -> str | None:
    """One line: the trivial predictor's validation value beside the best trial's; None before a trial stored it."""
    trivial = queries.study_user_attr(url, study, attrs.TRIVIAL)
    frame = queries.trials_frame(url, study) if trials is None else trials
    return trivial_summary(
        frame, trivial, queries.study_direction(url, study) == "minimize", queries.study_metric(url, study)
    )


def trivial_summary(trials: pd.DataFrame, trivial: dict | None, minimize: bool, metric: str) -> str | None:
    """``against_trivial`` over a trials frame already read (the dashboard's cached one)."""
    complete = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    if trivial is None or complete.empty:
        return None
    best = complete["value"].min() if minimize else complete["value"].max()
    return versus_trivial(metric, minimize, float(best), trivial)


def test_lines(test_result: dict | None, minimize: bool) -> list[str]:
    """Validation against test of the best trial (``final_test``), or nothing when it was not scored."""
    if not test_result:
        return []
    how = test_result.get("from", "trained again")
    heading = f"best trial {test_result['trial']} ({how}), scored on the test data no trial read:"
    return [heading, *score_lines(test_result, minimize)]
