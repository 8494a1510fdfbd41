"""The README's numbers are the reference records' numbers: regenerated, never typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.headline import BLOCKS, MARK, RUNS, update

ROOT = Path(__file__).resolve().parent.parent


def test_readme_generated_blocks_match_the_reference_records():
    readme = (ROOT / "README.md").read_text()
    names = {m.group("name") for m in MARK.finditer(readme)}
    assert names == set(BLOCKS), "every generated block is in the README, and only those"
    missing = [run for run, _ in RUNS.values() if not (ROOT / "results" / "runs" / run / "records.jsonl").exists()]
    if missing:
        pytest.fail(f"reference runs missing: {missing}")
    assert update(readme, ROOT / "results") == readme, "README.md is stale: run scripts/update-readme"
