"""Shared fixtures: tiny data, fixed seeds, GPU marker."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Property-based tests: the default suite runs a fixed, bounded set of examples (derandomized:
# the same examples on every run, so CI is repeatable and within its time budget) and keeps no
# example database in the working folder. BENCH_HYPOTHESIS=thorough runs many more, randomly.
# capsys is the one function-scoped fixture properties use; tests.invariants.run_cli empties it
# before and after every example.
_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
settings.register_profile("default", max_examples=20, derandomize=True, **_COMMON)
settings.register_profile("thorough", max_examples=300, **_COMMON)
settings.load_profile(os.environ.get("BENCH_HYPOTHESIS", "default"))

# Keras fixes its backend per process: the test process uses TensorFlow where
# it is installed (tests of other backends run in subprocesses).
if importlib.util.find_spec("tensorflow") is not None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def gpu_present() -> bool:
    if has_module("torch"):
        import torch

        return bool(torch.cuda.is_available())
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Before pytest-benchmark starts its session: its storage folder is this machine's (tests/benchmarks/storage.py),
    and ``--benchmark-disable`` runs every benchmark once, unmeasured (CI's proof that none is broken), instead of
    the default ``--benchmark-skip`` (addopts) skipping them."""
    from tests.benchmarks.storage import use_machine_folder

    use_machine_folder(config)
    if config.getoption("benchmark_disable", False):
        config.option.benchmark_skip = False


@pytest.fixture(scope="session")
def smoke(request) -> bool:
    """Benchmarks run once to show they work (``--benchmark-disable``): their untimed set-up shrinks too (one
    epoch, a few rounds, a small synthetic run), so the whole suite runs in CI's budget."""
    return bool(request.config.getoption("benchmark_disable", False))


def pytest_collection_modifyitems(config, items):
    if gpu_present():
        return
    skip = pytest.mark.skip(reason="no GPU present")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def iris_xy():
    """Iris with string labels, as in the blog post."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, np.asarray(data.target_names)[data.target]


def run_local(config, store):
    """Run a config's matrix into a store with the local executor, quietly (what `bench run` does)."""
    from bench.run.executors.local import LocalExecutor
    from bench.run.progress import Quiet
    from bench.run.runner import run

    return run(config, store, LocalExecutor(), Quiet())
