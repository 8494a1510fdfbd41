"""Reports and comparisons from stored records (synthetic runs with known numbers)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from hello_bench.cli import main
from hello_bench.record import RAW_FIELDS, SCHEMA_VERSION
from hello_bench.report.build import write_report
from hello_bench.report.compare import compare_runs

ENV = {"machine_id": "m1", "hostname": "a", "cpu": {"model": "CPU A", "logical_cores": 2}, "gpus": [],
       "packages": {"torch": "2.0"}, "control": {"numpy_matmul_256_ms": 1.0, "python_loop_200k_ms": 10.0}}  # fmt: skip


def record(adapter, split, acc, fit=1.0, status="ok", device="cpu", **extra):
    rec = {
        "schema_version": SCHEMA_VERSION, "trial_id": f"iris/{adapter}/{device}/split-{split:02d}", "dataset": "iris",
        "adapter": adapter, "device": device, "split_seed": split, "init_seed": split, "status": status,
    }  # fmt: skip
    if status == "ok":
        rec.update(
            accuracy=min(max(acc, 0.0), 1.0), f1_macro=min(max(acc, 0.0), 1.0), log_loss=0.1, fit_wall_s=fit, cold_predict_s=0.01, n_train=75, n_test=75,
            latency={"p50_us": 100.0 * fit, "p90_us": 120.0, "p99_us": 150.0, "n": 300},
            stock_latency={"p50_us": 200.0, "p90_us": 220.0, "p99_us": 250.0, "n": 20},
            throughput_sps={"1": 1e4, "32": 1e5}, latency_raw_ns=[100_000] * 5, stock_latency_raw_ns=[200_000] * 5,
        )  # fmt: skip
    rec.update(extra)
    return rec


def stored(rec: dict) -> str:
    """One record as a line of records.jsonl (today's schema keeps per-call durations in raw.jsonl)."""
    return json.dumps({k: v for k, v in rec.items() if k not in RAW_FIELDS})


def write_run(root, run_id, records, env=ENV):
    path = root / "runs" / run_id
    path.mkdir(parents=True)
    adapters = list(dict.fromkeys(r["adapter"] for r in records))  # as a real run's config lists them
    (path / "config.json").write_text(
        json.dumps({"splits": 8, "test_size": 0.5, "adapters": [{"name": a} for a in adapters]})
    )
    (path / "environment.json").write_text(json.dumps(env))
    # As a run of today's schema stores them: per-call durations in raw.jsonl, apart from the records.
    raw = [{"trial_id": r["trial_id"], **{k: r[k] for k in RAW_FIELDS if k in r}} for r in records]
    kept = [{k: v for k, v in r.items() if k not in RAW_FIELDS} for r in records]
    (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    if any(len(r) > 1 for r in raw):
        (path / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in raw if len(r) > 1))
    return path


@pytest.fixture
def run_dir(tmp_path):
    rng = np.random.default_rng(1)
    recs = []
    for s in range(8):
        base = 0.95 + 0.01 * rng.standard_normal()
        recs.append(record("sklearn-lr", s, base, fit=0.2))
        recs.append(record("mlp-close", s, base + 0.01 * rng.standard_normal(), fit=2.0))  # noise only
        recs.append(record("mlp-better", s, base + 0.04 + 0.001 * s % 0.003, fit=4.0))  # always +0.04
        recs.append(record("sklearn-lr", s, None, status="skipped", device="gpu", reason="does not run on gpu"))
    recs.append(record("mlp-close", 99, None, status="error", reason="RuntimeError: boom"))
    incomplete = record("mlp-close", 98, 0.9)
    del incomplete["latency"], incomplete["throughput_sps"]  # an older or partial record
    recs.append(incomplete)
    write_run(tmp_path, "r1", recs)
    return tmp_path


def test_report_sections_and_verdicts(run_dir):
    path = write_report(["r1"], run_dir).markdown
    text = path.read_text()
    assert "| iris      | sklearn-lr | gpu      | 0    | 8         | 0       | 0         | does not run on gpu" in text
    assert "RuntimeError: boom" in text
    rows = {
        line.split("|")[3].strip(): line
        for line in text.splitlines()
        if line.startswith("| iris")
        and "won/tied" not in line
        and "verdict" not in line
        and "| cpu " in line
        and ("not significant" in line or "accurate" in line)
    }
    assert "not significant" in rows["mlp-close"]
    assert "mlp-better more accurate (p < 0.05 after Holm)" in rows["mlp-better"]
    assert "8/0/0" in rows["mlp-better"]
    assert "Nadeau-Bengio" in text
    out = path.parent
    assert out == run_dir / "reports" / "r1"  # a user's report never overwrites the committed reference
    for name in (
        "accuracy-per-split.png",
        "fit-time.png",
        "latency-distribution.png",
        "throughput.png",
        "accuracy-vs-fit-time.png",
    ):
        assert (out / "figures" / name).stat().st_size > 1000
    assert (out / "summary.csv").exists() and (out / "trials.csv").exists()


def test_report_is_regenerated_identically(run_dir):
    strip = lambda t: re.sub(r"^Generated .*$", "", t, flags=re.M)  # noqa: E731
    first = strip(write_report(["r1"], run_dir).markdown.read_text())
    second = strip(write_report(["r1"], run_dir).markdown.read_text())
    assert first == second


def test_report_bad_inputs_are_one_line_errors(run_dir, tmp_path, capsys):
    assert main(["report", "nope", "--results-dir", str(run_dir)]) == 1
    assert "No run 'nope'" in capsys.readouterr().err
    assert main(["report", "r1", "--results-dir", str(run_dir), "--baseline", "xgboost"]) == 1
    assert "Baseline 'xgboost' is not in these runs" in capsys.readouterr().err
    bad = write_run(tmp_path / "other", "r2", [record("a", 0, 0.9)])
    with (bad / "records.jsonl").open("a") as fh:
        fh.write("garbage\n" + json.dumps(record("a", 1, 0.9)) + "\n")
    assert main(["report", "r2", "--results-dir", str(tmp_path / "other")]) == 1
    assert "records.jsonl:2: not a valid record" in capsys.readouterr().err
    future = write_run(tmp_path / "future", "r3", [{**record("a", 0, 0.9), "schema_version": 7}])
    assert main(["report", "--results-dir", str(future.parent.parent)]) == 1
    assert "record schema 7" in capsys.readouterr().err
    assert main(["report", "--results-dir", str(tmp_path / "empty")]) == 1
    assert "No runs under" in capsys.readouterr().err


def test_compare_two_machines(tmp_path):
    a = [record("torch-mlp", s, 0.95, fit=1.0 + 0.01 * s) for s in range(6)]
    b = [record("torch-mlp", s, 0.95, fit=2.0 + 0.02 * s) for s in range(5)]  # twice as slow, one split missing
    b.append(record("keras-mlp", 0, 0.9))
    write_run(tmp_path, "laptop", a)
    write_run(tmp_path, "server", b, env={**ENV, "machine_id": "m2", "cpu": {"model": "CPU B", "logical_cores": 64},
                                          "control": {"numpy_matmul_256_ms": 0.5, "python_loop_200k_ms": 10.0}})  # fmt: skip
    text = compare_runs(["laptop", "server"], tmp_path).path.read_text()
    assert re.search(r"\| cpu\.model\s+\| CPU A\s+\| CPU B\s+\|", text)
    assert re.search(r"\| cpu\.logical_cores\s+\| 2\s+\| 64\s+\|", text)
    fit_line = next(line for line in text.splitlines() if "fit time (B/A)" in line)
    assert "2 [2, 2]" in fit_line and "slower" in fit_line
    acc_line = next(line for line in text.splitlines() if "accuracy (B - A)" in line)
    assert "identical on every split" in acc_line  # zero variance: no test, no verdict
    assert "| A only | iris/torch-mlp/cpu" in text and "| B only | iris/keras-mlp/cpu" in text
    assert re.search(r"\| numpy_matmul_256_ms \(older, short\)\s+\| 1\s+\| 1\s+\| 0.5\s+\| 1\s+\| 0.5", text)
    # the speed index of older controls: sqrt(loop x matmul), sqrt(10 x 0.5) / sqrt(10 x 1) = 0.707
    assert "Control ratio (speed index) B/A: 0.707" in text
    assert "| 2 [2, 2]" in fit_line and "| 2.83" in fit_line  # raw beside normalised: 2 / 0.707
    assert (tmp_path / "reports" / "figures" / "compare-laptop-vs-server.png").exists()


def test_compare_needs_two_runs(tmp_path, capsys):
    assert main(["compare", "only-one", "--results-dir", str(tmp_path)]) == 1
    assert "needs at least two runs" in capsys.readouterr().err


def test_one_run_two_machines_split_and_compared(tmp_path):
    recs = []
    for host, fit in (("laptop", 1.0), ("server", 0.25)):
        for s in range(5):  # five pairs: the fewest a ratio verdict is drawn from
            r = record(
                "torch-mlp",
                s,
                0.95,
                fit=fit + 0.01 * s,
                hostname=host,
                pinned_host=host,  # the version-1 spelling of host, read as host
                schema_version=1,
                workers_on_host=2,
                machine_id=host,
            )
            r["trial_id"] += f"@{host}"
            recs.append(r)
    write_run(tmp_path, "two", recs)
    text = write_report(["two"], tmp_path).markdown.read_text()
    assert "| iris      | torch-mlp | cpu@laptop" in text and "| iris      | torch-mlp | cpu@server" in text
    assert "## Shared machines" in text
    cmp_text = compare_runs(["two@laptop", "two@server"], tmp_path).path.read_text()
    fit_line = next(line for line in cmp_text.splitlines() if "fit time (B/A)" in line)
    assert "faster" in fit_line and "Every trial was matched." in cmp_text
    with pytest.raises(Exception, match="no records from machine 'desktop'. Machines: laptop, server"):
        compare_runs(["two@laptop", "two@desktop"], tmp_path)
