"""Run configuration: what to run, from a TOML file and/or CLI flags, validated up front.

Everything a user can get wrong is checked here, before any file is written,
and reported as a :class:`~hello_bench.errors.UserError` naming the problem.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Any, cast

from hello_bench.adapters import AdapterLoadError, UnknownAdapterError, adapter_class, profile_params, registered
from hello_bench.adapters.registry import is_dotted_path
from hello_bench.data.datasets import (
    BUNDLED,
    CATEGORICAL_CHOICES,
    MISSING_CHOICES,
    DatasetSpec,
    check_splittable,
    load_spec,
    synthetic_params,
)
from hello_bench.errors import UserError
from hello_bench.measure.settings import TimingSettings
from hello_bench.run.params import check_param, freeze_all, params_label, thaw_all

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover
    pass

#: "auto": the CPU, and the GPU where this machine has one (:func:`hello_bench.measure.devices.resolve_devices`).
DEVICES = ("cpu", "gpu", "auto")
PREPROCESSING = ("none", "standard")
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")

#: Bounds that keep a run within what one machine can do (and its listing in memory).
MAX_SPLITS = 10_000
MAX_INIT_SEEDS = 100
MAX_TRIALS = 100_000
MAX_THREADS = 1024


#: The keys of an ``[[adapters]]`` table and what each means (checked when read; the JSON Schema's too).
ADAPTER_KEYS = {
    "name": "a registered adapter (bench list) or a classifier's class path (package.module.Class)",
    "profile": "a named parameter set the adapter declares (seed: the blog post's settings; tuned)",
    "params": "parameters by the framework's own names, overriding the profile's (e.g. { epochs = 30 })",
    "backends": "Keras backends to run it on (tensorflow, jax, torch): one column of the matrix each",
}
#: The keys of a ``[[datasets]]`` table.
DATASET_KEYS = {
    "path": "a CSV (.csv, .tsv, .txt) or Parquet (.parquet, .pq) file, relative to the folder bench runs in",
    "name": "a bundled dataset (iris, wine, breast_cancer, digits) or synthetic:n_samples=...,n_features=...",
    "target": "the label column of a file",
    "categorical": "text feature columns: error (refuse), onehot (one 0/1 column per value), drop",
    "missing": "missing cells: error (refuse), drop (drop their rows), impute (numbers: the column's median on "
    "the whole file; a missing category: a row of zeros in its one-hot columns)",
}
#: The keys of an ``[[environments]]`` table.
ENVIRONMENT_KEYS = {
    "name": "the environment's name in trial ids and on the command line (RUN%NAME)",
    "requirements": "PEP 508 requirements installed in it: package==version, or pkg @ git+file://..., file://..., "
    "https://...",
}


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter column of the matrix: name, profile, parameters, backend."""

    name: str
    profile: str | None = None
    params: tuple[tuple[str, object], ...] = ()
    backend: str | None = None

    @property
    def label(self) -> str:
        """Readable, stable id part: ``keras-mlp:seed[tensorflow]``, ``sklearn-mlp(hidden=[16,16])``."""
        text = self.name + (f":{self.profile}" if self.profile else "")
        if self.params:
            text += params_label(self.params)
        return text + (f"[{self.backend}]" if self.backend else "")

    def resolved_params(self) -> dict:
        """Profile parameters overridden by explicit ones (no seed, no device), as plain JSON data."""
        merged = profile_params(self.name, self.profile)
        merged.update(thaw_all(self.params))
        if self.backend:
            merged["backend"] = self.backend
        return merged

    def effective_params(self) -> dict:
        """Every parameter the adapter will be built with: its class defaults, then :meth:`resolved_params`."""
        defaults = adapter_class(self.name)().get_params()
        return {**{k: v for k, v in defaults.items() if k not in ("device", "random_state")}, **self.resolved_params()}

    def to_dict(self) -> dict:
        return {"name": self.name, "profile": self.profile, "params": thaw_all(self.params),
                "backend": self.backend}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> AdapterSpec:
        return cls(data["name"], data.get("profile"), freeze_all(data.get("params", {})), data.get("backend"))

    @classmethod
    def parse(cls, text: str) -> AdapterSpec:
        """Parse ``name[:profile][@backend]`` (the CLI form)."""
        text = text.strip()
        backend = None
        if "@" in text:
            text, backend = text.split("@", 1)
        name, _, profile = text.partition(":")
        if "." in name and profile and not is_dotted_path(name) and name not in registered():  # module:Class[:profile]
            attr, _, profile = profile.partition(":")
            name = f"{name}:{attr}"
        if not name:
            raise UserError(f"Adapter {text!r} has no name (expected name[:profile][@backend]).")
        return cls(name=name, profile=profile or None, backend=backend or None)


