"""The one registry of adapters: stable names to ``"module:Class"`` strings.

Adapter classes are imported only when asked for, and importing them never
imports a deep-learning framework, so listing adapters is cheap. Third-party
adapters register through the ``bench.adapters`` entry-point group::

    [project.entry-points."bench.adapters"]
    my-model = "my_package.my_module:MyClassifier"

or, without packaging, through the ``BENCH_ADAPTERS`` environment variable
(``name=module:Class`` pairs separated by commas), which worker processes
inherit.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from importlib.metadata import entry_points

BUILTIN = {
    "sklearn-lr": "adapters.sklearn_lr:SklearnLRClassifier",
    "keras-mlp": "adapters.keras_mlp:KerasMLPClassifier",
    "torch-mlp": "adapters.torch_mlp:TorchMLPClassifier",
}

ENTRY_POINT_GROUP = "bench.adapters"


class UnknownAdapterError(KeyError):
    """An adapter name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def registered() -> dict[str, str]:
    """All adapter names mapped to their ``"module:Class"`` targets, sorted."""
    targets = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    for pair in filter(None, os.environ.get("BENCH_ADAPTERS", "").split(",")):
        name, _, target = pair.partition("=")
        targets.setdefault(name.strip(), target.strip())
    return dict(sorted(targets.items()))


def adapter_class(name: str):
    """The adapter class registered under ``name``.

    Raises
    ------
    UnknownAdapterError
        With the list of valid names.
    """
    targets = registered()
    if name not in targets:
        close = difflib.get_close_matches(name, targets, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownAdapterError(f"Unknown adapter {name!r}. Available: {', '.join(targets)}.{hint}")
    module, _, cls = targets[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def make_adapter(name: str, profile: str | None = None, **params):
    """An unfitted adapter, from its name, an optional profile and parameters.

    Explicit ``params`` override the profile's.
    """
    cls = adapter_class(name)
    merged = dict(profile_params(name, profile))
    merged.update(params)
    return cls(**merged)


def profile_params(name: str, profile: str | None) -> dict:
    """The parameters of adapter ``name``'s named profile (``{}`` for None)."""
    if profile is None:
        return {}
    cls = adapter_class(name)
    if profile not in cls.profiles:
        known = ", ".join(cls.profiles) or "none"
        raise ValueError(f"Adapter {name!r} has no profile {profile!r}. Its profiles: {known}.")
    return dict(cls.profiles[profile])


@dataclass(frozen=True)
class AdapterInfo:
    """What ``bench list`` shows about one adapter."""

    name: str
    target: str
    framework: str
    devices: tuple[str, ...]
    backends: tuple[str, ...]
    profiles: tuple[str, ...]
    available: bool
    reason: str


def backend_modules(cls, backend: str) -> tuple[str, ...]:
    """Modules an adapter needs for one backend (the backend's own package too)."""
    extra = () if backend == "default" else (backend,)
    return tuple(cls.requires) + extra


def missing_modules(cls, backend: str = "default") -> list[str]:
    """Required modules that cannot be found (checked without importing them)."""
    return [m for m in backend_modules(cls, backend) if importlib.util.find_spec(m) is None]


def install_hint(cls, backend: str = "default") -> str:
    extras = [e for e in (cls.install_extra, "" if backend == "default" else backend) if e]
    return f'pip install ".[{",".join(extras)}]"' if extras else "pip install ."


def describe(name: str) -> AdapterInfo:
    """Availability and capabilities of one adapter, without importing its framework."""
    cls = adapter_class(name)
    default_backend = cls.supported_backends[0]
    missing = missing_modules(cls, default_backend)
    reason = "" if not missing else f"{', '.join(missing)} not installed: {install_hint(cls, default_backend)}"
    return AdapterInfo(
        name=name,
        target=registered()[name],
        framework=cls.framework,
        devices=tuple(cls.supported_devices),
        backends=tuple(cls.supported_backends),
        profiles=tuple(cls.profiles),
        available=not missing,
        reason=reason,
    )


def list_adapters() -> list[AdapterInfo]:
    """All registered adapters, available or not."""
    return [describe(name) for name in registered()]
