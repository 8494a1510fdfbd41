"""The Dask executor: same records as the local executor; a dead worker loses one trial at most;
the local cluster admits only its own client."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("distributed")

from hello_bench.measure.settings import TimingSettings  # noqa: E402
from hello_bench.run.config import AdapterSpec, Config, validate  # noqa: E402
from hello_bench.run.executors.dask import DaskExecutor  # noqa: E402
from hello_bench.run.progress import Quiet  # noqa: E402
from hello_bench.run.runner import run  # noqa: E402
from hello_bench.store.reader import read_records  # noqa: E402
from hello_bench.store.writer import RunStore  # noqa: E402
from tests.conftest import run_local  # noqa: E402

FAKES = "fake-ok=tests.fake_adapters:_Fake,fake-slow=tests.fake_adapters:SlowClassifier,fake-gate=tests.fake_adapters:GateClassifier"
TINY = TimingSettings(warmup=1, latency_min_calls=5, latency_budget_s=0.01, stock_min_calls=2, stock_budget_s=0.01,
                      batch_sizes=(1,), throughput_budget_s=0.005, serving=False, control_span_s=0.02)  # fmt: skip


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("BENCH_ADAPTERS", FAKES)
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)


def config(adapters, splits=3, **kw):
    return validate(
        Config(
            adapters=tuple(AdapterSpec.parse(a) for a in adapters),
            splits=splits,
            timing=TINY,
            devices=("cpu", "gpu"),
            **kw,
        ),
        "t",
    )


def run_dask(cfg, store, n_workers=2, each_host=False, during=None):
    with DaskExecutor(n_workers=n_workers, each_host=each_host) as executor:
        if during:
            during(executor)
        return run(cfg, store, executor, Quiet())


def test_dask_matches_local_executor(tmp_path):
    cfg = config(["sklearn-lr", "fake-ok"])
    local = RunStore.open(tmp_path, "local", cfg.to_dict(), {"machine_id": "x"})
    run_local(cfg, local)
    dask_store = RunStore.open(tmp_path, "dask", cfg.to_dict(), {"machine_id": "x"})
    run_dask(cfg, dask_store)
    a = {r["trial_id"]: (r["status"], r.get("accuracy")) for r in read_records(local.records_path)}
    b = {r["trial_id"]: (r["status"], r.get("accuracy")) for r in read_records(dask_store.records_path)}
    assert a == b and len(a) == 12
    dask_records = read_records(dask_store.records_path)
    assert all(r["executor"] == "dask" and r["machine_id"] for r in dask_records if r["status"] == "ok")
    assert list((dask_store.path / "environments").glob("*.json"))


def test_killed_worker_loses_only_its_trial(tmp_path, monkeypatch):
    """Kill a Dask worker while both workers are inside a trial (known from files the trials write,
    not from a sleep), then let the trials finish: the killed worker's trial runs again elsewhere."""
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setenv("BENCH_SIGNAL_DIR", str(signals))
    cfg = config(["fake-gate"], splits=4)
    store = RunStore.open(tmp_path, "kill", cfg.to_dict(), {"machine_id": "x"})
    victims = []

    def kill_one(executor):
        pids = executor.client.run(os.getpid)
        victim = sorted(pids)[0]
        victims.append(victim)

        def killer():
            deadline = time.monotonic() + 300
            while len(list(signals.glob("started-*"))) < 2:  # both workers are inside a trial
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            os.kill(pids[victim], signal.SIGKILL)
            (signals / "release").write_text("")

        threading.Thread(target=killer, daemon=True).start()

    run_dask(cfg, store, during=kill_one)
    lines = [line for line in store.records_path.read_text().splitlines() if line]
    records = read_records(store.records_path)
    cpu = [r for r in records if "/cpu/" in r["trial_id"]]
    assert len(lines) == len(records) == 8  # every trial exactly once (4 cpu + 4 gpu skips)
    assert {r["status"] for r in cpu} <= {"ok", "error"}
    # The killed worker returned nothing; its trial was retried on a live worker.
    assert victims[0] not in {r.get("dask_worker") for r in cpu}
    assert sum(r["status"] == "ok" for r in cpu) >= 3


def test_dask_missing_gives_install_hint(monkeypatch, capsys, tmp_path):
    import builtins

    from hello_bench.cli import main

    real = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    argv = [
        "run",
        "--executor",
        "dask",
        "--adapters",
        "fake-ok",
        "--splits",
        "1",
        "--results-dir",
        str(tmp_path),
        "--run-id",
        "x",
    ]
    assert main(argv) == 1
    assert 'pip install ".[dask]"' in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing written for a command that fails


def test_each_host_pins_the_matrix_to_every_host(tmp_path):
    import socket

    cfg = config(["fake-ok"], splits=2)
    store = RunStore.open(tmp_path, "hosts", cfg.to_dict(), {"machine_id": "x"})
    run_dask(cfg, store, n_workers=1, each_host=True)
    host = socket.gethostname()
    records = read_records(store.records_path)
    assert sorted(r["trial_id"] for r in records if "/cpu/" in r["trial_id"]) == [
        f"iris/fake-ok/cpu/split-00@{host}",
        f"iris/fake-ok/cpu/split-01@{host}",
    ]
    assert all(r.get("host") == host for r in records if r["status"] == "ok")


def test_budget_stop_works_on_dask(tmp_path):
    """A sweep's fit-time budget stops the rest of its lane on Dask too (lanes run in order)."""
    cfg = config(["fake-ok"], splits=3, stop_after_fit_s=1e-9)
    store = RunStore.open(tmp_path, "budget", cfg.to_dict(), {"machine_id": "x"})
    run_dask(cfg, store, n_workers=2)
    cpu = sorted((r["trial_id"], r["status"]) for r in read_records(store.records_path) if "/cpu/" in r["trial_id"])
    assert [s for _, s in cpu] == ["ok", "skipped", "skipped"]


def test_local_cluster_refuses_an_unauthenticated_client(tmp_path):
    """Only the process that started the local cluster can submit work (TLS with its own credentials)."""
    import distributed

    with DaskExecutor(n_workers=1) as executor:
        address = executor.cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        with pytest.raises((OSError, TimeoutError)):
            distributed.Client(address.replace("tls://", "tcp://"), timeout="3s")
        with pytest.raises((OSError, TimeoutError, TypeError, ValueError)):
            distributed.Client(address, timeout="3s")  # TLS, but without the cluster's credentials
        # No HTTP server listens (the dashboard is off, and so are Dask's HTTP routes).
        assert "dashboard" not in executor.cluster.scheduler.services
