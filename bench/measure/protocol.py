"""The worker protocol's messages, as both ends read them: the parent (:mod:`hello_bench.run.process`) writes them and the
worker (:mod:`hello_bench.measure.worker`) reads them. Plain data in, plain data out; this module imports nothing of
either side.

- stdin: a :class:`WorkerJob` header, then one ``{"type": "trial", "trial": TrialJob, ...}`` message per trial;
- stdout (kept for the protocol by :func:`protocol_stdout`): one JSON message per line, each record's fields
  and its raw durations apart.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from typing import TextIO

#: The descriptor of the pipe a worker watches to die with its parent (see :mod:`hello_bench.lifeline`).
PARENT_FD_VAR = "BENCH_PARENT_FD"


@dataclass(frozen=True)
class WorkerJob:
    """What a worker needs besides its trials: the typed header of the protocol."""

    adapter: str
    backend: str
    threads: int
    test_size: float
    stratify: bool
    timing: dict
    warmup_params: dict
    device: str
    machine_id: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WorkerJob:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class TrialJob:
    """What a worker needs of one trial: where its data comes from, its seeds, device and resolved parameters."""

    trial_id: str
    dataset: dict
    split_seed: int
    init_seed: int
    device: str
    preprocessing: str = "none"
    environment: str | None = None
    #: The adapter's parameters, its profile's overridden by the config's (no seed, no device).
    params: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrialJob:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def protocol_stdout() -> TextIO:
    """The process's stdout kept for the protocol; anything else printed (a plugin at import, a framework's
    banner) goes to stderr, so it cannot garble the answer."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out
