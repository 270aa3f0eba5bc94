"""Optuna samplers and pruners named in a study file, checked and built.

Optuna stores neither the sampler nor the pruner, so a study's are rebuilt
from its file every time the study is loaded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.pruners import BasePruner

from tuner.config.pruners import GroupedPruner, OverfittingPruner
from tuner.config.spaces import ParamType, SearchSpace
from tuner.errors import BadInput, check_keys, did_you_mean, is_integer

SAMPLERS: dict[str, type[optuna.samplers.BaseSampler]] = {
    "tpe": optuna.samplers.TPESampler,
    "random": optuna.samplers.RandomSampler,
    "grid": optuna.samplers.GridSampler,
    "qmc": optuna.samplers.QMCSampler,
    "cmaes": optuna.samplers.CmaEsSampler,
    # Gaussian-process Bayesian optimisation (Optuna's GPSampler; needs torch, which training has anyway)
    "gp": optuna.samplers.GPSampler,
    # the genetic algorithm of multi-objective optimisation (also runs a single objective)
    "nsgaii": optuna.samplers.NSGAIISampler,
}
# samplers of several objectives (TPE, NSGA-II and GP also read each trial's constraint values)
MULTI_OBJECTIVE_SAMPLERS = ("tpe", "nsgaii", "gp", "random", "qmc", "grid")

PRUNERS: dict[str, type[BasePruner]] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "percentile": optuna.pruners.PercentilePruner,
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
    "patient": optuna.pruners.PatientPruner,
    "overfitting": OverfittingPruner,
}
# The pruners a multi-objective study can wrap (orchestration.front_pruning): their rule reads only the
# trials' curves, so a reference set of other trials can be handed to them; successive halving and
# hyperband keep rung records on the study's own trials, and the overfitting pruner a stored curve.
FRONT_PRUNERS = ("none", "median", "percentile", "patient")
_WRAPPERS = {"patient", "overfitting"}  # pruners that may wrap another: {type: overfitting, wrapped: {type: median}}

# Arguments we fill in ourselves, never from the study file.
_SAMPLER_OWN = {"seed", "search_space"}
_PRUNER_OWN = {"wrapped_pruner"}


# Options whose value is Python code or an Optuna object (gamma, constraints_func, independent_sampler,
# source_trials): a YAML file cannot give one, so they are not options of a study file.
_NOT_FROM_A_FILE = ("Callable", "BaseSampler", "FrozenTrial")


def _options_of(cls: type, own: set[str]) -> list[str]:
    return [
        name
        for name, param in inspect.signature(cls).parameters.items()
        if name not in own and not any(word in str(param.annotation) for word in _NOT_FROM_A_FILE)
    ]


# Ranges of options Optuna checks only when it first samples (in the middle of a run), or never.
_RANGES: dict[str, tuple[str, Callable[[float], bool]]] = {
    "n_startup_trials": ("an integer >= 0", lambda v: v >= 0),
    "n_ei_candidates": ("an integer >= 1", lambda v: v >= 1),
    "popsize": ("an integer >= 1", lambda v: v >= 1),
    "prior_weight": ("a number >= 0", lambda v: v >= 0),
    "sigma0": ("a number > 0", lambda v: v > 0),
}


def _check_option_ranges(options: Mapping[str, Any], where: str, key_path: str) -> None:
    for name, value in options.items():  # types are checked before: a value here is a number or null
        if name in _RANGES and value is not None and not _RANGES[name][1](value):
            raise BadInput(where, f"{key_path}.{name}", _RANGES[name][0], value)


# An option annotated as one of these must be given as one (Optuna would take the text "false" as true).
_SIMPLE_TYPES = {"bool": ("true or false", (bool,)), "int": ("an integer", (int,)), "float": ("a number", (int, float))}


def _check_option_types(cls: type, options: Mapping[str, Any], where: str, key_path: str) -> None:
    annotations = {
        # a class (int) or, under postponed evaluation, its text ("bool | None")
        name: param.annotation.__name__ if isinstance(param.annotation, type) else str(param.annotation)
        for name, param in inspect.signature(cls).parameters.items()
    }
    for name, value in options.items():
        simple = annotations.get(name, "").removesuffix(" | None")  # "bool | None" takes a bool or null
        if simple not in _SIMPLE_TYPES or (value is None and annotations[name].endswith("| None")):
            continue  # "str | int", callables: Optuna checks these itself
        expected, types = _SIMPLE_TYPES[simple]
        if not isinstance(value, types) or (isinstance(value, bool) and simple != "bool"):
            raise BadInput(where, f"{key_path}.{name}", expected, value)


def _checked_type(config: Mapping[str, Any], table: Mapping[str, type], where: str, key_path: str) -> str:
    kind = config.get("type")
    if kind not in table:
        raise BadInput(where, f"{key_path}.type", "one of " + ", ".join(table), kind, did_you_mean(str(kind), table))
    return kind


def _construct(cls: type, kwargs: dict[str, Any], where: str, key_path: str, named: str = "") -> Any:
    """``cls(**kwargs)``, its ValueError or TypeError as one BadInput line (``named``: the class to name)."""
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        raise BadInput(where, key_path, f"valid {named or cls.__name__} options", str(error).splitlines()[0]) from None


def build_sampler(
    config: Mapping[str, Any], space: SearchSpace, seed: int | None, where: str, key_path: str = "sampler"
) -> optuna.samplers.BaseSampler:
    """Build the sampler ``{type: tpe, seed: 1, ...options}`` describes, with ``seed`` for this run."""
    kind = _checked_type(config, SAMPLERS, where, key_path)
    cls = SAMPLERS[kind]
    options = {k: v for k, v in config.items() if k not in ("type", "seed")}
    check_keys(where, key_path, options, _options_of(cls, _SAMPLER_OWN))
    _check_option_types(cls, options, where, key_path)
    _check_option_ranges(options, where, key_path)
    kwargs: dict[str, Any] = dict(options, seed=seed)
    warns = inspect.signature(cls).parameters.get("warn_independent_sampling")
    if warns is not None and warns.default is True:  # CMA-ES and QMC (TPE no longer warns by default)
        # Optuna warns once per parameter per trial, lines over the progress bar; `tuner run` says it once
        # (independent_sampling_note), and the study file can ask for Optuna's own warnings back.
        kwargs.setdefault("warn_independent_sampling", False)
    if kind == "tpe":
        # what the docs promise, whatever the installed Optuna's defaults are (they changed in Optuna 5)
        kwargs.setdefault("multivariate", True)
        kwargs.setdefault("constant_liar", True)
    if kind == "grid":
        grid: dict[str, list[Any]] = {}
        for param in space.params:
            values = param.finite_values()
            if values is None:
                raise BadInput(
                    where,
                    f"{key_path}.type",
                    f"a space of finite parameters for grid search ({param.name} is a continuous range: give it a step or choices)",
                    kind,
                )
            if param.distribution() is not None:
                grid[param.name] = list(values)
        kwargs["search_space"] = grid
    return _construct(cls, kwargs, where, key_path)


# Why a sampler leaves parameters to its random fallback, for the one line `tuner run` prints.
# (TPE, multivariate by default in Optuna 5, also draws conditional knobs on their own, and says nothing.)
_INDEPENDENT_REASONS = {
    "cmaes": "CMA-ES models only numeric parameters that every trial has",
    "qmc": "its sequence covers only the parameters of the first trial",
    "gp": "its Gaussian process models only the parameters every trial has",
}


def independent_sampling_note(config: Mapping[str, Any], space: SearchSpace) -> str:
    """One line for `tuner run` naming the parameters ``config``'s sampler draws at random, outside its
    model, in place of Optuna's warning per parameter per trial ('' if there are none)."""
    kind = config.get("type")
    if kind not in _INDEPENDENT_REASONS or config.get("warn_independent_sampling"):
        return ""  # nothing left out, or asked for Optuna's own warnings: those say it
    names = [
        p.name
        for p in space.params
        if (dist := p.distribution()) is not None
        and not dist.single()  # Optuna's Trial sets a one-value parameter itself, asking no sampler
        and (p.condition is not None or (kind == "cmaes" and isinstance(dist, CategoricalDistribution)))
    ]
    if not names:
        return ""
    return (
        f"note: the {kind} sampler draws {', '.join(names)} at random: {_INDEPENDENT_REASONS[kind]}"
        " (warn_independent_sampling: true in the sampler shows Optuna's warning per trial)"
    )


