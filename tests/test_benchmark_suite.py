"""The pytest-benchmark suite works end to end: saved per machine, self-describing.

Runs a small subset of tests/benchmarks in a subprocess (sklearn and torch
predict, a few rounds) with --benchmark-save into a temporary storage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_save_fingerprint_extra_info_and_percentiles(tmp_path):
    pytest.importorskip("torch")
    cmd = [
        sys.executable, "-m", "pytest", "tests/benchmarks", "--benchmark-only", "-q", "-p", "no:cacheprovider",
        "-k", "test_predict and one and not stock and (lr or torch) and cpu",
        "--benchmark-save=smoke", "--benchmark-save-data", f"--benchmark-storage=file://{tmp_path}", "--benchmark-group-by=group",
    ]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert "CPython" not in folder.name and folder.name.endswith(
        json.loads((next(folder.glob("*.json"))).read_text())["bench_fingerprint"]["machine_id"]
    )
    saved = json.loads(next(folder.glob("*_smoke.json")).read_text())
    assert saved["bench_fingerprint"]["cpu"]["logical_cores"] >= 1
    names = {b["name"]: b for b in saved["benchmarks"]}
    assert set(names) == {"test_predict[one-sklearn-lr-cpu]", "test_predict[one-torch-mlp-cpu]"}
    for bench in names.values():
        assert bench["group"] == "predict-one"
        data = np.asarray(bench["stats"]["data"], dtype=float)  # every round's duration, saved with the stats
        for q in (50, 90, 99):
            assert bench["stats"][f"p{q}"] == pytest.approx(np.percentile(data, q), rel=1e-12)
        assert bench["extra_info"]["percentiles_over_rounds"] == 500
        assert 0.5 < bench["extra_info"]["accuracy"] <= 1 and bench["extra_info"]["device"] == "cpu"
        assert bench["extra_info"]["threads"]["blas"]
    compare = subprocess.run(
        [str(Path(sys.executable).with_name("pytest-benchmark")), f"--storage=file://{tmp_path}", "compare", "--group-by=group"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert compare.returncode == 0 and "test_predict[one-torch-mlp-cpu]" in compare.stdout + compare.stderr


def test_the_suite_takes_a_dataset_by_option(tmp_path):
    """``--bench-data PATH --bench-target COL``: the user's CSV (text columns one-hot encoded), split 50/50."""
    rng = np.random.default_rng(0)
    rows = ["a,b,c,y"] + [f"{rng.normal():.4f},{rng.normal():.4f},{'pq'[i % 2]},{'uvw'[i % 3]}" for i in range(300)]
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n")
    common = [sys.executable, "-m", "pytest", "tests/benchmarks", "--benchmark-only", "-q", "-p", "no:cacheprovider",
              "-k", "test_predict and one and not stock and lr and cpu", "--bench-target", "y"]  # fmt: skip
    out = subprocess.run([*common, "--bench-data", str(tmp_path / "mine.csv"), "--bench-categorical", "onehot",
                          "--benchmark-save=mine", f"--benchmark-storage=file://{tmp_path / 'store'}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    saved = json.loads(next((tmp_path / "store").glob("*/*_mine.json")).read_text())
    assert saved["bench_dataset"]["source"] == str(tmp_path / "mine.csv") and saved["bench_dataset"]["rows"] == 300
    assert [b["extra_info"]["n_train"] for b in saved["benchmarks"]] == [150]
    bad = subprocess.run([*common, "--bench-data", str(tmp_path / "mine.csv")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    said = (bad.stdout + bad.stderr).strip().splitlines()
    assert bad.returncode == 1 and len(said) == 1 and "non-numeric feature column(s) c" in said[0], said
    assert "--bench-categorical onehot" in said[0] and " --categorical" not in said[0]  # the flag this command takes


def test_benchmark_disable_runs_each_benchmark_once_instead_of_skipping_it():
    """Issue 29, item 14: CI runs ``pytest tests/benchmarks --benchmark-disable`` (README), which must run the
    benchmarks (once each, untimed), not skip them as the default suite does; a broken one fails it."""
    cmd = [sys.executable, "-m", "pytest", "tests/benchmarks/test_bench_cli.py", "--benchmark-disable", "-q",
           "-p", "no:cacheprovider", "-k", "version"]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "1 passed" in out.stdout and "skipped" not in out.stdout, out.stdout[-2000:]