#: Environment names: short names, usable in trial ids and on the command line (RUN%NAME).
ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
MAX_ENVIRONMENTS = 8


@dataclass(frozen=True)
class EnvironmentSpec:
    """One environment of an environment matrix: a name and the requirements that make it differ."""

    name: str
    requirements: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "requirements": list(self.requirements)}

    @classmethod
    def from_dict(cls, data: dict) -> EnvironmentSpec:
        return cls(data["name"], tuple(data.get("requirements", ())))


def check_requirement(text: str, where: str) -> str:
    """A PEP 508 requirement, or a UserError naming the environment and what is wrong with it."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(text)
    except InvalidRequirement as err:
        raise UserError(f"{where}: {text!r} is not a valid requirement ({str(err).splitlines()[0]}).") from None
    if requirement.url:
        from hello_bench.run.sources import check_url  # git+file, file, https: a git ref of your own project, for one

        check_url(requirement.url, where, text)
    return str(requirement)


def parse_environments(entries: Any, source: str) -> tuple[EnvironmentSpec, ...]:
    """``[[environments]]`` tables (name, requirements) or ``--env NAME=REQ`` pairs, validated."""
    if not isinstance(entries, list):
        raise UserError(f'{source}: environments must be a list of tables, e.g. [[environments]] name = "a".')
    found: dict[str, list[str]] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, EnvironmentSpec):
            entry = entry.to_dict()
        if not isinstance(entry, dict) or set(entry) - set(ENVIRONMENT_KEYS) or not isinstance(entry.get("name"), str):
            raise UserError(f"{source}: environments[{index}] must be a table with 'name' and 'requirements'.")
        name, reqs = entry["name"], entry.get("requirements", [])
        if not ENV_NAME.fullmatch(name):
            raise UserError(f"{source}: environment name {name!r}: letters, digits, '.', '_' and '-', at most 40.")
        if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
            raise UserError(f"{source}: environment {name!r}: requirements must be a list of strings. Got {reqs!r}.")
        found.setdefault(name, []).extend(check_requirement(r, f"environment {name!r}") for r in reqs)
    if len(found) > MAX_ENVIRONMENTS:
        raise UserError(f"{source}: {len(found)} environments; at most {MAX_ENVIRONMENTS} run side by side.")
    return tuple(EnvironmentSpec(name, tuple(reqs)) for name, reqs in found.items())


def env_flags(pairs: list[str]) -> list[dict]:
    """``--env NAME=REQ`` flags (repeatable; the same NAME again adds a requirement) as config entries."""
    out: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, requirement = pair.partition("=")
        if not sep or not name.strip() or not requirement.strip():
            raise UserError(f"--env {pair!r}: expected NAME=REQUIREMENT, e.g. --env new=scikit-learn==1.9.*")
        out.setdefault(name.strip(), []).append(requirement.strip())
    return [{"name": n, "requirements": r} for n, r in out.items()]


@dataclass(frozen=True)
class Config:
    """A validated run configuration: the keys of a ``bench.toml`` (``bench schema bench-toml`` is its JSON Schema,
    generated from this class, its ``Attributes`` below and :data:`BOUNDS`).

    Attributes
    ----------
    extends : str
        A built-in config (default, quick, full, tuning) or another TOML file (relative to this one) that this
        one starts from: its keys replace the base's, [timing] key by key. A config without adapters extends
        default.
    description : str
        One line saying what the run is for; reports show it.
    datasets : list
        Bundled names (iris, wine, breast_cancer, digits), synthetic:n_samples=...,n_features=...,n_classes=...,
        or tables for CSV/Parquet files: { path, target, categorical, missing }.
    adapters : list
        Registered names (name[:profile][@backend]), a classifier's class path (package.module.Class), or
        tables { name, profile, params, backends }.
    devices : list
        cpu, gpu, or auto (cpu, plus gpu where this machine has one); "auto" alone may be a string.
    splits : int
        Seeded train/test splits (split seeds first_seed, first_seed + 1, ...), the same for every adapter.
    first_seed : int
        The first split seed.
    init_seeds : int
        0: each split seed also seeds the model; N: every split is trained with the same N init seeds.
    init_seed : int
        One init seed for every split (default: each split's own seed). ``bench seed`` uses it.
    test_size : float
        Share of rows in each split's test side.
    stratify : bool
        Stratified splits (the default); the blog post's split was not.
    preprocessing : list
        none, standard (a StandardScaler fitted on each training split, timed apart from fit).
    threads : int
        Threads per framework, the same for every adapter.
    trial_timeout_s : float
        Seconds a trial may run before its worker is killed and the trial recorded as a timeout.
    startup_timeout_s : float
        Seconds a fresh worker gets to import its framework and warm up, apart from its trials' limit.
    stop_after_fit_s : float
        Stop a group's remaining trials once one fit takes longer than this (``bench scale``); unset: never.
    interleave : bool
        Workers of different groups take turns, split by split, so that drifting machine load spreads over
        every adapter instead of landing on the last.
    quick : bool
        A smoke run: its reports say at the top that its numbers are not comparable.
    timing : table
        How much to measure after each fit (latency calls, budgets, batch sizes, serving paths, curves).
    environments : list
        An environment matrix: tables { name, requirements }; every trial runs once per environment,
        interleaved split by split.
    order_seed : int
        Seed of the randomised adapter order within each round (unset: derived from the run id).
    max_fit_steps : int
        Size the config's MLPs to the data: an adapter trained in batches (epochs and batch_size) whose batch
        size the config does not set trains with the smallest batch size that keeps a fit within this many
        optimiser steps on the largest training set (epochs unchanged). The default config sets 7500, the seed
        profile's steps on iris, where nothing changes. Unset: never.
    """

    datasets: tuple[DatasetSpec, ...] = (DatasetSpec("iris"),)
    adapters: tuple[AdapterSpec, ...] = ()
    devices: tuple[str, ...] = ("auto",)
    splits: int = 10
    first_seed: int = 0
    init_seeds: int = 0
    init_seed: int | None = None
    test_size: float = 0.5
    stratify: bool = True
    preprocessing: tuple[str, ...] = ("none",)
    threads: int = 1
    trial_timeout_s: float = 600.0
    startup_timeout_s: float = 120.0
    stop_after_fit_s: float | None = None
    interleave: bool = True
    description: str = ""
    quick: bool = False
    timing: TimingSettings = field(default_factory=TimingSettings)
    environments: tuple[EnvironmentSpec, ...] = ()
    order_seed: int | None = None
    max_fit_steps: int | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["adapters"] = [a.to_dict() for a in self.adapters]
        data["timing"] = self.timing.to_dict()
        data["datasets"] = [d.to_dict() for d in self.datasets]
        data["devices"] = list(self.devices)
        data["preprocessing"] = list(self.preprocessing)
        data["environments"] = [e.to_dict() for e in self.environments]
        if not self.environments:
            del data["environments"]  # configs stored before environments existed stay equal
        for key in ("order_seed", "max_fit_steps"):
            if data[key] is None:
                del data[key]  # unset: configs stored before the key existed stay equal
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        """Inverse of :meth:`to_dict` (no validation: for configs written by bench)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["adapters"] = tuple(AdapterSpec.from_dict(a) for a in data.get("adapters", []))
        known["datasets"] = tuple(DatasetSpec(**d) for d in data.get("datasets", [{"source": "iris"}]))
        known["timing"] = TimingSettings.from_dict(data.get("timing", {}))
        known["environments"] = tuple(EnvironmentSpec.from_dict(e) for e in data.get("environments", []))
        for key in ("devices", "preprocessing"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)

    def n_seeds(self) -> int:
        return self.splits * max(1, self.init_seeds)

    def in_environments(self, spec: AdapterSpec) -> bool:
        """Whether ``spec``'s class is resolved by each environment's Python, never imported in this process
        (:func:`hello_bench.adapters.registry.resolved_where_it_runs`; :mod:`hello_bench.run.resolve` asks the environments)."""
        from hello_bench.adapters.registry import resolved_where_it_runs

        return bool(self.environments) and resolved_where_it_runs(spec.name)

    def resolved_devices(self) -> tuple[str, ...]:
        """The devices trials run on: ``auto`` becomes cpu, plus gpu where a GPU is present."""
        from hello_bench.measure.devices import resolve_devices

        return resolve_devices(self.devices)

    def n_trials(self, upper_bound: bool = False) -> int:
        """How many trials the matrix has (computed, not listed); ``upper_bound``: ``auto`` counted as two devices,
        without looking for a GPU (validation does not depend on the machine)."""
        devices = sum(2 if d == "auto" else 1 for d in self.devices) if upper_bound else len(self.resolved_devices())
        cells = len(self.adapters) * devices * len(self.datasets) * len(self.preprocessing)
        return cells * self.n_seeds() * max(1, len(self.environments))


_TOP_KEYS = {f for f in Config.__dataclass_fields__} | {"description", "extends"}
_LIST_KEYS = ("datasets", "adapters", "devices", "preprocessing")


def config_from_dict(data: dict, source: str = "config") -> Config:
    """Build and validate a :class:`Config` from parsed TOML (or an equivalent dict)."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise UserError(
            f"{source}: unknown key(s) {', '.join(sorted(unknown))}. Known: {', '.join(sorted(_TOP_KEYS))}."
        )
    if "extends" in data:  # files are read, and what they extend laid under them, by hello_bench.run.config_files
        raise UserError(
            f"{source}: extends names a config file to read; load it with hello_bench.run.config_files.load_config."
        )
    if data.get("devices") == "auto":  # the one device setting that is a word, not a list
        data = {**data, "devices": ["auto"]}
    for key in _LIST_KEYS:
        if key in data and not isinstance(data[key], list):
            raise UserError(f"{source}: {key} must be a list, e.g. {key} = [{data[key]!r}]. Got {data[key]!r}.")
    kwargs: dict = {
        "adapters": tuple(a for i, e in enumerate(data.get("adapters", [])) for a in _adapter_entry(e, i, source))
    }
    if "datasets" in data:
        kwargs["datasets"] = tuple(parse_dataset(d, source, i) for i, d in enumerate(data["datasets"]))
    for key in ("devices", "preprocessing"):
        if key in data:
            kwargs[key] = tuple(data[key])
    for key in ("splits", "first_seed", "init_seeds", "threads", "test_size", "trial_timeout_s", "startup_timeout_s", "stop_after_fit_s",
                "stratify", "interleave", "description", "quick", "init_seed", "max_fit_steps"):  # fmt: skip
        if key in data:
            kwargs[key] = data[key]
    if "environments" in data:
        kwargs["environments"] = parse_environments(data["environments"], source)
    if "order_seed" in data:
        kwargs["order_seed"] = data["order_seed"]
    if "timing" in data:
        try:
            kwargs["timing"] = TimingSettings.from_dict(data["timing"])
        except (TypeError, ValueError) as err:
            raise UserError(f"{source}: [timing] {err}") from None
    return validate(Config(**kwargs), source)


def _adapter_entry(entry: Any, index: int, source: str) -> list[AdapterSpec]:
    if isinstance(entry, str):
        return [AdapterSpec.parse(entry)]
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise UserError(f"{source}: adapters[{index}] must be a string or a table with a 'name'.")
    extra = set(entry) - set(ADAPTER_KEYS)
    if extra:
        raise UserError(f"{source}: adapters[{index}] has unknown key(s) {', '.join(sorted(extra))}.")
    values = entry.get("params", {})
    if not isinstance(values, dict):
        raise UserError(
            f"{source}: adapters[{index}].params must be a table, e.g. params = {{ epochs = 3 }}. Got {values!r}."
        )
    backends = entry.get("backends", [None])
    if not isinstance(backends, list) or not all(isinstance(b, str) or b is None for b in backends):
        raise UserError(f"{source}: adapters[{index}].backends must be a list of names. Got {backends!r}.")
    profile = entry.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise UserError(f"{source}: adapters[{index}].profile must be a name. Got {profile!r}.")
    for key, value in values.items():
        check_param(key, value, f"{source}: adapters[{index}]")
    return [AdapterSpec(entry["name"], profile, freeze_all(values), b) for b in backends]


def parse_dataset(entry: Any, source: str = "config", index: int = 0, **options: Any) -> DatasetSpec:
    """A dataset entry: a name/path/synthetic string, or a table with ``path`` and ``target``."""
    if isinstance(entry, DatasetSpec):
        return entry
    if isinstance(entry, str):
        if not entry.strip():
            raise UserError(f"{source}: datasets[{index}] is empty.")
        return DatasetSpec(entry, **{k: v for k, v in options.items() if v is not None})
    if isinstance(entry, dict):
        extra = set(entry) - set(DATASET_KEYS)
        if extra or not ({"path", "name"} & set(entry)) or not all(isinstance(v, str) for v in entry.values()):
            raise UserError(
                f"{source}: datasets[{index}] must be a name or a table with 'path' (or 'name'), 'target', 'categorical', 'missing'."
            )
        return DatasetSpec(
            entry.get("path") or entry["name"],
            entry.get("target"),
            entry.get("categorical", "error"),
            entry.get("missing", "error"),
        )
    raise UserError(f"{source}: datasets[{index}] must be a string or a table.")


def with_overrides(config: Config, **overrides: Any) -> Config:
    """Apply CLI flags (None means: not given) and validate again."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return validate(replace(config, **given), "command line")


def _bounded(key: str, value: Any, kind: type | tuple[type, ...], low: float, high: float, what: str) -> str | None:
    """Why ``value`` is not a ``kind`` in [low, high] (None when it is)."""
    if isinstance(value, bool) or not isinstance(value, kind):
        return f"{key} must be {what}"
    number = float(cast(float, value))
    if not math.isfinite(number) or number < low:
        return f"{key} must be {what}"
    if number > high:
        return f"{key} must be at most {high:g}"
    return None


#: Every number of a config: its type, its range and how a refusal says it (the JSON Schema's bounds too).
BOUNDS: dict[str, tuple[type | tuple[type, ...], float, float, str]] = {
    "splits": (int, 1, MAX_SPLITS, "an int >= 1"),
    "first_seed": (int, 0, 2**31 - 1 - MAX_SPLITS, "an int >= 0"),
    "init_seeds": (int, 0, MAX_INIT_SEEDS, "an int >= 0"),
    "init_seed": (int, 0, 2**31 - 1, "an int >= 0"),
    "order_seed": (int, 0, 2**31 - 1, "an int >= 0"),
    "threads": (int, 1, MAX_THREADS, "an int >= 1"),
    "test_size": (float, 1e-9, 1 - 1e-9, "a float in (0, 1)"),
    "trial_timeout_s": ((int, float), 1e-3, 7 * 86400, "a number of seconds > 0"),
    "startup_timeout_s": ((int, float), 1e-3, 7 * 86400, "a number of seconds > 0"),
    "stop_after_fit_s": ((int, float), 1e-9, 7 * 86400, "a number of seconds > 0"),
    "max_fit_steps": (int, 1, 10**12, "an int >= 1"),
}


def _check_numbers(config: Config, source: str) -> None:
    problems = [
        _bounded(key, getattr(config, key), kind, low, high, what)
        for key, (kind, low, high, what) in BOUNDS.items()
        if not (getattr(config, key) is None and Config.__dataclass_fields__[key].default is None)  # unset optional
    ]
    for key in ("stratify", "interleave", "quick"):
        if not isinstance(getattr(config, key), bool):
            problems.append(f"{key} must be true or false")
    if not isinstance(config.description, str):
        problems.append("description must be a string")
    for problem in filter(None, problems):
        key = problem.split(" ")[0]
        raise UserError(f"{source}: {problem}. Got {getattr(config, key)!r} instead.")


def _check_instructions(config: Config, source: str) -> None:
    """Counting instructions (opt-in) needs valgrind and one thread: said before anything runs."""
    if not config.timing.instructions:
        return
    from hello_bench.measure.instructions import available

    if config.threads != 1:
        raise UserError(f"{source}: [timing] instructions counts single-threaded runs only; set threads = 1 "
                        f"(got {config.threads}).")  # fmt: skip
    if not available():
        raise UserError(f"{source}: [timing] instructions needs valgrind, which is not installed here "
                        "(apt-get install valgrind), or set it to false.")  # fmt: skip


def _check_names(config: Config, source: str) -> None:
    for key, allowed in (("devices", DEVICES), ("preprocessing", PREPROCESSING)):
        values = getattr(config, key)
        if not values:
            raise UserError(f"{source}: no {key} given (choose from {', '.join(allowed)}).")
        for value in values:
            if value not in allowed:
                what = "device" if key == "devices" else key
                raise UserError(f"Unknown {what} {value!r}. Available: {', '.join(allowed)}.")
        _no_duplicates(source, key, list(values))
    if not config.adapters:
        raise UserError(f"{source}: no adapters given.")
    _no_duplicates(source, "adapter(s)", [spec.label for spec in config.adapters], "listed twice")


def _no_duplicates(source: str, what: str, values: list[str], verb: str = "repeated") -> None:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise UserError(f"{source}: {what} {verb}: {', '.join(map(str, dupes))}.")


def validate(config: Config, source: str) -> Config:
    """Check every name and number; raise UserError on the first problem."""
    if any(not isinstance(d, DatasetSpec) for d in config.datasets):
        config = replace(config, datasets=tuple(parse_dataset(d, source, i) for i, d in enumerate(config.datasets)))
    if not config.datasets:
        raise UserError(f"{source}: no datasets given.")
    _check_numbers(config, source)
    _check_names(config, source)
    _check_instructions(config, source)
    if config.n_trials(upper_bound=True) > MAX_TRIALS:
        raise UserError(
            f"{source}: the matrix has {config.n_trials(upper_bound=True):,} trials, more than the {MAX_TRIALS:,} one run can hold. "
            "Use fewer splits, init seeds, datasets or adapters."
        )
    names = [d.name for d in config.datasets]
    _no_duplicates(source, "datasets with the same name", names, "given")
    for spec in config.datasets:
        _validate_dataset(spec, config.test_size)
    for adapter in config.adapters:
        _validate_adapter(adapter, deferred=config.in_environments(adapter))
    return config


def _validate_dataset(spec: DatasetSpec, test_size: float) -> None:
    if spec.kind == "file" and not (("/" in spec.source) or spec.source.lower().endswith(FILE_SUFFIXES)):
        raise UserError(
            f"Unknown dataset {spec.source!r}. Available: {', '.join(sorted(BUNDLED))}. "
            "Or give a .csv/.parquet path with --target, or synthetic:n_samples=...,n_features=...,n_classes=..."
        )
    if spec.categorical not in CATEGORICAL_CHOICES:
        raise UserError(f"categorical must be one of {', '.join(CATEGORICAL_CHOICES)}; got {spec.categorical!r}.")
    if spec.missing not in MISSING_CHOICES:
        raise UserError(f"missing must be one of {', '.join(MISSING_CHOICES)}; got {spec.missing!r}.")
    if spec.kind == "bundled":
        return
    if spec.kind == "synthetic":  # generated balanced: only the parameters can be wrong
        params = synthetic_params(spec.source)
        if min(test_size, 1 - test_size) * params["n_samples"] < params["n_classes"]:
            raise UserError(
                f"Dataset {spec.source}: too few samples for {params['n_classes']} classes on both sides of the split."
            )
        return
    check_splittable(load_spec(spec), test_size, spec.source)


def check_adapter(spec: AdapterSpec) -> None:
    """The adapter loads in this Python and takes these parameters; a UserError (one line) when not."""
    _validate_adapter(spec)


def _validate_adapter(spec: AdapterSpec, deferred: bool = False) -> None:
    """The adapter loads, and takes these parameters; its code (a plugin's, maybe) runs under the plugin guard.

    ``deferred``: the class is the environments' to load (:meth:`Config.in_environments`); here only the
    name's form is checked (parameters' types were checked as they were read), and the environments' Pythons
    check the rest before anything runs (:func:`hello_bench.run.resolve.resolve`).
    """
    from hello_bench.adapters.registry import dotted_path_problem
    from hello_bench.plugins import PluginError, guarded

    if deferred:
        problem = dotted_path_problem(spec.name) if is_dotted_path(spec.name) else None
        if problem:
            raise UserError(f"Adapter {problem}.")
        return
    try:
        cls = adapter_class(spec.name)
        values = spec.resolved_params()
    except (UnknownAdapterError, AdapterLoadError, ValueError) as err:
        raise UserError(str(err) + _not_here_hint(spec.name, err)) from None
    try:
        problem = guarded(lambda: _adapter_problem(spec, cls, values))
    except PluginError as err:  # its hooks or constructor raise (SystemExit, KeyboardInterrupt, ...): one line
        raise UserError(f"Adapter {spec.label!r} cannot be used: {err}") from None
    if problem:
        raise UserError(problem)


def _not_here_hint(name: str, err: Exception) -> str:
    """What to do when a class path's package is not installed in bench's own Python."""
    import importlib.util

    if not isinstance(err, AdapterLoadError) or not is_dotted_path(name):
        return ""
    top = name.replace(":", ".").split(".")[0]
    try:
        if importlib.util.find_spec(top) is not None:
            return ""
    except (ImportError, ValueError):
        pass
    return (
        f". Package {top!r} is not installed in bench's Python ({sys.executable}): install it there, or run it "
        f"in environments that have it (--env NAME='{top} @ file:///path/to/your/project'), which load it there only."
    )


def _adapter_problem(spec: AdapterSpec, cls: Any, values: dict) -> str | None:
    """Why ``spec`` cannot run with ``values`` (backend, parameter names and values), or None."""
    if spec.backend is not None and spec.backend not in cls.supported_backends:
        return (
            f"Adapter {spec.name!r} has no backend {spec.backend!r}. Its backends: {', '.join(cls.supported_backends)}."
        )
    known = set(cls().get_params())
    bad = sorted(set(values) - known)
    if bad:
        return (
            f"Adapter {spec.name!r} has no parameter(s) {', '.join(bad)}. Its parameters: {', '.join(sorted(known))}."
        )
    if {"random_state", "device"} & set(dict(spec.params)):
        return f"Adapter {spec.name!r}: set seeds with 'splits'/'first_seed' and devices with 'devices', not as parameters."
    try:
        cls(**values).check_params()
    except (ValueError, TypeError) as err:
        return f"Adapter {spec.label!r}: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    return None
