"""`bench compare --fail-above`: one printed line and one exit status per outcome, on hand-made runs.

A duet (both sides in one run, ``RUN%base`` against ``RUN%head``) pairs on the split; two separate runs
need the machine's run-to-run variance (a calibration) before timing metrics are tested.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hello_bench.cli import main
from tests.test_report import record, write_run


def _duet(tmp_path, head: dict, splits: int = 6, run_id: str = "duet", seed: int = 0, drop: dict | None = None):
    """A run holding both environments; ``head`` maps adapter -> (fit factor, accuracy shift), or a status string."""
    rng = np.random.default_rng(seed)
    recs = []
    for s in range(splits):
        for adapter in ("sklearn-lr", "torch-mlp"):
            acc = 0.95 + 0.01 * rng.standard_normal()
            fit = (0.2 if adapter == "sklearn-lr" else 1.0) * (1 + 0.01 * rng.standard_normal())
            base = record(adapter, s, acc, fit=fit, environment="base")
            base["trial_id"] += "%base"
            spec = head.get(adapter, (1.0, 0.0))
            if isinstance(spec, str):
                other = record(adapter, s, None, status=spec, reason="RuntimeError: boom", environment="head")
            else:
                shift = spec[1] + (0.01 * rng.standard_normal() if spec[1] else 0.0)
                other = record(adapter, s, acc + shift, fit=fit * spec[0] * (1 + 0.01 * rng.standard_normal()),
                               environment="head")  # fmt: skip
                for field in (drop or {}).get(adapter, ()):
                    other.pop(field, None)
            other["trial_id"] += "%head"
            recs += [base, other]
    write_run(tmp_path, run_id, recs)


def _compare(tmp_path, capsys, *args):
    code = main(
        ["compare", *args, "--results-dir", str(tmp_path), "--out", str(tmp_path / "out"), "--fail-above", "10"]
    )
    out = capsys.readouterr().out.strip().splitlines()
    return code, out[-1]


def test_duet_pass(tmp_path, capsys):
    _duet(tmp_path, {})
    code, line = _compare(tmp_path, capsys, "duet%base", "duet%head")
    assert code == 0 and line.startswith("PASS (exit 0): all ")
    assert line.endswith(
        "gated: accuracy a drop > 2 points; fit time B/A > 1.1x; predict p50 B/A > 1.1x; "
        "throughput batch 1 B/A < 0.909x; throughput batch 32 B/A < 0.909x"
    )  # it names what it gated


def test_a_calibration_named_for_a_duet_is_checked_too(tmp_path, capsys):
    """--calibration is used by separate runs only, but a name that is no calibration is one line wherever given."""
    _duet(tmp_path, {})
    assert main(["compare", "duet%base", "duet%head", "--results-dir", str(tmp_path), "--calibration", "nosuch"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "nosuch" in err


def test_duet_fail_on_timing(tmp_path, capsys):
    _duet(tmp_path, {"torch-mlp": (1.3, 0.0)})
    code, line = _compare(tmp_path, capsys, "duet%base", "duet%head")
    assert code == 4 and line.startswith("FAIL (exit 4)") and "iris/torch-mlp/cpu fit time 1.3x" in line


def test_duet_fail_on_accuracy(tmp_path, capsys):
    _duet(tmp_path, {"sklearn-lr": (1.0, -0.10)})
    code, line = _compare(tmp_path, capsys, "duet%base", "duet%head")
    assert code == 4 and "iris/sklearn-lr/cpu accuracy -10 points" in line and "a drop > 2 points" in line


def test_inconclusive_too_few_pairs(tmp_path, capsys):
    _duet(tmp_path, {}, splits=3)
    code, line = _compare(tmp_path, capsys, "duet%base", "duet%head")
    assert code == 5 and line.startswith("INCONCLUSIVE (exit 5): too few pairs: ")
    assert "; gated: accuracy a drop > 2 points; fit time B/A > 1.1x" in line  # every outcome names its thresholds


def test_inconclusive_interval_across_the_threshold(tmp_path, capsys):
    rng = np.random.default_rng(3)
    recs = []
    for s in range(6):
        base = record(
            "sklearn-lr", s, 0.95, fit=1.0, environment="base", trial_id=f"iris/sklearn-lr/cpu/split-{s:02d}%base"
        )
        noisy = 1.1 * float(np.exp(0.08 * rng.standard_normal()))
        head = record(
            "sklearn-lr", s, 0.95, fit=noisy, environment="head", trial_id=f"iris/sklearn-lr/cpu/split-{s:02d}%head"
        )
        recs += [base, head]
    write_run(tmp_path, "duet", recs)
    code, line = _compare(tmp_path, capsys, "duet%base", "duet%head")
    assert code == 5 and "interval across the threshold" in line


def test_inconclusive_nothing_matched(tmp_path, capsys):
    write_run(tmp_path, "a", [record("sklearn-lr", s, 0.95) for s in range(6)])
    write_run(tmp_path, "b", [record("torch-mlp", s, 0.95) for s in range(6)])
    code, line = _compare(tmp_path, capsys, "a", "b")
    assert code == 5 and "nothing matched: 1 (iris/sklearn-lr/cpu: not in B)" in line


def test_inconclusive_when_b_errored_where_a_was_ok(tmp_path, capsys):
    _duet(tmp_path, {"torch-mlp": "error"})
    code, line = _compare(tmp_path, capsys, "duet%base", "duet%head")
    assert code == 5 and "B's trials errored where A's were ok: 1 (iris/torch-mlp/cpu: 6 split(s))" in line


def test_inconclusive_when_a_metric_is_missing(tmp_path, capsys):
    _duet(tmp_path, {}, drop={"torch-mlp": ("latency",)})
    code, line = _compare(tmp_path, capsys, "duet%base", "duet%head")
    assert code == 5 and "a gated metric missing: " in line and "iris/torch-mlp/cpu predict p50: in A, not in B" in line


def test_separate_runs_need_the_machines_run_to_run_variance(tmp_path, capsys):
    write_run(tmp_path, "main", [record("torch-mlp", s, 0.95, fit=1.0 + 0.01 * s) for s in range(6)])
    write_run(tmp_path, "branch", [record("torch-mlp", s, 0.95, fit=1.3 + 0.013 * s) for s in range(6)])  # 30% slower
    code, line = _compare(tmp_path, capsys, "main", "branch")
    assert code == 5 and line.startswith("INCONCLUSIVE (exit 5): run-to-run variance unknown: ")
    # a calibration of this machine (same hardware id and hostname) supplies it: now the gate decides
    path = write_run(tmp_path, "calib", [record("torch-mlp", 0, 0.95)])
    variance = {"var": 0.0004, "df": 10, "runs": 11, "splits": 10, "truncated": False, "df_method": "satterthwaite"}
    calibration = {"run_variance": {c: variance for c in
                   ("fit_wall_s", "cold_predict_s", "latency_p50_us", "latency_p99_us", "stock_latency_p50_us", "tput")}}  # fmt: skip
    (path / "run.json").write_text(json.dumps({"kind": "calibration", "calibration": calibration}))
    code, line = _compare(tmp_path, capsys, "main", "branch")
    assert code == 4 and "torch-mlp/cpu fit time 1.3x" in line
    report = next((tmp_path / "out").glob("COMPARE-main-vs-branch.md")).read_text()
    assert "run-to-run variance of this machine from calibration `calib`" in report


def test_json_carries_the_gate_and_no_gate_without_a_threshold(tmp_path, capsys):
    _duet(tmp_path, {"torch-mlp": (1.3, 0.0)})
    args = ["compare", "duet%base", "duet%head", "--results-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["gate"] is None
    assert main([*args, "--fail-above", "10"]) == 4
    data = json.loads(capsys.readouterr().out)
    assert data["gate"]["outcome"] == "FAIL" and data["exit_status"] == 4
    assert any(t["name"] == "gate" for t in data["tables"])
    assert main([*args[:-1], "--fail-accuracy-drop", "2"]) == 0  # accuracy alone: unchanged, passes
    assert "PASS" in capsys.readouterr().out


@pytest.mark.parametrize("flag", [["--fail-accuracy-drop", "-1"], ["--fail-accuracy-drop", "100"]])
def test_bad_accuracy_drop_is_one_line(tmp_path, capsys, flag):
    _duet(tmp_path, {})
    assert main(["compare", "duet%base", "duet%head", "--results-dir", str(tmp_path), *flag]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--fail-accuracy-drop must be accuracy points" in err


def test_a_duet_shows_no_noise_floor_and_no_normalisation_separate_runs_do(tmp_path, capsys):
    """The between-round noise floor and the control ratio say nothing about a ratio paired inside one run."""
    _duet(tmp_path, {"torch-mlp": (1.3, 0.0)})
    rounds = [{"python_loop_ms": 2.0 * f, "numpy_matmul_1t_ms": 0.5 * f} for f in (1.0, 1.05, 0.95, 1.1, 0.9, 1.0)]
    (tmp_path / "runs" / "duet" / "control.json").write_text(json.dumps({"rounds": rounds}))
    args = ["--results-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--json"]
    assert main(["compare", "duet%base", "duet%head", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    text = next((tmp_path / "o").glob("COMPARE-*.md")).read_text()
    assert "noise floor" not in text.replace("no noise floor", "") and "normalised by the control" not in text
    [pair] = data["comparisons"]
    assert pair["relation"] == "duet" and pair["noise_floor"] is None and pair["control_ratio"] is None
    assert all(r["normalised"] is None for r in pair["rows"])
    # two separate runs: the same ratios are normalised and the floor applies
    for run, fit in (("main", 1.0), ("branch", 1.02)):
        path = write_run(tmp_path, run, [record("torch-mlp", s, 0.95, fit=fit + 0.01 * s) for s in range(6)])
        (path / "control.json").write_text(json.dumps({"rounds": rounds}))
    assert main(["compare", "main", "branch", *args]) == 0
    [pair] = json.loads(capsys.readouterr().out)["comparisons"]
    fit = next(r for r in pair["rows"] if r["column"] == "fit_wall_s")
    assert pair["relation"] == "separate" and pair["noise_floor"] > 0 and fit["normalised"]["interval"]
    assert "within the noise floor" in fit["verdict"]


def test_separate_runs_take_their_run_to_run_variance_from_the_matrix_history_when_no_calibration_covers_them(
    tmp_path, capsys
):
    """Seven stored runs of one matrix on one machine, spanning the two compared: their spread is the run-to-run
    variance (the line names the history), and a 30% slower run fails against it."""
    rng = np.random.default_rng(2)
    for r in range(7):
        level = float(np.exp(0.03 * rng.standard_normal()))
        recs = [record("torch-mlp", s, 0.95, fit=level * (1 + 0.01 * rng.standard_normal()), started_at=1.7e9 + 1000 * r + s,
                       finished_at=1.7e9 + 1000 * r + s + 1, machine_id="m1", hostname="a") for s in range(6)]  # fmt: skip
        write_run(tmp_path, f"h{r}", recs)
    slower = [record("torch-mlp", s, 0.95, fit=1.3 * (1 + 0.01 * rng.standard_normal()), started_at=1.7e9 + 3500 + s,
                     finished_at=1.7e9 + 3501 + s, machine_id="m1", hostname="a") for s in range(6)]  # fmt: skip
    write_run(tmp_path, "slow", slower)
    code, line = _compare(tmp_path, capsys, "h1", "slow")
    assert code == 4 and "torch-mlp/cpu fit time" in line
    report = next((tmp_path / "out").glob("COMPARE-h1-vs-slow.md")).read_text()
    assert "the history of this matrix (6 runs)" in report  # the two compared left out
    code, line = _compare(tmp_path, capsys, "h1", "h2")  # same code: never a FAIL; fit time is tested, not blocked
    blocked = line.split("run-to-run variance unknown", 1)[-1].split("; interval", 1)[0]
    assert code in (0, 5) and "fit time" not in blocked  # (throughput is constant in these records: no variance)


def test_a_damaged_stored_run_nobody_named_never_stops_a_comparison_of_two_others(tmp_path, capsys):
    """The history fallback reads the other runs of the matrix: one of them damaged (a line cut in half) makes the
    history unusable, said in the line, and the comparison of the two named runs still ends in its gate's answer."""
    rng = np.random.default_rng(2)
    for r in range(7):
        recs = [record("torch-mlp", s, 0.95, fit=1 + 0.01 * rng.standard_normal(), started_at=1.7e9 + 1000 * r + s,
                       finished_at=1.7e9 + 1000 * r + s + 1, machine_id="m1", hostname="a") for s in range(6)]  # fmt: skip
        path = write_run(tmp_path, f"h{r}", recs)
    lines = (path / "records.jsonl").read_text().splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]  # h6, a run nobody names below, damaged mid-file
    (path / "records.jsonl").write_text("\n".join(lines) + "\n")
    code, line = _compare(tmp_path, capsys, "h1", "h2")
    assert code == 5 and "the stored history of this matrix cannot be read (" in line and "h6" in line
    (tmp_path / "runs" / "h5" / "run.json").write_text("")  # a kind file cut to nothing (killed while writing it)
    code, line = _compare(tmp_path, capsys, "h1", "h2")
    assert code == 5 and line.startswith("INCONCLUSIVE (exit 5): ")
    for r in ("h5", "h6"):
        shutil.rmtree(tmp_path / "runs" / r)
    code, line = _compare(tmp_path, capsys, "h1", "h2")  # four others: too few, and the line says so beside the rest
    assert (
        code == 5 and "no calibration of this machine (run `bench calibrate`); 3 stored run(s) of this matrix" in line
    )
