"""The noise floor: long-span controls, /proc/stat shares, per-round controls, order effects, re-measured latency,
and a "read with care" list that groups instead of listing (hand-computed where numbers are involved)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from hello_bench.analysis import noise
from hello_bench.analysis.order_effects import order_effect
from hello_bench.measure import noise as measure_noise


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


def test_positive_keeps_finite_positive_numbers_only():
    assert noise.positive([1, 0, -1.0, math.nan, math.inf, None, "x", 2.5, True]) == [1.0, 2.5, 1.0]


def test_floor_hand_computed():
    # logs of 1, e^0.1, e^-0.1: mean 0, sd = sqrt((0.01 + 0.01) / 2) = 0.1; floor = e^0.2 - 1 = 0.221403
    f = noise.floor_of([1.0, math.exp(0.1), None, math.exp(-0.1), 0.0])
    assert (f.n, f.median, f.low, f.high) == (3, 1.0, math.exp(-0.1), math.exp(0.1)) and f.sd_log == pytest.approx(0.1)
    assert f.floor == pytest.approx(0.221403, abs=1e-6) and f.range == pytest.approx(math.exp(0.2) - 1)
    assert f.drifted  # 22% between the slowest and the fastest round
    even = noise.floor_of([1.0, 2.0, 4.0, 3.0])
    assert even.median == 2.5 and even.low == 1.0 and even.high == 4.0 and even.range == 3.0
    two = noise.floor_of([1.0, 1.1])
    assert (two.n, two.median, two.low, two.high) == (2, 1.05, 1.0, 1.1) and math.isnan(two.floor)  # no floor from 2
    none = noise.floor_of([])
    assert none.n == 0 and math.isnan(none.median) and math.isnan(none.range) and not none.drifted
    assert not noise.floor_of([1.0, 1.05, 1.02]).drifted and noise.floor_of([1.0, 1.1, 1.101]).drifted
    # two runs' floors combine in quadrature: exp(2 sqrt(0.1^2 + 0.2^2)) - 1
    g = noise.floor_of([1.0, math.exp(0.2), math.exp(-0.2)])
    assert noise.combined(f, g) == pytest.approx(math.exp(2 * math.sqrt(0.05)) - 1)
    assert math.isnan(noise.combined(f, two))
    assert noise.within_floor(1.2, f.floor) and not noise.within_floor(1.25, f.floor)
    assert noise.within_floor(1 / 1.2, f.floor) and not noise.within_floor(1.01, math.nan)
    assert not noise.within_floor(math.exp(0.2), math.exp(0.2) - 1)  # at the floor: not within it
    rounds = [{"python_loop_ms": 4.0 * k, "numpy_matmul_1t_ms": 1.0 * k} for k in (1.0, math.exp(0.1), math.exp(-0.1))]
    assert noise.run_floor(rounds).sd_log == pytest.approx(0.1) and noise.run_floor(rounds).median == pytest.approx(2.0)
    assert noise.run_floor(rounds, threads=2).n == 0  # no multi-threaded control in these rounds


def test_speed_index_follows_the_thread_count_and_reads_older_controls():
    entry = {"python_loop_ms": 4.0, "numpy_matmul_1t_ms": 1.0, "numpy_matmul_mt_ms": 3.0}
    assert noise.speed_index(entry, 1) == pytest.approx(2.0)  # sqrt(4 x 1)
    assert noise.speed_index(entry, 4) == pytest.approx(3.0)
    assert noise.speed_index({"python_loop_200k_ms": 9.0, "numpy_matmul_256_ms": 1.0}) == pytest.approx(3.0)
    assert noise.speed_index(
        {"python_loop_ms": 4.0, "python_loop_200k_ms": 9.0, "numpy_matmul_256_ms": 1.0}
    ) == pytest.approx(3.0)
    assert math.isnan(noise.speed_index({})) and math.isnan(noise.speed_index({"python_loop_ms": 4.0}))


def test_control_ratio_and_normalised_ratio_hand_computed():
    # A's log indices 0, 0.2, 0.4 (mean 0.2, var 0.04); B's 0.5, 0.7 (mean 0.6, var 0.02): ratio e^0.4;
    # var = 0.04 / 3 + 0.02 / 2 = 0.0233333; Welch df = var^2 / ((0.04/3)^2 / 2 + 0.01^2 / 1) = 2.882353
    c = noise.control_ratio([1.0, math.exp(0.2), math.exp(0.4), -1.0], [math.exp(0.5), math.exp(0.7)])
    assert (c.n_a, c.n_b) == (3, 2) and c.ratio == pytest.approx(math.exp(0.4))
    assert c.var_log == pytest.approx(0.0233333, abs=1e-7) and c.df == pytest.approx(2.882353, abs=1e-6)
    half = sps.t.ppf(0.975, 2.882353) * math.sqrt(0.0233333)
    assert c.low == pytest.approx(math.exp(0.4 - half), rel=1e-5) and c.high == pytest.approx(
        math.exp(0.4 + half), rel=1e-5
    )
    # normalised: log ratio 0.5 with variance 0.01 on 4 df, less the control's 0.4: e^0.1; total var 0.0333333,
    # df = 0.0333333^2 / (0.01^2 / 4 + 0.0233333^2 / 2.882353) = 5.1297
    n = noise.normalise(0.5, 0.01, 4, c)
    assert n.ratio == pytest.approx(math.exp(0.1))
    dof = 0.0333333**2 / (0.01**2 / 4 + 0.0233333**2 / 2.882353)
    half = sps.t.ppf(0.975, dof) * math.sqrt(0.0333333)
    assert n.low == pytest.approx(math.exp(0.1 - half), rel=1e-4) and n.high == pytest.approx(
        math.exp(0.1 + half), rel=1e-4
    )
    exact = noise.control_ratio([2.0, 2.0], [4.0, 4.0])  # no spread at all: an exact ratio, known
    assert (exact.ratio, exact.low, exact.high, exact.var_log, exact.df) == (2.0, 2.0, 2.0, 0.0, math.inf)
    k = noise.normalise(math.log(2.0), 0.01, 4, exact)  # only the trials' variance: their own df
    assert k.ratio == pytest.approx(1.0) and k.high == pytest.approx(math.exp(sps.t.ppf(0.975, 4) * 0.1))
    assert noise.normalise(math.log(2.0), 0.0, 4, exact) == noise.Normalised(pytest.approx(1.0))
    missing = noise.control_ratio([], [1.0])
    assert (missing.n_a, missing.n_b) == (0, 1) and math.isnan(missing.ratio) and math.isnan(missing.df)
    assert math.isnan(noise.normalise(0.6, 0.01, 9, missing).ratio)
    one = noise.control_ratio([2.0], [3.0, 3.3])
    assert one.ratio == pytest.approx(math.exp((math.log(3.0) + math.log(3.3)) / 2) / 2.0) and math.isnan(one.low)
    assert math.isnan(one.var_log) and math.isnan(one.df)
    assert math.isnan(noise.normalise(0.6, 0.01, 9, one).low) and math.isnan(noise.normalise(0.6, 0.01, 9, one).high)


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
    assert e.low < 1.10 < e.high and e.p < 1e-6 and e.n == 90 and e.df == 90 - (3 + 29 + 1) and e.tested
    flat = order_effect(groups, rounds, positions, [v / 1.10**p for v, p in zip(values, positions)])
    assert flat.low < 1.0 < flat.high and flat.p > 0.05
    assert set(e.by_position) == {0, 1, 2} and sum(n for _, n in e.by_position.values()) == 90


def test_order_effect_with_one_group_and_one_round_is_a_plain_regression():
    from scipy import stats as sps

    positions = [0, 1, 2, 3, 0, 1, 2, 3]
    values = [1.0, 1.12, 1.2, 1.4, 0.95, 1.08, 1.25, 1.3]
    e = order_effect(["a"] * 8, [0] * 8, positions, values)
    fit = sps.linregress(positions, np.log(values))
    half = sps.t.ppf(0.975, 6) * fit.stderr
    assert e.df == 6 and e.ratio == pytest.approx(math.exp(fit.slope))
    assert e.p == pytest.approx(fit.pvalue) and e.low == pytest.approx(math.exp(fit.slope - half))
    assert e.high == pytest.approx(math.exp(fit.slope + half))


def test_order_effect_residuals_by_position_hand_computed_and_the_cases_without_a_test():
    # two groups, four rounds, each group twice first and twice second: y = group + round + 0.2 * position exactly.
    # Without the position term the fit absorbs its mean (0.1): residuals are -0.1 at position 0, +0.1 at 1.
    groups = ["a", "b"] * 4
    rounds = [0, 0, 1, 1, 2, 2, 3, 3]
    positions = [0, 1, 0, 1, 1, 0, 1, 0]
    values = [math.exp({"a": 0.0, "b": 1.0}[g] + 0.3 * r + 0.2 * p) for g, r, p in zip(groups, rounds, positions)]
    e = order_effect(groups, rounds, positions, values)
    assert e.by_position[0] == (pytest.approx(math.exp(-0.1)), 4) and e.by_position[1] == (
        pytest.approx(math.exp(0.1)),
        4,
    )
    assert e.ratio == pytest.approx(math.exp(0.2)) and e.df == 8 - (2 + 3 + 1)
    assert e.low == pytest.approx(math.exp(0.2)) and e.high == pytest.approx(math.exp(0.2))  # an exact fit
    dropped = order_effect([*groups, "a"], [*rounds, 0], [*positions, 0], [*values, math.nan])
    assert dropped.n == 8 and dropped.ratio == pytest.approx(math.exp(0.2))
    assert order_effect(["a"], [0], [0], [0.0]) == order_effect([], [], [], [])
    assert order_effect([], [], [], []).n == 0
    single = order_effect(["a", "b"], [0, 1], [0, 0], [1.0, 2.0])  # one position only: nothing to test
    assert math.isnan(single.p) and math.isnan(single.ratio) and single.by_position == {0: (1.0, 2)}
    confounded = order_effect(["a", "b"] * 3, [0, 0, 1, 1, 2, 2], [0, 1] * 3, [1.0, 2.0, 1.1, 2.1, 0.9, 1.9])
    assert math.isnan(confounded.p) and confounded.n == 6 and confounded.df == 1  # a always first, b always second


def dense_order_effect(groups, rounds, positions, values, confidence=0.95):
    """The model fitted with one dummy column per group and per round but the first (the textbook way, and the
    way order_effect did it before: its memory grows with trials x rounds, so it is only a reference here)."""
    keep = [i for i, v in enumerate(values) if math.isfinite(v) and v > 0]
    if not keep:
        return 0, 0, {}, math.nan
    pos = np.array([float(positions[i]) for i in keep])
    y = np.log([values[i] for i in keep])
    g, r = [str(groups[i]) for i in keep], [str(rounds[i]) for i in keep]
    cols = [np.array([x == lv for x in g], float) for lv in sorted(set(g))]
    cols += [np.array([x == lv for x in r], float) for lv in sorted(set(r))[1:]]
    base = np.column_stack(cols)
    residual = y - base @ np.linalg.pinv(base) @ y
    by_position = {int(p): (float(np.exp(residual[pos == p].mean())), int((pos == p).sum())) for p in sorted(set(pos))}
    x = np.column_stack([base, pos])
    df = len(keep) - x.shape[1]
    if len(by_position) < 2 or df < 1 or np.linalg.matrix_rank(x) < x.shape[1]:
        return len(keep), max(df, 0), by_position, math.nan
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    return len(keep), df, by_position, math.exp(coef[-1])


@st.composite
def order_designs(draw):
    """Rounds of some of a few groups, positions shuffled within each round (or not), values with gaps."""
    n_groups, n_rounds = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    groups, rounds, positions, values = [], [], [], []
    for r in range(n_rounds):
        members = draw(st.lists(st.integers(0, n_groups - 1), min_size=1, max_size=n_groups, unique=True))
        order = draw(st.permutations(range(len(members))))
        for g, p in zip(members, order):
            groups.append(f"g{g}")
            rounds.append((r, "x"))
            positions.append(p)
            values.append(draw(st.sampled_from([math.nan, 0.0]) | st.floats(0.01, 100.0)))
    return groups, rounds, positions, values


@settings(max_examples=60, deadline=None)
@given(order_designs())
def test_order_effect_equals_the_dense_least_squares_on_any_design(design):
    """Absorbing the rounds by demeaning gives the dense model's numbers, tested or not, on any design."""
    e = order_effect(*design)
    n, df, by_position, ratio = dense_order_effect(*design)
    assert (e.n, e.df) == (n, df) and e.by_position.keys() == by_position.keys()
    for p, (mean, count) in by_position.items():
        assert e.by_position[p][1] == count and e.by_position[p][0] == pytest.approx(mean, rel=1e-6, abs=1e-9)
    assert e.tested == math.isfinite(ratio)
    if e.tested:
        assert e.ratio == pytest.approx(ratio, rel=1e-6)


