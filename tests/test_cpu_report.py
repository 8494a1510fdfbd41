"""Wall time beside CPU time (hello_bench.report.cpu): the ratio per timed call, the busy flag, the report's table and
its JSON, computed by hand from synthetic records."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hello_bench.report import cpu
from hello_bench.report.document import Doc
from tests.test_report import record, write_run


def _frame(walls: list[float], cpus: list[float], **columns: list[float]) -> pd.DataFrame:
    n = len(walls)
    return pd.DataFrame({"dataset": ["iris"] * n, "adapter": ["lr"] * n, "device": ["cpu"] * n, "fit_wall_s": walls,
                         "fit_cpu_s": cpus, **columns})  # fmt: skip


def test_the_ratio_is_wall_over_cpu_and_a_call_is_busy_from_1_5x():
    rows = cpu.rows(_frame([1.0, 2.0, 1.5, 1.49], [1.0, 1.0, 1.0, 1.0]))
    assert len(rows) == 1
    (r,) = rows
    assert (r["call"], r["unit"], r["trials"]) == ("fit time", "s", 4)
    assert r["ratio"] == pytest.approx(1.495) and (r["low"], r["high"]) == (1.0, 2.0)
    assert r["busy"] == 2  # 2.0 and exactly 1.5; not 1.49
    assert r["wall"] == pytest.approx(1.495) and r["cpu"] == 1.0
    assert cpu.BUSY_RATIO == 1.5


def test_missing_zero_or_non_finite_times_are_left_out_and_threads_give_ratios_under_1():
    r = cpu.ratios(pd.Series([1.0, 0.0, np.nan, 2.0, 1.0]), pd.Series([4.0, 1.0, 1.0, np.inf, 0.0]))
    assert r.tolist() == [0.25]  # four threads busy for the whole call
    assert cpu.rows(_frame([np.nan], [1.0])) == []
    assert (
        cpu.rows(pd.DataFrame({"dataset": ["iris"], "adapter": ["lr"], "device": ["cpu"], "fit_wall_s": [1.0]})) == []
    )


def test_every_timed_call_pairs_its_wall_and_cpu_columns_and_throughput_becomes_time_per_batch():
    frame = _frame([1.0], [1.0], cold_predict_s=[0.02], cold_predict_cpu_s=[0.01], latency_p50_us=[100.0],
                   latency_cpu_p50_us=[50.0], stock_cold_predict_s=[0.3], stock_cold_predict_cpu_s=[0.3],
                   stock_latency_p50_us=[200.0], stock_latency_cpu_p50_us=[100.0], tput_32=[32_000.0],
                   cpu_tput_32=[16_000.0], tput_1=[1000.0], tput_bad=[1.0])  # fmt: skip
    found = {c: (w.iloc[0], p.iloc[0], u) for c, w, p, u in cpu.pairs(frame)}
    assert list(found) == [
        "fit time",
        "first predict",
        "stock first predict",
        "predict p50",
        "stock predict p50",
        "batch 32",
    ]
    assert found["batch 32"] == (pytest.approx(1000.0), pytest.approx(2000.0), "us")  # 32 / 32,000 s = 1 ms
    rows = {r["call"]: r for r in cpu.rows(frame)}
    assert rows["first predict"]["ratio"] == 2.0 and rows["first predict"]["busy"] == 1
    assert rows["batch 32"]["ratio"] == 0.5 and rows["batch 32"]["busy"] == 0
    assert rows["stock first predict"]["ratio"] == 1.0


def test_the_section_flags_busy_calls_and_says_which_waited_most():
    doc = Doc("t")
    frame = pd.concat([_frame([1.0, 3.0], [1.0, 1.0]), _frame([1.0, 1.0], [1.0, 1.0]).assign(adapter="mlp")])
    found = cpu.section(doc, frame)
    assert len(found) == 2
    table = next(b[1] for b in doc.blocks if b[0] == "table")
    assert table.name == "wall-cpu" and [r[-1] for r in table.rows] == ["busy: 1/2", ""]  # lr, then mlp
    text = " ".join(b[1] for b in doc.blocks if b[0] == "p")
    assert "1 of 2 timed calls waited in some trials" in text and "the most: lr fit time, 1 of 2 trials" in text
    assert cpu.section(Doc("none"), pd.DataFrame({"dataset": [], "adapter": [], "device": []})) == []


def test_bench_report_shows_wall_beside_cpu_and_its_json_has_the_table(tmp_path, capsys, monkeypatch):
    from hello_bench.cli import main
    from tests.invariants import tiny_figures

    tiny_figures(monkeypatch)
    recs = []
    for s in range(4):
        rec = record("sklearn-lr", s, 0.9, fit=0.2, fit_cpu_s=0.1 if s == 0 else 0.2, cold_predict_cpu_s=0.01,
                     latency_cpu={"p50_us": 20.0, "mean_us": 21.0, "total_s": 0.01, "n": 300})  # fmt: skip
        recs.append(rec)
    write_run(tmp_path, "w", recs)
    assert main(["report", "w", "--results-dir", str(tmp_path), "--out", str(tmp_path / "r"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    table = next(t for t in data["tables"] if t["name"] == "wall-cpu")
    calls = [row["call"] for row in table["rows"]]
    assert calls == ["fit time", "first predict", "predict p50"]
    assert (tmp_path / "r" / "REPORT.md").read_text().count("busy: 1/4") == 1  # split 0's fit waited 2x


def test_instruction_counts_get_their_own_table_where_they_were_counted():
    doc = Doc("t")
    frame = _frame([1.0, 1.0], [1.0, 1.0], instructions_fit=[4.4e8, np.nan], instructions_predict=[9.4e5, np.nan])
    cpu.section(doc, frame)
    table = next(b[1] for b in doc.blocks if b[0] == "table" and b[1].name == "instruction-counts")
    assert table.rows == [["iris", "lr", "cpu", "440,000,000", "940,000", "1"]]
    plain = Doc("none")
    cpu.section(plain, _frame([1.0], [1.0]))
    assert not any(b[0] == "table" and b[1].name == "instruction-counts" for b in plain.blocks)


def test_calls_without_a_ratio_are_skipped_not_the_rest_and_batches_go_in_size_order():
    frame = _frame([1.0], [1.0], cold_predict_s=[np.nan], cold_predict_cpu_s=[0.01], tput_1=[1000.0],
                   cpu_tput_1=[500.0], tput_1024=[1e5], cpu_tput_1024=[1e5], tput_32=[1e4], cpu_tput_32=[1e4])  # fmt: skip
    calls = [r["call"] for r in cpu.rows(frame)]
    assert calls == ["fit time", "batch 1", "batch 32", "batch 1024"]  # first predict has no wall time: skipped alone
    assert cpu.rows(frame)[1]["ratio"] == 0.5  # batch 1: 1 ms of wall per call, 2 ms of CPU (two threads)
    assert cpu.rows(frame)[1]["wall"] == pytest.approx(1000.0) and cpu.rows(frame)[1]["cpu"] == pytest.approx(2000.0)


def test_the_instruction_table_counts_trials_by_their_fit_and_shows_a_dash_where_none_were_counted():
    doc = Doc("t")
    frame = pd.concat([
        _frame([1.0, 1.0], [1.0, 1.0], instructions_fit=[4.0e8, 5.0e8], instructions_predict=[9.0e5, np.nan]),
        _frame([1.0], [1.0], instructions_fit=[np.nan], instructions_predict=[np.nan]).assign(adapter="mlp"),
    ])  # fmt: skip
    cpu.instructions(doc, frame)
    table = next(b[1] for b in doc.blocks if b[0] == "table")
    assert table.rows == [["iris", "lr", "cpu", "450,000,000", "900,000", "2"], ["iris", "mlp", "cpu", "-", "-", "0"]]
    assert table.headers[-1] == "trials counted" and "valgrind" in next(b[1] for b in doc.blocks if b[0] == "p")


def test_the_section_reads_as_written():
    """The whole section for two groups (the worst busy call named by its share of busy trials, then its ratio)."""
    doc = Doc("t")
    frame = pd.concat([
        _frame([1.0, 3.0, 1.0], [1.0, 1.0, 1.0]),  # 1 of 3 busy, ratio 1
        _frame([2.0, 2.0, 1.0], [1.0, 1.0, 1.0]).assign(adapter="mlp"),  # 2 of 3 busy: the most
    ])  # fmt: skip
    cpu.section(doc, frame)
    assert doc.blocks[0] == ("h", 3, "Wall time and CPU time")
    paras = [b[1] for b in doc.blocks if b[0] == "p"]
    assert paras[0] == (
        "Each timed call's wall time beside its process CPU time (all threads), median over the trials. Wall time "
        "1.5x the CPU time or more is flagged: the call waited (on a CPU, usually for a core another process held: the "
        "machine was busy), so its wall time says more about the machine than about the code; its CPU time is the "
        "steadier signal. A ratio under 1 is a call that used several threads."
    )
    assert paras[1] == ("2 of 2 timed calls waited in some trials (wall time at least 1.5x the CPU time); the most: mlp "
                        "fit time, 2 of 3 trials, median ratio 2.")  # fmt: skip
    table = next(b[1] for b in doc.blocks if b[0] == "table")
    assert table.headers == ["dataset", "adapter", "device", "call", "wall (median)", "CPU (median)",
                             "wall/CPU [range]", "flag"]  # fmt: skip
    assert table.rows == [["iris", "lr", "cpu", "fit time", "1 s", "1 s", "1 [1, 3]", "busy: 1/3"],
                          ["iris", "mlp", "cpu", "fit time", "2 s", "1 s", "2 [1, 2]", "busy: 2/3"]]  # fmt: skip
    with_counts = Doc("c")
    cpu.section(with_counts, _frame([1.0], [1.0], instructions_fit=[1.0e6], instructions_predict=[1.0e3]))
    assert [b[1].name for b in with_counts.blocks if b[0] == "table"] == ["wall-cpu", "instruction-counts"]
