"""Issue 29, item 3: every process bench starts, and everything those start, ends when bench ends or a trial
times out. Tested by killing at each level and listing what is left (psutil): a trial timeout, Ctrl-C and
SIGTERM of bench, ``kill -9`` of bench, and ``kill -9`` of the owner of the calibration's busy loops.

The trials' fake adapter starts a child that starts a grandchild (a model's process pool, say) and hangs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.invariants import fast_runs, run_cli, tiny_config

ROOT = Path(__file__).resolve().parent.parent
FORKING = "fake-fork=tests.fake_adapters:ForkingClassifier"


def left_running(pids: list[int], within_s: float = 30.0) -> list[int]:
    """The pids still running (zombies waiting for a reaper count as ended) after at most ``within_s``."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    deadline = time.monotonic() + within_s
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc.pid)
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        psutil.wait_procs([psutil.Process(p) for p in alive if psutil.pid_exists(p)], timeout=0.5)


def wait_for(path: Path, proc: subprocess.Popen | None = None, within_s: float = 120.0) -> list[int]:
    """The pids written to ``path`` once it appears (the trial is in flight)."""
    deadline = time.monotonic() + within_s
    while not path.exists():
        assert time.monotonic() < deadline, "the trial never started"
        assert proc is None or proc.poll() is None, proc.communicate()[1][-2000:] if proc else ""
        time.sleep(0.05)  # polling a file the child writes, with a deadline: not a synchronisation by time
    return [int(p) for p in path.read_text().split()]


def test_a_trial_timeout_ends_the_worker_and_everything_it_started(tmp_path, monkeypatch, capsys):
    fast_runs(monkeypatch)
    monkeypatch.setenv("BENCH_ADAPTERS", FORKING)
    monkeypatch.setenv("BENCH_SIGNAL_DIR", str(tmp_path))
    config = tiny_config(tmp_path / "c.toml", ["fake-fork"], extra="trial_timeout_s = 5")
    code, _, err = run_cli(
        ["run", "--config", str(config), "--results-dir", str(tmp_path / "r"), "--run-id", "t"], capsys
    )
    assert code == 3, err
    pids = [int(p) for p in (tmp_path / "tree-0").read_text().split()]
    assert len(pids) == 3 and left_running(pids) == []


def _bench(tmp_path: Path) -> subprocess.Popen:
    config = tiny_config(tmp_path / "c.toml", ["fake-fork"], extra="trial_timeout_s = 600")
    env = dict(os.environ, BENCH_ADAPTERS=FORKING, BENCH_SIGNAL_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "hello_bench", "run", "--config", str(config), "--results-dir", str(tmp_path / "r"),
            "--run-id", "t"]  # fmt: skip
    return subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["kill-9", "ctrl-c", "sigterm"])
def test_bench_ending_ends_every_level_below_it(tmp_path, how):
    proc = _bench(tmp_path)
    try:
        pids = wait_for(tmp_path / "tree-0", proc)
        proc.send_signal(how)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (-9 if how == signal.SIGKILL else 130), err[-2000:]
    assert len(pids) == 3 and left_running(pids) == []


BUSY_OWNER = (
    "import sys; sys.path.insert(0, sys.argv[1])\n"
    "from hello_bench.run.calibrate import SecondJob\n"
    "job = SecondJob(2); job.start()\n"
    "print(' '.join(str(p.pid) for p in job.running), flush=True)\n"
    "import time; time.sleep(3600)\n"
)


def test_kill_9_of_the_calibration_ends_its_busy_loops():
    owner = subprocess.Popen([sys.executable, "-c", BUSY_OWNER, str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2 and left_running(pids, within_s=0) == pids  # they run
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
    finally:
        if owner.poll() is None:
            owner.kill()
    assert left_running(pids) == []
