"""Search spaces: YAML -> frozen parameter objects -> Optuna suggestions.

A space file looks like::

    parameters:
      learning_rate: {type: float, low: 1.0e-4, high: 0.1, log: true}
      updater: {type: categorical, choices: [sgd, nesterovs, adam]}
      momentum: {type: float, low: 0.5, high: 0.99, condition: {updater: nesterovs}}
      depth: {type: int, low: 1, high: 4}
      batch_size: 32                      # a bare value is a fixed parameter

A parameter with a ``condition`` is suggested only when its parent took one
of the listed values (define-by-run), so Optuna never sees ``momentum`` in a
trial that used Adam.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from tuner.config.hyperparams import NAMES, check_value, is_integer_knob
from tuner.errors import BadInput, check_keys, did_you_mean

Scalar = str | int | float | bool | None


class ParamType(StrEnum):
    FLOAT = "float"
    INT = "int"
    CATEGORICAL = "categorical"
    FIXED = "fixed"


@dataclass(frozen=True)
class Condition:
    """The parameter is active only when ``parent`` took one of ``values``."""

    parent: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Param:
    """One searched (or fixed) hyperparameter."""

    name: str
    type: ParamType
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Scalar, ...] = ()
    value: Scalar = None  # for FIXED
    condition: Condition | None = None

    def distribution(self) -> BaseDistribution | None:
        """The Optuna distribution, or None for a fixed value (not given to Optuna)."""
        if self.type is ParamType.FLOAT:
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        if self.type is ParamType.INT:
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self.type is ParamType.CATEGORICAL:
            return CategoricalDistribution(self.choices)
        return None

    def to_document(self) -> Any:
        """This parameter as a space file spells it (``parse_param`` reads it back the same)."""
        if self.type is ParamType.FIXED and self.condition is None:
            return self.value
        document: dict[str, Any] = {"type": str(self.type)}
        if self.type in (ParamType.FLOAT, ParamType.INT):
            document.update(low=self.low, high=self.high)
            if self.log:
                document["log"] = True
            if self.step is not None:
                document["step"] = self.step
        elif self.type is ParamType.CATEGORICAL:
            document["choices"] = list(self.choices)
        else:
            document["value"] = self.value
        if self.condition is not None:
            document["condition"] = {self.condition.parent: list(self.condition.values)}
        return document

    def finite_values(self) -> tuple[Scalar, ...] | None:
        """Every value this parameter can take, where that is a finite list (for grid search)."""
        if self.type is ParamType.CATEGORICAL:
            return self.choices
        if self.type is ParamType.FIXED:
            return (self.value,)
        if self.type is ParamType.INT and not self.log:
            return tuple(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.type is ParamType.FLOAT and self.step is not None:
            count = int(round((self.high - self.low) / self.step)) + 1
            return tuple(round(self.low + i * self.step, 12) for i in range(count))
        return None


class SuggestsParams(Protocol):
    """The part of ``optuna.Trial`` a space needs (so tests can pass a FixedTrial)."""

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class SearchSpace:
    """Parameters in an order where every condition's parent comes first."""

    params: tuple[Param, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna distributions of every searched parameter (conditional ones included)."""
        return {p.name: d for p in self.params if (d := p.distribution()) is not None}

    def suggest(self, trial: SuggestsParams | optuna.Trial) -> dict[str, Any]:
        """Ask ``trial`` for every active parameter, define-by-run; fixed values are added as they are."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.condition and values.get(p.condition.parent, _INACTIVE) not in p.condition.values:
                continue
            if p.type is ParamType.FLOAT:
                values[p.name] = trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)
            elif p.type is ParamType.INT:
                values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
            elif p.type is ParamType.CATEGORICAL:
                values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
            else:
                values[p.name] = p.value
        return values

    def to_document(self) -> dict[str, Any]:
        """The space as a space file spells it: ``{parameters: {...}}``."""
        return {"parameters": {p.name: p.to_document() for p in self.params}}

    def with_overrides(self, overrides: Mapping[str, Any], where: str, key_path: str) -> SearchSpace:
        """A copy with single parameters replaced or added (a study's per-study overrides)."""
        raw = {p.name: p for p in self.params}
        for name, spec in overrides.items():
            raw[name] = parse_param(name, spec, where, f"{key_path}.{name}")
        return _ordered(raw, where, key_path)


_INACTIVE = object()
_KEYS = {
    ParamType.FLOAT: {"type", "low", "high", "log", "step", "condition"},
    ParamType.INT: {"type", "low", "high", "log", "step", "condition"},
    ParamType.CATEGORICAL: {"type", "choices", "condition"},
    ParamType.FIXED: {"type", "value", "condition"},
}


def parse_space(document: Mapping[str, Any], where: str, key_path: str = "") -> SearchSpace:
    """Parse a space mapping (``{parameters: {...}}``) into a SearchSpace."""
    check_keys(where, key_path, document, {"parameters", "description"})
    params_path = f"{key_path}.parameters" if key_path else "parameters"
    raw = document.get("parameters")
    if not isinstance(raw, dict) or not raw:
        raise BadInput(where, params_path, "a non-empty mapping of parameter name to spec", raw)
    parsed = {name: parse_param(name, spec, where, f"{params_path}.{name}") for name, spec in raw.items()}
    return _ordered(parsed, where, params_path)


