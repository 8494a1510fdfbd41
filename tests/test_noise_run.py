"""A run measures the control every round; its report shows the noise floor, the order table and a grouped list."""

from __future__ import annotations


def test_a_run_measures_the_control_every_round_and_its_report_shows_the_floor_and_order(tmp_path, monkeypatch):
    """Three rounds of two fake adapters: three round controls (the first is also 'before'), an 'after', CPU
    shares from /proc/stat, and a report with the noise floor, the order table and a grouped list."""
    from hello_bench.report.build import write_report
    from hello_bench.store.reader import RunFolder
    from tests.test_harness import FAKES, tiny

    monkeypatch.setenv("BENCH_ADAPTERS", FAKES)
    from hello_bench.store.writer import RunStore
    from tests.conftest import run_local

    config = tiny(["fake-ok", "fake-fail"])
    with RunStore.open(tmp_path, "r", config.to_dict(), {"machine_id": "test"}) as store:
        run_local(config, store)
    control = RunFolder(tmp_path / "runs" / "r").control()
    assert [r["round"] for r in control["rounds"]] == [0, 1, 2] and control["before"] == control["rounds"][0]
    assert {"python_loop_ms", "numpy_matmul_1t_ms", "numpy_matmul_mt_ms", "spread", "after"} <= set(
        control["rounds"][1]
    ) | {"after"}
    assert "after" in control and control["rounds"][1]["cpu_since_last"]["cores"] >= 1
    assert [r["split_seed"] for r in control["rounds"]] == [0, 1, 2]
    text = write_report(["r"], tmp_path, out_dir=tmp_path / "rep").markdown.read_text()
    assert "noise floor" in text and "Speed index" in text and "### Order within a round" in text
