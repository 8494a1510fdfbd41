"""Run configuration: what to run, from a TOML file and/or CLI flags, validated up front.

Everything a user can get wrong is checked here, before any trial runs, and
reported as a :class:`~bench.errors.UserError` naming the problem.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

from adapters import UnknownAdapterError, adapter_class, profile_params

from .datasets import (
    BUNDLED,
    CATEGORICAL_CHOICES,
    MISSING_CHOICES,
    DatasetSpec,
    check_splittable,
    load_spec,
    synthetic_params,
)
from .errors import UserError
from .measure import TimingSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEVICES = ("cpu", "gpu")
PREPROCESSING = ("none", "standard")
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter column of the matrix: name, profile, parameters, backend."""

    name: str
    profile: str | None = None
    params: tuple[tuple[str, object], ...] = ()
    backend: str | None = None

    @property
    def label(self) -> str:
        """Readable, stable id part: ``keras-mlp:seed[tensorflow]``."""
        text = self.name + (f":{self.profile}" if self.profile else "")
        if self.params:
            text += "(" + ",".join(f"{k}={v}" for k, v in self.params) + ")"
        return text + (f"[{self.backend}]" if self.backend else "")

    def resolved_params(self) -> dict:
        """Profile parameters overridden by explicit ones (no seed, no device)."""
        merged = profile_params(self.name, self.profile)
        merged.update(dict(self.params))
        if self.backend:
            merged["backend"] = self.backend
        return merged

    @classmethod
    def parse(cls, text: str) -> AdapterSpec:
        """Parse ``name[:profile][@backend]`` (the CLI form)."""
        text = text.strip()
        backend = None
        if "@" in text:
            text, backend = text.split("@", 1)
        name, _, profile = text.partition(":")
        return cls(name=name, profile=profile or None, backend=backend or None)


@dataclass(frozen=True)
class Config:
    """A validated run configuration."""

    datasets: tuple[DatasetSpec, ...] = (DatasetSpec("iris"),)
    adapters: tuple[AdapterSpec, ...] = ()
    devices: tuple[str, ...] = ("cpu",)
    splits: int = 10
    first_seed: int = 0
    init_seeds: int = 0
    test_size: float = 0.5
    preprocessing: tuple[str, ...] = ("none",)
    threads: int = 1
    trial_timeout_s: float = 600.0
    #: Stop a group's remaining trials once one fit takes longer than this
    #: (``bench scale`` sweeps sizes in increasing order). None: never.
    stop_after_fit_s: float | None = None
    timing: TimingSettings = field(default_factory=TimingSettings)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["adapters"] = [
            {"name": a.name, "profile": a.profile, "params": dict(a.params), "backend": a.backend}
            for a in self.adapters
        ]
        data["timing"]["batch_sizes"] = list(self.timing.batch_sizes)
        data["datasets"] = [d.to_dict() for d in self.datasets]
        return data


def builtin_config_path(name: str) -> Path:
    """Path of a config shipped in ``bench/configs`` (``default``, ``quick``)."""
    return Path(str(resources.files("bench") / "configs" / f"{name}.toml"))


def read_toml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Config file {path} does not exist.")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"Config file {path} is not valid TOML: {err}") from None
    except OSError as err:
        raise UserError(f"Cannot read config file {path}: {err.strerror}") from None


_TOP_KEYS = {
    "datasets",
    "adapters",
    "devices",
    "splits",
    "first_seed",
    "init_seeds",
    "test_size",
    "preprocessing",
    "threads",
    "trial_timeout_s",
    "stop_after_fit_s",
    "timing",
    "description",
}


