"""Step detection (hello_bench.analysis.steps) against hand-computed values: every rule has a test that fails without it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hello_bench.analysis import steps as st


def test_between_variance_is_dersimonian_laird_over_the_segments():
    # w = 1/var = [1, 2, 4]; mean = 14/7 = 2; Q = 1*4 + 2*1 + 4*1 = 10; df = 2; C = 7 - 21/7 = 4 -> (10 - 2)/4
    assert st.between_variance(np.array([0.0, 1.0, 3.0]), np.array([1.0, 0.5, 0.25]), [(0, 3)]) == pytest.approx(2.0)
    y, v = np.array([0.0, 2.0, 0.0, 2.0]), np.array([0.5] * 4)
    assert st.between_variance(y, v, [(0, 4)]) == pytest.approx(5 / 6)  # Q 8, df 3, C 6
    assert st.between_variance(y, v, [(0, 2), (2, 4)]) == pytest.approx(1.5)  # Q 8, df 2, C 4
    assert st.between_variance(y, v, [(0, 1), (1, 4)]) == pytest.approx(5 / 6)  # a one-point segment adds nothing
    assert st.between_variance(np.zeros(3), np.ones(3), [(0, 3)]) == 0.0  # floored at 0 (Q 0 < df 2)
    assert st.between_variance(np.zeros(2), np.ones(2), [(0, 1), (1, 2)]) == 0.0  # no segment of two: 0


def test_successive_variance_drops_the_largest_difference_and_corrects_for_it():
    assert st.trimmed_chi2_mean(2) == pytest.approx(1 - 2 / math.pi)  # E[min of two chi2(1)], known in closed form
    assert st.trimmed_chi2_mean(1) == 1.0
    # E[mean of the 3 smallest of 4 chi2(1)] by simulation, to 1%: the integral is right
    draws = np.sort(np.random.default_rng(0).chisquare(1, (200_000, 4)), axis=1)[:, :3].mean()
    assert st.trimmed_chi2_mean(4) == pytest.approx(draws, rel=0.01)
    # d^2 = [.01, .01, .01, 3.61]: the step's difference is dropped; 0.01 / (2 x c4) - 0.001
    got = st.successive_variance(np.array([0.0, 0.1, 0.0, 0.1, 2.0]), np.full(5, 0.001))
    assert got == pytest.approx(0.01 / (2 * st.trimmed_chi2_mean(4)) - 0.001)
    # two points: one difference, nothing to drop: d^2 / 2 - own
    assert st.successive_variance(np.array([0.0, 1.0]), np.full(2, 0.1)) == pytest.approx(0.5 - 0.1)
    assert st.successive_variance(np.array([0.0, 0.1]), np.full(2, 1.0)) == 0.0  # floored
    # three points: two differences, the larger (0.81) dropped: 0.01 / (2 x c2)
    got3 = st.successive_variance(np.array([0.0, 0.1, 1.0]), np.zeros(3))
    assert got3 == pytest.approx(0.01 / (2 * (1 - 2 / math.pi)))
    # each row on its own
    rows = st.successive_many(np.array([[0.0, 0.1, 1.0], [0.0, 0.0, 0.0]]), np.zeros(3))
    assert rows.tolist() == [pytest.approx(got3), 0.0]
    assert st.successive_variance(np.array([1.0]), np.ones(1)) == 0.0


def test_partition_pays_its_penalty_per_step_and_weights_each_point():
    y = np.array([0, 0, 0, 1, 1, 1.0])
    assert st.partition(y, np.ones(6), 1.49) == [3]  # unsplit SSE 1.5 > 1.49
    assert st.partition(y, np.ones(6), 1.51) == []
    assert st.partition(y, np.ones(6), 1.5) == []  # a tie keeps the simpler fit
    assert st.partition(np.array([0, 0, 1, 1, 3, 3.0]), np.ones(6), 0.1) == [2, 4]
    assert st.partition(np.array([0, 0, 1.0]), np.ones(3), 0.3) == [2]  # SSE 2/3
    assert st.partition(np.array([0, 0, 1.0]), np.array([1, 1, 100.0]), 0.3) == []  # the odd point weighs 1/100


def test_weighted_mean_and_its_standard_error():
    mean, se = st._weighted(np.array([1.0, 3.0]), np.array([1.0, 3.0]))
    assert mean == pytest.approx(1.5) and se == pytest.approx(math.sqrt(0.75))


def test_segment_costs_are_each_segment_s_weighted_squared_error():
    costs = st.segment_costs(st.prefix_sums(np.array([[0.0, 0.0, 1.0]]), np.ones((1, 3))), 3)
    assert costs[0].tolist() == [pytest.approx(2 / 3), pytest.approx(0.5), pytest.approx(0.0, abs=1e-12)]
    # weights 1, 2, 4: [0, 1, 3] costs 10 (Q of the between-variance test); [1, 3] costs 2(4/3)^2 + 4(2/3)^2
    weighted = st.segment_costs(st.prefix_sums(np.array([[0.0, 1.0, 3.0]]), np.array([[1.0, 0.5, 0.25]])), 3)
    assert weighted[0].tolist() == [pytest.approx(10.0), pytest.approx(48 / 9), pytest.approx(0.0, abs=1e-12)]
    assert st.segment_costs(st.prefix_sums(np.array([[0.0, 2.0]]), np.ones((1, 2))), 1)[0].tolist() == [0.0]
    # two rows far apart (log microseconds are near 10, a raw count near 1e8): each centred on its own mean
    far = st.segment_costs(st.prefix_sums(np.array([[1e8, 1e8, 1e8 + 1], [0.0, 0.0, 1.0]]), np.ones((2, 3))), 3)
    assert far[0] == pytest.approx([2 / 3, 0.5, 0.0], abs=1e-6) and far[1] == pytest.approx([2 / 3, 0.5, 0.0])


def test_partition_many_decides_each_row_on_its_own():
    y = np.array([[0, 0, 0, 1, 1, 1.0], [0, 0, 1, 1, 3, 3.0]])
    starts = st.partition_many(y, np.ones((2, 6)), 0.1)
    assert starts.tolist() == [[False, False, False, True, False, False], [False, False, True, False, True, False]]
    assert not st.partition_many(y, np.ones((2, 6)), 100.0).any()
    # offsets far from 0 give the same partition: the prefix sums are centred
    assert st.partition(np.array([0, 0, 0, 1, 1, 1.0]) + 1e8, np.ones(6), 1.49) == [3]
    assert st.partition(np.array([0, 5, 5, 5.0]), np.ones(4), 1.0) == [1]  # a step right after the first point
    assert st.partition(np.array([0, 0, 0, 5.0]), np.ones(4), 1.0) == [3]  # and right before the last


def test_candidates_compare_the_weighted_means_of_adjacent_segments():
    y = np.array([[0, 0, 0, 1, 1, 1.0]])
    own = np.full(6, 0.01)
    found = st.candidates(y, own)
    assert found.starts[0].tolist() == [False, False, False, True, False, False]
    assert found.tau2[0] == 0.0  # within the segments nothing scatters beyond the points' own variance
    assert found.diff[0, 3] == pytest.approx(1.0) and found.se[0, 3] == pytest.approx(math.sqrt(2 * 0.01 / 3))
    assert found.largest[0] == pytest.approx(1 / math.sqrt(2 * 0.01 / 3))
    assert found.statistic[0, :3].tolist() == [0, 0, 0]
    assert found.diff[0, [0, 1, 2, 4, 5]].tolist() == [0.0] * 5 and found.se[0, [0, 1, 2, 4, 5]].tolist() == [0.0] * 5
    flat = st.candidates(np.zeros((1, 6)), own)
    assert not flat.starts.any() and flat.largest.tolist() == [0.0]
    # three segments: each start compares its segment with the one just before it
    three = st.candidates(np.array([[0, 0, 0, 2, 2, 2, 5, 5, 5.0]]), np.full(9, 0.01))
    assert np.flatnonzero(three.starts[0]).tolist() == [3, 6]
    assert three.diff[0, 3] == pytest.approx(2.0) and three.diff[0, 6] == pytest.approx(3.0)
    # the weights: a point with 100x the variance barely moves its segment's mean
    uneven = st.candidates(np.array([[0, 0, 0, 1, 1, 1.5]]), np.array([0.01] * 5 + [1.0]))
    assert uneven.diff[0, 3] == pytest.approx((1 / 0.01 * 2 + 1.5 / 1.0) / (2 / 0.01 + 1) - 0, rel=1e-9)


def test_the_candidates_penalty_is_2_log_n_plus_2_and_each_row_has_its_own():
    # unit own variances and no scatter within the halves: a split gains 1.5 d^2 against 2 ln 6 + 2 = 5.58
    ones = np.ones(6)
    assert st.candidates(np.array([[0, 0, 0, 2, 2, 2.0]]), ones).starts[0].tolist() == [0, 0, 0, 1, 0, 0]  # gains 6
    assert not st.candidates(np.array([[0, 0, 0, 1.9, 1.9, 1.9]]), ones).starts.any()  # gains 5.4
    both = st.candidates(np.array([[0, 0, 0, 2, 2, 2.0], [0, 0, 0, 4, 4, 4.0]]), ones)
    assert both.diff[:, 3].tolist() == [pytest.approx(2.0), pytest.approx(4.0)]
    assert both.largest.tolist() == [pytest.approx(2 / math.sqrt(2 / 3)), pytest.approx(4 / math.sqrt(2 / 3))]


def test_own_variances_floor_zero_and_fill_unknown_standard_errors():
    got = st.own_variances([0.1, 0.0, math.nan, 0.2, -1.0])
    typical = 0.15  # the median of the known positive ones
    assert got.tolist() == pytest.approx([0.01, (1e-3 * typical) ** 2, typical**2, 0.04, (1e-3 * typical) ** 2])
    assert st.own_variances([math.nan, 0.0]).tolist() == pytest.approx([1e-6, 1e-12])  # none known: 1e-3
    assert st.FLOOR == 1e-3


def test_the_seed_is_the_history_s_own_hash():
    import hashlib

    y, own = np.array([0.0, 1.0, 2.0]), np.full(3, 0.01)
    digest = hashlib.sha256(np.ascontiguousarray([y, own]).tobytes()).digest()
    assert st.history_seed(y, own) == int.from_bytes(digest[:8], "little")
    assert st.history_seed(y + 1, own) != st.history_seed(y, own) != st.history_seed(y, own * 2)


def test_tau2_upper_is_the_q_profile_bound_under_no_step():
    # equal own variances: Q(t) = SS / (own + t), so the bound is SS / chi2_(beta)(n - 1) - own
    from scipy import stats as sps

    y = np.array([0.0, 0.3, -0.2, 0.1])
    ss = float(np.sum((y - y.mean()) ** 2))
    target = sps.chi2.ppf(st.BETA, 3)
    assert st.tau2_upper(y, np.full(4, 0.01)) == pytest.approx(ss / target - 0.01, rel=1e-8)
    assert st.tau2_upper(y, np.full(4, 0.01), level=0.9) == pytest.approx(ss / sps.chi2.ppf(0.1, 3) - 0.01, rel=1e-8)
    assert st.tau2_upper(np.zeros(4), np.full(4, 0.01)) == 0.0  # no spread at all: no between-run variance
    # Q(0) just above the quantile (by less than 1): the bound is small, not 0
    small = np.array([0.0, 1.0, 0.0, 1.0]) * math.sqrt(0.03)  # SS = 0.03, own 1: Q(0) = 0.03 > 0.0243
    assert st.tau2_upper(small, np.ones(4)) == pytest.approx(0.03 / target - 1.0, rel=1e-6)
    assert st.tau2_upper(small + 7.0, np.ones(4)) == pytest.approx(st.tau2_upper(small, np.ones(4)))  # location-free
    # unequal own variances: Q at the bound is the quantile
    own = np.array([0.01, 0.02, 0.05, 0.01])
    bound = st.tau2_upper(y, own)
    w = 1 / (own + bound)
    assert float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2)) == pytest.approx(target, rel=1e-6)


def test_threshold_and_p_value_are_the_monte_carlo_ones():
    null = np.arange(99, 0, -1).astype(float)  # 99 simulated maxima, sorted down: 99, 98, ..., 1
    # m + 1 = floor((0.05 - 0.001) x 100) = 4: the 4th largest, 96
    assert st.threshold(null) == 96.0
    assert st.threshold(null, alpha=0.1, beta=0.0) == 90.0  # floor(0.1 x 100) = 10th largest
    assert st.threshold(np.array([3.0, 2.0])) == math.inf  # too few simulations to reach the level
    assert st.threshold(np.arange(19, 0, -1.0), alpha=0.05, beta=0.0) == 19.0  # floor(0.05 x 20) = 1: the largest
    assert st.threshold(np.array([3.0, 2.0]), alpha=0.3, beta=0.0) == math.inf  # floor(0.3 x 3) = 0: none
    assert st.p_value(null, 96.5) == pytest.approx(4 / 100)  # 96..99 above it: not 0 even when none is
    assert st.p_value(null, 100.0) == pytest.approx(1 / 100)
    assert st.p_value(null, 96.0) == pytest.approx(5 / 100)  # ties count against the step
    # a statistic above the threshold has p <= alpha - beta, one at it does not
    assert st.p_value(null, 96.0 + 1e-9) <= 0.05 - 0.001 < st.p_value(null, 96.0)


def test_null_largest_simulates_flat_histories_at_the_given_variance():
    own = np.full(8, 0.01)
    low, high = st.null_largest(own, 0.0, 400, seed=1), st.null_largest(own, 0.5, 400, seed=1)
    assert len(low) == 400 and np.all(np.diff(low) <= 0)  # sorted down
    assert (low > 0).mean() < 0.2  # with the variance known, flat histories rarely offer a candidate
    assert st.threshold(high) > st.threshold(low)  # tau^2 estimated from the history: a wider null
    assert np.array_equal(st.null_largest(own, 0.5, 400, seed=1), high)  # reproducible from its seed
    assert np.array_equal(st.null_largest(own, 0.5, 50), st.null_largest(own, 0.5, 50, seed=0))
    assert len(st.null_largest(own, 0.0)) == st.SIMULATIONS == 999


def test_a_clean_step_is_found_with_its_calibrated_interval_and_none_without_one():
    y = [0, 0.01, -0.01, math.log(4), math.log(4) + 0.01, math.log(4) - 0.01]
    found = st.detect_steps(y, [0.05] * 6)
    assert len(found) == 1
    step = found[0]
    own = np.full(6, 0.05**2)
    cand = st.candidates(np.array([y]), own)
    diff, se = cand.diff[0, 3], cand.se[0, 3]
    assert step.index == 3 and step.ratio == pytest.approx(math.exp(diff))
    # the threshold: the larger of the two simulated nulls' (at the estimate and at the upper bound of tau^2)
    limit = max(st.threshold(st.null_largest(own, t, seed=st.history_seed(np.array(y), own)))
                for t in (cand.tau2[0], st.tau2_upper(np.array(y) - np.mean(y), own)))  # fmt: skip
    assert limit > 3  # stricter than a normal threshold at 5% (1.96) and than Bonferroni over 5 positions (2.58)
    assert step.low == pytest.approx(math.exp(diff - limit * se), rel=1e-9)
    assert step.high == pytest.approx(math.exp(diff + limit * se), rel=1e-9)
    assert step.p == pytest.approx(1 / (st.SIMULATIONS + 1) + st.BETA)  # no simulated maximum reached it; never 0
    rng = np.random.default_rng(0)
    assert st.detect_steps(list(rng.normal(0, 0.05, 8)), [0.05] * 8) == []
    assert st.detect_steps([0.0, 1.0], [0.01, 0.01]) == []  # two points: nothing can be decided
    assert st.MIN_POINTS == 3
    three = st.detect_steps([0.0, 0.01, math.log(10)], [0.02] * 3)  # three points: a 10x step stands out
    assert [s.index for s in three] == [2] and three[0].low > 1


def test_detect_steps_tests_at_the_level_it_is_given(monkeypatch):
    asked = []
    real = st.threshold

    def spy(null: np.ndarray, alpha: float = st.ALPHA, beta: float = st.BETA) -> float:
        asked.append(alpha)
        return real(null, alpha, beta)

    monkeypatch.setattr(st, "threshold", spy)
    st.detect_steps([0, 0.01, -0.01, 0.5, 0.51, 0.49], [0.05] * 6, alpha=0.2)
    assert asked and set(asked) == {0.2}


def test_a_step_is_kept_exactly_when_its_statistic_exceeds_the_calibrated_threshold(monkeypatch):
    y, se = [0, 0.01, -0.01, 0.5, 0.51, 0.49], [0.05] * 6
    statistic = float(st.candidates(np.array([y]), np.full(6, 0.0025)).largest[0])
    monkeypatch.setattr(st, "threshold", lambda null, alpha=st.ALPHA, beta=st.BETA: statistic - 1e-9)
    assert len(st.detect_steps(y, se)) == 1
    monkeypatch.setattr(st, "threshold", lambda null, alpha=st.ALPHA, beta=st.BETA: statistic)
    assert st.detect_steps(y, se) == []


def test_between_run_noise_larger_than_each_run_s_own_hides_no_step_and_makes_none():
    # Runs scatter by sd 0.2 although each says se 0.01: without tau^2 every run would be a step.
    rng = np.random.default_rng(3)
    flat = list(rng.normal(0, 0.2, 10))
    assert st.detect_steps(flat, [0.01] * 10) == []
    stepped = flat[:5] + [v + math.log(8) for v in flat[5:]]
    found = st.detect_steps(stepped, [0.01] * 10)
    assert [s.index for s in found] == [5] and 4 < found[0].ratio < 16


def test_two_steps_are_both_kept_and_tested_against_the_same_largest_statistic_threshold():
    y = [0, 0.01, -0.01, math.log(2), math.log(2) + 0.01, math.log(2) - 0.01, math.log(8), math.log(8) + 0.01,
         math.log(8) - 0.01]  # fmt: skip
    found = st.detect_steps(y, [0.05] * 9)
    assert [s.index for s in found] == [3, 6]
    assert found[0].ratio == pytest.approx(2.0, rel=0.02) and found[1].ratio == pytest.approx(4.0, rel=0.02)
    # the same threshold for both: the interval's half-width over se is the same
    cand = st.candidates(np.array([y]), np.full(9, 0.0025))
    widths = [math.log(s.high / s.ratio) / cand.se[0, s.index] for s in found]
    assert widths[0] == pytest.approx(widths[1], rel=1e-9)


def test_between_variance_below_one_weight_and_no_floating_point_noise_from_empty_segments():
    # w = 0.1 each: Q = 0.1 x (25 + 25) = 5 on 1 df, C = 0.2 - 0.02 / 0.2 = 0.1: tau^2 = (5 - 1) / 0.1
    assert st.between_variance(np.array([0.0, 10.0]), np.array([10.0, 10.0]), [(0, 2)]) == pytest.approx(40.0)
    with np.errstate(
        divide="raise", invalid="raise"
    ):  # the segments a row does not use are 0 / 0 inside; never a warning outside
        assert st.between_many(np.array([[0.0, 1.0, 3.0]]), np.ones((1, 3)), np.array([[False, True, False]]))[0] >= 0
        assert st.candidates(np.array([[0, 0, 0, 2, 2, 2.0]]), np.ones(6)).starts.any()
