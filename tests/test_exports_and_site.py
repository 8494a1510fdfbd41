"""Exports keep everything (Parquet, hello_bench.load, MLflow read back with MLflow's own client), and `bench publish`
writes a static site of every run that links only to its own files."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hello_bench
from hello_bench.cli import main
from hello_bench.record import SCHEMA_VERSION
from tests.test_report import record, write_run

CURVE = {"train_time_s": [0.5, 1.0, 1.5], "loss": [1.0, 0.5, 0.4], "test_accuracy": [0.6, 0.9, 0.95]}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """q1 and q2 hold the same splits (a run and its repeat); q3 ran the same matrix on another machine."""
    root = tmp_path_factory.mktemp("exports")
    rng = np.random.default_rng(4)
    for run, machine in (("q1", "m1"), ("q2", "m1"), ("q3", "m2")):
        recs = []
        for s in range(5):
            base = 0.95 + 0.01 * rng.standard_normal()
            t0 = 1.7e9 + 100 * s
            recs.append(record("sklearn-lr", s, base, fit=0.2, started_at=t0, finished_at=t0 + 1))
            recs.append(record("torch-mlp:seed", s, base, fit=2.0, started_at=t0 + 2, finished_at=t0 + 5, curve=CURVE))
        write_run(
            root,
            run,
            recs,
            env={"machine_id": machine, "hostname": machine, "cpu": {"model": "CPU", "logical_cores": 2}},
        )
    return root


def test_parquet_export_and_bench_load_keep_every_run(results, tmp_path, capsys):
    out = tmp_path / "both.parquet"
    assert main(["export", "q1", "q2", "--to", "parquet", "--out", str(out), "--results-dir", str(results)]) == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 20 and frame.groupby("run_id").size().to_dict() == {"q1": 10, "q2": 10}
    loaded = hello_bench.load("q1", "q2", results_dir=results)
    assert len(loaded) == 20 and set(loaded["run_id"]) == {"q1", "q2"}
    assert (
        main(["export", "q1", "q2", "--to", "parquet", "--results-dir", str(results)]) == 0
    )  # default: results/reports
    assert (results / "reports" / "q1+q2.parquet").is_file()


@pytest.fixture(scope="module")
def mlflow_store(results: Path) -> Path:
    pytest.importorskip("mlflow")
    pytest.importorskip("sqlalchemy")
    assert main(["export", "q1", "--to", "mlflow", "--results-dir", str(results)]) == 0
    return results / "mlflow" / "mlflow.db"


def test_mlflow_export_reads_back_with_a_stock_client(mlflow_store, results, monkeypatch, capsys):
    for name in [n for n in os.environ if n.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)  # the stock client, default settings
    from mlflow.tracking import MlflowClient

    assert mlflow_store.is_file() and not Path("mlruns").exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{mlflow_store}")
    experiment = client.get_experiment_by_name("hello-bench")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("bench.level") == "run"]
    trials = [r for r in runs if r.data.tags.get("bench.level") == "trial"]
    assert len(parents) == 1 and len(trials) == 10
    assert all(t.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for t in trials)
    one = next(t for t in trials if t.data.tags["trial_id"] == "iris/torch-mlp:seed/cpu/split-01")
    assert one.info.start_time == int((1.7e9 + 102) * 1000) and one.info.end_time == int((1.7e9 + 105) * 1000)
    history = client.get_metric_history(one.info.run_id, "curve_test_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.6), (2, 0.9), (3, 0.95)]
    assert one.data.tags["bench.schema_version"] == str(SCHEMA_VERSION) and one.data.tags["bench.finished_at"]
    assert one.data.params["adapter"] == "torch-mlp:seed" and one.data.metrics["fit_wall_s"] == 2.0
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"environment.json", "config.json", "report"} <= artifacts
    report = {a.path for a in client.list_artifacts(parents[0].info.run_id, "report")}
    assert {"report/REPORT.md", "report/report.html", "report/figures"} <= report
    assert main(["export", "q1", "--to", "mlflow", "--results-dir", str(results)]) == 0
    assert "Exported 0 trials" in capsys.readouterr().out  # a repeated export doubles nothing


def test_unreachable_tracking_server_is_one_line_within_30_s(results, capsys):
    pytest.importorskip("mlflow")
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    code = main(
        ["export", "q1", "--to", "mlflow", "--tracking-uri", f"http://127.0.0.1:{port}", "--results-dir", str(results)]
    )
    err = capsys.readouterr().err
    assert code == 1 and time.monotonic() - start < 30
    assert len(err.strip().splitlines()) == 1 and "not reachable" in err


def test_publish_writes_its_own_files_into_an_existing_folder(results, tmp_path):
    from hello_bench.report import publish

    site = tmp_path / "site"
    site.mkdir()
    (site / "CNAME").write_text("bench.example\n")  # a site checkout's own file

    @publish.register
    def extra(s: publish.Site) -> list[publish.Page]:  # the hook for other commands' pages
        return [publish.Page("notes", "Notes", "notes/index.html", hello_bench.report.document.Doc("Notes"))]

    try:
        written = publish.publish(site, results)
    finally:
        publish._BUILDERS.remove(extra)
    assert (site / "CNAME").read_text() == "bench.example\n"
    paths = {p["path"] for p in written["pages"]}
    assert {"runs/q1/index.html", "runs/q3/index.html", "compare/q2--q3/index.html", "notes/index.html"} <= paths
    assert "history/index.html" in paths  # bench history over the three matrix runs
    index = (site / "index.html").read_text()
    links = re.findall(r'href="([^"#]+)"', index)
    assert links and all((site / link).is_file() for link in links)  # relative links that resolve (file://)
    page = (site / "runs" / "q1" / "index.html").read_text()
    assert '<script src="../../assets/plotly.min.js">' in page and (site / "assets" / "plotly.min.js").is_file()
    assert not re.search(r'(src|href)="(https?:)?//', index + page)
    assert json.loads(json.dumps(written))["runs"] == 3
    # published again with one run: the pages of the others go, the checkout's own file and the user's stay
    (site / "runs" / "mine.txt").write_text("kept\n")
    again = publish.publish(site, results, ["q1", "q1"])  # a run named twice is one run
    assert {p["path"] for p in again["pages"]} == {"runs/q1/index.html"} and again["runs"] == 1
    assert not (site / "runs" / "q3").exists() and not (site / "compare").exists() and not (site / "notes").exists()
    assert (site / "CNAME").is_file() and (site / "runs" / "mine.txt").is_file()
    assert "q3" not in (site / "index.html").read_text()


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="headless Chromium is not installed (apt-get install chromium)"
)
def test_a_site_page_draws_its_figures_from_file_urls(results, tmp_path):
    from hello_bench.report import publish

    publish.publish(tmp_path / "site", results, runs=["q1"])
    page = (tmp_path / "site" / "runs" / "q1" / "index.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom", page]  # fmt: skip
    dom = subprocess.run([shutil.which("chromium"), *flags], capture_output=True, text=True, timeout=120).stdout
    assert 'data-plots="drawn"' in dom and "main-svg" in dom  # plotly.js from ../../assets, over file://


def test_a_parquet_export_named_as_another_format_is_refused(tmp_path, capsys):
    from tests.test_report import record, write_run

    write_run(tmp_path, "q", [record("lr", s, 0.9) for s in range(2)])
    for name in ("exp.csv", "exp", "exp.json"):
        assert (
            main(["export", "q", "--to", "parquet", "--out", str(tmp_path / name), "--results-dir", str(tmp_path)]) == 1
        )
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "ends in .parquet" in err and not (tmp_path / name).exists()
