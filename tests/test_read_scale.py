"""The read side at scale, checked against the straightforward computations it replaces (issue 32, item 4).

Each fast path here (built to keep 100,000 trials under a minute and 2 GB) is compared, on generated inputs, with
the plain pandas or dense computation it stands for, so that speed never changes a number.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hello_bench import record as rec
from hello_bench.report import learning

VALUE = st.none() | st.floats(0.0, 1.0)


def long_frame_summary(records: list[dict]) -> pd.DataFrame:
    """The curves' summary as one long frame of every epoch and a pandas group-by (the way it was computed before)."""
    rows = []
    for r in records:
        curve = r.get("curve") if r.get("status") == "ok" else None
        if not curve:
            continue
        t, loss, acc = ([math.nan if v is None else v for v in curve.get(k) or []] for k in
                        ("train_time_s", "loss", "test_accuracy"))  # fmt: skip
        for e in range(min(len(t), len(loss), len(acc))):
            rows.append({"model": f"{r['adapter']} / {r['device']}", "dataset": r["dataset"], "epoch": e + 1,
                         "t": t[e], "acc": acc[e]})  # fmt: skip
    if not rows:
        return pd.DataFrame()
    grouped = pd.DataFrame(rows).groupby(["model", "dataset", "epoch"])
    out = grouped.agg(t_median=("t", "median"), acc_median=("acc", "median")).reset_index()
    quartiles = grouped["acc"].quantile([0.25, 0.75]).unstack()
    out["acc_q1"], out["acc_q3"] = quartiles[0.25].to_numpy(), quartiles[0.75].to_numpy()
    return out


@st.composite
def curve_records(draw: st.DrawFn) -> list[dict]:
    out = []
    for _ in range(draw(st.integers(0, 12))):
        n = draw(st.integers(0, 6))
        series = {k: draw(st.lists(VALUE, min_size=n, max_size=n + draw(st.integers(0, 1))))
                  for k in ("train_time_s", "loss", "test_accuracy")}  # fmt: skip
        out.append({"status": draw(st.sampled_from(["ok", "ok", "error"])), "adapter": draw(st.sampled_from("ab")),
                    "device": "cpu", "dataset": draw(st.sampled_from(["iris", "wine"])),
                    "curve": draw(st.sampled_from([None, series, series]))})  # fmt: skip
    return out


@settings(max_examples=80, deadline=None)
@given(curve_records())
def test_curve_summary_equals_the_long_frame_group_by(records):
    from hello_bench.analysis.load import _arrays

    fast = learning.curve_summary([_arrays(dict(r)) for r in records])
    slow = long_frame_summary(records)
    assert fast.empty == slow.empty
    if not fast.empty:
        pd.testing.assert_frame_equal(fast, slow, check_dtype=False, check_exact=False, rtol=1e-12)


