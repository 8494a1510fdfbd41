"""bench scale: the sweep config, the budget stop, and the pure analysis."""

from __future__ import annotations

import numpy as np
import pytest

from hello_bench.report.scale import loglog_slope, overhead_crossover, scale_config, write_scale_report
from hello_bench.store.reader import read_records
from hello_bench.store.writer import RunStore
from tests.conftest import run_local


def test_slope_and_crossover_hand_computed():
    n = np.array([100, 1000, 10000])
    assert loglog_slope(n, 2e-6 * n) == pytest.approx(1.0)
    assert loglog_slope(n, 0.5 * n**0.5) == pytest.approx(0.5)
    overhead, per_row, cross = overhead_crossover(n, 0.5 + 1e-4 * n)
    assert overhead == pytest.approx(0.5, rel=1e-6) and per_row == pytest.approx(1e-4, rel=1e-6)
    assert cross == pytest.approx(5000, rel=1e-6)


def test_config_orders_sizes_and_sets_budget():
    config = scale_config(sizes=[1000, 100], adapters=("sklearn-lr", "torch-mlp"), budget_s=5)
    assert [d.source for d in config.datasets] == [
        "synthetic:n_samples=100,n_features=20,n_classes=3",
        "synthetic:n_samples=1000,n_features=20,n_classes=3",
    ]
    assert config.stop_after_fit_s == 5 and config.preprocessing == ("standard",)
    assert dict(config.adapters[1].params) == {"batch_size": 32, "epochs": 3}


def test_sweep_stops_over_budget_and_says_so(tmp_path):
    config = scale_config(sizes=[100, 200, 400], adapters=("sklearn-lr",), budget_s=1e-6)
    store = RunStore.open(tmp_path, "s", config.to_dict(), {"machine_id": "t"}, kind="scale")
    run_local(config, store)
    statuses = [(r["dataset"], r["status"]) for r in read_records(store.records_path)]
    assert statuses[0][1] == "ok" and [s for _, s in statuses[1:]] == ["skipped", "skipped"]
    reason = read_records(store.records_path)[1]["reason"]
    assert reason.startswith("sweep stopped:") and "over the 1e-06 s budget" in reason
    text = write_scale_report(store.path, tmp_path).read_text()
    assert "sweep stopped" in text and (tmp_path / "figures" / "scale.png").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "1000000"], "cannot fit the 20 s budget"),
        (["--epochs", "40000", "--budget", "1"], "cannot fit the 1 s budget"),
        (["--budget", "1e9"], "--budget must be a number of seconds in"),
    ],
)
def test_a_sweep_that_cannot_fit_its_budget_is_refused_before_it_runs(tmp_path, capsys, flags, message):
    """Issue 19, item 7: bounds before allocation (and before hours of timeouts)."""
    from tests.invariants import assert_clean_failure, run_cli, snapshot

    before = snapshot(tmp_path)
    code, _, err = run_cli(["scale", "--sizes", "100,1000", *flags, "--results-dir", str(tmp_path / "r")], capsys)
    assert_clean_failure(code, err, {1})
    assert message in err and snapshot(tmp_path) == before


def test_epochs_are_not_bounded_for_adapters_without_epochs():
    assert (
        scale_config(sizes=[100], adapters=("sklearn-lr",), epochs=10**9, budget_s=1).adapters[0].name == "sklearn-lr"
    )
