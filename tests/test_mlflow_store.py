"""Issue 29, items 2, 5 and 11: MLflow's own writes, its remote calls, and re-exports.

- Every local path MLflow will write (its database and journal, a file store's tree, artifacts) is checked by
  the safe writer's rules before MLflow is called: drawn tracking URIs into run folders or through links are
  refused with one line and nothing written.
- Every remote call has a total deadline: a server that sends one byte at a time cannot hold an export.
- A re-export after a trial's record was superseded (``--retry-errors``) replaces the old nested run; an empty
  ``--experiment`` is refused before any store exists.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hello_bench.deadline import Deadlined, within
from hello_bench.errors import UserError
from tests.invariants import assert_clean_failure, run_cli, snapshot
from tests.test_report import record, stored, write_run

pytest.importorskip("mlflow")

RECORDS = [record("sklearn-lr", s, 0.9, finished_at=1000.0 + s) for s in range(2)]


@pytest.fixture
def results(tmp_path: Path, monkeypatch) -> Path:
    write_run(tmp_path / "results", "r", RECORDS)
    write_run(tmp_path / "other", "s", RECORDS)  # another results folder's run
    monkeypatch.chdir(tmp_path)
    return tmp_path / "results"


def _link(src: str, dest: str):
    def make(root: Path) -> None:
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(root / src, root / dest)

    return make


#: Places inside a run folder or a runs folder, as a user might spell them ("alias" links to a run).
PLACES = ["results/runs/r", "results/runs/r/logs", "results/runs/new", "other/runs/s", "alias", "results/runs"]
#: How a tracking URI names a place: a SQLite database in it, or a file store at it.
FORMS = [
    "sqlite:///{place}/{name}",
    "sqlite:////{root}/{place}/{name}",
    "sqlite:///work/../{place}/{name}",
    "{place}/{name}",
    "{root}/{place}",
    "file://{root}/{place}/{name}",
]
#: Links planted where MLflow writes (the database, its journal, artifacts, a file store's tree).
LINKS = [
    ("sqlite:///mine/x.db", _link("victim", "mine/x.db")),
    ("sqlite:///mine/x.db", _link("victim", "mine/x.db-journal")),
    ("sqlite:///mine/x.db", _link("elsewhere", "mine/artifacts")),
    ("store", _link("elsewhere", "store/0")),
    (None, _link("victim", "results/mlflow/mlflow.db")),
    (None, _link("elsewhere", "results/mlflow/artifacts")),
    (None, _link("elsewhere", "results/mlflow/artifacts/1/x")),
    (None, _link("elsewhere", "results/mlflow")),
]


def scratch(factory) -> Path:
    root = factory.mktemp("store")
    write_run(root / "results", "r", RECORDS)
    write_run(root / "other", "s", RECORDS)
    (root / "victim").write_text("precious")
    (root / "elsewhere").mkdir()
    (root / "work").mkdir()
    os.symlink(root / "results" / "runs" / "r", root / "alias")
    return root


def refused_untouched(root: Path, uri: str | None, capsys) -> None:
    before = snapshot(root)
    old = os.getcwd()
    os.chdir(root)
    try:
        code, _, err = run_cli(["export", "r", "--to", "mlflow", *(["--tracking-uri", uri] if uri else [])], capsys)
    finally:
        os.chdir(old)
    assert_clean_failure(code, err, {1})
    assert snapshot(root) == before and (root / "victim").read_text() == "precious"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(PLACES), form=st.sampled_from(FORMS), name=st.sampled_from(["x.db", "records.jsonl", "m"]))
def test_mlflow_never_writes_into_a_run_folder(tmp_path_factory, capsys, place, form, name):
    root = scratch(tmp_path_factory)
    refused_untouched(root, form.format(root=root, place=place, name=name), capsys)


@pytest.mark.parametrize("uri, setup", LINKS)
def test_mlflow_never_writes_through_a_link(tmp_path_factory, capsys, uri, setup):
    root = scratch(tmp_path_factory)
    setup(root)
    refused_untouched(root, uri, capsys)


def test_a_user_sqlite_store_keeps_its_artifacts_beside_it(results, capsys, tmp_path):
    code, out, err = run_cli(["export", "r", "--to", "mlflow", "--tracking-uri", "sqlite:///mine/x.db"], capsys)
    assert code == 0, err
    assert (tmp_path / "mine" / "x.db").is_file() and (tmp_path / "mine" / "artifacts").is_dir()
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    "uri, why",
    [
        ("sqlite://", "in-memory"),
        ("sqlite:///", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:////proc/ml.db", "on the kernel's proc file system"),
        ("sqlite:////proc/new/deeper/ml.db", "on the kernel's proc file system"),
        ("/proc/mlruns", "on the kernel's proc file system"),
        ("sqlite:///mine/x.db?mode=ro", "options after '?' are not supported"),
        ("", "--tracking-uri is empty"),
        ("sqlite:///lnk/x.db", "it is a symbolic link"),  # a link to a folder on the way, as Parquet's --out
    ],
)
def test_a_store_nothing_can_be_kept_in_is_refused_before_anything_is_written(results, capsys, tmp_path, uri, why):
    """In memory, where no file can be made, or with options that change where: one line at once, not minutes of
    MLflow's retries (the database in /proc took 1 min 44 s and 41 lines)."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "lnk").symlink_to(tmp_path / "elsewhere")
    before = snapshot(tmp_path)
    started = time.monotonic()
    code, _, err = run_cli(["export", "r", "--to", "mlflow", "--tracking-uri", uri], capsys)
    assert_clean_failure(code, err, {1})
    assert why in err and snapshot(tmp_path) == before and time.monotonic() - started < 30


