"""Shared fixtures: tiny data, fixed seeds, GPU marker."""

from __future__ import annotations

import importlib.util
import os
import re

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


def pytest_addoption(parser):
    """The pytest-benchmark suite's data: iris (the blog post's split) unless a file is named."""
    group = parser.getgroup("hello-bench data", "the dataset tests/benchmarks measure on")
    group.addoption("--bench-data", metavar="PATH", help="a CSV or Parquet file to benchmark on (default: iris, the "
                    "blog post's split); split 50/50, stratified, seed 0")  # fmt: skip
    group.addoption("--bench-target", metavar="COLUMN", help="its label column (needed with --bench-data)")
    group.addoption("--bench-categorical", choices=("error", "onehot", "drop"), default="error",
                    help="its text feature columns, as bench run --categorical (default: error)")  # fmt: skip
    group.addoption("--bench-missing", choices=("error", "drop", "impute"), default="error",
                    help="its missing cells, as bench run --missing (default: error)")  # fmt: skip


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Before pytest-benchmark starts its session: its storage folder is this machine's (tests/benchmarks/storage.py);
    ``--benchmark-disable`` runs every benchmark once, unmeasured (CI's proof that none is broken), instead of the
    default ``--benchmark-skip`` (addopts) skipping them. A ``--bench-data`` file is read here, once: a problem with it
    is one usage error before anything runs."""
    from tests.benchmarks.storage import use_machine_folder

    use_machine_folder(config)
    if config.getoption("benchmark_disable", False):
        config.option.benchmark_skip = False
    path, target = config.getoption("bench_data", None), config.getoption("bench_target", None)
    if path is None and target is None:
        return
    if path is None or target is None:
        _refuse("--bench-data PATH and --bench-target COLUMN go together.")
    from hello_bench.data.datasets import DatasetSpec, check_splittable, load_spec
    from hello_bench.errors import UserError

    spec = DatasetSpec(path, target, config.getoption("bench_categorical"), config.getoption("bench_missing"))
    if spec.kind != "file":
        _refuse(f"--bench-data {path}: expected a .csv or .parquet file.")
    try:
        data = load_spec(spec)
        check_splittable(data, 0.5, path)
    except UserError as err:  # the loader speaks bench run's flags; here they are spelled --bench-...
        _refuse("--bench-data: " + re.sub(r"--(categorical|missing|target)\b", r"--bench-\1", str(err)))
    config.stash[BENCH_DATA] = (spec, data)


def _refuse(message: str) -> None:
    """Bad data for the benchmarks: one line and exit 1, as bench's bad input (4 is a benchmark regression)."""
    pytest.exit(f"error: {message}", returncode=1)


#: The ``--bench-data`` file, once read: (its spec, the dataset).
BENCH_DATA = pytest.StashKey[tuple]()


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
    from hello_bench.run.executors.local import LocalExecutor
    from hello_bench.run.progress import Quiet
    from hello_bench.run.runner import run

    return run(config, store, LocalExecutor(), Quiet())
