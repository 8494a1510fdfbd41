"""Items 3, 4, 5, 6 and 10 of issue 19: timeouts and dying parents, exit status from the records,
one writer per run, a store that never blocks or trusts types, sealed reference runs.

No sleep is used to synchronise: a fake adapter writes a file when its trial is in flight and waits
for a "release" file, and every wait is a poll with a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hello_bench.adapters.registry import refresh
from hello_bench.errors import UserError
from hello_bench.store.reader import lock_holder, read_records
from hello_bench.store.writer import RunStore
from tests.invariants import assert_clean_failure, committed_runs, fast_runs, run_cli, snapshot, tiny_config

ROOT = Path(__file__).resolve().parent.parent
FAKES = ("fake-ok=tests.fake_adapters:_Fake,hang=tests.fake_adapters:HangAlwaysClassifier,"
         "flag=tests.fake_adapters:FlagFailClassifier,signal=tests.fake_adapters:SignalClassifier")  # fmt: skip


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setenv("BENCH_ADAPTERS", FAKES)
    refresh()
    yield
    refresh()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def bench_process(tmp_path: Path, *argv: str, **env: str) -> subprocess.Popen:
    full = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_ADAPTERS=FAKES, **env)
    return subprocess.Popen([sys.executable, "-m", "hello_bench", *argv], cwd=tmp_path, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


# -- item 3: every trial obeys its timeout; no worker outlives its parent ---------------------------
def test_the_first_trial_of_a_worker_gets_the_configured_timeout(tmp_path, capsys, monkeypatch):
    fast_runs(monkeypatch)
    conf = tiny_config(tmp_path / "c.toml", ["hang"], extra="trial_timeout_s = 1.5\nstartup_timeout_s = 120")
    start = time.monotonic()
    argv = ["run", "--config", str(conf), "--run-id", "t", "--results-dir", str(tmp_path / "r")]
    code, _, err = run_cli(argv, capsys)
    assert code == 3, err
    assert time.monotonic() - start < 100  # not the 120 s start-up allowance (under any load)
    (record,) = read_records(tmp_path / "r" / "runs" / "t" / "records.jsonl")
    assert record["status"] == "timeout" and "trial_timeout_s=1.5" in record["reason"]
    assert record["trial_timeout_s"] == 1.5 and record["startup_timeout_s"] == 120


def in_flight(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path, int]:
    """A ``bench run`` whose split-01 trial is in flight (blocked until ``release``); its worker's pid."""
    signals = tmp_path / "signals"
    signals.mkdir()
    conf = tiny_config(tmp_path / "c.toml", ["signal"], splits=3)
    proc = bench_process(tmp_path, "run", "--config", str(conf), "--run-id", "k", "--results-dir", "r", *extra,
                         BENCH_SIGNAL_DIR=str(signals))  # fmt: skip
    wait_for(lambda: (signals / "started-1").exists() or proc.poll() is not None, "the trial to start")
    assert proc.poll() is None, proc.communicate()
    return proc, signals, int((signals / "started-1").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_kill_9_of_bench_alone_ends_every_process_it_started(tmp_path, executor):
    import psutil

    extra = ("--executor", "dask", "--dask-workers", "1") if executor == "dask" else ()
    if executor == "dask":
        pytest.importorskip("distributed")
    proc, signals, worker = in_flight(tmp_path, *extra)
    descendants = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    assert worker in descendants
    proc.kill()  # bench alone: not its process group
    proc.communicate()
    wait_for(lambda: all(gone(pid) for pid in descendants), "every process bench started to exit", timeout=60)


@pytest.mark.slow
def test_sigterm_is_ctrl_c_and_keeps_the_records(tmp_path):
    proc, signals, _ = in_flight(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: records written so far are kept")
    kept = read_records(tmp_path / "r" / "runs" / "k" / "records.jsonl")
    assert [r["trial_id"] for r in kept] == ["iris/signal/cpu/split-00"] and kept[0]["status"] == "ok"
    (signals / "release").write_text("")
    again = bench_process(tmp_path, "run", "--config", "c.toml", "--run-id", "k", "--results-dir", "r", "--json",
                          BENCH_SIGNAL_DIR=str(signals))  # fmt: skip
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert json.loads(out)["resumed"] == 1 and json.loads(out)["statuses"] == {"ok": 3}


@pytest.mark.slow
def test_dask_trials_obey_the_same_limits(tmp_path):
    pytest.importorskip("distributed")
    from hello_bench.measure.settings import TimingSettings
    from hello_bench.run.config import AdapterSpec, Config, validate
    from hello_bench.run.executors.dask import DaskExecutor
    from hello_bench.run.progress import Quiet
    from hello_bench.run.runner import run

    timing = TimingSettings(warmup=1, latency_min_calls=5, latency_budget_s=0.01, batch_sizes=(1,), serving=False)
    config = validate(Config(adapters=(AdapterSpec.parse("hang"),), splits=1, trial_timeout_s=1.5, timing=timing,
                             startup_timeout_s=90.0), "t")  # fmt: skip
    store = RunStore.open(tmp_path, "d", config.to_dict(), {"machine_id": "x"})
    with DaskExecutor(n_workers=1) as executor:
        run(config, store, executor, Quiet())
    (record,) = read_records(store.records_path)
    assert record["status"] == "timeout" and record["executor"] == "dask"
    assert record["trial_timeout_s"] == 1.5 and record["startup_timeout_s"] == 90.0


# -- item 4: exit status and summaries from the run's records ---------------------------------------
def test_a_rerun_of_a_failed_run_exits_3_again_and_retry_errors_reruns_it(tmp_path, capsys, monkeypatch):
    fast_runs(monkeypatch)
    flag = tmp_path / "fail"
    flag.write_text("")
    monkeypatch.setenv("BENCH_FAIL_FLAG", str(flag))
    conf = tiny_config(tmp_path / "c.toml", ["flag"], splits=2)
    argv = ["run", "--config", str(conf), "--run-id", "f", "--results-dir", str(tmp_path / "r"), "--json"]
    assert run_cli(argv, capsys)[0] == 3
    code, out, _ = run_cli(argv, capsys)  # nothing new runs: the status still comes from the records
    summary = json.loads(out)
    assert code == 3 and summary["exit_status"] == 3 and summary["new"] == {}
    assert summary["failed_trials"] == ["iris/flag/cpu/split-00", "iris/flag/cpu/split-01"]
    flag.unlink()
    code, out, _ = run_cli([*argv, "--retry-errors"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["statuses"] == {"ok": 2} and summary["new"] == {"ok": 2}


# -- item 5: one writer per run ------------------------------------------------------------------
def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path, capsys, monkeypatch):
    fast_runs(monkeypatch)
    conf = tiny_config(tmp_path / "c.toml", ["fake-ok"])
    argv = ["run", "--config", str(conf), "--run-id", "w", "--results-dir", str(tmp_path / "r")]
    assert run_cli(argv, capsys)[0] == 0
    run = tmp_path / "r" / "runs" / "w"
    assert not [p for p in run.iterdir() if "lock" in p.name]  # no lock file left behind
    assert lock_holder(run) is None  # the lock went with its writer
    from hello_bench.store.reader import RunFolder

    holder = RunStore.open(tmp_path / "r", "w", json.loads((run / "config.json").read_text()), {"machine_id": "x"})
    try:
        assert RunFolder(run).writer_pid() == os.getpid()
        before = snapshot(run)
        code, _, err = run_cli(argv, capsys)
        assert_clean_failure(code, err, {1})
        assert f"is being written by process {os.getpid()}" in err and snapshot(run) == before
    finally:
        holder.close()


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_removed_or_replaced_run_folder_stops_the_writer(tmp_path, how):
    store = RunStore.open(tmp_path, "g", {"splits": 1}, {"machine_id": "x"})
    record = {"trial_id": "t", "status": "ok"}
    store.append(record)
    shutil.move(store.path, tmp_path / "elsewhere")
    if how == "replaced":
        store.path.mkdir()
    with pytest.raises(UserError, match="was removed or replaced while this run was writing it"):
        store.append(record)
    store.close()
    assert len(read_records(tmp_path / "elsewhere" / "records.jsonl")) == 1


@pytest.mark.slow
def test_removing_the_run_folder_mid_run_stops_the_run(tmp_path):
    proc, signals, _ = in_flight(tmp_path)
    shutil.rmtree(tmp_path / "r" / "runs" / "k")
    (signals / "release").write_text("")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert err.strip().splitlines()[-1].startswith("error: Run folder") and "Traceback" not in err
    assert not (tmp_path / "r" / "runs" / "k").exists()  # nothing recreated in its place


# -- item 6: reading a store never blocks and never trusts types -----------------------------------
def special(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    else:
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
        except PermissionError:
            pytest.skip("cannot make a device node here")


def within(seconds: float, call: Callable[[], object]) -> object:
    """``call()`` in a thread; fail if it has not returned after ``seconds`` (a blocked read)."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the command blocked"
    return box[0]


@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
@pytest.mark.parametrize("name", ["records.jsonl", "config.json", "run.json", "raw.jsonl"])
def test_special_files_in_a_run_folder_are_refused_at_once(tmp_path, capsys, kind, name):
    from tests.test_report import record, write_run

    run = write_run(tmp_path / "r", "s", [record("sklearn-lr", i, 0.9) for i in range(2)])
    (run / name).unlink(missing_ok=True)
    special(kind, run / name)
    before = snapshot(tmp_path)
    code, _, err = within(60, lambda: run_cli(["report", "s", "--results-dir", str(tmp_path / "r")], capsys))
    assert_clean_failure(code, err, {1})
    assert "not a file" in err or "socket" in err
    assert snapshot(tmp_path) == before


def test_a_record_with_wrong_types_names_its_file_line_and_field(tmp_path, capsys):
    from tests.test_report import record, write_run

    good = record("sklearn-lr", 0, 0.9)
    run = write_run(tmp_path / "r", "s", [good, {**record("sklearn-lr", 1, 0.9), "split_seed": "one"}])
    code, _, err = run_cli(["report", "s", "--results-dir", str(tmp_path / "r")], capsys)
    assert_clean_failure(code, err, {1})
    assert f"{run / 'records.jsonl'}:2:" in err and "'split_seed'" in err and "got `str`" in err


# -- item 10: committed reference runs are never written ---------------------------------------------
#: What git tracks, never what is in the folder: a user's own runs live beside the committed ones, unsealed.
COMMITTED = committed_runs(ROOT)


@pytest.mark.skipif(COMMITTED is None, reason="not a git checkout: nothing says which runs are committed")
def test_every_committed_run_is_sealed():
    assert COMMITTED
    for name in COMMITTED or []:
        assert json.loads((ROOT / "results" / "runs" / name / "run.json").read_text()).get("sealed") is True, name


def test_a_users_run_beside_the_committed_ones_is_not_taken_for_one(tmp_path):
    """A fresh clone where the user ran ``bench run``: only the committed run counts as committed."""
    runs = tmp_path / "results" / "runs"
    for name in ("reference-x", "20260101-120000"):
        (runs / name).mkdir(parents=True)
        (runs / name / "run.json").write_text("{}")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "add", "results/runs/reference-x"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "reference"], check=True)
    assert committed_runs(tmp_path) == ["reference-x"]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--run-id", "reference-cpu-2core"],
        ["run", "--run-id", "reference-cpu-2core", "--retry-errors"],
        ["run", "--run-id", "reference-cpu-2core", "--dry-run"],
        ["run", "--run-id", "reference-quick-cpu-2core", "--quick"],
        ["run", "--run-id", "tuning-cpu-2core", "--config", "tuning"],
        ["seed", "--run-id", "reference-seed-cpu-2core"],
        ["seed", "--run-id", "reference-seed-cpu-2core", "--json"],
        ["scale", "--run-id", "reference-scale-cpu-2core"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_no_command_resumes_or_rewrites_a_sealed_run(tmp_path, capsys, argv):
    results = tmp_path / "results"
    for name in COMMITTED or sorted(p.name for p in (ROOT / "results" / "runs").glob("reference-*")):
        shutil.copytree(ROOT / "results" / "runs" / name, results / "runs" / name)  # copies: sealed as committed
    before = snapshot(tmp_path)
    code, out, err = run_cli([*argv, "--results-dir", str(results)], capsys)
    assert_clean_failure(code, err, {1})
    assert "is sealed" in err and out == ""
    assert snapshot(tmp_path) == before
