"""``tuner narrow``: a search-space file narrowed to the region of a finished study's best trials.

From the best ``top`` share of COMPLETE trials (by the study's direction): a float or int range
shrinks to the smallest range holding their values (log ranges stay log, steps stay on the
original grid); a categorical keeps only the choices they used; a knob where all agree becomes
fixed; conditions stay, their values cut to what the parent still offers (a knob whose parent no
longer offers any of them is dropped: it would never be drawn). A conditional knob no top trial
drew keeps its original range. ``tuner compare`` then says whether a study on it did better.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import optuna
import yaml

from tuner import attrs
from tuner.config.spaces import Condition, Param, ParamType, SearchSpace, parse_space
from tuner.errors import BadInput
from tuner.storage import ranking
from tuner.storage.engine import mask_url, optuna_storage
from tuner.storage.queries import check_study


def _on_grid(param: Param, value: float, up: bool) -> float:
    """``value`` moved onto the parameter's step grid (outwards, so the top trials stay inside)."""
    if not param.step:
        return value
    steps = (value - param.low) / param.step
    return param.low + (math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)) * param.step


def narrowed_param(param: Param, values: list[Any]) -> Param:
    """One parameter narrowed to ``values`` (what the top trials drew; empty: none drew it)."""
    if param.type is ParamType.FIXED or not values:
        return param
    if len(set(values)) == 1:
        return Param(param.name, ParamType.FIXED, value=values[0], condition=param.condition)
    if param.type is ParamType.CATEGORICAL:
        return replace(param, choices=tuple(c for c in param.choices if c in set(values)))
    low, high = _on_grid(param, min(values), up=False), _on_grid(param, max(values), up=True)
    if param.type is ParamType.INT:
        low, high = int(low), int(high)
    return replace(param, low=low, high=high)


def narrow_space(space: SearchSpace, top: list[dict[str, Any]]) -> SearchSpace:
    """``space`` narrowed to the parameter values of the ``top`` trials."""
    narrowed: dict[str, Param] = {}
    for param in space.params:  # parents come first
        param = narrowed_param(param, [t[param.name] for t in top if param.name in t])
        if param.condition is not None:
            parent = narrowed.get(param.condition.parent)
            offered = parent.finite_values() if parent is not None else ()
            kept = tuple(v for v in param.condition.values if v in offered)
            if not kept:
                continue  # its parent no longer offers a value that draws it
            param = replace(param, condition=Condition(param.condition.parent, kept))
        narrowed[param.name] = param
    return SearchSpace(tuple(narrowed.values()))


DEFAULT_TOP = 0.2


def narrow(storage_url: str, study_name: str, top: float | None = None) -> str:
    """The narrowed space file's text, with a comment header saying where it came from. ``top``: the share
    of the best COMPLETE trials (default ``DEFAULT_TOP``); a multi-objective study keeps its front instead."""
    if top is not None and not 0 < top <= 1:
        raise BadInput("--top", None, "a share of the COMPLETE trials in (0, 1]", top)
    check_study(storage_url, study_name)
    study = optuna.load_study(study_name=study_name, storage=optuna_storage(storage_url, create_tables=False))
    document = study.user_attrs.get(attrs.SPACE_DOCUMENT)
    if document is None:
        raise BadInput(
            "STUDY",
            None,
            "a study whose space tuner run stored (run by this version)",
            study_name,
            "older studies kept only their distributions, not the space's conditions",
        )
    multi = ranking.is_multi_objective(study)
    if multi and top is not None:  # a front has no top share
        raise BadInput("--top", None, "no --top for a multi-objective study (its front is kept)", top)
    top = DEFAULT_TOP if top is None else top
    complete = ranking.ranked_trials(study)
    best = ranking.best_trials(study, max(2, math.ceil(top * len(complete))))
    if len(best) < 2:
        found = f"{study_name} has {len(best)}"
        raise BadInput(
            "STUDY", None, f"a study with at least 2 {'front members' if multi else 'COMPLETE trials'}", found
        )
    space = narrow_space(parse_space(document, f"study {study_name}"), [t.params for t in best])
    numbers = ", ".join(str(t.number) for t in best)
    chosen = (
        f"the {len(best)} trials of its front"
        if multi
        else f"the best {len(best)} of its {len(complete)} COMPLETE trials (--top {top:g})"
    )
    settings = study.user_attrs.get(attrs.SETTINGS, {})
    values = [t.values[ranking.validation_index(settings)] for t in best]
    worst, top_value = (min(values), max(values)) if ranking.maximizes(study) else (max(values), min(values))
    direction = "maximize" if ranking.maximizes(study) else "minimize"
    header = (
        f"# Narrowed by tuner narrow from study {study_name} ({mask_url(storage_url)}):\n"
        f"# {chosen}, trials {numbers},\n"
        f"# {direction} {settings.get('metric', 'value')} from {worst:.4g} to {top_value:.4g}.\n"
    )
    body = {"description": f"narrowed from study {study_name}", **space.to_document()}
    return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=None)
