"""Outputs that fit where users already work: JSON, HTML, MLflow, Parquet, hello_bench.load, a CI gate,
progress, figures that read at a glance."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hello_bench
from hello_bench.cli import main
from tests.test_report import record, write_run

ROOT = Path(__file__).resolve().parent.parent
has_jsonschema = importlib.util.find_spec("jsonschema") is not None


@pytest.fixture
def results(tmp_path):
    rng = np.random.default_rng(2)
    recs = []
    for s in range(6):
        base = 0.95 + 0.01 * rng.standard_normal()
        recs.append(record("sklearn-lr", s, base, fit=0.2, started_at=1.7e9 + s, finished_at=1.7e9 + s + 1))
        recs.append(record("torch-mlp:seed", s, base + 0.01 * rng.standard_normal(), fit=2.0 + 0.1 * s,
                           curve={"train_time_s": [0.5, 1.0, 1.5], "loss": [1.0, 0.5, 0.4], "test_accuracy": [0.6, 0.9, 0.95]}))  # fmt: skip
    write_run(tmp_path, "r1", recs)
    return tmp_path


def test_version_and_json_everywhere(results, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"bench {hello_bench.__version__}"
    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"sklearn-lr", "sklearn-mlp", "keras-mlp", "torch-mlp"} <= {a["name"] for a in listed["adapters"]}
    assert main(["env", "--json", "--no-control"]) == 0
    assert json.loads(capsys.readouterr().out)["cpu"]["model"]
    assert main(["report", "r1", "--results-dir", str(results), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    names = {t["name"] for t in report["tables"]}
    assert {"quality", "significance", "time", "trials"} <= names
    acc = next(t for t in report["tables"] if t["name"] == "quality")["rows"]
    assert {r["adapter"] for r in acc} == {"sklearn-lr", "torch-mlp:seed"}


def test_run_json_summary_and_exit_status_when_trials_fail(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_ADAPTERS", "fake-fail=tests.fake_adapters:FailingClassifier")
    monkeypatch.chdir(ROOT)
    code = main(["run", "--adapters", "fake-fail", "--devices", "cpu", "--splits", "2", "--run-id", "f",
                 "--results-dir", str(tmp_path), "--json", "--config", "quick"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert code == 3 and summary["exit_status"] == 3 and summary["statuses"] == {"ok": 1, "error": 1}
    if has_jsonschema:
        from hello_bench.schemas import validate

        validate("run", summary)  # its published JSON Schema


def test_bench_load_is_tidy_and_flat(results):
    df = hello_bench.load("r1", results_dir=results)
    assert len(df) == 12 and df["latency_p50_us"].notna().all()
    assert str(df["started_at"].dtype).startswith("datetime64")
    assert not any(isinstance(v, (dict, list)) for v in df.iloc[0])
    raw = hello_bench.load("r1", results_dir=results, raw=True)
    assert isinstance(raw["latency"].iloc[0], dict)
    with pytest.raises(hello_bench.UserError, match="No run 'nope'"):
        hello_bench.load("nope", results_dir=results)


def test_parquet_export_reads_back(results, tmp_path, capsys):
    out = tmp_path / "runs.parquet"
    assert main(["export", "r1", "--to", "parquet", "--out", str(out), "--results-dir", str(results)]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 12 and "fit_wall_s" in df and "latency_p50_us" in df


def test_compare_fail_above_is_a_ci_gate(tmp_path, capsys):
    """Two separate runs: without this machine's run-to-run variance the gate cannot decide on times (exit 5);
    every outcome and reason has its own test in tests/test_compare_gate.py."""
    write_run(tmp_path, "main", [record("torch-mlp", s, 0.95, fit=1.0 + 0.01 * s) for s in range(6)])
    write_run(tmp_path, "branch", [record("torch-mlp", s, 0.95, fit=1.3 + 0.013 * s) for s in range(6)])  # 30% slower
    assert main(["compare", "main", "branch", "--results-dir", str(tmp_path), "--fail-above", "10"]) == 5
    out = capsys.readouterr().out
    assert "INCONCLUSIVE (exit 5): run-to-run variance unknown" in out
    capsys.readouterr()
    assert main(["compare", "main", "branch", "--results-dir", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exit_status"] == 0 and any(t["name"] == "ratios" for t in data["tables"])


def test_progress_plain_lines_off_a_terminal_and_one_fitted_line_on_one():
    from rich.console import Console

    from hello_bench.run.progress import Progress

    stream = io.StringIO()
    progress = Progress(2, stream=stream)
    with progress:
        progress.started("iris/a/cpu/split-00")
        progress.finished("iris/a/cpu/split-00", "ok")
    assert re.match(r"1/2 trials  elapsed \d+:\d\d  ETA ", stream.getvalue()) and stream.getvalue().count("\n") == 1
    live = Progress(10, stream=io.StringIO(), live=True)
    live.started("iris/keras-mlp:seed[tensorflow]/cpu/split-07" + "/very-long" * 20)
    screen = io.StringIO()
    Console(file=screen, width=80, color_system=None).print(live)
    lines = screen.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 80 and "0/10" in lines[0]


def test_adapter_colours_are_fixed_by_name_in_every_process():
    from hello_bench.report.plots import colour

    labels = ["sklearn-lr", "sklearn-mlp:seed", "keras-mlp:seed[tensorflow]", "keras-mlp:seed[jax]", "keras-mlp:seed[torch]",
              "torch-mlp:seed", "torch-mlp:tuned", "keras-mlp:tuned[jax]", "sklearn.ensemble.HistGradientBoostingClassifier"]  # fmt: skip
    register = (
        "import pandas as pd; from hello_bench.run.config import AdapterSpec; from hello_bench.analysis.load import declared_fields; "
        "from hello_bench.report.plots import register_colours; "
        f"specs = [AdapterSpec.parse(l.replace('[', '@').rstrip(']')) for l in {labels!r}]; "
        "register_colours(declared_fields(pd.DataFrame([{'adapter': s.label, 'adapter_name': s.name, 'profile': s.profile, "
        "'backend': s.backend or 'default'} for s in specs])))"
    )
    exec(
        register, {}
    )  # colours come from record fields (the adapter's declared hue, its stock profile), as in a report
    here = [colour(label) for label in labels]
    assert len(set(here)) == len(labels)  # every adapter its own colour
    code = f"{register}; from hello_bench.report.plots import colour; print([colour(l) for l in {labels!r}])"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONHASHSEED="123"),
    )
    assert other.stdout.strip() == str(here)  # the same in another process (no hash randomisation)
    assert colour("torch-mlp:seed / cpu") == colour("torch-mlp:seed / gpu") == colour("torch-mlp:seed")


def test_log_axes_have_plain_number_ticks():
    from hello_bench.report import plots

    fig, ax = plots.plt.subplots()
    ax.plot([0.2, 40], [1, 2])
    ax.set_xscale("log")
    plots.plain_log_axis(ax.xaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"[0-9,.]+", label) for label in labels), labels
    plots.plt.close(fig)


def test_metrics_get_float64_normalised_probabilities():
    import warnings

    from hello_bench.measure.trial import scores

    proba = np.array([[0.2, 0.3, 0.5000001], [0.7, 0.2, 0.1]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's "y_prob values do not sum to one" would raise here
        result = scores(np.array(["a", "b", "c"]), np.array(["c", "a"]), proba)
    assert result["accuracy"] == 1.0
