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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hello_bench.adapters.registry import refresh
from hello_bench.plugins import PluginError, guarded
from hello_bench.record import metrics
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
    "os_exit": "import os; os._exit(3)",
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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_real_ctrl_c_or_sigterm_during_a_slow_plugin_import_still_interrupts(tmp_path, signum):
    """Issue 29, item 4: SIGTERM (which the CLI turns into an interrupt) is a real interrupt too, exit 130, never
    "the plugin raised KeyboardInterrupt"."""
    ready = tmp_path / "importing"
    (tmp_path / "cwd").mkdir()  # not the plugin's folder: bench never imports from the current folder
    (tmp_path / "slow_plugin.py").write_text(
        f"import time\nopen({str(ready)!r}, 'w').close()\nwhile True:\n    time.sleep(0.05)\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}", BENCH_ADAPTERS="slow=slow_plugin:Model")
    script = Path(sys.executable).with_name("bench")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "hello_bench"]
    proc = subprocess.Popen([*argv, "list"], env=env, cwd=tmp_path / "cwd", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal)  # fmt: skip
    deadline = time.monotonic() + 120
    while not ready.exists():  # poll with a deadline: the import has started
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        state = Path(f"/proc/{proc.pid}/status").read_text()
        proc.kill()
        proc.communicate()
        raise AssertionError(
            f"no exit after {signum!r}: {[line for line in state.splitlines() if line.startswith('Sig')]}"
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


# -- issue 29, item 9: a plugin's code cannot move what bench does around it --------------------------------
PRINTS = {
    "print": "print({text!r})",
    "sys.stdout": "import sys; sys.stdout.write({text!r}); sys.stdout.flush()",
    "fd 1": "import os; os.write(1, {text!r}.encode())",
    "at inspection": "import sys\nclass _P:\n    def __get__(self, obj, owner):\n        print({text!r}); return ('default',)",
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=st.sampled_from(sorted(PRINTS)), text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                                                       min_size=1, max_size=40))  # fmt: skip
def test_a_plugin_that_prints_never_breaks_json(tmp_path, monkeypatch, capfd, how, text):
    name = f"printer_{abs(hash((how, text)))}"
    body = PRINTS[how].format(text=text)
    model = (
        "class Model(_Fake):\n    supported_backends = _P()\n"
        if how == "at inspection"
        else "class Model(_Fake): pass\n"
    )
    (tmp_path / f"{name}.py").write_text(f"{body}\nfrom tests.fake_adapters import _Fake\n{model}")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCH_ADAPTERS", f"printer={name}:Model")
    refresh()
    try:
        from hello_bench.cli import main

        capfd.readouterr()
        code = main(["list", "--json"])
        out, err = capfd.readouterr()
    finally:
        refresh()
    assert code == 0, err
    listed = {a["name"] for a in json.loads(out)["adapters"]}  # stdout is the JSON, and only the JSON
    assert "printer" in listed


def test_a_plugin_that_changes_folder_never_moves_where_bench_writes(tmp_path, monkeypatch, capsys):
    fast_runs(monkeypatch)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "mover.py").write_text(
        f"import os\nos.chdir({str(tmp_path / 'elsewhere')!r})\nfrom tests.fake_adapters import _Fake as Model\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{ROOT}")  # the workers import it too
    monkeypatch.setenv("BENCH_ADAPTERS", "mover=mover:Model")
    monkeypatch.chdir(tmp_path / "work")
    refresh()
    try:
        tiny_config(tmp_path / "work" / "c.toml", ["mover"])
        code, _, err = run_cli(["run", "--config", "c.toml", "--run-id", "m", "--results-dir", "results"], capsys)
    finally:
        refresh()
    assert code == 0, err
    assert (tmp_path / "work" / "results" / "runs" / "m" / "records.jsonl").is_file()
    assert list((tmp_path / "elsewhere").iterdir()) == [] and Path.cwd() == tmp_path / "work"


def _isolated(pid: int) -> bool:
    """Whether process ``pid`` is the re-executed, isolated bench (from the console script's exec on, signals are
    held until its handlers are in place)."""
    try:
        return b"-I" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
@settings(max_examples=6, deadline=None)
@given(delay=st.floats(0, 1.5), signum=st.sampled_from([signal.SIGINT, signal.SIGTERM]))
def test_a_signal_at_any_point_of_start_up_is_an_interrupt(delay, signum):
    """Issue 29, item 4, the class: SIGINT or SIGTERM anywhere in start-up (the re-execution, the imports, a
    command's first steps) ends with exit 130 and the one line, or the command finishes; never a traceback, never
    a death by signal."""
    script = Path(sys.executable).with_name("bench")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "hello_bench"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([*argv, "list", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=as_from_a_terminal)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _isolated(proc.pid) and proc.poll() is None:  # poll with a deadline: it has re-executed
        assert time.monotonic() < deadline
        time.sleep(0.005)
    time.sleep(delay)  # the drawn moment of start-up the signal lands in (not a synchronisation)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), (proc.returncode, err[-1000:])
    assert "Traceback" not in err and (proc.returncode == 0 or err.strip().splitlines()[-1].startswith("interrupted"))
