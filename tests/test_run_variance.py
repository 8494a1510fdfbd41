"""The run-to-run variance (hello_bench.analysis.run_variance) against hand-computed mean squares: Satterthwaite df,
a truncated estimate unknown, too few runs unknown, history segments pooled, one machine, the span covered."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hello_bench.analysis import run_variance as rv

#: MS_run = 2 x (0.2^2 + 0.2^2) = 0.16, MS_error = 0.04 (residuals +-0.1): var = 0.12 / 2 = 0.06,
#: Satterthwaite df = 0.12^2 / (0.16^2 / 1 + 0.04^2 / 1) = 0.0144 / 0.0272
TABLE = [[0.0, 0.2], [0.6, 0.4]]


def test_two_way_has_satterthwaite_df_not_runs_minus_one():
    e = rv.two_way(TABLE)
    assert e.var == pytest.approx(0.06) and e.df == pytest.approx(0.0144 / 0.0272)
    assert (e.runs, e.splits, e.truncated) == (2, 2, False)
    # no interaction: MS_error = 0, so the df are R - 1 exactly (the most they can be)
    clean = rv.two_way([[0.0, 0.1, 0.2], [0.3, 0.4, 0.5], [0.6, 0.7, 0.8]])
    assert clean.var == pytest.approx(0.09) and clean.df == pytest.approx(2.0)
    assert rv.satterthwaite_df(0.16, 1, 0.04, 1) == pytest.approx(0.0144 / 0.0272)
    assert rv.satterthwaite_df(0.16, 3, 0.04, 6) == pytest.approx(0.0144 / (0.16**2 / 3 + 0.04**2 / 6))
    assert math.isnan(rv.satterthwaite_df(0.0, 1, 0.0, 1))


def test_a_variance_truncated_to_0_is_unknown_not_0():
    # all the difference is interaction: MS_run = MS_error = 0.01
    e = rv.two_way([[0.0, 0.1], [0.2, 0.1]])
    assert e == rv.Estimate(0.0, 0.0, 2, 2, truncated=True) and not e.known
    assert rv.pooled([e]) == rv.Estimate(0.0, 0.0, 2, 2, truncated=True) and not rv.pooled([e]).known
    assert rv.two_way([[0.0, 0.5], [0.0, 0.5]]).truncated  # identical runs: nothing between them
    # constant values whose logs round differently: a variance of 1e-33 is rounding, not a known 0
    assert rv.two_way([[math.log(1e4)] * 3, [math.log(1e4) + 1e-15] * 3]).truncated
    assert not rv.two_way([[0.0] * 3, [2e-8] * 3]).truncated  # an sd of 1e-8 or more is a measurement


def test_the_rounding_limit_is_exclusive(monkeypatch):
    exact = rv.two_way(TABLE).var
    monkeypatch.setattr(rv, "ROUNDING", exact)
    assert not rv.two_way(TABLE).truncated  # a variance at the limit counts
    monkeypatch.setattr(rv, "ROUNDING", exact * (1 + 1e-12))
    assert rv.two_way(TABLE).truncated


def test_too_few_runs_or_splits_are_unknown():
    assert math.isnan(rv.two_way([[0.0, 0.1]]).var)  # one run
    assert math.isnan(rv.two_way([[0.0], [1.0]]).var)  # one split
    assert math.isnan(rv.two_way([[0.0, 1.0], [0.0]]).var)  # ragged
    assert math.isnan(rv.two_way([]).var)
    five = rv.Estimate(0.01, 2.0, rv.MIN_RUNS, 10)
    assert five.known and rv.MIN_RUNS == 5
    assert not rv.Estimate(0.01, 2.0, rv.MIN_RUNS - 1, 10).known  # a calibration of 4 (or 2) repeats
    assert not rv.Estimate(0.01, 0.0, 9, 10).known and not rv.Estimate(math.nan, 2.0, 9, 10).known
    # under one df a variance bounds nothing (its t quantile is astronomical): reported, not used
    assert not rv.Estimate(0.01, 0.3, 9, 10).known and rv.Estimate(0.01, rv.MIN_DF, 9, 10).known
    assert not rv.Estimate(0.01, math.inf, 9, 10).known and not rv.Estimate(math.inf, 2.0, 9, 10).known
    assert not rv.Estimate(0.01, 2.0, 9, 10, truncated=True).known
    assert five.to_dict() == {"var": 0.01, "df": 2.0, "runs": 5, "splits": 10, "truncated": False,
                              "df_method": "satterthwaite"}  # fmt: skip


def test_segments_pool_their_sums_of_squares_and_keep_their_own_levels():
    shifted = [[5.0, 5.2], [5.6, 5.4]]  # the same runs' spread, another level (a code change)
    e = rv.segmented([TABLE, shifted])
    # SS_run 0.32 on 2 df, SS_error 0.08 on 2 df: the same variance, twice the df
    assert e.var == pytest.approx(0.06) and e.df == pytest.approx(0.0144 / (0.0256 / 2 + 0.0016 / 2))
    assert e.runs == 4 and e.splits == 2
    together = rv.two_way(TABLE + shifted)  # one segment: the level shift would count as run-to-run noise
    assert together.var > 10 * e.var
    assert rv.segmented([TABLE, [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]]]) == rv.UNKNOWN  # different splits
    assert rv.segmented([TABLE, [[1.0, 2.0]]]) == rv.two_way(TABLE)  # a one-run segment adds nothing
    assert rv.segmented([]) == rv.UNKNOWN


def test_pooled_over_groups_leaves_truncated_ones_out_and_takes_the_fewest_df():
    a, b = rv.Estimate(0.01, 4.0, 6, 10), rv.Estimate(0.03, 2.0, 5, 8)
    assert rv.pooled([a, b, rv.Estimate(0.0, 0.0, 6, 10, truncated=True)]) == rv.Estimate(0.02, 2.0, 5, 8)
    assert rv.pooled([]) == rv.UNKNOWN and rv.pooled([rv.UNKNOWN]) == rv.UNKNOWN
    two = rv.pooled([rv.Estimate(0.01, 1.0, 2, 10)])  # two repeats: kept, with its count, and not usable
    assert two == rv.Estimate(0.01, 1.0, 2, 10) and not two.known


def _frame(runs: int, splits: int, offsets: list[float], seed: int = 0, **extra: object) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(runs):
        for s in range(splits):
            for adapter in ("lr", "mlp"):
                value = math.exp(offsets[r] + 0.1 * s + 0.01 * rng.standard_normal())
                rows.append(dict(run_id=f"r{r}", split_seed=s, dataset="iris", adapter=adapter, device="cpu",
                                 status="ok", fit_wall_s=value, started_at=1000.0 + 100 * r,
                                 finished_at=1050.0 + 100 * r, **extra))  # fmt: skip
    return pd.DataFrame(rows)


def test_from_frame_pools_the_groups_two_way_tables():
    offsets = [0.0, 0.05, -0.03, 0.02, 0.04, -0.05]
    frame = _frame(6, 5, offsets)
    e = rv.from_frame(frame, "fit_wall_s", ["dataset", "adapter", "device"], "run_id")
    by_hand = []
    for adapter in ("lr", "mlp"):
        g = frame[frame["adapter"] == adapter]
        table = np.log(g.pivot_table(index="run_id", columns="split_seed", values="fit_wall_s")).to_numpy()
        by_hand.append(rv.two_way(table.tolist()))
    assert e == rv.pooled(by_hand) and e.known and e.runs == 6
    assert e.var == pytest.approx(float(np.var(offsets, ddof=1)), rel=0.3)
    # a failed trial or a value <= 0 is left out, with its split for every run
    broken = frame.copy()
    broken.loc[0, "status"] = "error"
    assert rv.from_frame(broken, "fit_wall_s", ["dataset", "adapter", "device"], "run_id").splits == 4
    zero = frame.copy()
    zero.loc[0, "fit_wall_s"] = 0.0  # log 0 would be -inf
    got = rv.from_frame(zero, "fit_wall_s", ["dataset", "adapter", "device"], "run_id")
    assert got.splits == 4 and math.isfinite(got.var)
    assert rv.from_frame(frame, "nope", ["dataset"], "run_id") == rv.UNKNOWN


def test_from_history_keeps_one_machine_cuts_at_the_steps_and_says_its_span():
    offsets = [0.0, 0.03, -0.02, 1.0, 1.02, 0.99, 1.01]  # a step (a code change) at r3
    mine = _frame(7, 5, offsets, machine_id="m1", hostname="h1")
    theirs = _frame(3, 5, [5.0, 6.0, 7.0], seed=1, machine_id="m2", hostname="h2")
    frame = pd.concat([mine, theirs.assign(run_id=lambda d: "x" + d["run_id"])], ignore_index=True)
    keys = ["dataset", "adapter", "device"]
    found, span = rv.from_history(frame, ["fit_wall_s"], keys, "m1", "h1", breaks=["r3"])
    cut = found["fit_wall_s"]
    assert cut.runs == 7  # 3 + 4: the segments pooled
    assert cut.var < 0.01  # the step is a level, not noise
    whole, _ = rv.from_history(frame, ["fit_wall_s"], keys, "m1", "h1")
    assert whole["fit_wall_s"].var > 0.1  # without the cut the step inflates the variance
    assert (span.first, span.last, span.runs, span.seconds) == (1000.0, 1650.0, 7, 650.0)
    assert span.to_dict() == {"first": 1000.0, "last": 1650.0, "seconds": 650.0, "runs": 7}
    other, other_span = rv.from_history(frame, ["fit_wall_s"], keys, "m3", None)
    assert other["fit_wall_s"] == rv.UNKNOWN and other_span.runs == 0
    assert math.isnan(other_span.first) and math.isnan(other_span.last)
    # the hostname counts too: the same hardware id under another name is another machine
    renamed, renamed_span = rv.from_history(frame, ["fit_wall_s"], keys, "m1", "h2")
    assert renamed["fit_wall_s"] == rv.UNKNOWN and renamed_span.runs == 0
    assert rv.span_starts(mine, "run_id")["r2"] == 1200.0
    # the runs in the order they ran, not by name: a break at r3 cuts there even when names sort otherwise
    shuffled = mine.assign(run_id=mine["run_id"].map({f"r{i}": f"z{6 - i}" for i in range(7)}))
    again, _ = rv.from_history(shuffled, ["fit_wall_s"], keys, "m1", "h1", breaks=["z3"])
    assert again["fit_wall_s"] == cut


def test_same_machine_keeps_the_rows_of_one_machine_by_what_the_frame_records():
    frame = pd.DataFrame({"machine_id": ["a", "a", "b"], "hostname": ["x", "y", "x"], "v": [1, 2, 3]})
    assert rv.same_machine(frame, "a", "x")["v"].tolist() == [1]
    assert rv.same_machine(frame, "a", None)["v"].tolist() == [1, 2]
    assert rv.same_machine(frame, None, "x")["v"].tolist() == [1, 3]
    assert rv.same_machine(frame, None, None)["v"].tolist() == [1, 2, 3]
    assert rv.same_machine(frame.drop(columns="hostname"), "b", "x")["v"].tolist() == [3]  # not recorded: not a filter
    assert rv.same_machine(frame.drop(columns="machine_id"), "b", "y")["v"].tolist() == [2]


def test_span_reads_datetimes_and_missing_columns():
    frame = pd.DataFrame({"run": ["a", "b"], "started_at": pd.to_datetime([0, 3600], unit="s"),
                          "finished_at": pd.to_datetime([60, 7200], unit="s")})  # fmt: skip
    assert rv.span(frame, "run") == rv.Span(0.0, 7200.0, 2)
    assert rv.span(frame.drop(columns="finished_at"), "run") == rv.Span(0.0, 3600.0, 2)
    unfinished = pd.DataFrame({"run": ["a", "b"], "started_at": [0.0, 5000.0], "finished_at": [60.0, None]})
    assert rv.span(unfinished, "run") == rv.Span(0.0, 5000.0, 2)  # a run that did not finish ends where it began
    empty = rv.span(pd.DataFrame({"run": ["a"]}), "run")
    assert empty.runs == 0 and math.isnan(empty.first) and math.isnan(empty.last)
    assert rv.span_starts(pd.DataFrame({"run": ["a"]}), "run") == {} and rv.span_starts(pd.DataFrame(), "run") == {}
    assert rv.span_starts(frame, "run") == {"a": 0.0, "b": 3600.0}
    assert [rv.duration_text(x) for x in (0, 12.4, 250, 7500, 90000)] == ["0s", "12s", "4m10s", "2h05m", "25h00m"]
