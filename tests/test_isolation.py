"""Item 2 of issue 19: no process bench starts imports code from the current folder.

The folder a user stands in is full of traps: modules named like the standard library and the
project's dependencies (``json.py``, ``typing.py``, a ``multiprocessing/`` package, ``numpy.py``,
a ``bench/`` package). Each trap, if imported by any process, appends its name and that
process's command line to a log outside the folder; the log must stay empty for the console
script, ``python -m hello_bench``, every worker, the control measurement, py-cpuinfo's helper process
and a local Dask cluster's processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hello_bench.isolation import import_path, isolated_command

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("json", "typing", "numpy", "subprocess", "selectors", "signal", "argparse", "threading", "shlex", "ast",
           "tomllib", "msgspec", "pandas", "sklearn", "socket", "cpuinfo", "distributed", "dask")  # fmt: skip
PACKAGES = ("multiprocessing", "bench", "adapters", "hello_bench", "concurrent")
RUN = ["run", "--adapters", "sklearn-lr", "--devices", "cpu", "--splits", "1", "--run-id", "t"]


def trap_folder(folder: Path, log: Path, packages: tuple[str, ...] = PACKAGES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    code = f"import sys\nopen({str(log)!r}, 'a').write(__name__ + ' ' + repr(sys.argv) + '\\n')\n"
    for name in MODULES:
        (folder / f"{name}.py").write_text(code)
    for name in packages:
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(code)
    return folder


def console_script() -> Path:
    script = Path(sys.executable).with_name("bench")
    if not script.exists():
        pytest.skip("the bench console script is not installed next to this Python")
    return script


def run_in(
    folder: Path, argv: list[str], pythonpath: str = str(ROOT), timeout: float = 300
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BENCH_ISOLATED", "PYTHONSAFEPATH")}
    env["PYTHONPATH"] = pythonpath
    return subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_import_path_never_holds_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["", ".", "relative/dir", str(tmp_path), "/abs/elsewhere"]))
    assert import_path() == [str(ROOT), "/abs/elsewhere"]
    command = isolated_command("pass")
    assert command[1] == "-I" and command[0] == sys.executable


@pytest.mark.parametrize("pythonpath", ["absolute", "dot first", "empty entry"])
def test_the_console_script_imports_nothing_from_the_current_folder(tmp_path, pythonpath):
    log = tmp_path / "log"
    folder = trap_folder(tmp_path / "cwd", log, packages=("multiprocessing", "concurrent"))
    # With "." or an empty entry on PYTHONPATH a "bench/" there would be bench itself: Python's choice, not ours.
    path = {"absolute": str(ROOT), "dot first": f".{os.pathsep}{ROOT}", "empty entry": f"{ROOT}{os.pathsep}"}[
        pythonpath
    ]
    out = run_in(folder, [str(console_script()), "--version"], path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not log.exists() or not log.read_text(), log.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["console script", "python -m hello_bench"])
def test_a_whole_run_imports_nothing_from_the_current_folder(tmp_path, how):
    log = tmp_path / "log"
    folder = trap_folder(
        tmp_path / "cwd", log, PACKAGES if how == "console script" else ("multiprocessing", "concurrent")
    )
    launcher = [str(console_script())] if how == "console script" else [sys.executable, "-m", "hello_bench"]
    out = run_in(folder, [*launcher, *RUN, "--results-dir", str(tmp_path / "results")])
    assert out.returncode == 0, out.stderr[-2000:]
    assert not log.exists(), log.read_text()
    run = tmp_path / "results" / "runs" / "t"
    control = json.loads((run / "control.json").read_text())
    assert {"before", "after"} <= set(control)  # the control measurement ran (a json.py once removed it silently)
    assert json.loads((run / "records.jsonl").read_text())["status"] == "ok"


@pytest.mark.slow
def test_a_dask_run_imports_nothing_from_the_current_folder(tmp_path):
    pytest.importorskip("distributed")
    log = tmp_path / "log"
    folder = trap_folder(tmp_path / "cwd", log)
    argv = [
        str(console_script()),
        *RUN,
        "--executor",
        "dask",
        "--dask-workers",
        "1",
        "--results-dir",
        str(tmp_path / "r"),
    ]
    out = run_in(folder, argv)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not log.exists(), log.read_text()
    assert json.loads((tmp_path / "r" / "runs" / "t" / "records.jsonl").read_text())["executor"] == "dask"


@settings(max_examples=8, deadline=None)
@given(
    leaked=st.dictionaries(
        st.sampled_from(["BENCH_ISOLATED", "BENCH_ISOLATE", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "BENCH_PARENT_FD"]),
        st.sampled_from(["1", "0", "yes", "true", ""]),
        min_size=1,
    ),
    pythonpath=st.sampled_from([".", "", "./sub", "{cwd}"]),
    how=st.sampled_from(["console script", "python -m hello_bench"]),
)
def test_nothing_in_the_environment_switches_isolation_off(tmp_path_factory, leaked, pythonpath, how):
    """Issue 29, item 6: a leaked internal marker (BENCH_ISOLATED=1 once skipped the re-execution) with the
    current folder on PYTHONPATH never runs a ``json.py`` from there."""
    tmp = tmp_path_factory.mktemp("leak")
    log = tmp / "log"
    folder = trap_folder(tmp / "cwd", log, packages=("multiprocessing", "concurrent"))
    (folder / "sub").mkdir()
    argv = (
        [str(console_script()), "--version"]
        if how == "console script"
        else [sys.executable, "-m", "hello_bench", "--version"]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BENCH_ISOLATED", "PYTHONSAFEPATH")}
    env.update(leaked)
    env["PYTHONPATH"] = os.pathsep.join([pythonpath.format(cwd=folder), str(ROOT)])
    out = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not log.exists() or not log.read_text(), log.read_text()
