"""The README's CI recipe, verbatim: a duet of the user's own project at a git ref (the baseline) and its working
tree (the candidate), built as environments, interleaved in one run, and gated. It can fire.

The project is a small package of its own (``mypkg``, a git repository with an ``origin``) that exists only in
the environments: not installed in bench's Python, not on any path, no ``BENCH_ADAPTERS``, no adapter of this
repository. The README's ``bench.toml`` and its commands are read from the README and run as they stand, in the
project's folder, through the ``bench`` command on ``PATH``; the config gets only small timing budgets appended
(a user's own settings). Needs git and an installer able to build the environments (this machine's configured
indexes; skipped without them). Environments go to a temporary cache, so nothing is left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.invariants import TINY_TIMING
from tests.test_env_adapters import MODEL

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]
ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def readme_block(language: str, marker: str) -> str:
    """The README's fenced ``language`` block that contains ``marker``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"expected one {language} block with {marker!r} in the README"
    return found[0]


def commands(block: str) -> list[str]:
    """The block's shell commands, continuation lines joined, comments (whole lines) dropped."""
    joined = block.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   check=True, capture_output=True)  # fmt: skip


def make_mypkg(root: Path, config: str) -> Path:
    """``mypkg`` with its ``model.ChurnClassifier``, committed on ``main`` and pushed to an ``origin``."""
    repo = root / "mypkg-project"
    (repo / "mypkg").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "mypkg"\nversion = "0.1"\ndependencies = ["numpy", "scikit-learn"]\n\n'
        '[tool.setuptools]\npackages = ["mypkg"]\n'
    )
    (repo / "mypkg" / "__init__.py").write_text("WORK = 2_000_000\n")
    (repo / "mypkg" / "model.py").write_text(MODEL.replace("churnpkg", "mypkg"))
    (repo / "bench.toml").write_text(config)
    (repo / ".gitignore").write_text("results/\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(root / "origin.git")], check=True)
    git(repo, "remote", "add", "origin", str(root / "origin.git"))
    git(repo, "fetch", "-q", "origin")
    return repo


def test_the_readme_ci_recipe_verbatim_on_a_package_only_the_environments_have_fails_a_slower_candidate(tmp_path):
    config = readme_block("toml", "# bench.toml in your project") + TINY_TIMING + "control_span_s = 0.05\n"
    steps = commands(readme_block("bash", "# in your project's CI"))
    assert [s.split()[:2] for s in steps] == [["bench", "run"], ["bench", "compare"]]
    repo = make_mypkg(tmp_path, config)
    (repo / "mypkg" / "__init__.py").write_text("WORK = 4_000_000\n")  # the candidate: twice the work
    env = {k: v for k, v in os.environ.items() if k not in ("BENCH_ADAPTERS", "PYTHONPATH", "BENCH_METRICS")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               BENCH_ENV_CACHE=str(tmp_path / "envs"))  # fmt: skip
    assert subprocess.run([sys.executable, "-c", "import mypkg"], env=env, cwd=tmp_path).returncode != 0
    run = subprocess.run(["bash", "-c", steps[0]], cwd=repo, env=env, capture_output=True, text=True, timeout=1500)
    if run.returncode == 1 and any(w in run.stderr.lower() for w in ("network", "connect", "dns", "timed out")):
        pytest.skip(f"cannot install the worker's packages here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads((repo / "results/runs/ci/run.json").read_text())
    assert set(info["environments"]) == {"base", "head"} and info["until_precise"]["target_pct"] == 10
    records = [json.loads(line) for line in (repo / "results/runs/ci/records.jsonl").read_text().splitlines()]
    assert {r["environment"] for r in records} == {"base", "head"} and all(r["status"] == "ok" for r in records)
    assert {r["adapter_class"] for r in records} == {"mypkg.model:ChurnClassifier"}
    gate = subprocess.run(["bash", "-c", steps[1]], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert gate.returncode == 4, gate.stdout[-2000:] + gate.stderr[-2000:]
    last = gate.stdout.strip().splitlines()[-1]
    assert last.startswith("FAIL (exit 4)") and "iris/mypkg.model.ChurnClassifier/cpu fit time" in last
