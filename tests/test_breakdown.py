"""Where the time goes: floor + dispatch + rest, hand-computed, as properties over generated trials, and in the
report (tables, figure, generated sentences, --json) and the exports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_bench.analysis import breakdown
from hello_bench.analysis.load import tidy
from hello_bench.cli import main
from tests.test_report import record, write_run

SEED = {"hidden_units": 16, "epochs": 100, "batch_size": 1, "learning_rate": 0.001}
#: Per-call costs (s): step, epoch, predict call.
FLOOR_COSTS = (0.5e-6, 2e-6, 3e-6)
TORCH_COSTS = (300e-6, 400e-6, 15e-6)


def trial(name, split, fit, costs, floor=False, params=None, profile="seed", p50=20.0, tput=1e6, **extra):
    step, epoch, call = costs
    rec = record(f"{name}:{profile}", split, 0.95, fit=fit, adapter_name=name, profile=profile, model="mlp",
                 params=dict(SEED if params is None else params), test_rows_sha=f"rows{split}", n_steps=7500,
                 n_epochs=100, step_overhead_s=step, epoch_overhead_s=epoch, predict_overhead_s=call,
                 throughput_sps={"1": 1e4, "75": tput}, **extra)  # fmt: skip
    rec["latency"] = {**rec["latency"], "p50_us": p50}
    if floor:
        rec["reference_floor"] = True
    return rec


def test_the_parts_by_hand():
    records = [trial("numba-mlp", 0, 0.01, FLOOR_COSTS, floor=True, p50=3.5, tput=75 / 10e-6),
               trial("torch-mlp", 0, 4.0, TORCH_COSTS, p50=20.0, tput=75 / 30e-6)]  # fmt: skip
    frame = breakdown.with_parts(tidy(records))
    breakdown.check_parts(frame)
    floor, torch = frame.iloc[0], frame.iloc[1]
    assert (floor["floor_fit_s"], floor["dispatch_fit_s"], floor["rest_fit_s"]) == (0.01, 0.0, 0.0)
    dispatch = 7500 * (300e-6 - 0.5e-6) + 100 * (400e-6 - 2e-6)
    assert torch["floor_fit_s"] == 0.01
    assert torch["dispatch_fit_s"] == pytest.approx(dispatch, rel=1e-12)
    assert torch["rest_fit_s"] == pytest.approx(4.0 - 0.01 - dispatch, rel=1e-12)
    assert torch["dispatch_per_step_s"] == pytest.approx(299.5e-6)
    assert torch["floor_ratio_fit"] == pytest.approx(400.0)
    # one predict call: (15 - 3) us above the floor's empty call
    assert (torch["floor_predict_us"], torch["dispatch_predict_us"]) == (3.5, pytest.approx(12.0))
    assert torch["rest_predict_us"] == pytest.approx(20.0 - 3.5 - 12.0)
    assert torch["batch_predict_us"] == pytest.approx(30.0) and torch["floor_batch_us"] == pytest.approx(10.0)
    assert torch["rest_batch_us"] == pytest.approx(30.0 - 10.0 - 12.0)


def test_other_work_or_another_split_gets_no_floor():
    records = [trial("numba-mlp", 0, 0.01, FLOOR_COSTS, floor=True),
               trial("torch-mlp", 0, 4.0, TORCH_COSTS, params={**SEED, "epochs": 50}),  # other work
               trial("torch-mlp", 1, 4.0, TORCH_COSTS),  # a split the floor did not run
               trial("sklearn-mlp", 0, 2.0, TORCH_COSTS, params={**SEED, "batch_size": 1})]  # fmt: skip
    frame = breakdown.with_parts(tidy(records))
    other, unpaired, same = frame.iloc[1], frame.iloc[2], frame.iloc[3]
    assert np.isnan(other["floor_fit_s"]) and np.isnan(other["rest_fit_s"])
    assert np.isnan(unpaired["floor_fit_s"]) and np.isnan(unpaired["rest_fit_s"])
    # no floor: the whole per-call cost is the dispatch (the floor's own is unknown)
    assert unpaired["dispatch_fit_s"] == pytest.approx(7500 * 300e-6 + 100 * 400e-6)
    assert same["floor_fit_s"] == 0.01  # another framework, the same work: the same floor


def test_frames_without_costs_or_floor_are_unchanged():
    frame = tidy([record("sklearn-lr", 0, 0.9)])
    assert breakdown.with_parts(frame) is frame


costs = st.tuples(*[st.floats(0, 1e-3, allow_subnormal=False)] * 3)


@given(st.lists(st.tuples(st.booleans(), st.floats(1e-3, 100), costs, st.floats(1, 1e4)), min_size=1, max_size=5),
       st.floats(1e-4, 1), costs)  # fmt: skip
def test_parts_always_add_up_and_dispatch_is_never_negative(trials, floor_fit, floor_costs):
    records = [trial("numba-mlp", 0, floor_fit, floor_costs, floor=True)]
    for i, (paired, fit, own, p50) in enumerate(trials):
        records.append(trial("torch-mlp", 0 if paired else 1, fit, own, profile=f"p{i}", p50=p50))
    frame = breakdown.with_parts(tidy(records))
    breakdown.check_parts(frame)
    for q in breakdown.QUANTITIES:
        cols = breakdown.COLUMNS[q]
        assert (frame[cols["dispatch"]].dropna() >= 0).all()
        assert frame[cols["floor"]].notna().tolist() == frame["test_rows_sha"].eq("rows0").tolist()
        assert frame.iloc[0][cols["rest"]] == 0.0 and frame.iloc[0][cols["dispatch"]] == 0.0


def test_parts_that_do_not_add_up_are_caught():
    frame = breakdown.with_parts(tidy([trial("numba-mlp", 0, 0.01, FLOOR_COSTS, floor=True),
                                       trial("torch-mlp", 0, 4.0, TORCH_COSTS)]))  # fmt: skip
    frame.loc[1, "rest_fit_s"] += 1e-3
    with pytest.raises(breakdown.PartsError):
        breakdown.check_parts(frame)


# -- in the report -------------------------------------------------------------------------------
@pytest.fixture
def floor_run(tmp_path):
    rng = np.random.default_rng(0)
    records = []
    for s in range(6):
        records.append(trial("numba-mlp", s, 0.011 + 0.001 * rng.random(), FLOOR_COSTS, floor=True, p50=3.0,
                             tput=75 / 10e-6))  # fmt: skip
        records.append(trial("torch-mlp", s, 4.0 + 0.1 * rng.random(), TORCH_COSTS, p50=20.0, tput=75 / 30e-6))
        records.append(trial("sklearn-mlp", s, 1.5 + 0.1 * rng.random(), (110e-6, 1e-3, 60e-6), p50=1.0,
                             tput=75 / 70e-6))  # fmt: skip
        records.append(
            trial(
                "keras-mlp",
                s,
                0.05 + 0.001 * rng.random(),
                (3e-6, 200e-6, 40e-6),
                profile="fused",
                params={**SEED, "train_loop": "jax-scan"},
            )
        )  # a compiled loop: a few us per step
        records.append(trial("torch-mlp", s, 3.0, (None, None, None), profile="tuned"))  # its probe resolved nothing
    write_run(tmp_path, "floor", records)
    return tmp_path


def test_the_report_explains_each_framework_against_the_floor(floor_run, capsys):
    out = floor_run / "out"
    assert main(["report", "floor", "--results-dir", str(floor_run), "--out", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    tables = {t["name"]: t for t in data["tables"]}
    fit = {r["adapter"]: r for r in tables["time-breakdown"]["rows"]}
    torch = fit["torch-mlp:seed"]
    assert torch["floor_s"] + torch["dispatch_s"] + torch["rest_s"] == pytest.approx(torch["fit_s"])
    low, high = torch["x_floor"]["interval"]
    assert low < torch["x_floor"]["value"] < high and torch["x_floor"]["level"] == "IQR"
    assert fit["numba-mlp:seed"]["dispatch_s"] == 0 and fit["numba-mlp:seed"]["rest_s"] == 0
    calls = tables["predict-breakdown"]["rows"]
    sk = next(r for r in calls if r["adapter"] == "sklearn-mlp:seed" and r["call"] == "one row")
    assert sk["rest_us"] < 0 and sk["negative_rest_trials"] == 6  # over-explained: shown and counted
    text = (out / "REPORT.md").read_text()
    assert "Why `torch-mlp:seed` takes" in text and "x `keras-mlp:fused`'s fit time" in text
    assert "Rest below 0" in text and "single-row predict on 6 of 6 trials" in text
    assert "`keras-mlp:fused` 4.33x: its dispatch alone, 7,500 steps x 2.5 us above the floor's cost per step" in text
    assert "while it pays that dispatch it cannot come within 3x" in text
    # what the dispatch holds: the steps alone as a multiple of the floor, and each epoch's own work where measured
    assert "the steps alone " in text and "x the floor's fit)" in text
    assert "Fit not split for `torch-mlp:tuned`" in text
    assert (out / "figures" / "time-breakdown.png").is_file()
    assert '"barmode":"relative"' in (out / "report.html").read_text().replace(" ", "")


def test_the_exports_carry_the_parts(floor_run):
    import pandas as pd

    from hello_bench.report.export import _metrics, export_parquet

    written = export_parquet(["floor"], floor_run, str(floor_run / "floor.parquet"))
    frame = pd.read_parquet(written["path"])
    for q in breakdown.QUANTITIES:
        assert set(breakdown.COLUMNS[q].values()) <= set(frame.columns)
    metrics = _metrics(frame.iloc[1])
    assert {"floor_fit_s", "dispatch_fit_s", "rest_fit_s", "step_overhead_s", "n_steps"} <= set(metrics)


def test_the_seed_table_shows_the_floor_only_where_the_run_has_it():
    """`bench seed` gains the compiled floor's row; seed runs made before it existed render as they did."""
    from hello_bench.report.seed import ROWS, seed_rows

    post = [record(label, 0, 0.9, warnings=[]) for label, _ in ROWS if not label.startswith("numba-mlp")]
    assert [r["model"] for r in seed_rows(post)] == [text for label, text in ROWS if label != "numba-mlp:seed"]
    rows = seed_rows([*post, record("numba-mlp:seed", 0, 0.97, fit=0.011, warnings=[])])
    assert rows[-1]["model"].startswith("Compiled floor") and rows[-1]["fit s"] == 0.011
