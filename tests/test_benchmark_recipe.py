"""The README's pytest-benchmark recipe, as written: save, compare against the last save, fail on a regression.

Runs one fast benchmark (scikit-learn's predict on one sample) three times in
subprocesses, in a temporary storage folder instead of ``.benchmarks``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBSET = ["-k", "test_predict and one and not stock and lr and cpu", "-p", "no:cacheprovider", "-q"]


def pytest_run(storage: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "--benchmark-only", *args, f"--benchmark-storage=file://{storage}", *SUBSET]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_save_compare_and_compare_fail_work_as_the_readme_says(tmp_path):
    saved = pytest_run(tmp_path, "--benchmark-save=laptop")
    assert saved.returncode == 0, saved.stdout[-2000:] + saved.stderr[-2000:]
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (save,) = folder.glob("0001_laptop.json")
    same = pytest_run(tmp_path, "--benchmark-compare", "--benchmark-compare-fail=median:1000%")
    text = same.stdout + same.stderr
    assert same.returncode == 0, text[-3000:]
    assert "Can't compare" not in text and "0001_laptop" in text  # found the save, in this machine's folder
    data = json.loads(save.read_text())
    for bench in data["benchmarks"]:  # pretend the saved run was 1000 times faster: now a regression
        bench["stats"] = {k: v / 1000 if isinstance(v, float) and k not in ("ops", "iqr_outliers") else v
                          for k, v in bench["stats"].items()}  # fmt: skip
    save.write_text(json.dumps(data))
    worse = pytest_run(tmp_path, "--benchmark-compare", "--benchmark-compare-fail=median:10%")
    assert worse.returncode == 4, (worse.stdout + worse.stderr)[-3000:]  # bench's status for a regression
    assert "regression: test_predict[one-sklearn-lr-cpu]" in worse.stdout
