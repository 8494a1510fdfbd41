"""Typed JSON everywhere: every command's --json output matches its published JSON Schema; numbers are numbers,
intervals are {value, interval: [low, high], level}, keys are stable snake_case."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hello_bench.cli import main
from hello_bench.schemas import INPUTS, NAMES, schema
from tests.test_report import record, write_run

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parent.parent
SNAKE = re.compile(r"[a-z][a-z0-9_]*")


def validate(name: str, data: dict) -> None:
    jsonschema.validate(data, schema(name), cls=jsonschema.Draft202012Validator)


def run_json(capsys: pytest.CaptureFixture, *args: str, code: int = 0) -> dict:
    assert main(list(args)) == code
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("json")
    rng = np.random.default_rng(3)
    for run, env_id in (("a", "m1"), ("b", "m2")):
        recs = []
        for s in range(6):
            base = 0.95 + 0.01 * rng.standard_normal()
            recs.append(record("sklearn-lr", s, base, fit=0.2, started_at=1.7e9 + s, finished_at=1.7e9 + s + 1))
            recs.append(record("torch-mlp:seed", s, base + 0.01 * rng.standard_normal(), fit=2.0 + 0.1 * s,
                               curve={"train_time_s": [0.5, 1.0], "loss": [1.0, 0.5], "test_accuracy": [0.6, 0.9]}))  # fmt: skip
        write_run(
            root, run, recs, env={"machine_id": env_id, "hostname": env_id, "cpu": {"model": "CPU", "logical_cores": 2}}
        )
    scale = [record("sklearn-lr", 0, 0.9, fit=0.01 * n, dataset_source=f"synthetic:n_samples={n},n_features=4",
                    n_train=int(0.8 * n), n_test=int(0.2 * n), rss_peak_mb=100.0, trial_id=f"synthetic-{n}/sklearn-lr/cpu/split-00",
                    dataset=f"synthetic-{n}") for n in (100, 1000, 10000)]  # fmt: skip
    (write_run(root, "sweep", scale) / "run.json").write_text(json.dumps({"kind": "scale"}))
    return root


def keys_are_snake(data: object, where: str = "") -> list[str]:
    """Keys that are not snake_case (maps of names, such as package versions, excepted)."""
    bad = []
    if isinstance(data, dict):
        for key, value in data.items():
            if not SNAKE.fullmatch(key) and where not in ("/packages", "/env"):
                bad.append(f"{where}/{key}")
            bad += keys_are_snake(value, f"{where}/{key}")
    elif isinstance(data, list):
        for item in data:
            bad += keys_are_snake(item, where)
    return bad


def test_every_schema_is_published_and_valid(capsys):
    assert main(["schema"]) == 0 and capsys.readouterr().out.split() == list(NAMES + INPUTS)
    for name in NAMES + INPUTS:
        jsonschema.Draft202012Validator.check_schema(schema(name))
        assert (ROOT / "bench" / "schemas" / f"{name}.json").is_file()
    assert run_json(capsys, "schema", "report") == schema("report")


def test_report_and_compare_json_are_typed(results, capsys, tmp_path):
    report = run_json(capsys, "report", "a", "--results-dir", str(results), "--out", str(tmp_path / "r"), "--json")
    validate("report", report)
    acc = next(t for t in report["tables"] if t["name"] == "quality")
    cell = acc["rows"][0]["accuracy_mean"]
    assert set(cell) == {"value", "interval", "level"} and isinstance(cell["value"], float) and cell["level"] == 0.95
    assert len(cell["interval"]) == 2 and all(isinstance(x, float) for x in cell["interval"])
    assert isinstance(acc["rows"][0]["splits"], int) and not keys_are_snake(report)
    assert report["findings"] and report["sections"][0]["anchor"]
    compared = run_json(
        capsys, "compare", "a", "b", "--results-dir", str(results), "--out", str(tmp_path / "c"), "--json"
    )
    validate("compare", compared)
    assert not keys_are_snake(compared)
    gated = run_json(capsys, "compare", "a", "b", "--results-dir", str(results), "--out", str(tmp_path / "c"), "--json",
                     "--fail-above", "10", code=5)  # fmt: skip
    validate("compare", gated)
    rows = gated["comparisons"][0]["rows"]
    fit = next(r for r in rows if r["metric"] == "fit")
    assert isinstance(fit["estimate"]["value"], float) and fit["gate"]["threshold"] == 10.0
    assert fit["gate"]["decision"] == "undecided" and "run-to-run variance" in fit["gate"]["reason"]
    assert all(isinstance(r["pairs"], int) for r in rows)


def test_scale_export_and_publish_json(results, capsys, tmp_path):
    scale = run_json(
        capsys, "scale", "--report", "sweep", "--results-dir", str(results), "--out", str(tmp_path / "s"), "--json"
    )
    validate("scale", scale)
    growth = next(t for t in scale["tables"] if t["name"] == "sizes")["rows"]
    assert [r["rows"] for r in growth] == [100, 1000, 10000]  # "1,000" on the page, 1000 in JSON
    out = tmp_path / "x.parquet"
    exported = run_json(
        capsys, "export", "a", "b", "--to", "parquet", "--out", str(out), "--results-dir", str(results), "--json"
    )
    validate("export", exported)
    assert exported["rows"] == 24 and exported["run_ids"] == ["a", "b"]
    site = run_json(capsys, "publish", "--out", str(tmp_path / "site"), "--results-dir", str(results), "--json")
    validate("publish", site)
    history = run_json(
        capsys, "history", "a", "b", "--results-dir", str(results), "--out", str(tmp_path / "h"), "--json"
    )
    validate("history", history)
    assert all(isinstance(p["estimate"]["value"], float) and p["estimate"]["level"] == 0.95 for p in history["points"])
    assert {p["mean"] for p in history["points"]} == {"arithmetic", "geometric"}  # accuracy; fit time and latency
    assert all(len(p["estimate"]["interval"]) == 2 for p in history["points"] if p["metric"] == "fit_wall_s")


def test_check_json(capsys):
    validate("check", run_json(capsys, "check", "sklearn-lr", "--json"))


def test_run_dry_run_env_list_and_seed_json(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    dry = run_json(capsys, "run", "--quick", "--dry-run", "--no-pilot", "--json", "--results-dir", str(tmp_path))
    validate("run-dry-run", dry)  # estimates with pilots: tests/test_estimate.py
    assert dry["n_trials"] == len(dry["trials"]) > 0 and isinstance(dry["trials"][0]["split_seed"], int)
    validate("env", run_json(capsys, "env", "--no-control", "--json"))
    listed = run_json(capsys, "list", "--json")
    validate("list", listed)
    assert all(isinstance(d["present"], bool) for d in listed["devices"])
    from hello_bench.cli.commands import seed_json
    from hello_bench.report.seed import seed_rows

    recs = [record(a, 0, 0.9, warnings=[]) for a in ("sklearn-lr", "keras-mlp:seed", "torch-mlp:seed")]
    validate("seed", seed_json("seed-x", seed_rows(recs), 0))


def test_calibrate_report_json_matches_its_schema(capsys, tmp_path):
    """``bench calibrate --report RUN --json`` of the committed quick calibration: typed, with its schema."""
    data = run_json(capsys, "calibrate", "--report", "reference-calibration-quick-cpu-2core", "--results-dir",
                    str(ROOT / "results"), "--out", str(tmp_path / "c"), "--json")  # fmt: skip
    validate("calibrate", data)
    assert data["command"] == "calibrate" and data["exit_status"] == 0
    assert isinstance(data["calibration"]["aa"]["n"], int)