def test_an_empty_experiment_is_refused_before_any_store_exists(results, capsys, tmp_path):
    before = snapshot(tmp_path)
    for name in ("", "  "):
        code, _, err = run_cli(["export", "r", "--to", "mlflow", "--experiment", name], capsys)
        assert_clean_failure(code, err, {1})
    assert snapshot(tmp_path) == before


def test_a_re_export_replaces_the_failed_trials_a_retry_fixed(results, capsys):
    from mlflow.tracking import MlflowClient

    path = results / "runs" / "r" / "records.jsonl"
    with path.open("a") as fh:
        fh.write(stored(record("sklearn-lr", 2, None, status="error", reason="boom", finished_at=1002.0)) + "\n")
    assert run_cli(["export", "r", "--to", "mlflow"], capsys)[0] == 0
    with path.open("a") as fh:  # what --retry-errors appends: the same trial, ok now
        fh.write(stored(record("sklearn-lr", 2, 0.8, finished_at=2000.0)) + "\n")
    assert run_cli(["export", "r", "--to", "mlflow"], capsys)[0] == 0
    assert run_cli(["export", "r", "--to", "mlflow"], capsys)[0] == 0  # nothing new: nothing replaced
    client = MlflowClient(tracking_uri=f"sqlite:///{(results / 'mlflow' / 'mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name("hello-bench").experiment_id
    trials = [r for r in client.search_runs([experiment]) if r.data.tags.get("bench.level") == "trial"]
    assert sorted(r.data.tags["trial_id"] for r in trials) == sorted({r["trial_id"] for r in RECORDS} | {
        "iris/sklearn-lr/cpu/split-02"})  # fmt: skip
    assert {r.info.status for r in trials} == {"FINISHED"}


# -- total deadlines --------------------------------------------------------------------------
@pytest.fixture
def trickle() -> Iterator[int]:
    """A loopback HTTP "server" that answers one byte every 0.2 s, for ever (each wait is short; the call is not)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(0.5)
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.is_set():
                conn.sendall(b"a")
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_a_server_that_trickles_bytes_cannot_hold_an_export(results, trickle, capsys, monkeypatch):
    from hello_bench.report import mlflow_store

    monkeypatch.setattr(mlflow_store, "REMOTE_DEADLINE_S", 2.0)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    before = snapshot(results.parent)
    start = time.monotonic()
    code, _, err = run_cli(["export", "r", "--to", "mlflow", "--tracking-uri", f"http://127.0.0.1:{trickle}"], capsys)
    assert time.monotonic() - start < 20
    assert_clean_failure(code, err, {1})
    assert "total deadline" in err and snapshot(results.parent) == before


def test_within_bounds_the_whole_call_and_passes_results_and_errors():
    assert within(5, "x", lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        within(5, "x", lambda: 1 / 0)
    release = threading.Event()
    start = time.monotonic()
    with pytest.raises(UserError, match="slow thing"):
        within(0.2, "slow thing", release.wait)
    release.set()
    assert time.monotonic() - start < 5
    wrapped = Deadlined(type("C", (), {"value": 3, "twice": lambda self, x: 2 * x})(), 5, "c")
    assert wrapped.value == 3 and wrapped.twice(4) == 8
