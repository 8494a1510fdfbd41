"""The one registry of adapters: stable names to ``"module:Class"`` strings.

Adapter classes are imported only when asked for, and importing them never
imports a deep-learning framework, so listing adapters is cheap. Third-party
adapters register through the ``bench.adapters`` entry-point group::

    [project.entry-points."bench.adapters"]
    my-model = "my_package.my_module:MyClassifier"

or, without packaging, through the ``BENCH_ADAPTERS`` environment variable
(``name=module:Class`` pairs separated by commas), which worker processes
inherit. Any scikit-learn classifier also works by its dotted path
(``sklearn.ensemble.HistGradientBoostingClassifier``), wrapped by
:mod:`hello_bench.adapters.wrapped`. A target that fails to load (a missing module, a
broken plugin) is listed as unavailable with its reason and never breaks the
others.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from .base import BenchClassifier

BUILTIN = {
    "sklearn-lr": "hello_bench.adapters.sklearn_lr:SklearnLRClassifier",
    "sklearn-mlp": "hello_bench.adapters.sklearn_mlp:SklearnMLPClassifier",
    "keras-mlp": "hello_bench.adapters.keras_mlp:KerasMLPClassifier",
    "torch-mlp": "hello_bench.adapters.torch_mlp:TorchMLPClassifier",
    "numba-mlp": "hello_bench.adapters.numba_mlp:NumbaMLPClassifier",
}

ENTRY_POINT_GROUP = "bench.adapters"
#: Marks a BENCH_ADAPTERS entry that cannot be used as written; the rest of the target is why (its load error).
UNUSABLE = "\0unusable:"
#: What an adapter name may hold: it becomes part of trial ids, file names and command lines.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]*")  # no dot: a dotted name is a class path, never an alias


class UnknownAdapterError(KeyError):
    """An adapter name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class AdapterLoadError(ImportError):
    """A registered adapter whose class cannot be imported or is not a classifier."""


@functools.lru_cache(maxsize=8)
def _registered(env: str) -> tuple[tuple[str, str], ...]:
    targets = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _add(targets, ep.name, ep.value, f"entry point bench.adapters {ep.name!r}", asked=False)
    for pair in filter(None, (p.strip() for p in env.split(","))):
        name, sep, target = (part.strip() for part in pair.partition("="))
        if not sep:  # ``module:Class`` alone: listed under it, and loading it says what the form is
            name, target = (
                pair,
                f"{UNUSABLE}BENCH_ADAPTERS entry {pair!r} has no name: write NAME=module:Class "
                "(comma-separated for several)",
            )
            targets[name] = target
            continue
        _add(targets, name, target, f"BENCH_ADAPTERS name {name!r}", asked=True)
    return tuple(sorted(targets.items()))


def _add(targets: dict[str, str], name: str, target: str, what: str, asked: bool) -> None:
    """Register ``name`` unless it cannot be one: not a name, or taken (without case) by another target; never
    silently shadowed, never shadowing. A name the user set for this shell (``asked``) is refused where it is used;
    an installed package's is listed apart (``name (module:Class)``) and the name keeps what it had."""
    taken = next((t for n, t in targets.items() if n.lower() == name.lower() and t != target), None)
    if not NAME.fullmatch(name):
        targets[name] = f"{UNUSABLE}{what} is not a name: letters, digits and _+- only (a dotted name is a class path)"
    elif taken is not None and not taken.startswith(UNUSABLE):
        why = f"{UNUSABLE}{what} ({target}) is taken by {taken}: choose another name"
        targets[name if asked else f"{name} ({target})"] = why
    else:
        targets[name] = target


def registered() -> dict[str, str]:
    """All adapter names mapped to their ``"module:Class"`` targets, sorted.

    Entry points are read once per process (and per ``BENCH_ADAPTERS`` value);
    :func:`refresh` reads them again.
    """
    return dict(_registered(os.environ.get("BENCH_ADAPTERS", "")))


def refresh() -> None:
    """Forget cached entry points and classes (after installing a plugin in this process)."""
    _registered.cache_clear()
    _load.cache_clear()


def is_dotted_path(name: str) -> bool:
    """``package.module.Class`` or ``package.module:Class``: a class to wrap, not a registered name."""
    return ":" in name or ("." in name and not name.startswith(".") and name.split(".")[-1][:1].isupper())


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def dotted_path_problem(name: str) -> str | None:
    """Why ``name`` is not a well-formed class path (``package.module.Class`` or ``package.module:Class``), or None.

    Checked without importing anything: the parent of a run whose adapter lives only in its environments
    validates the name's form, and the environment's Python resolves it.
    """
    module, sep, attr = name.partition(":")
    if not sep:
        module, _, attr = name.rpartition(".")
    if module and attr and all(_IDENTIFIER.fullmatch(part) for part in [*module.split("."), attr]):
        return None
    return f"{name!r} is not a class path: expected package.module.Class or package.module:Class"


