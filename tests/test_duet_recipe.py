"""The README's CI recipe, for real: a duet of the user's own project at a git ref (the baseline) and its
working tree (the candidate), built as environments, interleaved in one run, and gated. It can fire.

Needs uv or pip able to install the worker's packages (this machine's configured indexes; skipped without
them) and git. Environments go to a temporary cache, so nothing is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.invariants import TINY_TIMING
from tests.test_sources import make_project

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]
ROOT = Path(__file__).resolve().parent.parent
CONFIG = (
    """
adapters = ["fake-project"]
devices = ["cpu"]
splits = 5
trial_timeout_s = 120
"""
    + TINY_TIMING
    + """control_span_s = 0.05
"""
)


def test_the_ci_recipe_a_duet_of_a_git_ref_and_the_working_tree_fails_a_slower_candidate(tmp_path):
    repo = make_project(tmp_path, work=2_000_000)
    (repo / "benchdemo" / "__init__.py").write_text("WORK = 4_000_000\n")  # the candidate: twice the work
    (tmp_path / "bench.toml").write_text(CONFIG)
    env = dict(os.environ, BENCH_ADAPTERS="fake-project=tests.fake_adapters:ProjectClassifier",
               BENCH_ENV_CACHE=str(tmp_path / "envs"))  # fmt: skip
    results = str(tmp_path / "results")
    run = subprocess.run([sys.executable, "-m", "bench", "run", "--config", str(tmp_path / "bench.toml"), "--run-id", "ci",
                          "--results-dir", results, "--env", f"base=benchdemo @ git+file://{repo}@main",
                          "--env", f"head=benchdemo @ file://{repo}", "--until-precise", "20", "--max-time", "30"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)  # fmt: skip
    if run.returncode == 1 and any(
        w in run.stderr.lower() for w in ("network", "connect", "dns", "resolve", "timed out")
    ):
        pytest.skip(f"cannot install the worker's packages here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads((tmp_path / "results/runs/ci/run.json").read_text())
    assert set(info["environments"]) == {"base", "head"} and info["until_precise"]["target_pct"] == 20
    records = [json.loads(line) for line in (tmp_path / "results/runs/ci/records.jsonl").read_text().splitlines()]
    assert {r["environment"] for r in records} == {"base", "head"} and all(r["status"] == "ok" for r in records)
    gate = subprocess.run([sys.executable, "-m", "bench", "compare", "ci%base", "ci%head", "--fail-above", "10",
                           "--results-dir", results, "--out", str(tmp_path / "cmp")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert gate.returncode == 4, gate.stdout[-2000:] + gate.stderr[-2000:]
    last = gate.stdout.strip().splitlines()[-1]
    assert last.startswith("FAIL (exit 4)") and "iris/fake-project/cpu fit time" in last
