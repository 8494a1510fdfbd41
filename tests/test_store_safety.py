"""The store under attack: concurrent writers, kill -9 at random points, a full disk, a hostile cwd."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FAKES = "fake-ok=tests.fake_adapters:_Fake,fake-slow=tests.fake_adapters:SlowClassifier,fake-signal=tests.fake_adapters:SignalClassifier"
TINY = "[timing]\nwarmup = 1\nlatency_min_calls = 5\nlatency_budget_s = 0.01\nstock_min_calls = 2\nstock_budget_s = 0.01\nbatch_sizes = [1]\nthroughput_budget_s = 0.005\nserving = false\ncontrol_span_s = 0.02\n"


def env() -> dict:
    return dict(os.environ, BENCH_ADAPTERS=FAKES, PYTHONPATH=str(ROOT))


def config(tmp_path: Path, adapters: str, splits: int) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'adapters = [{", ".join(repr(a) for a in adapters.split(","))}]\ndevices = ["cpu"]\nsplits = {splits}\n{TINY}'.replace(
            "'", '"'
        )
    )
    return path


def cmd(tmp_path: Path, conf: Path, run_id: str = "r") -> list[str]:
    return [
        sys.executable,
        "-m",
        "hello_bench",
        "run",
        "--config",
        str(conf),
        "--run-id",
        run_id,
        "--results-dir",
        str(tmp_path / "results"),
    ]


def lines(tmp_path: Path, run_id: str = "r") -> list[dict]:
    path = tmp_path / "results" / "runs" / run_id / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate, timeout: float = 180.0) -> None:
    """Poll ``predicate`` with a deadline (no sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_two_concurrent_runs_one_is_refused(tmp_path):
    """The first run holds its trial in flight (a file says so; it waits for "release") while a second starts."""
    signals = tmp_path / "signals"
    signals.mkdir()
    conf = config(tmp_path, "fake-signal", 3)
    gated = dict(env(), BENCH_SIGNAL_DIR=str(signals))
    first = subprocess.Popen(
        cmd(tmp_path, conf), env=gated, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wait_for(lambda: (signals / "started-1").exists() or first.poll() is not None)
    second = subprocess.run(cmd(tmp_path, conf), env=gated, cwd=ROOT, capture_output=True, text=True, timeout=120)
    (signals / "release").write_text("")
    assert second.returncode == 1
    assert (
        second.stderr
        == f"error: Run 'r' is being written by process {first.pid}; wait for it or use another --run-id.\n"
    )
    assert first.wait(timeout=300) == 0
    ids = [r["trial_id"] for r in lines(tmp_path)]
    assert sorted(ids) == [f"iris/fake-signal/cpu/split-0{i}" for i in range(3)]  # every trial once


def test_kill_9_at_random_points_then_resume_gives_every_trial_once(tmp_path):
    """20 rounds of kill -9 at a random moment (between trials, mid-trial, mid-write), then a clean finish."""
    conf = config(tmp_path, "fake-ok,sklearn-lr", 12)
    rng = random.Random(0)
    for _ in range(20):
        proc = subprocess.Popen(cmd(tmp_path, conf), env=env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        time.sleep(rng.uniform(0.2, 2.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = subprocess.run(cmd(tmp_path, conf), env=env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    raw = (tmp_path / "results" / "runs" / "r" / "records.jsonl").read_text()
    ids = [json.loads(line)["trial_id"] for line in raw.splitlines()]  # every line a whole record
    assert len(ids) == len(set(ids)) == 24


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_full_disk_is_one_line_and_resumable(tmp_path):
    """A file-size limit makes the records file's write fail as a full disk would (EFBIG/ENOSPC)."""
    conf = config(tmp_path, "fake-ok", 10)
    # one trial's largest file, measured here: how much a trial writes depends on the machine's load
    (tmp_path / "one").mkdir()
    subprocess.run(cmd(tmp_path, config(tmp_path / "one", "fake-ok", 1), "probe"), env=env(), cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    probe = tmp_path / "results" / "runs" / "probe"
    per_trial = max(p.stat().st_size for p in probe.iterdir() if p.suffix == ".jsonl")
    shutil.rmtree(probe)
    size = 3 * per_trial + 4096  # room for about three trials of ten

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get the error, not the signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    full = subprocess.run(
        cmd(tmp_path, conf), env=env(), cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=limit
    )
    assert full.returncode == 1, full.stderr[-2000:]
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("error: No space left writing") and "rerun the same command to resume" in last
    assert "Traceback" not in full.stderr
    kept = lines(tmp_path)
    assert 0 < len(kept) < 10  # every line written before is whole
    done = subprocess.run(cmd(tmp_path, conf), env=env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ids = [r["trial_id"] for r in lines(tmp_path)]
    assert len(ids) == len(set(ids)) == 10


def test_workers_never_import_from_the_current_directory(tmp_path):
    """A bench/ package where the user stands is not what the workers run."""
    trap = tmp_path / "bench"
    trap.mkdir()
    marker = tmp_path / "pwned"
    (trap / "__init__.py").write_text("")
    (trap / "worker.py").write_text(f"open({str(marker)!r}, 'w').write('x')\ndef main():\n    return 0\n")
    script = Path(sys.executable).with_name("bench")
    if not script.exists():
        pytest.skip("the bench console script is not installed next to this Python")
    out = subprocess.run(
        [str(script), "run", "--adapters", "sklearn-lr", "--devices", "cpu", "--splits", "1", "--run-id", "cwd",
         "--results-dir", str(tmp_path / "results")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert not marker.exists()
    assert lines(tmp_path, "cwd")[0]["status"] == "ok"
