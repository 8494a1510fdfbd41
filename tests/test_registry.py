"""A new metric is a measuring function plus one registry line: it then reaches every reader.

The metric comes from a plugin (``BENCH_METRICS``, as an entry point would give it): no file of the
harness names it, yet it is measured in the worker and found in the record, the report's summary
table, summary.csv, trials.csv, ``bench compare``, ``--json``, ``hello_bench.load`` and the Parquet export.
"""

from __future__ import annotations

import csv
import json

import pandas as pd

import hello_bench
from hello_bench.cli import main

TOML = """adapters = ["fake-ok"]
devices = ["cpu"]
splits = 5
[timing]
warmup = 1
latency_min_calls = 5
latency_budget_s = 0.005
stock_min_calls = 2
stock_budget_s = 0.005
batch_sizes = [1]
throughput_budget_s = 0.005
serving = false
curves = false
control_span_s = 0.02
"""


def test_plugin_metrics_of_three_kinds_reach_every_reader_and_the_gate(tmp_path, monkeypatch, capsys):
    """A count, a memory and a duration from a plugin: measured in the worker, in the record, the report's tables,
    the CSVs, compare (each as its kind says: exact, ratio, ratio), the gate when named, --json, hello_bench.load, Parquet."""
    monkeypatch.setenv("BENCH_ADAPTERS", "fake-ok=tests.fake_adapters:_Fake")
    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:ALL")
    (tmp_path / "c.toml").write_text(TOML)
    results = str(tmp_path / "results")
    for run_id in ("a", "b"):
        assert (
            main(["run", "--config", str(tmp_path / "c.toml"), "--run-id", run_id, "--results-dir", results, "--json"])
            == 0
        )
    capsys.readouterr()

    record = json.loads((tmp_path / "results/runs/a/records.jsonl").read_text().splitlines()[0])
    assert record["metrics"]["n_params"] == 12.0  # 4 iris features x 3 classes
    assert record["metrics"]["model_mb"] == 12 * 4 / 2**20 and record["metrics"]["scoring_s"] > 0

    out = tmp_path / "report"
    assert main(["report", "a", "--results-dir", results, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    tables = {t["name"]: t for t in report["tables"]}
    assert any("model size" in c["label"] for c in tables["memory"]["columns"])  # a memory: the memory table
    assert any("scoring time" in c["label"] for c in tables["time"]["columns"])  # a duration: the time table
    assert any("parameters" in c["label"] for c in tables["summary"]["columns"])
    assert next(csv.DictReader((out / "summary.csv").open()))["n_params"] == "12"
    assert next(csv.DictReader((out / "trials.csv").open()))["n_params"] == "12"

    args = ["compare", "a", "b", "--results-dir", results, "--out", str(tmp_path / "cmp"), "--json"]
    assert main([*args, "--gate-metrics", "n_params,model-mb,accuracy"]) == 0  # neither a timing: PASS between runs
    data = json.loads(capsys.readouterr().out)
    rows = {r["column"]: r for r in data["comparisons"][0]["rows"]}
    assert rows["n_params"]["compared_as"] == "exact" and rows["n_params"]["verdict"] == "identical on every split"
    assert rows["n_params"]["normalised"] is None and rows["n_params"]["gate"]["decision"] == "pass"
    assert rows["model_mb"]["compared_as"] == "ratio" and rows["model_mb"]["normalised"] is None  # not machine-bound
    assert rows["scoring_s"]["compared_as"] == "ratio" and rows["scoring_s"]["normalised"] is not None
    assert data["gate"]["outcome"] == "PASS"
    assert main([*args, "--gate-metrics", "scoring"]) == 5  # a duration between separate runs needs a calibration
    assert "run-to-run variance unknown" in json.loads(capsys.readouterr().out)["gate"]["lines"][0]

    frame = hello_bench.load("a", results_dir=results)
    assert list(frame["n_params"]) == [12.0] * 5 and frame["scoring_s"].gt(0).all()
    parquet = tmp_path / "x.parquet"
    assert main(["export", "a", "--to", "parquet", "--out", str(parquet), "--results-dir", results]) == 0
    exported = pd.read_parquet(parquet)
    assert list(exported["n_params"]) == [12.0] * 5 and list(exported["model_mb"]) == [12 * 4 / 2**20] * 5
