"""The noise floor: long-span controls, /proc/stat shares, per-round controls, order effects, re-measured latency,
and a "read with care" list that groups instead of listing (hand-computed where numbers are involved)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis import noise
from bench.analysis.order_effects import order_effect
from bench.measure import noise as measure_noise


def test_timed_span_reports_the_mean_over_the_span_not_the_median_of_short_repeats():
    # a fake clock: each unit takes 10 ns, but every 4th unit is throttled to 100 ns (a CFS quota at work)
    now = {"t": 0}
    calls = {"n": 0}

    def clock() -> int:
        return now["t"]

    def unit() -> None:
        calls["n"] += 1
        now["t"] += 100 if calls["n"] % 4 == 0 else 10

    per_unit, spread, units = measure_noise.timed_span(unit, span_s=1e-6, clock=clock)  # 1000 ns
    # units 2.. (the first is outside the clock): 4 units take 10+10+100+10 = 130 ns -> 32.5 ns per unit
    assert units * per_unit * 1e6 == pytest.approx(now["t"] - 10)  # the span, in ns, over the units done
    assert per_unit * 1e6 == pytest.approx(32.5, rel=0.1)  # a median of short repeats would say 10
    assert spread == pytest.approx(10.0)


def test_proc_stat_shares_hand_computed(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n")
    before = measure_noise.read_proc_stat(stat)
    assert before == {
        "user": 100,
        "nice": 0,
        "system": 50,
        "idle": 800,
        "iowait": 50,
        "irq": 0,
        "softirq": 0,
        "steal": 0,
    }
    after = dict(before, user=160, system=70, idle=880, steal=20)  # 180 ticks: 80 busy + 20 steal of them, 80 idle
    shares = measure_noise.cpu_shares(before, after)
    assert shares["busy"] == pytest.approx(100 / 180) and shares["steal"] == pytest.approx(20 / 180)
    assert shares["iowait"] == 0
    assert measure_noise.cpu_shares(before, before) is None and measure_noise.cpu_shares(None, after) is None
    assert measure_noise.read_proc_stat(tmp_path / "missing") is None


def test_floor_hand_computed():
    # logs of 1, e^0.1, e^-0.1: mean 0, sd = sqrt((0.01 + 0.01) / 2) = 0.1; floor = e^0.2 - 1 = 0.221403
    f = noise.floor_of([1.0, math.exp(0.1), math.exp(-0.1)])
    assert f.n == 3 and f.median == 1.0 and f.sd_log == pytest.approx(0.1)
    assert f.floor == pytest.approx(0.221403, abs=1e-6) and f.range == pytest.approx(math.exp(0.2) - 1)
    assert f.drifted  # 22% between the slowest and the fastest round
    assert math.isnan(noise.floor_of([1.0, 1.1]).floor)  # two rounds: no floor
    assert noise.floor_of([]).n == 0 and not noise.floor_of([1.0, 1.05, 1.02]).drifted
    # two runs' floors combine in quadrature: exp(2 sqrt(0.1^2 + 0.1^2)) - 1
    assert noise.combined(f, f) == pytest.approx(math.exp(2 * math.sqrt(0.02)) - 1)
    assert noise.within_floor(1.2, f.floor) and not noise.within_floor(1.25, f.floor)
    assert noise.within_floor(1 / 1.2, f.floor) and not noise.within_floor(1.01, math.nan)


def test_speed_index_follows_the_thread_count_and_reads_older_controls():
    entry = {"python_loop_ms": 4.0, "numpy_matmul_1t_ms": 1.0, "numpy_matmul_mt_ms": 3.0}
    assert noise.speed_index(entry, 1) == pytest.approx(2.0)  # sqrt(4 x 1)
    assert noise.speed_index(entry, 4) == pytest.approx(3.0)
    assert noise.speed_index({"python_loop_200k_ms": 9.0, "numpy_matmul_256_ms": 1.0}) == pytest.approx(3.0)
    assert math.isnan(noise.speed_index({}))


def test_control_ratio_and_normalised_ratio_hand_computed():
    # A's indices e^0, e^0.2; B's e^0.7, e^0.7 (B twice as slow, about): ratio e^(0.7 - 0.1) = e^0.6
    a, b = [1.0, math.exp(0.2)], [math.exp(0.7), math.exp(0.7)]
    c = noise.control_ratio(a, b)
    assert c.ratio == pytest.approx(math.exp(0.6))
    # var = var_a / 2 + 0 = 0.02 / 2 = 0.01; df (Welch) = 0.01^2 / (0.01^2 / 1) = 1
    assert c.var_log == pytest.approx(0.01) and c.df == pytest.approx(1.0)
    assert c.low == pytest.approx(math.exp(0.6 - 12.706205 * 0.1), rel=1e-5)
    # a time ratio of e^0.6 is no change at all once the machines' speed is taken out
    n = noise.normalise(0.6, 0.0001, 9, c)
    assert n.ratio == pytest.approx(1.0) and n.low < 1 < n.high
    assert math.isnan(noise.normalise(0.6, 0.01, 9, noise.control_ratio([], [1.0])).ratio)
    one = noise.control_ratio([2.0], [3.0])
    assert one.ratio == pytest.approx(1.5) and math.isnan(one.low)
    assert math.isnan(noise.normalise(0.6, 0.01, 9, one).low) and noise.normalise(
        0.6, 0.01, 9, one
    ).ratio == pytest.approx(math.exp(0.6) / 1.5)


def test_order_effect_recovers_a_known_slope_and_finds_none_without_one():
    rng = np.random.default_rng(0)
    groups, rounds, positions, values = [], [], [], []
    for r in range(30):
        order = rng.permutation(3)
        for g, p in zip(("a", "b", "c"), order):
            groups.append(g)
            rounds.append(r)
            positions.append(int(p))
            # group means 1, 2, 4; a round effect; 10% slower per position; 2% noise
            values.append(
                {"a": 1.0, "b": 2.0, "c": 4.0}[g]
                * (1 + 0.05 * (r % 3))
                * 1.10**p
                * math.exp(0.02 * rng.standard_normal())
            )
    e = order_effect(groups, rounds, positions, values)
    assert e.low < 1.10 < e.high and e.p < 1e-6 and e.n == 90 and e.df == 90 - (1 + 2 + 29 + 1)
    flat = order_effect(groups, rounds, positions, [v / 1.10**p for v, p in zip(values, positions)])
    assert flat.low < 1.0 < flat.high and flat.p > 0.05
    assert set(e.by_position) == {0, 1, 2} and sum(n for _, n in e.by_position.values()) == 90
    # one position only: nothing to test
    assert math.isnan(order_effect(["a", "b"], [0, 1], [0, 0], [1.0, 2.0]).p)


def test_latency_drifting_within_a_trial_is_measured_again_and_every_attempt_kept(monkeypatch):
    from bench.measure import trial
    from bench.run.settings import TimingSettings

    runs = iter([[100] * 10 + [200] * 10 + [300] * 10, [100] * 30, [50] * 10])  # the first drifts; the last: stock
    monkeypatch.setattr(trial, "latency", lambda *a, **k: list(next(runs)))
    monkeypatch.setattr(trial, "throughput", lambda *a, **k: {})

    class Clf:
        sync = None

        def predict_proba(self, X):
            return np.ones((len(X), 2)) / 2

        predict_proba_stock = predict_proba

    split = trial.Split(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4), np.zeros(4))
    settings = TimingSettings(
        warmup=1, stock_min_calls=1, stock_budget_s=0.001, batch_sizes=(1,), throughput_budget_s=0.001
    )
    out = trial._predict(Clf(), split, settings)
    assert (
        out["latency_drift"] == 1.0
        and out["latency"]["p50_us"] == pytest.approx(0.1)
        and out["latency_raw_ns"] == [100] * 30
    )
    assert len(out["latency_attempts"]) == 1
    kept = out["latency_attempts"][0]
    assert kept["latency_drift"] == pytest.approx(3.0) and kept["latency"]["p50_us"] == pytest.approx(0.2)

    # a drift every time: at most MAX_LATENCY_ATTEMPTS measurements, the earlier ones kept
    drifting = [100] * 10 + [100] * 10 + [300] * 10
    runs = iter([list(drifting)] * 5)
    out = trial._predict(Clf(), split, settings)
    assert len(out["latency_attempts"]) == trial.MAX_LATENCY_ATTEMPTS - 1
    assert out["latency_drift"] == pytest.approx(3.0) and all(
        a["latency_drift"] == pytest.approx(3.0) for a in out["latency_attempts"]
    )

