"""A multi-objective study's front: what it is made of, and the member a user picks from it.

A multi-objective study has no single best trial: ``tuner export`` asks for ``--trial N`` or
``--best-for METRIC`` (the front member best on that objective, ties broken by the validation
objective), optionally ``--where "params<=100000"`` to look only at members within a budget.
Infeasible trials (outside the study's constraints) are never on the front (storage.ranking).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from tuner import attrs
from tuner.errors import BadInput, did_you_mean
from tuner.storage import ranking

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|==|<|>)\s*([-+0-9.eE_]+)\s*$")


@dataclass(frozen=True)
class Condition:
    """``METRIC OP NUMBER`` of ``--where``."""

    metric: str
    op: str
    bound: float

    def holds(self, value: float) -> bool:
        return _OPERATORS[self.op](value, self.bound)


def metrics_of(study: optuna.Study) -> list[str]:
    """The study's objectives by name, in the order of a trial's values."""
    return ranking.objective_metrics(study.user_attrs.get(attrs.SETTINGS))


def parse_where(texts: Sequence[str], metrics: Sequence[str]) -> list[Condition]:
    """``--where`` conditions, each ``METRIC<=N`` (or ``<``, ``>=``, ``>``, ``==``) on one of ``metrics``."""
    conditions = []
    for text in texts:
        match = _CONDITION.match(text)
        if match is None:
            raise BadInput("--where", None, 'a condition such as "params<=100000" (METRIC <=|<|>=|>|== NUMBER)', text)
        metric, op, number = match.groups()
        if metric not in metrics:
            expected = "an objective of the study: " + ", ".join(metrics)
            raise BadInput("--where", None, expected, metric, did_you_mean(metric, metrics))
        try:
            conditions.append(Condition(metric, op, float(number)))
        except ValueError:
            raise BadInput("--where", None, "a number after the comparison", number) from None
    return conditions


def describe_member(trial: FrozenTrial, metrics: Sequence[str]) -> str:
    values = ", ".join(f"{m} {v:.4g}" for m, v in zip(metrics, trial.values, strict=True))
    return f"{trial.number} ({values})"


def front_line(study: optuna.Study) -> str:
    """'front: 3 trials: 2 (val_loss 3.3, params 2165), ...' (one line)."""
    front, metrics = ranking.front_trials(study), metrics_of(study)
    if not front:
        return "front: no feasible COMPLETE trial yet"
    return f"front: {len(front)} trials: " + "; ".join(describe_member(t, metrics) for t in front)


def best_for(study: optuna.Study, metric: str, where: Sequence[str] = ()) -> FrozenTrial:
    """The front member best on ``metric`` among those meeting every ``where`` condition (ties: the
    validation objective, then the lower number)."""
    metrics = metrics_of(study)
    if metric not in metrics:
        raise BadInput("--best-for", None, "an objective of the study: " + ", ".join(metrics), metric)
    conditions = parse_where(where, metrics)
    members = [
        t for t in ranking.front_trials(study) if all(c.holds(t.values[metrics.index(c.metric)]) for c in conditions)
    ]
    if not members:
        found = "no front member" + (f" meets {' and '.join(where)}" if where else " yet")
        raise BadInput("--where" if where else "STUDY", None, "a front member to export", found, front_line(study))
    index = metrics.index(metric)
    validation = ranking.validation_index(study.user_attrs.get(attrs.SETTINGS))
    sign = [-1.0 if d is StudyDirection.MAXIMIZE else 1.0 for d in study.directions]
    return min(members, key=lambda t: (sign[index] * t.values[index], sign[validation] * t.values[validation]))


def ask_for_a_member(study: optuna.Study) -> BadInput:
    """What ``tuner export`` says on a multi-objective study given neither --trial nor --best-for."""
    return BadInput(
        "STUDY",
        None,
        "--trial N or --best-for METRIC (a multi-objective study has a front, not one best trial)",
        study.study_name,
        front_line(study),
    )


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float], maximize: Sequence[bool]) -> float:
    """The volume of objective space that ``points`` dominate up to ``reference`` (larger is better): the
    usual measure of a whole front. Exact, by slicing along the last objective (fine for fronts of tens
    of trials); points no better than the reference on every objective add nothing."""
    signed = [[-v if up else v for v, up in zip(p, maximize, strict=True)] for p in points]
    bound = [-v if up else v for v, up in zip(reference, maximize, strict=True)]
    inside = [p for p in signed if all(x < r for x, r in zip(p, bound, strict=True))]
    return _volume(inside, bound)


def _volume(points: list[list[float]], reference: list[float]) -> float:
    if not points:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in points)
    ordered = sorted(points, key=lambda p: p[-1])
    total = 0.0
    for i, point in enumerate(ordered):
        top = ordered[i + 1][-1] if i + 1 < len(ordered) else reference[-1]
        if top > point[-1]:
            total += _volume([p[:-1] for p in ordered[: i + 1]], reference[:-1]) * (top - point[-1])
    return total
