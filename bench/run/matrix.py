"""Expand a config into the trial matrix: frozen trials with stable, readable ids.

Nothing silently disappears: a combination that cannot run here (sklearn on
GPU, a framework that is not installed, a setting a backend does not support)
is still a trial, one whose outcome is decided up front as ``skipped`` with a
reason. Expansion is lazy (a generator): a listing never holds the matrix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from hello_bench.adapters import adapter_class
from hello_bench.data.datasets import DatasetSpec
from hello_bench.run.config import AdapterSpec, Config
from hello_bench.run.resolve import AdapterFacts, Facts


@dataclass(frozen=True)
class Trial:
    """One cell of the matrix: dataset x adapter x device x split (x init seed) (x host)."""

    dataset: DatasetSpec
    adapter: AdapterSpec
    device: str
    split_seed: int
    init_seed: int
    skip_reason: str | None = None
    preprocessing: str = "none"
    #: The machine the trial is pinned to (``--each-host``); part of its id.
    host: str | None = None
    #: The environment (``[[environments]]``, ``--env NAME=REQ``) whose Python runs it; part of its id.
    environment: str | None = None
    #: For an adapter that only the environment's Python loads: what it said about it (never sent to workers).
    facts: AdapterFacts | None = field(default=None, compare=False, hash=False, repr=False)

    @property
    def data_label(self) -> str:
        return self.dataset.name + ("+std" if self.preprocessing == "standard" else "")

    @property
    def trial_id(self) -> str:
        """Stable and readable: ``iris/keras-mlp:seed[tensorflow]/cpu/split-07``."""
        base = f"{self.data_label}/{self.adapter.label}/{self.device}/split-{self.split_seed:02d}"
        if self.init_seed != self.split_seed:
            base += f"/init-{self.init_seed:02d}"
        return base + (f"%{self.environment}" if self.environment else "") + (f"@{self.host}" if self.host else "")

    @property
    def group(self) -> str:
        """Trials that share one worker process: same adapter, backend, device and environment."""
        return f"{self.adapter.label}/{self.device}" + (f"%{self.environment}" if self.environment else "")

    @property
    def cell(self) -> tuple:
        """What the same trial is in every environment: the unit that environments are interleaved within."""
        return (self.data_label, self.adapter.label, self.device, self.split_seed, self.init_seed, self.host)

    @property
    def backend(self) -> str:
        if self.facts is not None:
            return self.facts.backend
        return self.adapter.backend or adapter_class(self.adapter.name).supported_backends[0]

    def effective_params(self) -> dict:
        """Every parameter the adapter is built with (class defaults included), as far as this process knows."""
        if self.facts is not None:
            return {**self.facts.defaults, **self.facts.params}
        return self.adapter.effective_params()

    def declared(self) -> dict:
        """What the adapter class declares for this trial: its stock profile, colour, floor flag and resolved parameters."""
        if self.facts is not None:
            return {"stock_profile": self.facts.stock_profile, "colour": self.facts.colour,
                    "reference_floor": self.facts.reference_floor or None, "params": self.facts.params}  # fmt: skip
        cls = adapter_class(self.adapter.name)
        return {"stock_profile": cls.stock_profile, "colour": cls.colour_for(self.backend),
                "reference_floor": bool(cls.reference_floor) or None, "params": self.adapter.resolved_params()}  # fmt: skip

    def to_dict(self) -> dict:
        """The trial as JSON-ready data (the one serialised form: worker jobs, Dask tasks)."""
        return {
            "dataset": self.dataset.to_dict(),
            "adapter": self.adapter.to_dict(),
            "device": self.device,
            "split_seed": self.split_seed,
            "init_seed": self.init_seed,
            "skip_reason": self.skip_reason,
            "preprocessing": self.preprocessing,
            "host": self.host,
            "environment": self.environment,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Trial:
        return cls(
            DatasetSpec(**data["dataset"]),
            AdapterSpec.from_dict(data["adapter"]),
            data["device"],
            int(data["split_seed"]),
            int(data["init_seed"]),
            data.get("skip_reason"),
            data.get("preprocessing", "none"),
            data.get("host"),
            data.get("environment"),
        )

    def record_fields(self, config: Config) -> dict:
        """The part of a record known before the trial runs."""
        return {
            "trial_id": self.trial_id,
            "group": self.group,
            "dataset": self.data_label,
            "dataset_source": self.dataset.source,
            "preprocessing": self.preprocessing,
            "adapter": self.adapter.label,
            "adapter_name": self.adapter.name,
            "profile": self.adapter.profile,
            **self.declared(),
            "backend": self.backend,
            "device": self.device,
            "host": self.host,
            "environment": self.environment,
            "split_seed": self.split_seed,
            "init_seed": self.init_seed,
            "test_size": config.test_size,
            "stratify": config.stratify,
            "threads_requested": config.threads,
        }


def seeds(config: Config) -> list[tuple[int, int]]:
    """(split seed, init seed) pairs.

    With ``init_seeds == 0`` each split seed also seeds the model; otherwise
    each split is trained with ``init_seeds`` separate init seeds (the same
    ones on every split), so that split variance and init variance can be
    told apart.
    """
    split_seeds = range(config.first_seed, config.first_seed + config.splits)
    if config.init_seeds == 0:
        return [(s, s if config.init_seed is None else config.init_seed) for s in split_seeds]
    base = 1000
    return [(s, base + i) for s in split_seeds for i in range(config.init_seeds)]


def skip_reason(spec: AdapterSpec, device: str) -> str | None:
    """Why this adapter cannot run on this device in this environment, or None."""
    cls = adapter_class(spec.name)
    if device not in cls.supported_devices:
        return f"{spec.name} does not run on {device} (supports: {', '.join(cls.supported_devices)})"
    backend = spec.backend or cls.supported_backends[0]
    missing = cls.missing_modules(backend)
    if missing:
        return f"{', '.join(missing)} not installed: {cls.install_hint(backend)}"
    return cls.unsupported_reason(spec.resolved_params(), backend, device)


def expand(config: Config, hosts: list[str] | None = None, facts: Facts | None = None) -> Iterator[Trial]:
    """Every trial, lazily, each group's trials contiguous and in seed order.

    ``hosts``: run the whole matrix once per host (trials pinned to each). ``facts``: what the environments
    said about the adapters they resolve (:func:`hello_bench.run.resolve.resolve`; without them, as ``--dry-run``
    lists the matrix, such an adapter's skips are left to the environments).
    """
    devices = config.resolved_devices()
    here = [spec for spec in config.adapters if not config.in_environments(spec)]
    reasons = {(spec, device): skip_reason(spec, device) for spec in here for device in devices}
    environments: list[str | None] = [e.name for e in config.environments] or [None]
    for spec, device, environment in itertools.product(config.adapters, devices, environments):
        found = None
        if spec not in here:
            found = (facts or {}).get((spec.label, str(environment))) or AdapterFacts.unknown(spec)
        reason = found.skip.get(device) if found is not None else reasons[(spec, device)]
        for dataset, prep, (split_seed, init_seed) in itertools.product(
            config.datasets, config.preprocessing, seeds(config)
        ):
            trial = Trial(dataset, spec, device, split_seed, init_seed, reason, prep, None, environment, found)
            if not hosts:
                yield trial
            for host in hosts or []:
                yield replace(trial, host=host)


def groups(trials: Iterable[Trial]) -> dict[str, list[Trial]]:
    """Trials by worker group (and host), in matrix order."""
    out: dict[str, list[Trial]] = {}
    for trial in trials:
        out.setdefault(trial.group + (f"@{trial.host}" if trial.host else ""), []).append(trial)
    return out
