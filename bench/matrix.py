"""Expand a config into the trial matrix: frozen trials with stable, readable ids.

Nothing silently disappears: a combination that cannot run here (sklearn on
GPU, a framework that is not installed) is still a trial, one whose outcome is
decided up front as ``skipped`` with a reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from adapters import adapter_class
from adapters.registry import install_hint, missing_modules

from .config import AdapterSpec, Config
from .datasets import DatasetSpec


@dataclass(frozen=True)
class Trial:
    """One cell of the matrix: dataset x adapter x device x split (x init seed)."""

    dataset: DatasetSpec
    adapter: AdapterSpec
    device: str
    split_seed: int
    init_seed: int
    skip_reason: str | None = None
    preprocessing: str = "none"

    @property
    def data_label(self) -> str:
        return self.dataset.name + ("+std" if self.preprocessing == "standard" else "")

    @property
    def trial_id(self) -> str:
        """Stable and readable: ``iris/keras-mlp:seed[tensorflow]/cpu/split-07``."""
        base = f"{self.data_label}/{self.adapter.label}/{self.device}/split-{self.split_seed:02d}"
        return base if self.init_seed == self.split_seed else f"{base}/init-{self.init_seed:02d}"

    @property
    def group(self) -> str:
        """Trials that share one worker process: same adapter, backend and device."""
        return f"{self.adapter.label}/{self.device}"

    @property
    def backend(self) -> str:
        cls = adapter_class(self.adapter.name)
        return self.adapter.backend or cls.supported_backends[0]


def seeds(config: Config) -> list[tuple[int, int]]:
    """(split seed, init seed) pairs.

    With ``init_seeds == 0`` each split seed also seeds the model; otherwise
    each split is trained with ``init_seeds`` separate init seeds, so that
    split variance and init variance can be told apart.
    """
    split_seeds = range(config.first_seed, config.first_seed + config.splits)
    if config.init_seeds == 0:
        return [(s, s) for s in split_seeds]
    base = 1000
    return [(s, base + i) for s in split_seeds for i in range(config.init_seeds)]


def skip_reason(spec: AdapterSpec, device: str) -> str | None:
    """Why this adapter cannot run on this device in this environment, or None."""
    cls = adapter_class(spec.name)
    if device not in cls.supported_devices:
        return f"{spec.name} does not run on {device} (supports: {', '.join(cls.supported_devices)})"
    backend = spec.backend or cls.supported_backends[0]
    missing = missing_modules(cls, backend)
    if missing:
        return f"{', '.join(missing)} not installed: {install_hint(cls, backend)}"
    return None


def expand(config: Config) -> list[Trial]:
    """All trials, ordered so that each group's trials are contiguous."""
    trials = []
    for spec, device in itertools.product(config.adapters, config.devices):
        reason = skip_reason(spec, device)
        for dataset, prep, (split_seed, init_seed) in itertools.product(
            config.datasets, config.preprocessing, seeds(config)
        ):
            trials.append(Trial(dataset, spec, device, split_seed, init_seed, reason, prep))
    return trials


def groups(trials: list[Trial]) -> dict[str, list[Trial]]:
    """Trials by worker group, in matrix order."""
    out: dict[str, list[Trial]] = {}
    for trial in trials:
        out.setdefault(trial.group, []).append(trial)
    return out