def startup_only_note(config: Mapping[str, Any], trials: int) -> str:
    """One line for `tuner run` when every trial of the study is a random start-up draw of its sampler
    (TPE and GP draw their first ``n_startup_trials``, 10 by default, at random): then no trial is
    chosen from what the others scored, and on small data four random draws over a wide space are
    mostly networks far too large for it (docs/own-data.md). '' otherwise."""
    kind = config.get("type")
    if kind not in ("tpe", "gp"):
        return ""
    startup = config.get("n_startup_trials", inspect.signature(SAMPLERS[kind]).parameters["n_startup_trials"].default)
    if trials > startup:
        return ""
    return (
        f"note: all {trials} trials are the {kind} sampler's random start-up draws (n_startup_trials {startup}):"
        " none is chosen from what the others scored; give the study more trials than that, or a smaller"
        " sampler.n_startup_trials"
    )


def build_pruner(
    config: Mapping[str, Any],
    where: str,
    key_path: str = "pruner",
    max_epochs: int | None = None,
    space: SearchSpace | None = None,
) -> BasePruner:
    """Build the pruner ``{type: median, ...options}`` describes; ``patient`` may wrap another, and
    ``group_by: cell`` (any pruner but none) judges each trial only against its own cell type."""
    kind = _checked_type(config, PRUNERS, where, key_path)
    if "group_by" in config:
        group_by = _checked_group_by(config["group_by"], kind, space, where, f"{key_path}.group_by")
        ungrouped = {k: v for k, v in config.items() if k != "group_by"}
        return GroupedPruner(build_pruner(ungrouped, where, key_path, max_epochs, space), group_by)
    cls = PRUNERS[kind]
    options = {k: v for k, v in config.items() if k not in ("type", "wrapped")}
    check_keys(where, key_path, options, _options_of(cls, _PRUNER_OWN))
    _check_option_types(cls, options, where, key_path)
    if kind == "hyperband":
        defaulted = "max_resource" not in options
        options.setdefault("max_resource", max_epochs or "auto")
        _check_hyperband(options, where, key_path, "max_resource defaults to max_epochs" if defaulted else "")
    if kind in _WRAPPERS:
        wrapped = config.get("wrapped")
        if wrapped is not None and not isinstance(wrapped, dict):
            raise BadInput(where, f"{key_path}.wrapped", "a pruner mapping such as {type: median}", wrapped)
        options["wrapped_pruner"] = (
            build_pruner(wrapped, where, f"{key_path}.wrapped", max_epochs, space) if wrapped else None
        )
        options.setdefault("patience", 1 if kind == "patient" else 2)
    elif "wrapped" in config:
        raise BadInput(
            where, f"{key_path}.wrapped", "no wrapped pruner (only patient and overfitting wrap one)", config["wrapped"]
        )
    return _construct(cls, options, where, key_path)


