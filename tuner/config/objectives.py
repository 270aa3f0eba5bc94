"""What a study optimises: one validation metric (``objective``), or several objectives with constraints.

A multi-objective study (``objectives:``, a list of two or more) trades a validation metric against
what a network costs: its size (``params``), its speed (``latency_ms``) or its training time
(``train_seconds``). Exactly one objective is a validation metric of the task: it is the value each
epoch reports, the one early stopping follows and the pruner judges (a network has one learning curve).
``constraints`` bound any of these metrics (``{params: {max: 200000}}``); a trial outside a bound is
recorded infeasible and is never exported as best. Optuna gets one direction per objective, and each
trial's constraint values (``Trial.set_constraint``), which its TPE, NSGA-II and GP samplers read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuner.errors import BadInput, check_keys, did_you_mean, is_number

# Metrics a worker measures of the network itself, beside the task's validation metrics; all are minimised.
PARAMS = "params"  # trainable parameters, known before training
LATENCY_MS = "latency_ms"  # inference time of one batch of the task's validation sequences (training.latency)
TRAIN_SECONDS = "train_seconds"  # wall time of the trial's training epochs
COST_METRICS: dict[str, str] = {PARAMS: "minimize", LATENCY_MS: "minimize", TRAIN_SECONDS: "minimize"}


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str  # minimize | maximize

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


@dataclass(frozen=True)
class Constraint:
    """A bound on one metric: feasible when ``min <= value <= max`` (either may be None)."""

    metric: str
    max: float | None = None
    min: float | None = None

    def violation(self, value: float) -> float:
        """Optuna's convention: <= 0 when the value is inside the bound, else how far outside."""
        over = value - self.max if self.max is not None else -float("inf")
        under = self.min - value if self.min is not None else -float("inf")
        return max(over, under)

    def describe(self) -> str:
        parts = [f"{self.metric} <= {self.max:g}"] if self.max is not None else []
        parts += [f"{self.metric} >= {self.min:g}"] if self.min is not None else []
        return " and ".join(parts)


@dataclass(frozen=True)
class Objectives:
    """The study's objectives in file order, and its constraints (none for a single objective)."""

    items: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()

    @property
    def multi(self) -> bool:
        return len(self.items) > 1

    @property
    def validation(self) -> Objective:
        """The one validation metric: what each epoch reports and what early stopping follows."""
        return next(o for o in self.items if o.metric not in COST_METRICS)

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.items]

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.items]

    def measured(self) -> list[str]:
        """The cost metrics a worker must measure: those of the objectives and the constraints."""
        named = self.metrics + [c.metric for c in self.constraints]
        return [m for m in COST_METRICS if m in named]

    def broken(self, measured: Mapping[str, float], running: bool = False) -> list[str]:
        """The constraints ``measured`` breaks, each as text ("params 250000 outside params <= 200000");
        ``running``: a trial still training, whose ``train_seconds`` so far can only break a ``max``."""
        found = []
        for constraint in self.constraints:
            value = measured.get(constraint.metric)
            if value is None:
                continue
            still_growing = running and constraint.metric == TRAIN_SECONDS
            if (
                (constraint.max is not None and value > constraint.max)
                if still_growing
                else constraint.violation(value) > 0
            ):
                found.append(f"{constraint.metric} {value:g} outside {constraint.describe()}")
        return found

    def to_settings(self) -> dict[str, Any]:
        """Stored with the study (so a resumed one must match) and read by each worker."""
        return {
            "objectives": [{"metric": o.metric, "direction": o.direction} for o in self.items],
            "constraints": [{"metric": c.metric, "max": c.max, "min": c.min} for c in self.constraints],
            "measure": self.measured(),
        }


def from_settings(settings: Mapping[str, Any]) -> Objectives:
    """The objectives a study's stored settings describe (a single objective when they name none)."""
    if "objectives" not in settings:
        return Objectives((Objective(settings["metric"], settings["direction"]),))
    return Objectives(
        tuple(Objective(o["metric"], o["direction"]) for o in settings["objectives"]),
        tuple(Constraint(c["metric"], c.get("max"), c.get("min")) for c in settings.get("constraints", [])),
    )


