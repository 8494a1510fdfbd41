"""Executors: where trials run. One small interface; everything else lives above it.

An executor runs *lanes* (lists of trials that share a worker group, in
order) and reports each trial's record through :class:`Hooks`. Resume,
decided skips, progress, counting, the fit-time budget and the store are the
runner's (:mod:`bench.runner`), the same for every executor.

Adding an executor is one file in this package: a module that defines
``EXECUTOR`` (an :class:`Executor` subclass) and, if it has options,
``add_arguments(group)`` and ``from_args(args)``. ``bench run --executor
NAME`` finds it by its module name.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.errors import UserError
from bench.run.config import Config
from bench.run.matrix import Trial


class Hooks(Protocol):
    """What an executor tells the runner, and asks it."""

    def skip_reason(self, trial: Trial) -> str | None:
        """Why not to start ``trial`` after all (e.g. its sweep went over budget), or None."""

    def started(self, trial: Trial) -> None:
        """``trial`` has started (a worker took it)."""

    def finished(self, trial: Trial, record: dict) -> None:
        """``trial`` has a record (ok, skipped, error or timeout)."""


@dataclass(frozen=True)
class Job:
    """What a worker needs besides its trials, derived from the config once."""

    config: Config
    logs: Path | None = None
    machine_id: str | None = None

    def header(self, first: Trial) -> dict:
        """The worker's job header for the group of ``first``."""
        return {
            "adapter": first.adapter.name,
            "backend": first.backend,
            "threads": self.config.threads,
            "test_size": self.config.test_size,
            "stratify": self.config.stratify,
            "timing": self.config.timing.to_dict(),
            "warmup": {"params": first.adapter.resolved_params(), "device": first.device},
            "machine_id": self.machine_id,
        }

    def serve(self, trial: Trial) -> bool:
        """Whether this trial measures its serving paths (``timing.serving_splits``)."""
        limit = self.config.timing.serving_splits
        return limit is None or trial.split_seed - self.config.first_seed < limit

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "machine_id": self.machine_id}

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        return cls(Config.from_dict(data["config"]), None, data.get("machine_id"))


class Executor(ABC):
    """Runs lanes of trials somewhere and reports records through the hooks.

    Subclasses may start resources in ``__enter__`` and must free them in
    ``__exit__``. ``extra`` fields are added to every record it produces.
    """

    name = "?"
    #: Whether GPU presence on this machine says anything about where trials run.
    local_devices = True
    extra: dict = {}

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: object = None, *exc: object) -> None:
        return None

    def hosts(self) -> list[str] | None:
        """Hosts to pin a copy of the matrix to (``--each-host``), or None."""
        return None

    def describe(self) -> str:
        return self.name

    @abstractmethod
    def run(self, lanes: list[list[Trial]], job: Job, hooks: Hooks) -> None:
        """Run every trial of every lane (each lane in order), reporting through ``hooks``."""


def names() -> list[str]:
    """Executor modules in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def module(name: str) -> Any:
    if name not in names():
        raise UserError(f"Unknown executor {name!r}. Available: {', '.join(names())}.")
    return importlib.import_module(f"{__name__}.{name}")
