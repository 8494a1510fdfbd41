"""pytest-benchmark integration: per-machine storage, fingerprint, percentiles.

- Saved runs go to a folder named from the hardware (CPU model, cores, GPU),
  not pytest-benchmark's ``Linux-CPython-3.11-64bit``, so a laptop and a GPU
  server never overwrite or compare with each other by accident, and
  ``--benchmark-compare`` compares like with like.
- ``machine_info`` carries the same fingerprint ``bench run`` records.
- Each benchmark's JSON gets p50/p90/p99 computed from its rounds (single-call
  rounds in the latency benchmarks), which pytest-benchmark does not report.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bench.measure.machine import fingerprint

_FINGERPRINT: dict = {}
THREADS = 1


@pytest.fixture(scope="session")
def threads():
    """Every adapter's own thread hook, as a worker calls it: equal, recorded thread counts."""
    from adapters import adapter_class, describe

    report: dict = {}
    for name in ("sklearn-lr", "sklearn-mlp", "keras-mlp", "torch-mlp"):
        if describe(name).available:
            report.update(adapter_class(name).limit_threads(THREADS))
    return report


@pytest.fixture(scope="session")
def split():
    """The blog post's split (iris, 50/50, seed 0), float32 features."""
    from bench.report.seed import seed_split

    X_train, X_test, y_train, y_test = seed_split()
    return X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test


def machine_fingerprint() -> dict:
    if not _FINGERPRINT:
        _FINGERPRINT.update(fingerprint(control=True))
    return _FINGERPRINT


def storage_folder(env: dict) -> str:
    """``Linux-AMD_EPYC-2c-nogpu-772706da67``: readable, and unique per hardware."""

    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40]

    gpus = "+".join(slug(g["name"]) for g in env["gpus"]) or "nogpu"
    return (
        f"{env['os']['system']}-{slug(env['cpu']['model'])}-{env['cpu']['logical_cores']}c-{gpus}-{env['machine_id']}"
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return
    folder = storage_folder(machine_fingerprint())
    session.machine_id = folder
    if hasattr(session.storage, "default_machine_id"):
        session.storage.default_machine_id = folder


def pytest_benchmark_update_machine_info(config, machine_info):
    env = machine_fingerprint()
    machine_info["bench_fingerprint"] = env
    machine_info["bench_machine_folder"] = storage_folder(env)


def pytest_benchmark_update_json(config, benchmarks, output_json):
    by_name = {b.fullname: b for b in benchmarks}
    for entry in output_json["benchmarks"]:
        bench = by_name.get(entry["fullname"])
        data = getattr(getattr(bench, "stats", None), "data", None)
        if not data:
            continue
        p50, p90, p99 = np.percentile(np.asarray(data, dtype=float), [50, 90, 99])
        entry["stats"].update(p50=float(p50), p90=float(p90), p99=float(p99))
        entry["extra_info"]["percentiles_over_rounds"] = len(data)
