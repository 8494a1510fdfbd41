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

import functools
import importlib
import pkgutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from hello_bench.errors import UserError
from hello_bench.names import file_name
from hello_bench.run.process import Outcome, WorkerProcess

if TYPE_CHECKING:
    from hello_bench.data.datasets import DatasetSpec
    from hello_bench.run.config import Config
    from hello_bench.run.matrix import Trial


class Hooks(Protocol):
    """What an executor tells the runner, and asks it."""

    def skip_reason(self, trial: Trial) -> str | None:
        """Why not to start ``trial`` after all (e.g. its sweep went over budget), or None."""

    def started(self, trial: Trial) -> None:
        """``trial`` has started (a worker took it)."""

    def finished(self, trial: Trial, outcome: Outcome) -> None:
        """``trial`` has an outcome (ok, skipped, error or timeout)."""


class Logs(Protocol):
    """Where workers' stderr goes (a run store's ``logs/`` folder)."""

    def log(self, name: str) -> BinaryIO: ...

    def log_path(self, name: str) -> Path: ...


@dataclass(frozen=True)
class Job:
    """What every worker of a run shares, derived from the config once."""

    config: Config
    logs: Logs | None = None
    machine_id: str | None = None
    #: Seed of the adapter order within each round (recorded with every trial).
    order_seed: int = 0
    #: The Python of each environment of the run (by name); trials of no environment use this one's.
    pythons: dict[str, str] = field(default_factory=dict)

    def worker(self, trial: Trial, log_dir: Path | None = None) -> WorkerProcess:
        """The worker process for ``trial``'s group (its stderr in the run's logs, or in ``log_dir``)."""
        name = (
            file_name(trial.group.replace("/", "_").replace("%", "_"), limit=150) + ".log"
        )  # groups hold labels: any text
        python = self.pythons.get(trial.environment or "")
        if self.logs is not None:
            logs = self.logs
            process = WorkerProcess.for_trial(self.config, trial, self.machine_id, lambda: logs.log(name),
                                              logs.log_path(name), python)  # fmt: skip
        else:
            path = (log_dir or Path(tempfile.gettempdir())) / name
            process = WorkerProcess.for_trial(
                self.config, trial, self.machine_id, lambda: open(path, "ab"), path, python
            )
        process.rows = self.rows
        return process

    def rows(self, trial: Trial) -> dict:
        """The trial's split, decided here (the parent), so every environment trains and tests on the same rows."""
        return split_rows(trial.dataset, self.config.test_size, self.config.stratify, trial.split_seed)

    def serve(self, trial: Trial) -> bool:
        """Whether this trial measures its serving paths (``timing.serving_splits``)."""
        limit = self.config.timing.serving_splits
        return limit is None or trial.split_seed - self.config.first_seed < limit

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "machine_id": self.machine_id, "order_seed": self.order_seed}

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        from hello_bench.run.config import Config

        return cls(Config.from_dict(data["config"]), None, data.get("machine_id"), data.get("order_seed", 0))


@functools.lru_cache(maxsize=256)
def _split(dataset: DatasetSpec, test_size: float, stratify: bool, split_seed: int) -> tuple[list[int], list[int]]:
    import numpy as np
    from sklearn.model_selection import train_test_split

    ds = _dataset(dataset)
    train, test = train_test_split(np.arange(ds.n_samples), test_size=test_size, random_state=split_seed,
                                   stratify=ds.y if stratify else None)  # fmt: skip
    return train.tolist(), test.tolist()


@functools.lru_cache(maxsize=4)
def _dataset(dataset: DatasetSpec) -> Any:
    from hello_bench.data.datasets import load_spec

    return load_spec(dataset)


def split_rows(dataset: DatasetSpec, test_size: float, stratify: bool, split_seed: int) -> dict:
    """Train and test row indices of one split, in the order train_test_split gives them."""
    train, test = _split(dataset, test_size, stratify, split_seed)
    return {"train": train, "test": test}


class Executor(ABC):
    """Runs lanes of trials somewhere and reports records through the hooks.

    Subclasses may start resources in ``__enter__`` and must free them in
    ``__exit__``. An executor only schedules: a trial runs in the worker
    process that :meth:`Job.worker` gives, and its outcome goes to the hooks.
    """

    name = "?"
    #: Whether GPU presence on this machine says anything about where trials run.
    local_devices = True

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
