"""The README's numbers are the reference records' numbers: regenerated, never typed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hello_bench.report.headline import BLOCKS, MARK, RUNS, update

ROOT = Path(__file__).resolve().parent.parent


def test_readme_generated_blocks_match_the_reference_records():
    readme = (ROOT / "README.md").read_text()
    names = {m.group("name") for m in MARK.finditer(readme)}
    assert names == set(BLOCKS), "every generated block is in the README, and only those"
    missing = [run for run, _ in RUNS.values() if not (ROOT / "results" / "runs" / run / "records.jsonl").exists()]
    if missing:
        pytest.fail(f"reference runs missing: {missing}")
    assert update(readme, ROOT / "results") == readme, "README.md is stale: run scripts/update-readme"


def _bench(clone: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hello_bench", *args], cwd=clone, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"bench {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.slow
def test_readme_main_commands_run_and_leave_git_status_clean(tmp_path):
    """`bench seed && bench run && bench report` (and scale, compare, export) in a clean clone: no tracked
    file changes and nothing untracked appears; the seed table has the post's rows."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    table = _bench(clone, "seed")
    assert "Keras MLP 4-16-3" in table and "PyTorch MLP" in table and "0.99" in table
    assert (clone / "results" / "reports" / "seed" / "iris-pairplot.png").exists()
    # `bench run`'s default matrix takes minutes; two splits of the LR take the same paths through the store.
    _bench(clone, "run", "--adapters", "sklearn-lr", "--splits", "2", "--run-id", "mine")
    _bench(clone, "report")
    _bench(clone, "run", "--adapters", "sklearn-lr", "--splits", "2", "--run-id", "mine-again")
    _bench(clone, "compare", "mine", "mine-again")  # a run against itself is refused: nothing to compare
    _bench(clone, "export", "mine", "--to", "parquet")
    _bench(clone, "scale", "--sizes", "100,200", "--adapters", "sklearn-lr", "--run-id", "mine-scale")
    assert (clone / "results" / "reports" / "mine" / "REPORT.md").exists()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert status == "", f"the README's commands dirtied the tree:\n{status}"
