"""The harness: config, matrix, store (resume, torn lines) and worker isolation."""

from __future__ import annotations

from pathlib import Path

import pytest

import hello_bench
from hello_bench import record as rec
from hello_bench.cli import main
from hello_bench.errors import UserError
from hello_bench.measure.settings import TimingSettings
from hello_bench.run.config import AdapterSpec, Config, config_from_dict, validate
from hello_bench.run.matrix import expand, groups
from hello_bench.store.reader import read_records
from hello_bench.store.writer import RunStore
from tests.conftest import run_local

FAKES = "fake-ok=tests.fake_adapters:_Fake,fake-fail=tests.fake_adapters:FailingClassifier,fake-hang=tests.fake_adapters:HangingClassifier,fake-crash=tests.fake_adapters:CrashingClassifier"
TINY_TIMING = TimingSettings(
    warmup=1,
    latency_min_calls=5,
    latency_budget_s=0.01,
    stock_min_calls=2,
    stock_budget_s=0.01,
    batch_sizes=(1,),
    throughput_budget_s=0.005,
    control_span_s=0.02,  # the per-round control, kept short in tests
)


@pytest.fixture(autouse=True)
def fake_adapters(monkeypatch):
    monkeypatch.setenv("BENCH_ADAPTERS", FAKES)
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)


def tiny(adapters, **kw):
    base = dict(
        adapters=tuple(AdapterSpec.parse(a) for a in adapters), splits=3, timing=TINY_TIMING, trial_timeout_s=60.0
    )
    base.update(kw)
    return validate(Config(**base), "test")


def open_store(tmp_path, config, run_id="r"):
    return RunStore.open(tmp_path, run_id, config.to_dict(), {"machine_id": "test"})


# -- matrix ------------------------------------------------------------------
def test_matrix_ids_groups_and_skips():
    config = tiny(["sklearn-lr", "torch-mlp:seed"], devices=("cpu", "gpu"), datasets=("iris", "wine"), splits=2)
    trials = list(expand(config))
    assert len(trials) == 2 * 2 * 2 * 2
    ids = [t.trial_id for t in trials]
    assert len(set(ids)) == len(ids)
    assert "iris/torch-mlp:seed/cpu/split-01" in ids
    sk_gpu = [t for t in trials if t.adapter.name == "sklearn-lr" and t.device == "gpu"]
    assert all(t.skip_reason and "does not run on gpu" in t.skip_reason for t in sk_gpu)
    assert list(groups(trials)) == ["sklearn-lr/cpu", "sklearn-lr/gpu", "torch-mlp:seed/cpu", "torch-mlp:seed/gpu"]


def test_init_seeds_separate_from_split_seeds():
    trials = list(expand(tiny(["sklearn-lr"], splits=2, init_seeds=2)))
    assert [(t.split_seed, t.init_seed) for t in trials] == [(0, 1000), (0, 1001), (1, 1000), (1, 1001)]
    assert trials[1].trial_id == "iris/sklearn-lr/cpu/split-00/init-1001"


def test_missing_framework_is_a_skip(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a))
    (trial,) = list(expand(tiny(["torch-mlp"], splits=1)))
    assert 'pip install ".[torch]"' in trial.skip_reason


# -- config errors -------------------------------------------------------------
@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"datasets": ["irs"], "adapters": ["sklearn-lr"]},
            "Unknown dataset 'irs'. Available: breast_cancer, digits, iris, wine.",
        ),
        ({"adapters": ["torh-mlp"]}, "Unknown adapter 'torh-mlp'"),
        ({"adapters": ["sklearn-lr"], "devices": ["tpu"]}, "Unknown device 'tpu'. Available: cpu, gpu, auto."),
        ({"adapters": ["sklearn-lr"], "splits": 0}, "splits must be an int >= 1. Got 0 instead."),
        (
            {"adapters": [{"name": "torch-mlp", "params": {"epochs": 0}}]},
            "The 'epochs' parameter of TorchMLPClassifier must be",
        ),
        ({"adapters": [{"name": "torch-mlp", "params": {"epoch": 3}}]}, "has no parameter(s) epoch"),
        ({"adapters": ["torch-mlp:fast"]}, "has no profile 'fast'"),
        ({"adapters": ["torch-mlp@jax"]}, "has no backend 'jax'"),
        ({"adapters": ["sklearn-lr"], "colour": 1}, "unknown key(s) colour"),
    ],
)
def test_bad_config_is_a_user_error(data, message):
    with pytest.raises(UserError) as err:
        config_from_dict(data)
    assert message in str(err.value)