# -- the range check on every read, the cached frame's too ------------------------------------------------------
def _cached_run(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A run read once (its frame cached): the results folder and the cache file."""
    from hello_bench.analysis import load
    from hello_bench.store.reader import RunFolder
    from tests.test_report import record, write_run

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = write_run(tmp_path / "results", "r", [record("sklearn-lr", s, 0.91) for s in range(3)])
    assert list(load.load_runs(["r"], tmp_path / "results").frame["accuracy"]) == [0.91] * 3
    cache = load.cache_dir() / f"{load._cache_key(RunFolder(run))}.parquet"
    assert cache.is_file()
    return tmp_path / "results", cache


#: Metrics of the cached frame's own columns with a bound to break (accuracy at most 1, a time at least 0).
BOUNDED = [m for m in rec.METRICS if not m.keyed and (m.valid[0] > -math.inf or m.valid[1] < math.inf)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(BOUNDED), st.booleans(), st.integers(0, 2), st.floats(1e-6, 1e6))
def test_a_cached_frame_holding_an_impossible_value_is_never_served(tmp_path_factory, monkeypatch, metric, low, row,
                                                                     by):  # fmt: skip
    """A damaged cache (an accuracy of 1.7, a negative time in it) is not trusted: the frame comes from the records."""
    from hello_bench.analysis.load import load_runs

    results, cache = _cached_run(tmp_path_factory.mktemp("cached"), monkeypatch)
    expected = pd.read_parquet(cache)
    bottom, top = metric.valid
    value = bottom - by if (low and bottom > -math.inf) or top == math.inf else top + by
    damaged = expected.copy()
    damaged[metric.column] = damaged[metric.column].astype(float)
    damaged.loc[row, metric.column] = value
    damaged.to_parquet(cache, index=False)
    served = load_runs(["r"], results).frame
    assert value not in set(served[metric.column])
    pd.testing.assert_frame_equal(pd.read_parquet(cache), expected)  # and the cache was rebuilt from the records


def test_a_range_that_refuses_a_stored_value_refuses_it_on_a_cached_read_naming_the_line(tmp_path, monkeypatch):
    """The registry's valid ranges apply to every read, a warm cache's too: one line naming the file, line and field."""
    from dataclasses import replace

    from hello_bench.analysis.load import load_runs
    from hello_bench.errors import UserError

    results, _ = _cached_run(tmp_path, monkeypatch)
    stricter = tuple(replace(m, valid=(0.0, 0.5)) if m.column == "accuracy" else m for m in rec._BUILTIN_METRICS)
    monkeypatch.setattr(rec, "_BUILTIN_METRICS", stricter)
    rec._range_checks.cache_clear()
    try:
        with pytest.raises(UserError) as err:
            load_runs(["r"], results)
    finally:
        monkeypatch.undo()
        rec._range_checks.cache_clear()
    text = str(err.value)
    assert "\n" not in text and "records.jsonl:1: not a valid record: field 'accuracy'" in text
    assert "outside its valid range [0, 0.5]" in text


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 250), st.integers(0, 2500))
def test_mlflow_batches_hold_every_parameter_and_metric_once_within_mlflows_limits(n_params, n_metrics):
    from hello_bench.report.export import BATCH_ENTITIES, BATCH_PARAMS, _batches

    params, metrics = [f"p{i}" for i in range(n_params)], [f"m{i}" for i in range(n_metrics)]
    batches = list(_batches(params, metrics))
    assert [p for b, _ in batches for p in b] == params and [m for _, b in batches for m in b] == metrics
    assert all(len(p) <= BATCH_PARAMS and len(p) + len(m) <= BATCH_ENTITIES and (p or m) for p, m in batches)
    assert len(batches) == max(-(-n_params // BATCH_PARAMS), -(-(n_params + n_metrics) // BATCH_ENTITIES))


@pytest.mark.slow
def test_the_read_side_benchmark_prints_its_table(tmp_path):
    """scripts/read-side-benchmark on a tiny run: the table, cold and warm, with the figures in JSON."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(root / "scripts" / "read-side-benchmark"), "--trials", "12",
                           "--results-dir", str(tmp_path / "results"), "--out", str(tmp_path / "out"),
                           "--commands", "export-parquet", "--json", str(tmp_path / "f.json")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| export-parquet |" in done.stdout and "cold within 60 s and 2 GiB" in done.stdout
    found = json.loads((tmp_path / "f.json").read_text())["results"][0]
    assert found["cold"]["exit"] == 0 and found["warm"]["peak_mib"] > 0 and found["cold"]["wall_s"] > 0


def test_compare_and_publish_never_decode_every_whole_record(tmp_path, monkeypatch):
    """compare of two separate runs and publish read fields, never every record whole: at 100,000 trials a pass
    over ``RunFolder.records()`` cost 1.3 GB and 16 s (compare's peak went from 947 MiB to 2,019 MiB)."""
    from hello_bench.report.compare import compare_runs
    from hello_bench.report.publish import publish
    from hello_bench.store.reader import RunFolder
    from tests.benchmarks.synthetic import make_run

    results = tmp_path / "results"
    for seed, run_id in enumerate(["a", "b"]):
        make_run(24, results, run_id, seed=seed)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def whole(self):
        raise AssertionError(f"{self.run_id}: every record decoded whole")

    monkeypatch.setattr(RunFolder, "records", whole)
    compared = compare_runs(["a", "b"], results, out_dir=tmp_path / "cmp")
    assert compared.pairs and compared.path.exists()
    site = publish(tmp_path / "site", results, runs=["a", "b"])
    assert (tmp_path / "site" / "index.html").exists(), site


def test_one_field_of_every_line_skips_only_a_torn_last_line(tmp_path):
    """read_values: a run killed mid-write (a torn last line) is read to its last whole line; a damaged line
    before it is one line of error, as every other read of the records says."""
    from hello_bench.errors import UserError
    from hello_bench.store.reader import RunFolder, read_values
    from tests.benchmarks.synthetic import make_run

    path = RunFolder(make_run(3, tmp_path, "a")).records_path
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"trial_id": "x", "environ')
    assert len(list(read_values(path, "environment"))) == 3
    path.write_bytes(b'{"trial_id": 5}\n' + whole)
    with pytest.raises(UserError, match=r"records.jsonl:1: not a valid record"):
        list(read_values(path, "trial_id"))
