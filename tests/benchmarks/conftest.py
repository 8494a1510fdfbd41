"""pytest-benchmark integration: per-machine storage, fingerprint, percentiles.

- Saved runs go to a folder named from the hardware (CPU model, cores, GPU),
  not pytest-benchmark's ``Linux-CPython-3.11-64bit``, so a laptop and a GPU
  server never overwrite or compare with each other by accident, and
  ``--benchmark-compare`` compares like with like: the folder is named before
  pytest-benchmark looks (:mod:`tests.benchmarks.storage`).
- ``--benchmark-compare-fail`` regressions exit 4, as ``bench compare --fail-above``.
- Each saved run carries the same fingerprint ``bench run`` records (``bench_fingerprint``); ``machine_info``
  only its stable part (:class:`tests.benchmarks.storage.MachineInfo`), so comparing two runs of one machine
  raises no "machine_info is different" warning.
- Each benchmark's JSON gets p50/p90/p99 computed from its rounds (single-call
  rounds in the latency benchmarks), which pytest-benchmark does not report.
"""

from __future__ import annotations

import numpy as np
import pytest

from hello_bench.measure.machine import fingerprint
from tests.benchmarks import storage

_FINGERPRINT: dict = {}
THREADS = 1


@pytest.fixture(scope="session")
def threads():
    """Every adapter's own thread hook, as a worker calls it: equal, recorded thread counts."""
    from hello_bench.adapters import adapter_class, describe

    report: dict = {}
    for name in ("sklearn-lr", "sklearn-mlp", "keras-mlp", "torch-mlp"):
        if describe(name).available:
            report.update(adapter_class(name).limit_threads(THREADS))
    return report


@pytest.fixture(scope="session")
def split(pytestconfig):
    """The blog post's split (iris, 50/50, seed 0), or ``--bench-data``'s (50/50, stratified, seed 0); float32."""
    from tests.conftest import BENCH_DATA

    found = pytestconfig.stash.get(BENCH_DATA, None)
    if found is None:
        from hello_bench.report.seed import seed_split

        X_train, X_test, y_train, y_test = seed_split()
    else:
        from sklearn.model_selection import train_test_split

        data = found[1]
        X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.5, random_state=0,
                                                            stratify=data.y)  # fmt: skip
    return X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test


def machine_fingerprint() -> dict:
    if not _FINGERPRINT:
        _FINGERPRINT.update(fingerprint(control=True))
    return _FINGERPRINT


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """A fallback for runs where tests/conftest.py did not name the folder first: name it, then look again."""
    session = getattr(config, "_benchmarksession", None)
    if session is None:
        return
    folder = storage.this_machine_folder()
    if session.machine_id != folder:
        session.machine_id = folder
        if hasattr(session.storage, "default_machine_id"):
            session.storage.default_machine_id = folder
        session.handle_loading()


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter):
    """A regression found by --benchmark-compare-fail: one line each and exit 4, as `bench compare --fail-above`."""
    from pytest_benchmark.session import PerformanceRegression

    try:
        return (yield)
    except PerformanceRegression:
        session = terminalreporter.config._benchmarksession
        for name, message in session.performance_regressions:
            terminalreporter.write_line(f"regression: {name}: {message}")
        terminalreporter._session.exitstatus = storage.EXIT_REGRESSION
    except pytest.UsageError as err:
        terminalreporter.write_line(f"error: {err}")
        terminalreporter._session.exitstatus = storage.EXIT_USAGE
    return None


def pytest_benchmark_update_json(config, benchmarks, output_json):
    from tests.conftest import BENCH_DATA

    output_json["bench_fingerprint"] = machine_fingerprint()  # the same fingerprint `bench run` records
    found = config.stash.get(BENCH_DATA, None)
    spec, data = found if found is not None else (None, None)
    output_json["bench_dataset"] = (
        {"source": "iris", "split": "the blog post's: 50/50, unstratified, seed 0"} if data is None else
        {"source": spec.source, "target": spec.target, "rows": data.n_samples, "features": data.n_features,
         "classes": len(data.classes), "sha": data.content_sha, "split": "50/50, stratified, seed 0"}
    )  # fmt: skip
    by_name = {b.fullname: b for b in benchmarks}
    for entry in output_json["benchmarks"]:
        bench = by_name.get(entry["fullname"])
        data = getattr(getattr(bench, "stats", None), "data", None)
        if not data:
            continue
        p50, p90, p99 = np.percentile(np.asarray(data, dtype=float), [50, 90, 99])
        entry["stats"].update(p50=float(p50), p90=float(p90), p99=float(p99))
        entry["extra_info"]["percentiles_over_rounds"] = len(data)