def resolved_where_it_runs(name: str) -> bool:
    """Whether a run with environments leaves ``name`` to each environment's Python rather than this one.

    A class path (or a name this process has not registered: an entry point of a package installed only in
    the environments) is the user's code, whose version is the environment's: importing it here would load
    another copy, or fail where the package is (rightly) not installed. Registered names stay here: they are
    bench's own adapters (the workers import the same files) or plugins installed beside bench.
    """
    return is_dotted_path(name) or name not in registered()


@functools.lru_cache(maxsize=64)
def _load(target: str) -> type[BenchClassifier]:
    from hello_bench.plugins import PluginError, guarded, load_target

    from .wrapped import NotAClassifierError, check_classifier, wrap_classifier

    def checked(obj: Any) -> type[BenchClassifier] | str:
        """The adapter class for ``obj``, or why it is not a classifier (runs the plugin's code)."""
        if isinstance(obj, type) and issubclass(obj, BenchClassifier):
            return obj
        try:
            check_classifier(obj, target)
        except NotAClassifierError as err:
            return str(err)
        return wrap_classifier(obj)

    if target.startswith(UNUSABLE):
        raise AdapterLoadError(target[len(UNUSABLE) :])
    try:  # a broken plugin must not break anything else, whatever it raises (hello_bench.plugins)
        obj = load_target(target)
        found = guarded(lambda: checked(obj))
    except PluginError as err:
        raise AdapterLoadError(f"cannot load {target}: {err}") from None
    if isinstance(found, str):
        raise AdapterLoadError(found)
    return found


def identity(cls: type) -> str:
    """``module:Class`` of what an adapter really runs (for a wrapped classifier: the wrapped class)."""
    target = getattr(cls, "wrapped", None) or cls
    return f"{target.__module__}:{target.__qualname__}"


def adapter_class(name: str) -> type[BenchClassifier]:
    """The adapter class registered under ``name``, or the wrapped class at a dotted path.

    Raises
    ------
    UnknownAdapterError
        With the list of valid names.
    AdapterLoadError
        The target cannot be imported, or is not a scikit-learn classifier.
    """
    targets = registered()
    if name in targets:
        return _load(targets[name])
    if is_dotted_path(name):
        return _load(name)
    close = difflib.get_close_matches(name, targets, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownAdapterError(
        f"Unknown adapter {name!r}. Available: {', '.join(targets)}, or a scikit-learn classifier's "
        f"dotted path (e.g. sklearn.ensemble.HistGradientBoostingClassifier).{hint}"
    )


def make_adapter(name: str, profile: str | None = None, **params: Any) -> BenchClassifier:
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
    doc: str = ""


def describe(name: str) -> AdapterInfo:
    """Availability and capabilities of one adapter, without importing its framework."""
    from hello_bench.plugins import PluginError, guarded

    target = registered().get(name, name)
    try:
        cls = adapter_class(name)
        return guarded(lambda: _describe(name, target, cls))
    except AdapterLoadError as err:
        return AdapterInfo(name, target, "?", (), (), (), False, str(err))
    except PluginError as err:  # the class loaded, but its hooks raise
        return AdapterInfo(name, target, "?", (), (), (), False, f"cannot describe {target}: {err}")


def _describe(name: str, target: str, cls: type[BenchClassifier]) -> AdapterInfo:
    default_backend = cls.supported_backends[0]
    missing = cls.missing_modules(default_backend)
    reason = "" if not missing else f"{', '.join(missing)} not installed: {cls.install_hint(default_backend)}"
    doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
    return AdapterInfo(
        name=name,
        target=target,
        framework=cls.framework,
        devices=tuple(cls.supported_devices),
        backends=tuple(cls.supported_backends),
        profiles=tuple(cls.profiles),
        available=not missing,
        reason=reason,
        doc=doc,
    )


def list_adapters() -> list[AdapterInfo]:
    """All registered adapters, available or not."""
    return [describe(name) for name in registered()]


def all_packages() -> list[str]:
    """Distributions of every loadable registered adapter (for the machine's fingerprint)."""
    out: set[str] = set()
    for name in registered():
        try:
            out.update(adapter_class(name).packages())
        except AdapterLoadError:
            continue
    return sorted(out)