def parse_param(name: str, spec: Any, where: str, key_path: str) -> Param:
    """Parse one parameter; a bare scalar is a fixed value."""
    if name not in NAMES:
        raise BadInput(
            where, key_path, "a known hyperparameter (" + ", ".join(NAMES) + ")", name, did_you_mean(name, NAMES)
        )
    if not isinstance(spec, dict):
        check_value(name, spec, where, key_path)
        return Param(name, ParamType.FIXED, value=spec)
    kinds = [t.value for t in ParamType]
    if spec.get("type") not in kinds:
        raise BadInput(
            where,
            f"{key_path}.type",
            "one of " + ", ".join(kinds),
            spec.get("type"),
            did_you_mean(str(spec.get("type")), kinds),
        )
    kind = ParamType(spec["type"])
    check_keys(where, key_path, spec, _KEYS[kind])
    condition = _parse_condition(spec.get("condition"), where, f"{key_path}.condition")
    if kind is ParamType.FIXED:
        check_value(name, spec.get("value"), where, f"{key_path}.value")
        return Param(name, kind, value=spec["value"], condition=condition)
    if kind is ParamType.CATEGORICAL:
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise BadInput(where, f"{key_path}.choices", "a non-empty list of values", choices)
        for i, choice in enumerate(choices):
            check_value(name, choice, where, f"{key_path}.choices[{i}]")
        return Param(name, kind, choices=tuple(choices), condition=condition)
    return _parse_range(name, kind, spec, condition, where, key_path)


def _parse_range(
    name: str, kind: ParamType, spec: dict, condition: Condition | None, where: str, key_path: str
) -> Param:
    if kind is ParamType.INT and not is_integer_knob(name):
        raise BadInput(where, f"{key_path}.type", f"float, categorical or fixed for {name}", "int")
    if kind is ParamType.FLOAT and is_integer_knob(name):
        raise BadInput(where, f"{key_path}.type", f"int, categorical or fixed for {name}", "float")
    for bound in ("low", "high"):
        if bound not in spec:
            raise BadInput(where, f"{key_path}.{bound}", "a number", "nothing")
        check_value(name, spec[bound], where, f"{key_path}.{bound}")
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        raise BadInput(where, f"{key_path}.log", "true or false", log)
    if low > high:
        raise BadInput(where, key_path, "low <= high", f"low={low}, high={high}")
    if log and low <= 0:
        raise BadInput(where, f"{key_path}.low", "low > 0 on a log scale", low)
    if step is not None:
        if log:
            raise BadInput(where, f"{key_path}.step", "no step on a log scale", step)
        if (
            not isinstance(step, (int, float))
            or isinstance(step, bool)
            or step <= 0
            or (kind is ParamType.INT and step != int(step))
        ):
            raise BadInput(
                where, f"{key_path}.step", f"a positive {'integer' if kind is ParamType.INT else 'number'}", step
            )
    return Param(name, kind, low=low, high=high, log=log, step=step, condition=condition)


def _parse_condition(raw: Any, where: str, key_path: str) -> Condition | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        raise BadInput(where, key_path, "a mapping of one parent parameter to a value or list of values", raw)
    ((parent, values),) = raw.items()
    values = tuple(values) if isinstance(values, list) else (values,)
    if not values:
        raise BadInput(where, f"{key_path}.{parent}", "at least one value", [])
    return Condition(str(parent), values)


def _ordered(params: dict[str, Param], where: str, key_path: str) -> SearchSpace:
    """Check conditions and order parameters so that parents come before children."""
    for p in params.values():
        if p.condition is None:
            continue
        where_key = f"{key_path}.{p.name}.condition"
        parent = params.get(p.condition.parent)
        if parent is None:
            raise BadInput(
                where,
                where_key,
                "a condition on a parameter of this space",
                p.condition.parent,
                did_you_mean(p.condition.parent, params),
            )
        possible = parent.finite_values()
        if parent.type not in (ParamType.CATEGORICAL, ParamType.FIXED):
            raise BadInput(where, where_key, "a categorical or fixed parent", f"{parent.name} ({parent.type})")
        for value in p.condition.values:
            if value not in possible:
                raise BadInput(where, f"{where_key}.{parent.name}", "one of " + ", ".join(map(str, possible)), value)
    ordered: list[Param] = []
    visiting: set[str] = set()

    def visit(p: Param) -> None:
        if p in ordered:
            return
        if p.name in visiting:
            raise BadInput(where, f"{key_path}.{p.name}.condition", "conditions without a cycle", p.name)
        visiting.add(p.name)
        if p.condition:
            visit(params[p.condition.parent])
        ordered.append(p)

    for p in params.values():
        visit(p)
    return SearchSpace(tuple(ordered))
