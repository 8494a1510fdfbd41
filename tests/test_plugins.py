"""Third-party adapters: a framework the harness has never heard of, any scikit-learn classifier,
and broken plugins that must not break anything else.

The worked example of the README ("Write your own adapter") lives in
``examples/bench-plugin-example``: it is installed here with pip (offline,
into a temporary folder) and run through the ``bench`` CLI, so the example
the README shows is the one that is tested. No file under ``bench/`` knows it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "bench-plugin-example"


def bench(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hello_bench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """The example package pip-installed (no network, no dependencies) into a folder on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("example") / EXAMPLE.name  # pip builds in place: a copy keeps the checkout clean
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if build.returncode != 0:
        pytest.fail("installing the README's example failed:\n" + build.stdout[-2000:] + build.stderr[-2000:])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")])))
    env.pop("BENCH_ADAPTERS", None)
    return env


def test_example_plugin_is_listed_and_its_hooks_fill_the_records(plugin_env, tmp_path):
    listed = bench("list", "--json", env=plugin_env)
    assert listed.returncode == 0, listed.stderr
    toy = next(a for a in json.loads(listed.stdout)["adapters"] if a["name"] == "toy-centroid")
    assert toy["available"] and toy["framework"] == "toyframework"
    out = bench("run", "--adapters", "toy-centroid", "--splits", "2", "--devices", "cpu", "--run-id", "toy",
                "--results-dir", str(tmp_path), "--json", env=plugin_env)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["statuses"] == {"ok": 2}
    records = [json.loads(line) for line in (tmp_path / "runs" / "toy" / "records.jsonl").read_text().splitlines()]
    for record in records:
        assert record["framework"] == "toyframework" and record["framework_version"] == "2.7.1"  # its own hook
        assert record["threads"]["toy_threads"] == 1 and record["threads"]["blas"]  # its thread hook
        assert record["import_s"] >= 0.05  # cold start: its framework's (slow) import, timed
        assert record["device_name"] == "ToyAccelerator 9000 (host CPU)"  # its device hook
        assert record["model"] == "nearest-centroid" and record["accuracy"] > 0.8
    assert not any("toyframework" in p.read_text() for p in (ROOT / "bench").rglob("*.py"))
    report = bench("report", "toy", "--results-dir", str(tmp_path), env=plugin_env)
    assert report.returncode == 0, report.stderr


def test_any_sklearn_classifier_runs_reports_and_compares(tmp_path):
    hgb = "sklearn.ensemble.HistGradientBoostingClassifier"
    run = [
        "run",
        "--adapters",
        hgb,
        "--splits",
        "3",
        "--devices",
        "cpu",
        "--run-id",
        "a",
        "--results-dir",
        str(tmp_path),
    ]
    out = bench(*run)
    assert out.returncode == 0, out.stderr[-2000:]
    shutil.copytree(tmp_path / "runs" / "a", tmp_path / "runs" / "b")  # the same trials again, to compare with
    records = [json.loads(line) for line in (tmp_path / "runs" / "a" / "records.jsonl").read_text().splitlines()]
    assert {r["status"] for r in records} == {"ok"} and all(r["accuracy"] > 0.8 for r in records)
    assert records[0]["framework"] == "sklearn" and records[0]["framework_version"]
    assert records[0]["serving"]["onnxruntime"]["status"] in ("valid", "skipped")  # skl2onnx may not know it: said so
    assert bench("report", "a", "--results-dir", str(tmp_path)).returncode == 0
    compared = bench("compare", "a", "b", "--results-dir", str(tmp_path))
    assert compared.returncode == 0, compared.stderr
    text = (tmp_path / "reports" / "COMPARE-a-vs-b.md").read_text()
    # a long label is shortened on the page, with its full name in the page's legend
    assert f"iris/{hgb}/cpu" in text or (f"| L1      | {hgb} |" in text and "| iris/L1/cpu |" in text)


def test_not_a_classifier_is_one_line(tmp_path):
    out = bench("run", "--adapters", "sklearn.linear_model.LinearRegression", "--dry-run")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "is not a scikit-learn classifier" in out.stderr


def test_a_broken_plugin_is_listed_as_unavailable_and_breaks_nothing(tmp_path):
    env = dict(os.environ, BENCH_ADAPTERS="broken=no_such_module:Thing,fine=sklearn.naive_bayes:GaussianNB")
    listed = bench("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    adapters = {a["name"]: a for a in json.loads(listed.stdout)["adapters"]}
    assert not adapters["broken"]["available"] and "ModuleNotFoundError" in adapters["broken"]["reason"]
    assert adapters["fine"]["available"] and adapters["sklearn-lr"]["available"]
    out = bench(
        "run",
        "--adapters",
        "fine",
        "--splits",
        "1",
        "--devices",
        "cpu",
        "--run-id",
        "nb",
        "--results-dir",
        str(tmp_path),
        env=env,
    )
    assert out.returncode == 0, out.stderr[-1000:]
    bad = bench("run", "--adapters", "broken", "--dry-run", env=env)
    assert bad.returncode == 1 and "cannot load no_such_module:Thing" in bad.stderr and bad.stderr.count("\n") == 1