def test_latency_drifting_within_a_trial_is_measured_again_and_every_attempt_kept(monkeypatch):
    from hello_bench.measure import trial
    from hello_bench.measure.settings import TimingSettings

    runs = iter([[100] * 10 + [200] * 10 + [300] * 10, [100] * 30, [50] * 10])  # the first drifts; the last: stock

    def latency(*args: object, **kwargs: object) -> tuple[list[int], list[int]]:
        wall = list(next(runs))
        return wall, wall  # (wall, CPU) per call

    monkeypatch.setattr(trial, "latency", latency)
    monkeypatch.setattr(trial, "throughput", lambda *a, **k: ({}, {}))

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


def test_a_control_ratio_keeps_how_many_indices_each_side_had_and_takes_welchs_df():
    one = noise.control_ratio([2.0], [3.0, 3.0, 3.0])  # one value on A: a ratio, no interval
    assert (one.n_a, one.n_b, one.ratio) == (1, 3, pytest.approx(1.5)) and math.isnan(one.low)
    flat = noise.control_ratio([2.0, 2.0, 2.0], [4.0, 4.0, 4.0, 4.0])  # no spread: exact
    assert (flat.n_a, flat.n_b, flat.var_log, flat.df) == (3, 4, 0.0, math.inf) and flat.low == flat.high == 2.0
    a, b = [1.0, 1.2, 0.9], [2.0, 2.6, 1.7, 2.3, 2.1, 1.9]
    c = noise.control_ratio(a, b)
    la, lb = np.log(a), np.log(b)
    va, vb = la.var(ddof=1) / 3, lb.var(ddof=1) / 6
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 5)
    half = sps.t.ppf(0.975, df) * math.sqrt(va + vb)
    centre = lb.mean() - la.mean()
    assert (c.n_a, c.n_b) == (3, 6) and c.var_log == pytest.approx(va + vb) and c.df == pytest.approx(df)
    assert (c.low, c.high) == (pytest.approx(math.exp(centre - half)), pytest.approx(math.exp(centre + half)))


def test_normalising_by_an_exact_control_keeps_the_ratios_own_interval_and_a_known_one_adds_nothing_to_df():
    exact = noise.ControlRatio(3, 3, 2.0, 2.0, 2.0, 0.0, math.inf)
    n = noise.normalise(math.log(4.0), 0.01, 4, exact)
    half = sps.t.ppf(0.975, 4) * 0.1
    assert (n.ratio, n.low, n.high) == (
        pytest.approx(2.0),
        pytest.approx(2 * math.exp(-half)),
        pytest.approx(2 * math.exp(half)),
    )
    # the ratio itself without variance, a control whose variance is known (infinite df): a normal interval
    known = noise.ControlRatio(3, 3, 2.0, 1.9, 2.1, 0.01, math.inf)
    k = noise.normalise(math.log(4.0), 0.0, 4, known)
    z = sps.norm.ppf(0.975) * 0.1
    assert (k.low, k.high) == (pytest.approx(2 * math.exp(-z)), pytest.approx(2 * math.exp(z)))
    assert math.isnan(noise.normalise(math.log(4.0), 0.0, 4, exact).low)  # both zero: no interval
