"""Extras and tox environments as the README promises them: the MLflow server apart, a gate that installs no
framework and runs from any folder, and lint that is exactly what CI runs."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
TOX = configparser.ConfigParser(interpolation=None)
TOX.read(ROOT / "tox.ini")


def commands(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip() and not line.strip().startswith("#")]


def test_mlflow_ui_has_its_own_extra_that_dev_and_ci_do_not_install():
    assert any(r.startswith("mlflow>=") for r in EXTRAS["mlflow-ui"])  # the full package: it has the server
    assert not any(r.startswith("mlflow>=") for r in EXTRAS["mlflow"])  # the skinny client writes the store
    assert "mlflow-ui" not in " ".join(EXTRAS["dev"]) and "mlflow-ui" not in (ROOT / ".ci/run").read_text()
    assert 'pip install -e ".[mlflow-ui]"' in (ROOT / "README.md").read_text()


def test_lint_in_tox_is_exactly_what_ci_runs():
    ci = [line for line in commands((ROOT / ".ci/run").read_text()) if line.split()[0] in ("ruff", "mypy")]
    assert commands(TOX["testenv:lint"]["commands"]) == ci


def test_the_gate_installs_no_framework_and_starts_where_it_is_called():
    gate = TOX["testenv:gate"]
    assert gate.get("extras", "").strip() == "" and "{env:PWD" in gate["change_dir"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tox") is None and not (Path(sys.executable).parent / "tox").exists(), reason="tox")
def test_tox_gate_from_another_folder_reads_its_results_and_fails_a_slower_head(tmp_path):
    """As a project's CI calls it: ``tox -c path/to/hello-bench/tox.ini -e gate -- ci%base ci%head``."""
    from tests.test_compare_gate import _duet

    project = tmp_path / "project"
    _duet(project / "results", {"torch-mlp": (1.3, 0.0)}, run_id="ci")
    tox = shutil.which("tox") or str(Path(sys.executable).parent / "tox")
    env = {**os.environ, "PWD": str(project)}
    done = subprocess.run([tox, "-c", str(ROOT / "tox.ini"), "--workdir", str(tmp_path / "tox"), "-e", "gate", "--",
                           "ci%base", "ci%head"], cwd=project, env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    if done.returncode not in (4,) and any(w in done.stdout.lower() for w in ("could not find", "no matching")):
        pytest.skip(f"cannot install the gate's packages here: {done.stdout[-300:]}")
    assert done.returncode == 4 and "FAIL (exit 4)" in done.stdout, done.stdout[-3000:]
    python = tmp_path / "tox" / "gate" / "bin" / "python"
    found = subprocess.run([str(python), "-c", "import importlib.util as u; print([m for m in ('torch', 'tensorflow', "
                            "'jax', 'keras') if u.find_spec(m)])"], capture_output=True, text=True, check=True)  # fmt: skip
    assert found.stdout.strip() == "[]"
    assert (project / "results" / "reports").is_dir()