def _checked_group_by(value: Any, kind: str, space: SearchSpace | None, where: str, key_path: str) -> list[str]:
    """``group_by``: one parameter name or a list of them, each a categorical or integer parameter of
    the space (a float would put every trial in a group of its own, where nothing is compared)."""
    if kind == "none":
        raise BadInput(where, key_path, "no group_by (the none pruner compares nothing)", value)
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BadInput(where, key_path, "a parameter name or a list of them", value)
    if space is not None:
        groupable = [p.name for p in space.params if p.type in (ParamType.CATEGORICAL, ParamType.INT)]
        for name in names:
            if name not in groupable:
                raise BadInput(
                    where,
                    key_path,
                    "categorical or integer parameters of the space: " + ", ".join(groupable),
                    name,
                    did_you_mean(name, groupable),
                )
    return names


def _check_hyperband(options: Mapping[str, Any], where: str, key_path: str, hint: str) -> None:
    """Optuna's HyperbandPruner builds its brackets at the first report, so a bad option would only
    raise in the middle of a run: check them here, with successive halving's own checks."""
    halving = {k: options[k] for k in ("min_resource", "reduction_factor", "bootstrap_count") if k in options}
    _construct(optuna.pruners.SuccessiveHalvingPruner, halving, where, key_path, "HyperbandPruner")
    low, high = options.get("min_resource", 1), options["max_resource"]
    if high != "auto" and (not is_integer(high) or high < 1):
        raise BadInput(where, f"{key_path}.max_resource", "an integer >= 1 or auto", high)
    if is_integer(low) and is_integer(high) and high < low:
        raise BadInput(where, f"{key_path}.max_resource", f"at least min_resource ({low})", high, hint)


def check_multi_objective(sampler: Mapping[str, Any], pruner: Mapping[str, Any], where: str) -> None:
    """A multi-objective study needs a sampler that models several objectives and a pruner the front
    pruner can wrap (one line naming the key otherwise)."""
    if sampler.get("type") not in MULTI_OBJECTIVE_SAMPLERS:
        expected = "a sampler of several objectives: " + ", ".join(MULTI_OBJECTIVE_SAMPLERS)
        raise BadInput(where, "sampler.type", expected, sampler.get("type"))
    key_path, inner = "pruner", pruner
    while inner is not None:
        if inner.get("type") not in FRONT_PRUNERS:
            expected = "a pruner of a multi-objective study: " + ", ".join(FRONT_PRUNERS)
            raise BadInput(where, f"{key_path}.type", expected, inner.get("type"))
        if "group_by" in inner:
            raise BadInput(where, f"{key_path}.group_by", "no group_by in a multi-objective study", inner["group_by"])
        key_path, inner = f"{key_path}.wrapped", inner.get("wrapped")
