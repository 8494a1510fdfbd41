"""Issue 29, item 12: a command given no run reads the run that last wrote records (its last record's
``finished_at``), never the one whose files happen to carry the latest dates (a checkout, a copy, a resume)."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hello_bench.store.reader import run_dirs
from tests.invariants import run_cli, tiny_figures
from tests.test_report import record, stored, write_run

T0 = 1_700_000_000.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    finished=st.lists(st.floats(0, 1e6), min_size=2, max_size=5, unique=True),
    file_times=st.data(),
)
def test_the_latest_run_is_the_one_that_last_wrote_records(tmp_path_factory, finished, file_times):
    root = tmp_path_factory.mktemp("runs")
    for index, when in enumerate(finished):
        recs = [record("sklearn-lr", s, 0.9, finished_at=T0 + when - 10 * (2 - s)) for s in range(3)]
        path = write_run(root, f"run{index}", recs)
        stamp = T0 + file_times.draw(st.floats(-1e6, 2e6))  # whatever dates its files carry
        for name in ("config.json", "records.jsonl"):
            os.utime(path / name, (stamp, stamp))
    latest = max(range(len(finished)), key=lambda i: finished[i])
    assert run_dirs(root)[-1].name == f"run{latest}"


def test_report_without_a_run_reports_the_one_resumed_last(tmp_path, monkeypatch, capsys):
    tiny_figures(monkeypatch)
    results = tmp_path / "results"
    old = write_run(results, "old", [record("sklearn-lr", s, 0.9, finished_at=T0 + s) for s in range(3)])
    new = write_run(results, "new", [record("sklearn-lr", s, 0.9, finished_at=T0 + 100 + s) for s in range(3)])
    os.utime(old / "config.json", (T0 + 500, T0 + 500))  # a checkout made the old run's config the newest file
    code, out, _ = run_cli(["report", "--results-dir", str(results), "--json"], capsys)
    assert code == 0 and json.loads(out)["markdown"].endswith("reports/new/REPORT.md")
    with (old / "records.jsonl").open("a") as fh:  # the old run resumed: it wrote the last record
        fh.write(stored(record("sklearn-lr", 3, 0.9, finished_at=T0 + 200)) + "\n")
    os.utime(new / "records.jsonl", (T0 + 900, T0 + 900))
    code, out, _ = run_cli(["report", "--results-dir", str(results), "--json"], capsys)
    assert code == 0 and json.loads(out)["markdown"].endswith("reports/old/REPORT.md")
