"""Item 9 of issue 19: plugins can't take the CLI down, and a resume never swaps the code behind a name.

A plugin raising anything at import (``SystemExit``, ``RecursionError``, ``MemoryError``, a
``KeyboardInterrupt`` it raises itself) is listed as "cannot load" and nothing else changes; a real
Ctrl-C during a slow plugin import still interrupts (exit 130).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.registry import refresh
from bench.plugins import PluginError, guarded
from bench.record import metrics
from tests.invariants import assert_clean_failure, fast_runs, run_cli, snapshot, tiny_config

ROOT = Path(__file__).resolve().parent.parent
RAISES = {
    "exits": "raise SystemExit(3)",
    "exits_zero": "import sys; sys.exit()",
    "recurses": "def f(): return f()\nf()",
    "no_memory": "raise MemoryError('plugin ran out')",
    "interrupts": "raise KeyboardInterrupt",
    "generator_exit": "raise GeneratorExit",
    "bad_str": "class E(Exception):\n    def __str__(self): raise SystemExit\nraise E()",
}


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    for name, body in RAISES.items():
        (tmp_path / f"plugin_{name}.py").write_text(body + "\nclass Model: pass\nMETRIC = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    targets = ",".join(f"{name}=plugin_{name}:Model" for name in RAISES)
    monkeypatch.setenv("BENCH_ADAPTERS", targets + ",nb=sklearn.naive_bayes:GaussianNB")
    monkeypatch.setenv("BENCH_METRICS", ",".join(f"plugin_{name}:METRIC" for name in RAISES))
    refresh()
    yield tmp_path
    refresh()


def test_every_kind_of_raise_at_import_is_cannot_load(plugins, capsys):
    code, out, err = run_cli(["list", "--json"], capsys)
    assert code == 0, err
    listed = {a["name"]: a for a in json.loads(out)["adapters"]}
    for name in RAISES:
        assert not listed[name]["available"] and listed[name]["reason"].startswith(f"cannot load plugin_{name}:Model")
    assert "SystemExit" in listed["exits"]["reason"] and "RecursionError" in listed["recurses"]["reason"]
    assert "KeyboardInterrupt" in listed["interrupts"]["reason"] and "MemoryError" in listed["no_memory"]["reason"]
    assert listed["nb"]["available"] and listed["sklearn-lr"]["available"]
    assert {m.column for m in metrics()} >= {"accuracy"}  # the metric plugins cost their metric only


@pytest.mark.parametrize("name", sorted(RAISES))
def test_running_a_broken_plugin_is_one_line(plugins, capsys, name):
    before = snapshot(plugins)
    code, _, err = run_cli(["run", "--adapters", name, "--dry-run", "--results-dir", str(plugins / "r")], capsys)
    assert_clean_failure(code, err, {1})
    assert "cannot load" in err and snapshot(plugins) == before


def test_a_plugin_raised_keyboard_interrupt_is_not_a_ctrl_c():
    def plugin() -> None:
        raise KeyboardInterrupt

    with pytest.raises(PluginError, match="KeyboardInterrupt"):
        guarded(plugin)


def as_from_a_terminal() -> None:
    """In the child before exec: SIGINT handled and not blocked, as a shell starts a command (the test
    process may have inherited other settings, which a real Ctrl-C could not get past either)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_a_real_ctrl_c_during_a_slow_plugin_import_still_interrupts(tmp_path):
    ready = tmp_path / "importing"
    (tmp_path / "cwd").mkdir()  # not the plugin's folder: bench never imports from the current folder
    (tmp_path / "slow_plugin.py").write_text(
        f"import time\nopen({str(ready)!r}, 'w').close()\nwhile True:\n    time.sleep(0.05)\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}", BENCH_ADAPTERS="slow=slow_plugin:Model")
    script = Path(sys.executable).with_name("bench")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "bench"]
    proc = subprocess.Popen([*argv, "list"], env=env, cwd=tmp_path / "cwd", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal)  # fmt: skip
    deadline = time.monotonic() + 120
    while not ready.exists():  # poll with a deadline: the import has started
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        state = Path(f"/proc/{proc.pid}/status").read_text()
        proc.kill()
        proc.communicate()
        raise AssertionError(
            f"no exit after SIGINT: {[line for line in state.splitlines() if line.startswith('Sig')]}"
        ) from None
    assert proc.returncode == 130, err
    assert err.startswith("interrupted") and "Traceback" not in err


def test_resume_refuses_an_adapter_name_that_now_maps_to_another_class(tmp_path, monkeypatch, capsys):
    fast_runs(monkeypatch)
    monkeypatch.setenv("BENCH_ADAPTERS", "mine=tests.fake_adapters:_Fake")
    refresh()
    conf = tiny_config(tmp_path / "c.toml", ["mine"], splits=1)
    argv = ["run", "--config", str(conf), "--run-id", "r", "--results-dir", str(tmp_path / "results")]
    try:
        code, _, err = run_cli(argv, capsys)
        assert code == 0, err
        monkeypatch.setenv("BENCH_ADAPTERS", "mine=tests.fake_adapters:FailingClassifier")
        refresh()
        before = snapshot(tmp_path)
        for extra in ([], ["--dry-run"], ["--retry-errors"]):
            code, _, err = run_cli(argv + extra, capsys)
            assert_clean_failure(code, err, {1})
            assert "now maps to tests.fake_adapters:FailingClassifier" in err
            assert snapshot(tmp_path) == before
    finally:
        refresh()
