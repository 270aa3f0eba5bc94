"""Warm start: a new study first runs the best configurations of finished ones, mapped into its space.

Neither Optuna nor Ray Tune carries what one study learned into the next without hand-written
``enqueue_trial`` loops; a study file's ``warm_start`` does it. Each source's best ``top_k``
COMPLETE trials (by the source's own direction) are mapped into this study's space:

- a knob this space does not search is dropped (it keeps this study's value);
- a number outside this space's range is clipped into it (and onto its step);
- a categorical value this space does not offer is left to the sampler;
- a knob the source did not have is drawn by the sampler.

The mapped configurations are queued before the sampler draws (``study.enqueue_trial``), marked
with the user attr ``warm_start_from`` ("STUDY#N"). They count towards the budget. Since TPE's
start-up trials count finished trials of any origin, by default (``startup: replace``) they take
the place of that many of its random start-up trials; ``startup: keep`` adds their count to the
sampler's ``n_startup_trials``, so its random start-up trials are still drawn, after them.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

import optuna

from tuner import attrs
from tuner.config.algorithms import SAMPLERS
from tuner.config.spaces import Param, ParamType, SearchSpace
from tuner.config.studies import StudySpec, WarmStart
from tuner.errors import BadInput
from tuner.storage import ranking
from tuner.storage.engine import choose_storage
from tuner.storage.queries import study_names


@dataclass
class Mapped:
    """One source configuration in this study's space, and what changed on the way."""

    source: str  # "STUDY#N"
    params: dict[str, Any]  # the values this study's trial starts with (the sampler draws the rest)
    dropped: list[str] = field(default_factory=list)
    clipped: list[str] = field(default_factory=list)
    to_sampler: list[str] = field(default_factory=list)  # categorical values this space does not offer
    drawn: list[str] = field(default_factory=list)  # knobs the source did not have


def _active(param: Param, params: dict[str, Any]) -> bool:
    return param.condition is None or params.get(param.condition.parent) in param.condition.values


def _clipped(param: Param, value: float) -> float | int:
    inside = min(max(value, param.low), param.high)
    if param.step:
        inside = round(min(param.low + round((inside - param.low) / param.step) * param.step, param.high), 12)
    return int(round(inside)) if param.type is ParamType.INT else inside


def map_config(source: str, values: dict[str, Any], searched: set[str], space: SearchSpace) -> Mapped:
    """``values`` (every knob of a source trial; ``searched``: the ones its space searched) in ``space``."""
    mapped = Mapped(source, {})
    ours = {p.name for p in space.params if p.type is not ParamType.FIXED}
    mapped.dropped = sorted(searched - ours)
    fixed = {p.name: p.value for p in space.params if p.type is ParamType.FIXED}
    for param in space.params:  # in the space's order: a parent comes before its conditional children
        if param.type is ParamType.FIXED or not _active(param, {**fixed, **mapped.params}):
            continue
        if param.name not in values:
            mapped.drawn.append(param.name)
        elif param.type is ParamType.CATEGORICAL:
            if values[param.name] in param.choices:
                mapped.params[param.name] = values[param.name]
            else:
                mapped.to_sampler.append(f"{param.name}={values[param.name]}")
        else:
            value = values[param.name]
            inside = _clipped(param, value)
            if not math.isclose(inside, value, rel_tol=1e-9, abs_tol=1e-12):
                mapped.clipped.append(f"{param.name} {value:g}->{inside:g}")
            mapped.params[param.name] = inside
    return mapped


def best_configs(source: WarmStart, storage_url: str, direction: str, where: str) -> list[tuple[str, dict, set]]:
    """The source's best ``top_k`` COMPLETE trials (storage.ranking's order and ties), or a multi-objective
    source's front: ("STUDY#N", every knob, the searched knobs)."""
    url = choose_storage(source.storage or storage_url, f"{where}: warm_start.storage")
    names = study_names(url)
    if source.study not in names:
        listed = ", ".join(names) or "none"
        raise BadInput(
            where, "warm_start.study", f"a study in {url.split('://')[0]} storage (there: {listed})", source.study
        )
    study = optuna.load_study(study_name=source.study, storage=url)
    source_direction = "maximize" if ranking.maximizes(study) else "minimize"  # its (validation) objective's
    if source_direction != direction:
        raise BadInput(
            where,
            "warm_start.study",
            f"a study that {direction}s its metric, as this one does",
            f"{source.study} ({source_direction}s)",
        )
    return [
        (f"{source.study}#{t.number}", {**t.user_attrs.get(attrs.HYPERPARAMETERS, {}), **t.params}, set(t.params))
        for t in ranking.best_trials(study, source.top_k)
    ]


def plan(spec: StudySpec, storage_url: str) -> list[Mapped]:
    """Every source's best configurations mapped into ``spec``'s space (BadInput for a source that cannot be used)."""
    return [
        map_config(name, values, searched, spec.space)
        for source in spec.warm_start
        for name, values, searched in best_configs(source, storage_url, spec.direction, spec.source)
    ]


def enqueue(study: optuna.Study, mapped: list[Mapped]) -> None:
    for config in mapped:
        study.enqueue_trial(config.params, user_attrs={attrs.WARM_START_FROM: config.source})


def summary_line(mapped: list[Mapped]) -> str:
    """What ``tuner run`` says it took and changed, in one line."""
    if not mapped:
        return "warm start: the source studies have no COMPLETE trial to start from"
    sources = sorted({m.source.split("#")[0] for m in mapped})
    changes = []
    for label, pick in (
        ("dropped", lambda m: m.dropped),
        ("clipped", lambda m: m.clipped),
        ("left to the sampler", lambda m: m.to_sampler),
        ("drawn by the sampler", lambda m: m.drawn),
    ):
        seen = sorted({item for m in mapped for item in pick(m)})
        if seen:
            changes.append(f"{label} {', '.join(seen)}")
    what = "; ".join(changes) if changes else "nothing changed"
    return f"warm start: {len(mapped)} configurations from {', '.join(sources)} run first ({what})"


def with_startup_kept(spec: StudySpec, new_warm_trials: int | None, storage_url: str) -> dict[str, Any]:
    """The study's sampler options; with ``startup: keep`` its random start-up trials come after the warm
    ones (their count is added to ``n_startup_trials``) instead of the warm trials standing in for them.
    ``new_warm_trials``: how many a new study queues now; None: count those an existing study holds."""
    if not any(source.startup == "keep" for source in spec.warm_start):
        return spec.sampler
    default = inspect.signature(SAMPLERS[spec.sampler["type"]]).parameters.get("n_startup_trials")
    if default is None:  # a sampler without random start-up trials: nothing to keep
        return spec.sampler
    if new_warm_trials is None:
        study = optuna.load_study(study_name=spec.name, storage=storage_url)
        new_warm_trials = sum(attrs.WARM_START_FROM in t.user_attrs for t in study.get_trials(deepcopy=False))
    startup = spec.sampler.get("n_startup_trials", default.default)
    return {**spec.sampler, "n_startup_trials": startup + new_warm_trials}