def config_from_dict(data: dict, source: str = "config") -> Config:
    """Build and validate a :class:`Config` from parsed TOML (or an equivalent dict)."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise UserError(
            f"{source}: unknown key(s) {', '.join(sorted(unknown))}. Known: {', '.join(sorted(_TOP_KEYS))}."
        )
    adapters = []
    for i, entry in enumerate(data.get("adapters", [])):
        if isinstance(entry, str):
            adapters.append(AdapterSpec.parse(entry))
            continue
        if not isinstance(entry, dict) or "name" not in entry:
            raise UserError(f"{source}: adapters[{i}] must be a string or a table with a 'name'.")
        extra = set(entry) - {"name", "profile", "params", "backends"}
        if extra:
            raise UserError(f"{source}: adapters[{i}] has unknown key(s) {', '.join(sorted(extra))}.")
        params = tuple(sorted(entry.get("params", {}).items()))
        for backend in entry.get("backends", [None]):
            adapters.append(AdapterSpec(entry["name"], entry.get("profile"), params, backend))
    kwargs: dict = {"adapters": tuple(adapters)}
    if "datasets" in data:
        kwargs["datasets"] = tuple(parse_dataset(d, source, i) for i, d in enumerate(data["datasets"]))
    for key in ("devices", "preprocessing"):
        if key in data:
            kwargs[key] = tuple(data[key])
    for key in ("splits", "first_seed", "init_seeds", "threads", "test_size", "trial_timeout_s", "stop_after_fit_s"):
        if key in data:
            kwargs[key] = data[key]
    if "timing" in data:
        try:
            kwargs["timing"] = TimingSettings.from_dict(data["timing"])
        except (TypeError, ValueError) as err:
            raise UserError(f"{source}: [timing] {err}") from None
    return validate(Config(**kwargs), source)


def parse_dataset(entry, source: str = "config", index: int = 0, **options) -> DatasetSpec:
    """A dataset entry: a name/path/synthetic string, or a table with ``path`` and ``target``."""
    if isinstance(entry, DatasetSpec):
        return entry
    if isinstance(entry, str):
        return DatasetSpec(entry, **{k: v for k, v in options.items() if v is not None})
    if isinstance(entry, dict):
        extra = set(entry) - {"path", "name", "target", "categorical", "missing"}
        if extra or not ({"path", "name"} & set(entry)):
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


def load_config(path: str | Path) -> Config:
    return config_from_dict(read_toml(path), source=str(path))


def with_overrides(config: Config, **overrides) -> Config:
    """Apply CLI flags (None means: not given) and validate again."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return validate(replace(config, **given), "command line")


def validate(config: Config, source: str) -> Config:
    """Check every name and number; raise UserError on the first problem."""
    if any(not isinstance(d, DatasetSpec) for d in config.datasets):
        config = replace(config, datasets=tuple(parse_dataset(d, source, i) for i, d in enumerate(config.datasets)))
    if not config.datasets:
        raise UserError(f"{source}: no datasets given.")
    for spec in config.datasets:
        _validate_dataset(spec, config.test_size if isinstance(config.test_size, float) else 0.5)
    names = [d.name for d in config.datasets]
    if len(set(names)) != len(names):
        raise UserError(
            f"{source}: datasets with the same name: {', '.join(sorted({n for n in names if names.count(n) > 1}))}."
        )
    for prep in config.preprocessing:
        if prep not in PREPROCESSING:
            raise UserError(f"Unknown preprocessing {prep!r}. Available: {', '.join(PREPROCESSING)}.")
    if not config.adapters:
        raise UserError(f"{source}: no adapters given.")
    for adapter in config.adapters:
        _validate_adapter(adapter)
    for device in config.devices:
        if device not in DEVICES:
            raise UserError(f"Unknown device {device!r}. Available: {', '.join(DEVICES)}.")
    checks = [
        ("splits", config.splits, isinstance(config.splits, int) and config.splits >= 1, "an int >= 1"),
        ("first_seed", config.first_seed, isinstance(config.first_seed, int) and config.first_seed >= 0, "an int >= 0"),
        ("init_seeds", config.init_seeds, isinstance(config.init_seeds, int) and config.init_seeds >= 0, "an int >= 0"),
        ("threads", config.threads, isinstance(config.threads, int) and config.threads >= 1, "an int >= 1"),
        (
            "test_size",
            config.test_size,
            isinstance(config.test_size, float) and 0 < config.test_size < 1,
            "a float in (0, 1)",
        ),
        (
            "trial_timeout_s",
            config.trial_timeout_s,
            isinstance(config.trial_timeout_s, (int, float)) and config.trial_timeout_s > 0,
            "a number > 0",
        ),
    ]
    for key, value, ok, expected in checks:
        if not ok:
            raise UserError(f"{source}: {key} must be {expected}. Got {value!r} instead.")
    labels = [spec.label for spec in config.adapters]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise UserError(f"{source}: adapter(s) listed twice: {', '.join(dupes)}.")
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


def _validate_adapter(spec: AdapterSpec) -> None:
    try:
        cls = adapter_class(spec.name)
        params = spec.resolved_params()
    except UnknownAdapterError as err:
        raise UserError(str(err)) from None
    except ValueError as err:
        raise UserError(str(err)) from None
    if spec.backend is not None and spec.backend not in cls.supported_backends:
        raise UserError(
            f"Adapter {spec.name!r} has no backend {spec.backend!r}. Its backends: {', '.join(cls.supported_backends)}."
        )
    known = set(cls().get_params())
    bad = sorted(set(params) - known)
    if bad:
        raise UserError(
            f"Adapter {spec.name!r} has no parameter(s) {', '.join(bad)}. Its parameters: {', '.join(sorted(known))}."
        )
    if {"random_state", "device"} & set(dict(spec.params)):
        raise UserError(
            f"Adapter {spec.name!r}: set seeds with 'splits'/'first_seed' and devices with 'devices', not as parameters."
        )
    try:
        cls(**params)._validate_params()
    except (ValueError, TypeError) as err:
        raise UserError(str(err).splitlines()[0]) from None
