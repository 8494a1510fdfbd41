"""Record versions: each schema version's fields are pinned here; a new field bumps the version.

If a test here fails because you added a field to ``bench/record.py``: give the field ``since=`` the next
version, raise ``SCHEMA_VERSION``, add that version's set below (the old ones never change), and say in
``bench/record.py``'s history what it adds. Older records then still read, and an older bench refuses
the new ones in one line instead of calling them damaged.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from hello_bench import record as rec
from hello_bench.errors import UserError
from hello_bench.store.reader import read_records

ROOT = Path(__file__).resolve().parent.parent

#: What each schema version's records may hold. Never edit a version once bench has written it.
PINNED = {
    1: frozenset({
        "accuracy", "adapter", "adapter_name", "backend", "backend_version", "cold_predict_s", "dask_worker", "dataset",
        "dataset_source", "device", "device_name", "epoch_median_s", "executor", "f1_macro", "finished_at", "first_epoch_s",
        "fit_cpu_s", "fit_wall_s", "framework", "framework_version", "gpu_peak_mb", "group", "host", "hostname",
        "import_s", "init_seed", "latency", "latency_raw_ns", "load_avg_1m", "log_loss", "machine_id", "model",
        "n_classes", "n_epochs", "n_features", "n_test", "n_train", "params", "pinned_host", "preprocess_s",
        "preprocessing", "profile", "reason", "rss_fit_delta_mb", "rss_peak_mb", "run_id", "schema_version", "split_seed",
        "started_at", "status", "stock_cold_predict_s", "stock_latency", "stock_latency_raw_ns", "stratify", "test_size", "threads",
        "threads_requested", "throughput_sps", "traceback", "trial_id", "warnings", "worker_pid", "worker_warmup_s", "workers_on_host",
    }),
    2: frozenset({
        "accuracy", "adapter", "adapter_name", "backend", "backend_version", "cold_predict_s", "curve", "curve_eval_s",
        "dask_worker", "dataset", "dataset_source", "device", "device_name", "epoch_median_s", "executor", "f1_macro",
        "finished_at", "first_epoch_s", "fit_cpu_s", "fit_wall_s", "framework", "framework_version", "gc", "gc_disabled_in_latency",
        "gpu_peak_mb", "group", "host", "hostname", "import_s", "init_seed", "latency", "latency_drift",
        "latency_raw_ns", "load_avg_1m", "log_loss", "machine_id", "model", "n_classes", "n_epochs", "n_features",
        "n_test", "n_train", "params", "pinned_host", "position", "preprocess_s", "preprocessing", "profile",
        "reason", "rss_fit_delta_mb", "rss_peak_mb", "run_id", "schema_version", "serving", "split_seed", "started_at",
        "status", "stock_agreement", "stock_cold_predict_s", "stock_latency", "stock_latency_raw_ns", "stratify", "test_rows_sha", "test_size",
        "threads", "threads_requested", "throughput_sps", "timer_overhead_ns", "traceback", "trial_id", "warnings", "worker_pid",
        "worker_warmup_s", "workers_on_host",
    }),
    3: frozenset({
        "accuracy", "adapter", "adapter_class", "adapter_name", "backend", "backend_version", "cold_predict_s", "colour",
        "curve", "curve_eval_s", "dask_worker", "dataset", "dataset_sha", "dataset_source", "device", "device_name",
        "environment", "epoch_median_s", "executor", "f1_macro", "finished_at", "first_epoch_s", "fit_cpu_s", "fit_wall_s",
        "framework", "framework_version", "gc", "gc_disabled_in_latency", "gpu_peak_mb", "group", "host", "hostname",
        "import_s", "init_seed", "latency", "latency_attempts", "latency_drift", "load_avg_1m", "log_loss", "machine_id",
        "metrics", "model", "n_classes", "n_epochs", "n_features", "n_test", "n_train", "order_seed",
        "params", "position", "preprocess_s", "preprocessing", "profile", "python", "reason", "rss_fit_delta_mb",
        "rss_peak_mb", "run_id", "schema_version", "serving", "split_seed", "started_at", "startup_timeout_s", "status",
        "stock_agreement", "stock_cold_predict_s", "stock_latency", "stock_profile", "stratify", "test_rows_sha", "test_size", "threads",
        "threads_requested", "throughput_sps", "timer_overhead_ns", "traceback", "trial_id", "trial_timeout_s", "warnings", "worker_pid",
        "worker_warmup_s", "workers_on_host",
    }),
    4: frozenset({
        "accuracy", "adapter", "adapter_class", "adapter_name", "backend", "backend_version", "cold_predict_cpu_s", "cold_predict_s",
        "colour", "curve", "curve_eval_s", "dask_worker", "dataset", "dataset_sha", "dataset_source", "device",
        "device_name", "environment", "epoch_median_s", "epoch_overhead_s", "executor", "f1_macro", "finished_at", "first_epoch_s",
        "fit_cpu_s", "fit_wall_s", "framework", "framework_version", "gc", "gc_disabled_in_latency", "gpu_peak_mb", "group",
        "host", "hostname", "import_s", "init_seed", "instructions", "latency", "latency_attempts", "latency_cpu",
        "latency_drift", "load_avg_1m", "log_loss", "machine_id", "metrics", "model", "n_classes", "n_epochs",
        "n_features", "n_steps", "n_test", "n_train", "order_seed", "overhead_probe_s", "params", "position",
        "predict_overhead_s", "preprocess_s", "preprocessing", "profile", "python", "reason", "reference_floor", "rss_fit_delta_mb",
        "rss_peak_mb", "run_id", "schema_version", "serving", "shape_warmup_s", "split_seed", "started_at", "startup_timeout_s",
        "status", "step_overhead_s", "stock_agreement", "stock_cold_predict_cpu_s", "stock_cold_predict_s", "stock_latency", "stock_latency_cpu", "stock_profile",
        "stratify", "test_rows_sha", "test_size", "threads", "threads_requested", "throughput_cpu_sps", "throughput_sps", "timer_overhead_ns",
        "traceback", "train_accuracy", "trial_id", "trial_timeout_s", "warnings", "worker_pid", "worker_warmup_s", "workers_on_host",
    }),
}  # fmt: skip


def test_each_version_holds_exactly_its_pinned_fields():
    assert set(rec.READABLE_VERSIONS) == set(PINNED), "a version without pinned fields (or pinned and unreadable)"
    for version, names in PINNED.items():
        assert rec.fields_of(version) == names, f"schema {version}: fields changed without a version bump"
    assert rec.SCHEMA_VERSION == max(PINNED)


def _line(version: int, **fields: object) -> str:
    return json.dumps({"schema_version": version, "trial_id": "t", "status": "ok", **fields}) + "\n"


@pytest.mark.parametrize("version", sorted(PINNED))
def test_every_older_version_reads_in_todays_shape(tmp_path, version):
    path = tmp_path / "records.jsonl"
    extra = {"pinned_host": "box"} if "pinned_host" in PINNED[version] else {"host": "box"}
    path.write_text(_line(version, accuracy=0.9, **extra))
    [record] = read_records(path)
    assert record["host"] == "box" and "pinned_host" not in record and record["accuracy"] == 0.9


def _sample(field: rec.Field) -> object:
    """A value of the field's type (a stand-in: only its presence matters here)."""
    origin = typing.get_origin(field.type)
    if origin in (dict, list):
        return origin()
    text = str(field.type)
    for marker, value in (("bool", True), ("int", 1), ("float", 1.0), ("Literal", "ok")):
        if marker in text:
            return value
    return "x"


@pytest.mark.parametrize("version", sorted(PINNED))
def test_a_field_from_another_version_is_refused_naming_it(tmp_path, version):
    path = tmp_path / "records.jsonl"
    for field in (f for f in rec.FIELDS if f.name not in PINNED[version]):
        path.write_text(_line(version, **{field.name: _sample(field)}))
        with pytest.raises(UserError, match=rf"field '{field.name}' is not part of record schema {version}"):
            read_records(path)


def test_a_newer_record_is_one_line_asking_for_an_upgrade(tmp_path):
    path = tmp_path / "records.jsonl"
    newer = rec.SCHEMA_VERSION + 1
    path.write_text(_line(newer, a_field_from_the_future=1))
    with pytest.raises(UserError) as err:
        read_records(path)
    text = str(err.value)
    assert f"written by a newer bench (record schema {newer}" in text and "upgrade bench" in text
    assert "\n" not in text and "Remove that line" not in text


def test_the_committed_reference_runs_still_read():
    runs = sorted(p for p in (ROOT / "results" / "runs").glob("reference-*/records.jsonl"))
    assert runs
    for path in runs:
        assert read_records(path)
