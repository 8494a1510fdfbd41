"""A new metric is a measuring function plus one registry line: it then reaches every reader.

The metric comes from a plugin (``BENCH_METRICS``, as an entry point would give it): no file of the
harness names it, yet it is measured in the worker and found in the record, the report's summary
table, summary.csv, trials.csv, ``bench compare``, ``--json``, ``bench.load`` and the Parquet export.
"""

from __future__ import annotations

import csv
import json

import pandas as pd

import bench
from bench.cli import main

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


def test_a_plugin_metric_reaches_every_reader(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_ADAPTERS", "fake-ok=tests.fake_adapters:_Fake")
    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:N_PARAMS")
    (tmp_path / "c.toml").write_text(TOML)
    results = str(tmp_path / "results")
    for run_id in ("a", "b"):
        assert (
            main(["run", "--config", str(tmp_path / "c.toml"), "--run-id", run_id, "--results-dir", results, "--json"])
            == 0
        )
    capsys.readouterr()

    record = json.loads((tmp_path / "results/runs/a/records.jsonl").read_text().splitlines()[0])
    assert record["metrics"] == {"n_params": 12.0}  # 4 iris features x 3 classes

    out = tmp_path / "report"
    assert main(["report", "a", "--results-dir", results, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "n_params" in json.dumps(report) or "parameters" in json.dumps(report)
    assert "parameters" in (out / "REPORT.md").read_text()
    assert next(csv.DictReader((out / "summary.csv").open()))["n_params"] == "12"
    assert next(csv.DictReader((out / "trials.csv").open()))["n_params"] == "12"

    assert main(["compare", "a", "b", "--results-dir", results, "--out", str(tmp_path / "cmp"), "--json"]) in (0, 5)
    assert "parameters (B/A)" in capsys.readouterr().out

    assert list(bench.load("a", results_dir=results)["n_params"]) == [12.0] * 5
    parquet = tmp_path / "x.parquet"
    assert main(["export", "a", "--to", "parquet", "--out", str(parquet), "--results-dir", results]) == 0
    assert list(pd.read_parquet(parquet)["n_params"]) == [12.0] * 5