def parse_objectives(raw: Mapping[str, Any], task_metrics: Mapping[str, str], task_name: str, where: str) -> Objectives:
    """``objective: {metric, direction}`` or ``objectives: [...]`` (with ``constraints``) of a study file."""
    if "objectives" in raw and "objective" in raw:
        raise BadInput(where, "objectives", "either objective (one metric) or objectives (a list), not both", "both")
    if "constraints" in raw and "objectives" not in raw:
        raise BadInput(
            where,
            "constraints",
            "constraints beside objectives: [...] (put the constrained metric in the list)",
            "constraints with a single objective",
        )
    if "objectives" not in raw:
        single = raw.get("objective", {})
        if not isinstance(single, dict):
            raise BadInput(where, "objective", "a mapping with metric and direction", single)
        check_keys(where, "objective", single, {"metric", "direction"})
        metric = single.get("metric", next(iter(task_metrics)))
        return Objectives((_objective(metric, single.get("direction"), task_metrics, task_name, where, "objective"),))
    listed = raw["objectives"]
    if not isinstance(listed, list) or len(listed) < 2:
        raise BadInput(
            where, "objectives", "a list of two or more {metric, direction} (one metric: use objective)", listed
        )
    items: list[Objective] = []
    for index, entry in enumerate(listed):
        key = f"objectives[{index}]"
        if not isinstance(entry, dict) or "metric" not in entry:
            raise BadInput(where, key, "a mapping with metric and direction", entry)
        check_keys(where, key, entry, {"metric", "direction"})
        if entry["metric"] in [o.metric for o in items]:
            raise BadInput(where, f"{key}.metric", "each metric once", entry["metric"])
        items.append(_objective(entry["metric"], entry.get("direction"), task_metrics, task_name, where, key))
    validation = [o.metric for o in items if o.metric not in COST_METRICS]
    if len(validation) != 1:
        raise BadInput(
            where,
            "objectives",
            f"exactly one validation metric of task {task_name} ({', '.join(task_metrics)}) beside "
            + ", ".join(COST_METRICS),
            ", ".join(validation) or "none",
        )
    return Objectives(tuple(items), _parse_constraints(raw.get("constraints", {}), validation[0], where))


def _objective(
    metric: Any, direction: Any, task_metrics: Mapping[str, str], task_name: str, where: str, key: str
) -> Objective:
    known = {**task_metrics, **COST_METRICS}
    if metric not in known:
        expected = f"a validation metric of task {task_name} ({', '.join(task_metrics)})"
        if key != "objective":
            expected += " or " + ", ".join(COST_METRICS)
        raise BadInput(where, f"{key}.metric", expected, metric, did_you_mean(str(metric), known))
    if key == "objective" and metric in COST_METRICS:
        raise BadInput(where, "objective.metric", f"a validation metric of task {task_name}", metric)
    direction = known[metric] if direction is None else direction
    if direction != known[metric]:
        raise BadInput(where, f"{key}.direction", f"{known[metric]} for {metric}", direction)
    return Objective(metric, direction)


def _parse_constraints(raw: Any, validation_metric: str, where: str) -> tuple[Constraint, ...]:
    """Bounds on what a trial measures: the cost metrics and its validation objective (at its best epoch)."""
    if not isinstance(raw, dict):
        raise BadInput(where, "constraints", "a mapping of metric to {max: N} or {min: N}", raw)
    known = [*COST_METRICS, validation_metric]
    parsed = []
    for metric, bound in raw.items():
        key = f"constraints.{metric}"
        if metric not in known:
            expected = f"a measured metric ({', '.join(known)})"
            raise BadInput(where, key, expected, metric, did_you_mean(str(metric), known))
        if not isinstance(bound, dict) or not bound:
            raise BadInput(where, key, "a mapping with max and/or min", bound)
        check_keys(where, key, bound, {"max", "min"})
        for side in ("max", "min"):
            if side in bound and not is_number(bound[side]):
                raise BadInput(where, f"{key}.{side}", "a number", bound[side])
        if "max" in bound and "min" in bound and bound["min"] > bound["max"]:
            raise BadInput(where, key, "min <= max", f"min {bound['min']} > max {bound['max']}")
        parsed.append(Constraint(metric, _number(bound.get("max")), _number(bound.get("min"))))
    return tuple(parsed)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
