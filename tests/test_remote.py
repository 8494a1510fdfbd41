"""Item 12 of issue 19: an unreachable MLflow server or Dask scheduler is one line within 30 s.

Loopback only: a closed port (refused at once) and a "black hole" (a listener that accepts
connections and never answers, which held a Dask client for minutes). The default suite runs
with the deadlines shortened; the slow test runs the real command with the real deadlines.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.invariants import assert_clean_failure, run_cli, snapshot
from tests.test_report import record, write_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn, _ in held:
        conn.close()
    server.close()


@pytest.fixture
def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    return port


@pytest.fixture
def results(tmp_path: Path) -> Path:
    write_run(tmp_path / "results", "r", [record("sklearn-lr", s, 0.9) for s in range(2)])
    return tmp_path / "results"


@pytest.mark.parametrize("where", ["black hole", "closed"])
def test_an_unreachable_dask_scheduler_is_one_line(request, where, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    from hello_bench.run.executors import dask

    monkeypatch.setattr(dask, "CONNECT_S", 1.0)
    port = request.getfixturevalue("black_hole" if where == "black hole" else "closed_port")
    before = snapshot(tmp_path)
    start = time.monotonic()
    argv = ["run", "--adapters", "sklearn-lr", "--splits", "1", "--executor", "dask", "--scheduler",
            f"tcp://127.0.0.1:{port}", "--results-dir", str(tmp_path / "results"), "--run-id", "x"]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    assert time.monotonic() - start < 30
    assert_clean_failure(code, err, {1})
    assert "Cannot reach the Dask scheduler" in err and snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["black hole", "closed"])
def test_an_unreachable_mlflow_server_is_one_line(request, where, results, capsys, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    port = request.getfixturevalue("black_hole" if where == "black hole" else "closed_port")
    before = snapshot(results.parent)
    start = time.monotonic()
    argv = [
        "export",
        "r",
        "--to",
        "mlflow",
        "--tracking-uri",
        f"http://127.0.0.1:{port}",
        "--results-dir",
        str(results),
    ]
    code, _, err = run_cli(argv, capsys)
    assert time.monotonic() - start < 30
    assert_clean_failure(code, err, {1})
    assert err.startswith("error: MLflow") and f"http://127.0.0.1:{port}" in err and snapshot(results.parent) == before


@pytest.mark.slow
def test_real_deadlines_answer_within_30_s(black_hole, results):
    """The real commands, with their real deadlines, against a listener that never answers."""
    pytest.importorskip("distributed")
    pytest.importorskip("mlflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    for argv in (
        ["run", "--adapters", "sklearn-lr", "--splits", "1", "--executor", "dask", "--scheduler",
         f"tcp://127.0.0.1:{black_hole}", "--results-dir", str(results), "--run-id", "x"],
        ["export", "r", "--to", "mlflow", "--tracking-uri", f"http://127.0.0.1:{black_hole}", "--results-dir", str(results)],
    ):  # fmt: skip
        start = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "hello_bench", *argv], env=env, capture_output=True, text=True, timeout=60
        )
        assert time.monotonic() - start < 30, argv
        assert out.returncode == 1 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr


@pytest.mark.parametrize("hangs", ["client", "workers"])
def test_a_dask_scheduler_that_answers_who_it_is_then_stalls_is_one_line(hangs, tmp_path, capsys, monkeypatch):
    """Issue 29, item 5: after the first round trip, every call to a given scheduler has a total deadline too."""
    distributed = pytest.importorskip("distributed")
    from hello_bench.run.executors import dask

    stall = threading.Event()
    monkeypatch.setattr(dask, "CONNECT_S", 0.5)
    monkeypatch.setattr(dask, "reach", lambda address, security=None: None)  # it answered who it is
    monkeypatch.setattr(dask, "workers_by_host", lambda client: stall.wait() or {})

    class Stalled:
        def __init__(self, *args, **kwargs) -> None:
            if hangs == "client":
                stall.wait()

        def close(self) -> None:
            pass

    monkeypatch.setattr(distributed, "Client", Stalled)
    before = snapshot(tmp_path)
    start = time.monotonic()
    argv = ["run", "--adapters", "sklearn-lr", "--splits", "1", "--executor", "dask", "--scheduler",
            "tcp://127.0.0.1:8786", "--results-dir", str(tmp_path / "results"), "--run-id", "x"]  # fmt: skip
    code, _, err = run_cli(argv, capsys)
    stall.set()
    assert time.monotonic() - start < 30
    assert_clean_failure(code, err, {1})
    assert "Dask scheduler" in err and "total deadline" in err and snapshot(tmp_path) == before
