"""GPU paths (skipped without a GPU): adapters on CUDA, and a harness run on the GPU."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def test_torch_mlp_on_gpu(iris_xy):
    from hello_bench.adapters import make_adapter

    X, y = iris_xy
    clf = make_adapter("torch-mlp", device="gpu", epochs=30, batch_size=16, learning_rate=0.05, random_state=0).fit(
        X, y
    )
    assert clf.device_ == "gpu" and next(clf.module_.parameters()).is_cuda
    assert clf.score(X, y) > 0.8
    cpu = make_adapter("torch-mlp", device="cpu", epochs=30, batch_size=16, learning_rate=0.05, random_state=0).fit(
        X, y
    )
    # Same initial weights and shuffles; CUDA and CPU kernels round differently.
    np.testing.assert_allclose(clf.predict_proba(X), cpu.predict_proba(X), atol=1e-3)


def test_keras_mlp_on_gpu(iris_xy):
    from hello_bench.adapters import make_adapter

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if importlib.util.find_spec("keras") is None or importlib.util.find_spec(backend) is None:
        pytest.skip(f"keras on {backend} not installed")
    X, y = iris_xy
    clf = make_adapter(
        "keras-mlp", backend=backend, device="gpu", epochs=20, batch_size=16, learning_rate=0.05, random_state=0
    )
    clf.fit(X, y)
    assert clf.device_ == "gpu" and clf.score(X, y) > 0.7
    np.testing.assert_allclose(clf.predict_proba_stock(X[:3]), clf.predict_proba(X[:3]), atol=1e-5)


def test_harness_gpu_trials_record_device_and_memory(tmp_path, monkeypatch):
    from hello_bench.measure.settings import TimingSettings
    from hello_bench.run.config import AdapterSpec, Config, validate
    from hello_bench.store.reader import read_records
    from hello_bench.store.writer import RunStore
    from tests.conftest import run_local

    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    timing = TimingSettings(warmup=2, latency_min_calls=20, latency_budget_s=0.05, stock_min_calls=2, stock_budget_s=0.05,
                            batch_sizes=(1, 32), throughput_budget_s=0.02)  # fmt: skip
    config = validate(
        Config(
            adapters=(AdapterSpec("torch-mlp", None, (("epochs", 5),)),),
            devices=("cpu", "gpu"),
            splits=2,
            timing=timing,
        ),
        "t",
    )
    store = RunStore.open(tmp_path, "gpu", config.to_dict(), {"machine_id": "gpu-test"})
    run_local(config, store)
    records = {r["trial_id"]: r for r in read_records(store.records_path)}
    gpu = records["iris/torch-mlp(epochs=5)/gpu/split-00"]
    assert gpu["status"] == "ok", gpu.get("reason")
    assert (
        gpu["gpu_peak_mb"] > 0 and gpu["device_name"] != records["iris/torch-mlp(epochs=5)/cpu/split-00"]["device_name"]
    )
