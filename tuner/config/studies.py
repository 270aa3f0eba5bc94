"""Study files: YAML -> a validated, frozen StudySpec.

Everything a study file can get wrong is found here, before a database is
opened, so bad input never leaves half a study behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tuner.config.algorithms import build_pruner, build_sampler, check_multi_objective
from tuner.config.budget import SEQUENCES_PER_DEFAULT_EPOCH, Budget, is_small_data, study_budget
from tuner.config.early_stopping import EarlyStopping, parse_early_stopping
from tuner.config.hyperparams import Hyperparameters, Precision
from tuner.config.objectives import Objective, Objectives, parse_objectives
from tuner.config.spaces import ParamType, SearchSpace, parse_space
from tuner.config.task import BUILTIN_PREFIX, TaskSpec, parse_refit, parse_task
from tuner.config.yaml_file import load_mapping
from tuner.errors import BadInput, check_keys, did_you_mean, int_at_least, integer, is_integer, is_number
from tuner.storage import DEFAULT_STORAGE, is_uri

_TOP_KEYS = {
    "name",
    "description",
    "task",
    "space",
    "objective",
    "objectives",
    "constraints",
    "sampler",
    "pruner",
    "trials",
    "max_epochs",
    "early_stopping",
    "resources",
    "storage",
    "seed",
    "baseline",
    "max_retries",
    "checkpoints",
    "warm_start",
    "refit",
}

# a study file that names no space searches the shipped one (search_spaces/rnn.yaml), or on a small
# classification set the compact one (search_spaces/rnn_small.yaml): default_space
DEFAULT_SPACE = {"path": BUILTIN_PREFIX + "rnn"}
SMALL_DATA_SPACE = {"path": BUILTIN_PREFIX + "rnn_small"}


@dataclass(frozen=True)
class Resources:
    """What one trial reserves from Ray: CPUs (also its torch threads), a GPU share, and the precision
    it computes in on that GPU (``training/precision.py``). One trial trains on one device: gpu <= 1."""

    cpu: float = 1.0
    gpu: float = 0.0
    precision: Precision = Precision.FP32


@dataclass(frozen=True)
class Checkpoints:
    """Where a study keeps its trials' weights, and how many trials' models it keeps."""

    # a folder (resolved against the study file's) or a URI every Ray node can reach (s3://bucket/prefix,
    # gs://..., any that pyarrow resolves); None: a folder beside the SQLite file
    path: str | None = None
    keep_best: int = 3  # model files of the best K COMPLETE trials are kept; 0 keeps none
    resume: bool = True  # trials also checkpoint their last epoch, so an interrupted one goes on from there

    def location(self, storage_url: str) -> str:
        """Where: the study file's path or URI, or ``<database>-models`` beside a SQLite file, else
        ``tuner-models`` in the working folder (an absolute path, or a URI)."""
        if self.path is not None:
            return self.path
        if storage_url.startswith("sqlite:///") and storage_url.removeprefix("sqlite:///") not in ("", ":memory:"):
            database = Path(storage_url.removeprefix("sqlite:///"))
            return str(database.with_name(f"{database.stem}-models").resolve())
        return str(Path("tuner-models").resolve())


@dataclass(frozen=True)
class WarmStart:
    """A finished study whose best configurations a new study runs first (``warm_start`` in a study file)."""

    study: str
    storage: str | None = None  # None: the new study's own storage
    top_k: int = 5
    # replace: the warm trials are the sampler's start-up trials (TPE's random ones are not drawn);
    # keep: the sampler still draws its random start-up trials, after the warm ones
    startup: str = "replace"


@dataclass(frozen=True)
class StudySpec:
    """One study, validated. ``source`` is the file it came from."""

    name: str
    source: str
    task: TaskSpec
    space: SearchSpace
    metric: str
    direction: str
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    trials: int
    max_epochs: int
    early_stopping: EarlyStopping
    resources: Resources
    storage: str
    seed: int
    baseline: dict[str, Any] | None = None
    description: str = ""
    max_retries: int = 1  # re-runs of a trial whose worker process died (killed, out of memory)
    sampler_seed: int = 0  # ``sampler.seed``, else ``seed``
    checkpoints: Checkpoints = Checkpoints()
    warm_start: tuple[WarmStart, ...] = ()
    # the final network: kept as its trial trained it (none), a cross-validated trial's fold networks
    # averaged (ensemble), or trained again on training + validation data for the epochs selection chose
    # (train_val, scikit-learn's refit); see config.task.parse_refit
    refit: str = "none"
    # every objective and constraint; one objective (``metric``, ``direction``) unless the file lists several
    objectives: Objectives | None = None
    # the default training budget chosen for small data, and why (config/budget.py), for `tuner run` to say;
    # empty when the file names max_epochs or the data is large enough for the plain default
    budget: str = field(default="", compare=False)
    # the space chosen for a file that names none, and why (default_space), for `tuner run` to say
    space_note: str = field(default="", compare=False)
    # the data file's bytes, read when the study is read: trials get them through Ray (shared_data)
    data_bytes: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def all_objectives(self) -> Objectives:
        return self.objectives or Objectives((Objective(self.metric, self.direction),))

    @property
    def multi_objective(self) -> bool:
        return self.all_objectives.multi

    def settings(self) -> dict[str, Any]:
        """What a trial needs besides its hyperparameters; stored with the study and in exports."""
        return {
            "task": self.task.to_dict(),
            "metric": self.metric,
            "direction": self.direction,
            "max_epochs": self.max_epochs,
            "early_stopping": self.early_stopping.as_settings(),
            "seed": self.seed,
            **({"refit": self.refit} if self.refit != "none" else {}),  # no key for the default: older studies match
            **(self.all_objectives.to_settings() if self.multi_objective else {}),
        }


def load_study(path: str | Path) -> StudySpec:
    """Read and check a study file; raises BadInput naming the file and key on any mistake."""
    path = Path(path)
    where = str(path)
    raw = load_mapping(path)
    check_keys(where, "", raw, _TOP_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadInput(where, "name", "a non-empty study name", name)
    task = parse_task(raw.get("task", {}), where, path.parent)
    space_entry, space_note = (raw["space"], "") if "space" in raw else default_space(task.training_sequences)
    space = _causal_for(task, _readout_for(task, _parse_space_entry(space_entry, where, path.parent), where), where)
    objectives = parse_objectives(raw, task.metrics(), task.name, where)
    metric, direction = objectives.validation.metric, objectives.validation.direction
    budget = _budget(raw, task, where)
    max_epochs = budget.max_epochs
    sampler = _mapping(raw, "sampler", {"type": "tpe"}, where)
    pruner = _mapping(raw, "pruner", {"type": "none"}, where)
    seed = integer(raw, "seed", 0, where)
    sampler_seed = integer(sampler, "seed", seed, where, "sampler.seed")  # the study's seed when it has none
    build_sampler(sampler, space, sampler_seed, where)  # built now only to check the options
    build_pruner(pruner, where, max_epochs=max_epochs, space=space)
    if objectives.multi:
        check_multi_objective(sampler, pruner, where)
    storage = raw.get("storage", DEFAULT_STORAGE)
    if not isinstance(storage, str) or "://" not in storage:
        raise BadInput(where, "storage", "an SQLAlchemy URL such as sqlite:///tuner.db", storage)
    baseline = raw.get("baseline")
    if baseline is not None:
        if sampler.get("type") == "grid":
            # Optuna's GridSampler cannot take an enqueued trial (it has no grid id)
            raise BadInput(
                where, "baseline", "no baseline with the grid sampler (put its values in the grid)", baseline
            )
        baseline = _parse_baseline(baseline, space, where)
    return StudySpec(
        name=name.strip(),
        source=where,
        task=task,
        space=space,
        metric=metric,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        trials=int_at_least(raw, "trials", 20, where),
        max_epochs=max_epochs,
        early_stopping=parse_early_stopping(raw.get("early_stopping", {}), where, patience=budget.patience),
        resources=_parse_resources(raw.get("resources", {}), where),
        storage=storage,
        seed=seed,
        baseline=baseline,
        description=str(raw.get("description", "")),
        max_retries=int_at_least(raw, "max_retries", 1, where, minimum=0),
        sampler_seed=sampler_seed,
        checkpoints=_parse_checkpoints(raw.get("checkpoints", {}), where, path.parent),
        warm_start=_parse_warm_start(raw.get("warm_start", []), where),
        refit=parse_refit(raw.get("refit"), where, "refit", task.folds()),
        objectives=objectives,
        data_bytes=_data_bytes(task),
        budget=budget.describe() if budget.reason else "",
        space_note=space_note,
    )


def default_space(training_sequences: int | None) -> tuple[dict[str, str], str]:
    """The space a study file without ``space`` searches, and why in words.

    A classifier on small data (``budget.is_small_data``: its networks learn from fewer than
    ``SEQUENCES_PER_DEFAULT_EPOCH`` sequences, the training budget's threshold) searches ``rnn_small``: one layer of
    16 to 64 units. ``rnn.yaml``'s draws, up to 4 layers of 512 units, outnumber a few dozen sequences
    by thousands of weights to one, and four of them took a 4-trial study 6 to 7 minutes on 2 cores.
    With ``rnn_small``, 10-trial studies beat 1-NN Euclidean on four public sets, on both seeds tried
    (docs/own-data.md). Other tasks and larger sets search ``rnn``.
    """
    if is_small_data(training_sequences):
        return SMALL_DATA_SPACE, (
            f"{SMALL_DATA_SPACE['path']} (no space named, and a network trains on {training_sequences} sequences, "
            f"fewer than {SEQUENCES_PER_DEFAULT_EPOCH}: one LSTM or GRU layer of 16 to 64 units; name a space to choose)"
        )
    return DEFAULT_SPACE, f"{DEFAULT_SPACE['path']} (no space named)"


def _budget(raw: dict, task: TaskSpec, where: str) -> Budget:
    """The file's ``max_epochs`` (and patience), else the default for the task's data (config/budget.py)."""
    early = raw.get("early_stopping", {})
    named = early.get("patience") if isinstance(early, dict) else None
    named_patience = named if is_integer(named) else None  # a bad one is refused by parse_early_stopping
    named_epochs = int_at_least(raw, "max_epochs", None, where) if "max_epochs" in raw else None
    return study_budget(named_epochs, named_patience, task.training_sequences)


def _parse_warm_start(raw: Any, where: str) -> tuple[WarmStart, ...]:
    """``{study: NAME, storage: URL, top_k: 5}`` or a list of them."""
    sources = raw if isinstance(raw, list) else [raw]
    parsed = []
    for index, source in enumerate(sources):
        key = "warm_start" if not isinstance(raw, list) else f"warm_start[{index}]"
        if not isinstance(source, dict):
            raise BadInput(where, key, "a mapping with study, storage and top_k (or a list of them)", source)
        check_keys(where, key, source, {"study", "storage", "top_k", "startup"})
        study, storage = source.get("study"), source.get("storage")
        if not isinstance(study, str) or not study:
            raise BadInput(where, f"{key}.study", "the name of a finished study", study)
        if storage is not None and (not isinstance(storage, str) or not storage):
            raise BadInput(where, f"{key}.storage", "a storage URL", storage)
        startup = source.get("startup", "replace")
        if startup not in ("replace", "keep"):
            raise BadInput(
                where, f"{key}.startup", "replace (warm trials instead of random start-up ones) or keep", startup
            )
        parsed.append(WarmStart(study, storage, int_at_least(source, "top_k", 5, where, f"{key}.top_k"), startup))
    return tuple(parsed)


def _mapping(raw: dict, key: str, default: dict, where: str) -> dict[str, Any]:
    value = raw.get(key, default)
    if isinstance(value, str):  # `pruner: median` is short for `pruner: {type: median}`
        value = {"type": value}
    if not isinstance(value, dict):
        raise BadInput(where, key, "a mapping with a type", value)
    return dict(value)


def _parse_space_entry(raw: Any, where: str, base_dir: Path) -> SearchSpace:
    """``space`` is a path, or a mapping with ``path`` and/or inline ``parameters`` and ``overrides``."""
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, dict):
        raise BadInput(where, "space", "a space file path or a mapping with path, parameters or overrides", raw)
    check_keys(where, "space", raw, {"path", "parameters", "overrides"})
    if "path" in raw:
        if "parameters" in raw:
            raise BadInput(where, "space", "either path or parameters, not both", sorted(raw))
        space_file = _space_file(str(raw["path"]), base_dir, where)
        space = parse_space(load_mapping(space_file), str(space_file))
    else:
        space = parse_space({"parameters": raw.get("parameters")}, where, "space")
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise BadInput(where, "space.overrides", "a mapping of parameter name to spec", overrides)
    return space.with_overrides(overrides, where, "space.overrides") if overrides else space


def _readout_for(task: TaskSpec, space: SearchSpace, where: str) -> SearchSpace:
    """A task with a target at every step reads every step: a searched ``readout`` (as in rnn.yaml) is
    fixed at ``last`` there, and a readout fixed at another value is refused."""
    readout = next((p for p in space.params if p.name == "readout"), None)
    if readout is None or not task.targets_every_step():
        return space
    if readout.type is ParamType.FIXED:
        if readout.value != "last":
            raise BadInput(
                where,
                "space.readout",
                f"readout last: a {task.name} network predicts at every step (readouts pool many-to-one tasks)",
                readout.value,
            )
        return space
    return space.with_overrides({"readout": "last"}, where, "space")


def _causal_for(task: TaskSpec, space: SearchSpace, where: str) -> SearchSpace:
    """A task with a target at every step predicts each step from the steps before it: a searched
    ``bidirectional`` (as in rnn.yaml) is fixed at false there, and one fixed at true is refused."""
    knob = next((p for p in space.params if p.name == "bidirectional"), None)
    if knob is None or not task.targets_every_step():
        return space
    if knob.type is ParamType.FIXED:
        if knob.value:
            raise BadInput(
                where,
                "space.bidirectional",
                f"bidirectional false: a {task.name} network predicts each step from the steps before it",
                "true",
            )
        return space
    return space.with_overrides({"bidirectional": False}, where, "space")


def builtin_spaces() -> list[str]:
    """The names of the search spaces that ship with the package (``search_spaces/*.yaml``)."""
    return sorted(
        p.name.removesuffix(".yaml")
        for p in resources.files("tuner.search_spaces").iterdir()
        if p.name.endswith(".yaml")
    )


def _space_file(path: str, base_dir: Path, where: str) -> Path:
    """A space file: ``builtin:NAME`` (shipped with the package), or a path relative to the study file."""
    if path.startswith(BUILTIN_PREFIX):
        name, shipped = path.removeprefix(BUILTIN_PREFIX), builtin_spaces()
        if name not in shipped:
            expected = "a built-in search space (" + ", ".join(f"builtin:{n}" for n in shipped) + ")"
            raise BadInput(where, "space.path", expected, path, did_you_mean(name, shipped))
        return Path(str(resources.files("tuner.search_spaces") / f"{name}.yaml"))
    space_file = (base_dir / path).resolve()
    if not space_file.is_file():
        raise BadInput(where, "space.path", "an existing search-space file", str(space_file))
    return space_file


def _data_bytes(task: TaskSpec) -> bytes | None:
    """A user's data file as bytes (built-in data ships with the package on every node)."""
    if task.data is None or task.data.startswith(BUILTIN_PREFIX):
        return None
    return Path(task.data).read_bytes()


def _parse_checkpoints(raw: Any, where: str, base_dir: Path) -> Checkpoints:
    if not isinstance(raw, dict):
        raise BadInput(where, "checkpoints", "a mapping with path and keep_best", raw)
    check_keys(where, "checkpoints", raw, {"path", "keep_best", "resume"})
    keep_best = int_at_least(raw, "keep_best", 3, where, "checkpoints.keep_best", minimum=0)
    resume = raw.get("resume", True)
    if not isinstance(resume, bool):
        raise BadInput(where, "checkpoints.resume", "true or false", resume)
    path = raw.get("path")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise BadInput(where, "checkpoints.path", "a folder path or a URI such as s3://bucket/prefix", path)
    if path and not is_uri(path):
        path = str((base_dir / path).resolve())
    return Checkpoints(path or None, keep_best, resume)


def _parse_resources(raw: Any, where: str) -> Resources:
    if not isinstance(raw, dict):
        raise BadInput(where, "resources", "a mapping with cpu, gpu and precision", raw)
    check_keys(where, "resources", raw, {"cpu", "gpu", "precision"})
    cpu, gpu, precision = raw.get("cpu", 1), raw.get("gpu", 0), raw.get("precision", Precision.FP32.value)
    if not is_number(cpu) or cpu <= 0:
        raise BadInput(where, "resources.cpu", "a number > 0", cpu)
    if not is_number(gpu) or not 0 <= gpu <= 1:
        hint = "one trial trains on one device; run more trials at once with --workers" if is_number(gpu) else ""
        raise BadInput(where, "resources.gpu", "0 or a GPU share in (0, 1]", gpu, hint)
    if precision not in {p.value for p in Precision}:
        raise BadInput(where, "resources.precision", "fp32 or bf16", precision)
    return Resources(float(cpu), float(gpu), Precision(precision))


def _inside(distribution: Any, value: Any) -> bool:
    """Whether Optuna could suggest ``value`` from ``distribution`` (its range, step or choices; public fields only)."""
    if hasattr(distribution, "choices"):
        return value in distribution.choices
    if not is_number(value) or not distribution.low <= value <= distribution.high:
        return False
    step = getattr(distribution, "step", None)
    return step is None or abs((value - distribution.low) / step - round((value - distribution.low) / step)) < 1e-8


def _parse_baseline(raw: Any, space: SearchSpace, where: str) -> dict[str, Any]:
    """The baseline must name only knobs, with legal values inside the space's ranges."""
    if not isinstance(raw, dict):
        raise BadInput(where, "baseline", "a mapping of hyperparameter to value", raw)
    Hyperparameters.from_dict(raw, where, "baseline")
    distributions = space.distributions()
    for name, value in raw.items():
        distribution = distributions.get(name)
        if distribution is None:
            # Optuna would silently drop a value for a parameter it never suggests.
            raise BadInput(
                where, f"baseline.{name}", "a parameter the space searches (" + ", ".join(distributions) + ")", name
            )
        if not _inside(distribution, value):
            raise BadInput(where, f"baseline.{name}", f"a value inside the space ({distribution})", value)
    return dict(raw)
