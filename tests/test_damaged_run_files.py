"""Issue 29, item 7 (the store's part): damaged values in a run's files are refused by one validation.

- A run file (run.json, config.json, environment.json, control.json) whose field holds a value of the wrong
  type, or an impossible one, is one line naming the file and the field for every reader (history, report,
  compare, export, publish), never a traceback.
- A calibration whose run-to-run variance is negative, infinite or not a number never gates a comparison.
- The frame cache is keyed by the records' content: an edit that keeps the file's size and time is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hello_bench.analysis.load import load_runs
from hello_bench.store.runfiles import problem
from tests.invariants import assert_clean_failure, run_cli, snapshot, tiny_figures
from tests.test_report import record, write_run

RECORDS = [record(a, s, 0.9 + 0.01 * s, fit=0.2 + s / 10) for a in ("sklearn-lr", "mlp") for s in range(3)]
RUN_JSON = {
    "kind": "matrix",
    "project": {"path": "/x", "commit": "abc", "dirty": False},
    "environments": {"a": {"packages": {"scikit-learn": "1.8.0"}, "requirements": ["scikit-learn==1.8.0"]}},
    "until_precise": {"target_pct": 10, "max_time_s": 900, "splits": 8, "widest_pct": 9.0, "stopped": "precise"},
}
CONTROL = {"before": {"threads": 1, "numpy_matmul_256_ms": 1.0, "python_loop_200k_ms": 5.0, "at": 1.0},
           "rounds": [{"threads": 1, "numpy_matmul_1t_ms": 1.0, "python_loop_ms": 5.0, "round": 0}]}  # fmt: skip
#: Where a damage lands: (file, path of keys into it).
FIELDS = [
    ("run.json", ("kind",)),
    ("run.json", ("project",)),
    ("run.json", ("project", "commit")),
    ("run.json", ("environments",)),
    ("run.json", ("environments", "a")),
    ("run.json", ("environments", "a", "packages")),
    ("run.json", ("environments", "a", "packages", "scikit-learn")),
    ("run.json", ("until_precise", "widest_pct")),
    ("run.json", ("sealed",)),
    ("config.json", ("splits",)),
    ("config.json", ("adapters",)),
    ("config.json", ("test_size",)),
    ("config.json", ("timing",)),
    ("environment.json", ("cpu",)),
    ("environment.json", ("packages",)),
    ("environment.json", ("gpus",)),
    ("control.json", ("before",)),
    ("control.json", ("before", "numpy_matmul_256_ms")),
    ("control.json", ("rounds",)),
]
#: Values no field above may hold (each is a wrong type or an impossible value for every one of them).
WRONG = st.one_of(
    st.just([1, 2]),
    st.just({"x": [1]}),
    st.just(-1.5),
    st.just(True),
    st.text(min_size=1, max_size=5).map(lambda t: [t]),
)


def _damage(data: dict, keys: tuple[str, ...], value: object) -> dict:
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return data


def _runs(root: Path) -> Path:
    results = root / "results"
    for run_id in ("a", "b"):
        path = write_run(results, run_id, RECORDS)
        (path / "run.json").write_text(json.dumps(RUN_JSON))
        (path / "control.json").write_text(json.dumps(CONTROL))
    return results


COMMANDS = [["history", "a", "b"], ["report", "a"], ["compare", "a", "b"], ["export", "a", "--to", "parquet"],
            ["publish", "--runs", "a", "b", "--out", "site"]]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=WRONG, command=st.sampled_from(COMMANDS))
def test_a_damaged_run_file_is_one_line_for_every_reader(tmp_path_factory, monkeypatch, capsys, field, value, command):
    tiny_figures(monkeypatch)
    root = tmp_path_factory.mktemp("damaged")
    results = _runs(root)
    name, keys = field
    path = results / "runs" / "a" / name
    data = _damage(json.loads(path.read_text()), keys, value)
    if problem(name, data) is None:  # e.g. a list where a list is right: not damage for this field
        return
    path.write_text(json.dumps(data))
    monkeypatch.chdir(root)
    before = snapshot(root)
    code, _, err = run_cli([*command, "--results-dir", "results"], capsys)
    assert_clean_failure(code, err, {1})
    assert name in err and snapshot(root) == before


def test_the_reference_runs_pass_the_validation():
    root = Path(__file__).resolve().parent.parent / "results" / "runs"
    for path in sorted(root.glob("*/*.json")):
        assert problem(path.name, json.loads(path.read_text())) is None, path


def _calibrated(root: Path, variance: object) -> Path:
    write_run(root, "main", [record("torch-mlp", s, 0.95, fit=1.0 + 0.01 * s) for s in range(6)])
    write_run(root, "branch", [record("torch-mlp", s, 0.95, fit=1.3 + 0.013 * s) for s in range(6)])
    path = write_run(root, "calib", [record("torch-mlp", 0, 0.95)])
    calibration = {"run_variance": {"fit_wall_s": variance, "tput": {"var": 0.0004, "df": 10}}}
    (path / "run.json").write_text(json.dumps({"kind": "calibration", "calibration": calibration}))
    return root


@pytest.mark.parametrize(
    "variance",
    [{"var": -0.5, "df": 10}, {"var": "0.1", "df": 10}, {"var": 0.1, "df": -3}, {"var": 0.1, "df": 0},
     {"var": True, "df": 10}, {"var": 0.1}, [0.1, 10], {"var": 1e400, "df": 10}],
    ids=["negative", "text", "negative df", "zero df", "bool", "no df", "a list", "infinite"],
)  # fmt: skip
@pytest.mark.parametrize("how", ["named", "found"])
def test_a_damaged_calibration_never_gates(tmp_path, capsys, variance, how):
    root = _calibrated(tmp_path, variance)
    before = snapshot(root)
    argv = ["compare", "main", "branch", "--results-dir", str(root), "--out", str(root / "out"), "--fail-above", "10"]
    code, out, err = run_cli([*argv, *(["--calibration", "calib"] if how == "named" else [])], capsys)
    if how == "named":  # named: refused in one line, nothing written
        assert_clean_failure(code, err, {1})
        assert "run.json" in err and "run_variance" in err and snapshot(root) == before
    else:  # found while listing: left out with a warning naming it, never used; the gate cannot decide without it
        assert code == 5 and "run_variance" in err and "Left out of the calibration runs listed." in err
        assert "Traceback" not in err and "INCONCLUSIVE (exit 5): run-to-run variance unknown" in out


def test_calibrate_report_of_a_calibration_without_its_parts_is_one_line(tmp_path, capsys):
    root = _calibrated(tmp_path, {"var": 0.1, "df": 10})
    code, _, err = run_cli(["calibrate", "--report", "calib", "--results-dir", str(root)], capsys)
    assert_clean_failure(code, err, {1})
    assert "lack" in err


def test_an_edit_that_keeps_size_and_time_is_read_not_served_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write_run(tmp_path / "results", "r", [record("sklearn-lr", s, 0.91) for s in range(3)]) / "records.jsonl"
    first = load_runs(["r"], tmp_path / "results").frame
    assert list(first["accuracy"]) == [0.91] * 3
    st = os.stat(path)
    path.write_text(path.read_text().replace('"accuracy": 0.91', '"accuracy": 0.19'))  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same time
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert list(load_runs(["r"], tmp_path / "results").frame["accuracy"]) == [0.19] * 3


def test_a_torn_last_line_is_said_on_every_read_the_cached_ones_too(tmp_path, monkeypatch):
    """The frame cache is keyed by content, so a second read is served from it: it still says the line was set aside."""
    import warnings

    from hello_bench.analysis.load import load_runs
    from tests.test_report import record, write_run

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write_run(tmp_path, "t", [record("lr", s, 0.9) for s in range(3)])
    (path / "records.jsonl").write_text((path / "records.jsonl").read_text() + '{"torn')
    for _ in range(2):  # built, then cached
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert len(load_runs(["t"], tmp_path).frame) == 3
        assert [str(w.message).split(": ", 1)[1] for w in seen] == [
            "ignoring a partial last line (a run killed mid-write)"
        ]
    assert any((tmp_path / "cache").rglob("*.parquet"))


def test_the_latest_run_read_with_no_run_named_has_no_duplicate_note(tmp_path):
    write_run(tmp_path, "only", [record("sklearn-lr", s, 0.9) for s in range(3)])
    assert load_runs([], tmp_path).notes == []
    assert load_runs(["only", "only"], tmp_path).notes == [
        "0 duplicate record(s) (the same split in several runs; 1 run(s) named twice) were counted once."
    ]


@pytest.mark.parametrize("content", ["", "\n", '{"trial_id": "iris/lr/cpu/split-00", "stat'])
def test_a_run_without_records_is_refused_where_named_and_left_out_where_every_run_is_listed(tmp_path, capsys,
                                                                                              content):  # fmt: skip
    """One class, every command: a run holding no record (empty, a blank line, one torn line) named next to a
    good run is refused by name before anything is written; listing every run (history, publish) leaves it out,
    and the site still has its row and page."""
    for run in ("a", "b"):
        write_run(tmp_path, run, [record("lr", s, 0.9, started_at=1.7e9 + s, finished_at=1.7e9 + s + 1)
                                  for s in range(3)])  # fmt: skip
    empty = write_run(tmp_path, "empty", [record("lr", 0, 0.9)])
    (empty / "records.jsonl").write_text(content)
    results = ["--results-dir", str(tmp_path)]
    for argv in (["report", "empty", "a"], ["history", "a", "empty"], ["compare", "a", "empty"],
                 ["export", "empty", "a", "--to", "parquet", "--out", str(tmp_path / "x.parquet")]):  # fmt: skip
        before = snapshot(tmp_path)
        code, out, err = run_cli([*argv, *results, *(["--out", str(tmp_path / "o")] if argv[0] != "export" else [])],
                                 capsys)  # fmt: skip
        assert_clean_failure(code, err, {1})
        assert f"No records in {empty}" in err and snapshot(tmp_path) == before, argv
    code, out, err = run_cli(["history", *results, "--out", str(tmp_path / "h")], capsys)
    assert code == 0 and "2 point(s) from 2 run(s)" in (tmp_path / "h" / "HISTORY.md").read_text()
    code, out, err = run_cli(["publish", *results, "--out", str(tmp_path / "site")], capsys)
    assert code == 0 and "(3 runs, " in out
    assert "No records in" in (tmp_path / "site" / "runs" / "empty" / "index.html").read_text()


def test_a_run_nobody_named_whose_kind_file_is_damaged_is_left_out_of_listings_with_a_warning(tmp_path, capsys):
    """A run killed while writing its run.json (cut to nothing): `publish` and `history` of every run leave it out
    and say so on stderr; naming it is refused in one line."""
    for run in ("a", "b", "c"):
        write_run(tmp_path, run, [record("lr", s, 0.9, started_at=1.7e9 + s, finished_at=1.7e9 + s + 1)
                                  for s in range(3)])  # fmt: skip
    (tmp_path / "runs" / "c" / "run.json").write_text("")
    results = ["--results-dir", str(tmp_path)]
    code, out, err = run_cli(["publish", *results, "--out", str(tmp_path / "site")], capsys)
    assert code == 0 and "(2 runs, " in out and "c/run.json" in err and "Left out of the site." in err
    code, out, err = run_cli(["history", *results, "--out", str(tmp_path / "h")], capsys)
    assert code == 0 and "c/run.json" in err and "Left out of the matrix runs listed." in err
    code, out, err = run_cli(["history", "a", "c", *results, "--out", str(tmp_path / "h2")], capsys)
    assert_clean_failure(code, err, {1})
    assert "c/run.json" in err
