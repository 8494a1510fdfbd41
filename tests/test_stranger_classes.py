"""The classes a stranger's pass found (each test stands for its class, not for the one case):

- a run holding several environments, read whole, never blends them (report, compare, history, names);
- comparing records with themselves, or with a baseline that never ran, says so;
- a damaged run folder is never resumed with settings it cannot check; limits may change on resume;
- too little evidence says so (history with two points, a calibration of two repeats);
- flags and data that would be silently ignored or silently renamed are one line;
- warnings are one line each, once, and never join an error's one line;
- a site that cannot be built leaves nothing behind; user runs named reference-* stay out of git.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hello_bench.analysis import comparison, gate, separate
from hello_bench.analysis.load import load_runs
from hello_bench.errors import UserError
from tests.invariants import assert_clean_failure, run_cli, snapshot, tiny_figures
from tests.test_report import record, write_run

ROOT = Path(__file__).resolve().parent.parent


def duet_records(slower: float = 2.0) -> list[dict]:
    """Two environments of one run, the same splits: ``b`` predicts ``slower`` times slower."""
    rng = np.random.default_rng(0)
    out = []
    for s in range(6):
        for env, factor in (("a", 1.0), ("b", slower)):
            fit = 0.2 * factor * (1 + 0.01 * rng.standard_normal())
            rec = record("sklearn-lr", s, 0.9, fit=fit, environment=env)
            rec["trial_id"] += f"%{env}"
            out.append(rec)
    return out


@pytest.fixture
def duet(tmp_path, monkeypatch) -> Path:
    tiny_figures(monkeypatch)
    path = write_run(tmp_path, "d1", duet_records())
    info = {"kind": "matrix", "environments": {"a": {"packages": {"scikit-learn": "1.8.0"}, "requirements": ["scikit-learn==1.8.0"]},
                                               "b": {"packages": {"scikit-learn": "1.9.1"}, "requirements": ["scikit-learn==1.9.1"]}}}  # fmt: skip
    (path / "run.json").write_text(json.dumps(info))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_duet_read_whole_keeps_its_environments_apart(duet):
    frame = load_runs(["d1"], duet).frame
    assert set(frame["adapter"]) == {"sklearn-lr%a", "sklearn-lr%b"}  # never one blended row
    one = load_runs(["d1%b"], duet)
    assert set(one.frame["adapter"]) == {"sklearn-lr"} and one.names == ["d1%b"] and one.file_stem() == "d1=b"


def test_one_environment_s_report_is_its_own_and_shows_its_packages(duet, capsys):
    code, _, err = run_cli(["report", "d1%a", "--results-dir", str(duet)], capsys)
    assert code == 0, err
    text = (duet / "reports" / "d1=a" / "REPORT.md").read_text()
    assert "(`d1%a`)" in text and "1.8.0" in text and "1.9.1" not in text
    assert not (duet / "reports" / "d1").exists()  # the whole run's report is not overwritten


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "d1", "d1%b"], "holds 2 environments"),
        (["compare", "d1%a", "d1%a"], "same records"),
        (["compare", "d1%b", "./runs/d1%b"], "same records"),
    ],
)
def test_compare_refuses_blends_and_self_comparisons(duet, capsys, argv, message):
    before = snapshot(duet)
    code, _, err = run_cli([*argv, "--results-dir", str(duet), "--fail-above", "10"], capsys)
    assert_clean_failure(code, err, {1})
    assert message in err and snapshot(duet) == before


def test_history_of_two_points_cannot_decide_and_unknown_packages_are_refused(duet, capsys):
    code, out, err = run_cli(
        ["history", "d1%a", "d1%b", "--by", "scikit-learn", "--results-dir", str(duet), "--json"], capsys
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["decidable"] is False and data["steps"] == []
    text = Path(data["markdown"]).read_text()
    assert "Cannot decide" in text and "2 point(s) from 1 run(s)" in text
    for by in ("nosuchpkg", "sklearn", ""):
        code, _, err = run_cli(["history", "d1%a", "d1%b", "--by", by, "--results-dir", str(duet)], capsys)
        assert_clean_failure(code, err, {1, 2})


def test_a_calibration_of_too_few_repeats_never_gates_separate_runs():
    def entry(**kw: object) -> dict:
        base = {"var": 0.01, "df": 2.5, "runs": 5, "splits": 10, "truncated": False, "df_method": "satterthwaite"}
        return {"run_variance": {"fit_wall_s": {**base, **kw}}}

    assert separate.run_variance_from(entry(), "cal").by_column == {"fit_wall_s": (0.01, 2.5)}
    for bad in (dict(runs=2, df=1.0), dict(runs=4), dict(var=0.0, df=0.0, truncated=True), dict(truncated=True),
                dict(var=0.0), dict(df=0.0), dict(df_method=None), dict(var=None), dict(runs="x")):  # fmt: skip
        assert separate.run_variance_from(entry(**bad), "cal").by_column == {}, bad
    legacy = {"run_variance": {"fit_wall_s": {"var": 0.01, "df": 4.0}}}  # df = R - 1, stored before Satterthwaite
    assert separate.run_variance_from(legacy, "cal").by_column == {}


def test_a_baseline_that_never_ran_is_named_as_such(tmp_path):
    keys = ["dataset", "adapter", "device"]
    import pandas as pd

    a = pd.DataFrame(
        [dict(dataset="iris", adapter="lr", device="cpu", split_seed=s, status="timeout") for s in range(5)]
    )
    b = pd.DataFrame([dict(dataset="iris", adapter="lr", device="cpu", split_seed=s, status="ok") for s in range(5)])
    problems = comparison.status_problems(a, b, keys)
    assert [p.reason for p in problems] == [gate.A_ERRORED]
    assert comparison.status_problems(b, a, keys)[0].reason == gate.ERRORED


def test_a_run_without_its_config_is_not_resumed_and_limits_may_change(tmp_path):
    from hello_bench.store.reader import check_reusable

    path = write_run(tmp_path, "x", [record("lr", 0, 0.9)])
    (path / "run.json").write_text(json.dumps({"kind": "matrix"}))
    stored = json.loads((path / "config.json").read_text())
    assert check_reusable(path, "x", {**stored, "trial_timeout_s": 600}, "matrix") is True  # a limit, not a setting
    with pytest.raises(UserError, match="different config"):
        check_reusable(path, "x", {**stored, "threads": 2}, "matrix")
    (path / "config.json").unlink()
    with pytest.raises(UserError, match="no config.json"):
        check_reusable(path, "x", stored, "matrix")


@pytest.mark.parametrize(
    "files, argv, message",
    [
        ({"d.csv": "x,x,label\n1,2,a\n3,4,b\n"}, ["--datasets", "d.csv", "--target", "label"], "repeated"),
        ({}, ["--datasets", "synthetic:n_samples=50,n_samples=60"], "given twice"),
        ({}, ["--datasets", "iris", "--target", "label"], "apply to data files"),
        ({"quick": "splits = 7\n"}, ["--config", "quick"], "both a built-in config and a file"),
        (
            {},
            ["--quick", "--adapters", "sklearn-lr", "--env", "a=scikit-learn", "--executor", "dask"],
            "local executor",
        ),
    ],
)
def test_inputs_that_would_be_silently_ignored_or_renamed_are_one_line(
    tmp_path, monkeypatch, capsys, files, argv, message
):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    before = snapshot(tmp_path)
    code, _, err = run_cli(["run", *argv, "--dry-run", "--results-dir", str(tmp_path / "results")], capsys)
    assert_clean_failure(code, err, {1})
    assert message in err and snapshot(tmp_path) == before


def test_calibrate_speaks_in_percent_like_its_help(tmp_path, capsys):
    for value in ("-5", "2000"):
        code, _, err = run_cli(["calibrate", "--slowdowns", value, "--results-dir", str(tmp_path)], capsys)
        assert_clean_failure(code, err, {1})
        assert "percentages" in err and (value.lstrip("-") in err)


def test_warnings_are_one_line_each_once_and_never_join_an_error(duet, capsys):
    records = duet / "runs" / "d1" / "records.jsonl"
    records.write_text(records.read_text() + '{"torn')  # a run killed mid-write
    code, _, err = run_cli(["report", "d1%a", "--results-dir", str(duet)], capsys)
    assert code == 0
    warned = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 1 and "partial last line" in warned[0] and "UserWarning" not in err
    (duet / "runs" / "d1" / "records.jsonl").write_text('{"torn')
    code, _, err = run_cli(["report", "d1", "--results-dir", str(duet)], capsys)
    assert_clean_failure(code, err, {1})  # the error alone: one line


def test_a_site_that_cannot_be_built_leaves_nothing(duet, capsys):
    write_run(duet, "broken", [record("lr", 0, 0.9)])
    (duet / "runs" / "broken" / "records.jsonl").write_text("not json at all\n{}\n")
    site = duet / "site"
    code, _, err = run_cli(["publish", "--out", str(site), "--results-dir", str(duet)], capsys)
    assert_clean_failure(code, err, {1})
    assert not site.exists() or not any(site.rglob("*.html"))


def test_a_user_run_named_reference_something_stays_out_of_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", "results/runs/reference-mine/records.jsonl"], cwd=ROOT)
    kept = subprocess.run(
        ["git", "check-ignore", "-q", "results/runs/reference-full-cpu-2core/records.jsonl"], cwd=ROOT
    )
    assert ignored.returncode == 0 and kept.returncode == 1