def test_cli_errors_are_one_line_exit_1(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("splits = [\n")
    assert main(["run", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: Config file {bad} is not valid TOML") and err.count("\n") == 1
    assert main(["run", "--datasets", "nope", "--dry-run"]) == 1
    assert "Unknown dataset 'nope'" in capsys.readouterr().err


def test_unwritable_results_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "--quick", "--results-dir", str(blocker), "--adapters", "fake-ok", "--devices", "cpu"]) == 1
    assert "Cannot write results to" in capsys.readouterr().err


def test_run_id_with_different_config(tmp_path):
    open_store(tmp_path, tiny(["sklearn-lr"])).close()
    with pytest.raises(UserError, match="exists with a different config .*splits"):
        open_store(tmp_path, tiny(["sklearn-lr"], splits=4))


def test_dry_run_lists_trials(capsys, tmp_path):
    argv = ["run", "--dry-run", "--adapters", "sklearn-lr,torch-mlp:seed", "--splits", "2", "--devices", "cpu,gpu"]
    assert main([*argv, "--no-pilot", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 8 and out[0] == "iris/sklearn-lr/cpu/split-00"
    assert "skipped: sklearn-lr does not run on gpu" in out[2]


# -- store -----------------------------------------------------------------------
def test_store_appends_and_reads_latest(tmp_path):
    store = open_store(tmp_path, tiny(["sklearn-lr"]))
    store.append({"trial_id": "a", "status": "error"})
    store.append({"trial_id": "a", "status": "ok", "accuracy": float("nan")})
    store.append({"trial_id": "b", "status": "ok"})
    records = read_records(store.records_path)
    assert [(r["trial_id"], r["status"]) for r in records] == [("a", "ok"), ("b", "ok")]
    assert records[0].get("accuracy") is None and records[0]["schema_version"] == rec.SCHEMA_VERSION
    assert store.finished_ids() == {"a", "b"}


def test_truncated_last_line_is_set_aside_on_resume(tmp_path):
    config = tiny(["sklearn-lr"])
    store = open_store(tmp_path, config)
    store.append({"trial_id": "a", "status": "ok"})
    with store.records_path.open("a") as fh:
        fh.write('{"trial_id": "b", "stat')  # killed mid-write
    with pytest.warns(UserWarning, match="partial last line"):
        assert [r["trial_id"] for r in read_records(store.records_path)] == ["a"]
    store.close()  # the process that wrote it is gone: its lock with it
    store = open_store(tmp_path, config)  # resume repairs the tail
    store.append({"trial_id": "b", "status": "ok"})
    assert [r["trial_id"] for r in read_records(store.records_path)] == ["a", "b"]
    assert (store.path / "records.jsonl.torn").read_text().startswith('{"trial_id": "b"')


def test_corrupt_line_names_file_and_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(
        '{"trial_id": "a", "schema_version": 1, "status": "ok"}\nnot json\n{"trial_id": "b", "schema_version": 1, "status": "ok"}\n'
    )
    with pytest.raises(UserError, match=r"records.jsonl:2: not a valid record"):
        read_records(path)
    path.write_text('{"trial_id": "a", "schema_version": 99, "status": "ok"}\n')
    with pytest.raises(
        UserError, match=r"records.jsonl:1: written by a newer bench \(record schema 99.*upgrade bench to read it\.$"
    ):
        read_records(path)


# -- execution and isolation (real worker processes) ------------------------------
def _records(store):
    return {r["trial_id"]: r for r in read_records(store.records_path)}


def test_errors_and_crashes_are_recorded_and_the_rest_completes(tmp_path):
    config = tiny(["fake-fail", "fake-crash", "fake-ok"])
    store = open_store(tmp_path, config)
    run_local(config, store)
    recs = _records(store)
    assert len(recs) == 9
    status = {tid: r["status"] for tid, r in recs.items()}
    assert status["iris/fake-fail/cpu/split-01"] == "error"
    assert "deliberate failure in fit" in recs["iris/fake-fail/cpu/split-01"]["reason"]
    assert status["iris/fake-fail/cpu/split-00"] == status["iris/fake-fail/cpu/split-02"] == "ok"
    assert status["iris/fake-crash/cpu/split-01"] == "error"
    assert "killed by SIGKILL" in recs["iris/fake-crash/cpu/split-01"]["reason"]
    assert status["iris/fake-crash/cpu/split-02"] == "ok"  # a fresh worker took over
    assert all(status[f"iris/fake-ok/cpu/split-0{i}"] == "ok" for i in range(3))


def test_hang_is_a_timeout(tmp_path):
    config = tiny(["fake-hang"], trial_timeout_s=3.0)
    store = open_store(tmp_path, config)
    run_local(config, store)
    status = {tid: r["status"] for tid, r in _records(store).items()}
    assert status == {
        "iris/fake-hang/cpu/split-00": "ok",
        "iris/fake-hang/cpu/split-01": "timeout",
        "iris/fake-hang/cpu/split-02": "ok",
    }


def test_record_fields_and_reproducible_accuracy(tmp_path):
    config = tiny(["sklearn-lr"], splits=2)
    first = open_store(tmp_path, config, "one")
    second = open_store(tmp_path, config, "two")
    for store in (first, second):
        run_local(config, store)
    a, b = _records(first), _records(second)
    assert {k: v["accuracy"] for k, v in a.items()} == {k: v["accuracy"] for k, v in b.items()}
    record = a["iris/sklearn-lr/cpu/split-00"]
    for key in (
        "run_id",
        "trial_id",
        "dataset",
        "adapter",
        "framework",
        "framework_version",
        "backend",
        "device",
        "device_name",
        "split_seed",
        "n_train",
        "n_test",
        "n_features",
        "n_classes",
        "threads",
        "params",
        "accuracy",
        "f1_macro",
        "log_loss",
        "fit_wall_s",
        "fit_cpu_s",
        "cold_predict_s",
        "latency",
        "stock_latency",
        "throughput_sps",
        "rss_peak_mb",
        "status",
        "import_s",
        "hostname",
    ):
        assert key in record, key
    assert "gpu_peak_mb" not in record  # null (no GPU) is stored as absent
    assert "reference_floor" not in record  # only a declared floor says it is one
    for key in ("dataset_sha", "test_rows_sha", "trial_timeout_s", "startup_timeout_s", "adapter_class", "python"):
        assert record[key], key
    assert (first.path / "raw.jsonl").exists() and "latency_raw_ns" not in record  # raw durations kept apart
    assert record["n_train"] == record["n_test"] == 75
    assert set(record["latency"]) >= {"p50_us", "p90_us", "p99_us", "n"}
    assert record["threads"]["blas"]
    # every timed call also carries its process CPU time, beside its wall time
    for key in ("cold_predict_cpu_s", "stock_cold_predict_cpu_s"):
        assert record[key] > 0, key
    for key, wall in (("latency_cpu", "latency"), ("stock_latency_cpu", "stock_latency")):
        assert record[key]["n"] == record[wall]["n"] and record[key]["p50_us"] > 0 and record[key]["total_s"] > 0
    assert set(record["throughput_cpu_sps"]) == set(record["throughput_sps"])


def test_bench_load_returns_one_dataframe(tmp_path):

    for run_id in ("a", "b"):
        store = open_store(tmp_path, tiny(["sklearn-lr"]), run_id)
        store.append({"trial_id": f"t-{run_id}", "status": "ok", "accuracy": 0.9})
    df = hello_bench.load(results_dir=tmp_path)
    assert sorted(df["run_id"]) == ["a", "b"] and list(df["accuracy"]) == [0.9, 0.9]
    assert list(hello_bench.load("b", results_dir=tmp_path)["trial_id"]) == ["t-b"]


def test_keras_on_another_backend_runs_in_its_own_worker(tmp_path):
    """The test process runs Keras on TensorFlow; a torch-backend group gets its own process."""
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    config = tiny(["keras-mlp@torch"], splits=1)
    config = validate(
        Config(
            **{
                **config.__dict__,
                "adapters": (AdapterSpec("keras-mlp", None, (("epochs", 20), ("learning_rate", 0.05)), "torch"),),
            }
        ),
        "t",
    )
    store = open_store(tmp_path, config)
    run_local(config, store)
    (record,) = [r for r in read_records(store.records_path) if "/cpu/" in r["trial_id"]]
    assert record["status"] == "ok", record.get("reason")
    assert record["backend"] == "torch" and record["backend_version"] and record["accuracy"] > 0.5


def test_quick_keeps_its_settings_for_named_adapters(capsys, tmp_path):
    argv = ["run", "--quick", "--adapters", "torch-mlp:seed,sklearn-lr", "--devices", "cpu", "--dry-run", "--no-pilot"]
    assert main([*argv, "--results-dir", str(tmp_path)]) == 0
    ids = capsys.readouterr().out.splitlines()
    assert ids[0] == "iris/torch-mlp:seed(batch_size=16,epochs=30,learning_rate=0.01)/cpu/split-00"


def test_a_complete_last_record_without_newline_is_kept_on_resume(tmp_path):
    config = tiny(["sklearn-lr"])
    store = open_store(tmp_path, config)
    store.append({"trial_id": "a", "status": "ok"})
    with store.records_path.open("a") as fh:
        fh.write('{"trial_id": "b", "status": "ok", "schema_version": 2}')  # whole record, newline lost
    store.close()
    store = open_store(tmp_path, config)
    assert store.finished_ids() == {"a", "b"} and store.records_path.read_text().endswith("}\n")
    assert not (store.path / "records.jsonl.torn").exists()
