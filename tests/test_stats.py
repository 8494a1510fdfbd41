"""Statistics against hand-computed values, and the ways a report could over-claim."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from hello_bench.analysis import stats


def test_mean_ci_hand_computed():
    # mean 2, sd 1, n 3: half-width = t(0.975, 2) * 1 / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    ci = stats.mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == 2.0 and ci.n == 3
    assert ci.low == pytest.approx(2 - 2.484138, abs=1e-5)
    assert ci.high == pytest.approx(2 + 2.484138, abs=1e-5)
    assert math.isnan(stats.mean_ci([1.0]).low)


def test_corrected_mean_ci_hand_computed():
    # values 0.96, 0.98, 1.00, 0.94, 0.97: mean 0.97, var (ddof=1) 0.0005; J = 5, n_test/n_train = 1
    # se = sqrt(0.0005 * (1/5 + 1)) = 0.0244949; half = t(0.975, 4) * se = 2.776445 * 0.0244949 = 0.0680087
    ci = stats.corrected_mean_ci([0.96, 0.98, 1.00, 0.94, 0.97], n_train=75, n_test=75)
    assert ci.mean == pytest.approx(0.97)
    assert ci.high - ci.mean == pytest.approx(0.0680087, abs=1e-6)
    # the plain interval would be sqrt(6) = 2.449x narrower: the correction is what makes it honest
    plain = stats.mean_ci([0.96, 0.98, 1.00, 0.94, 0.97])
    assert (ci.high - ci.low) / (plain.high - plain.low) == pytest.approx(math.sqrt(6), rel=1e-9)
    same = stats.corrected_mean_ci([0.97, 0.97], 75, 75)
    assert same.mean == 0.97 and math.isnan(same.low)  # zero spread is not certainty: no interval


def test_corrected_ttest_hand_computed():
    diffs = [0.02, 0.04, 0.00, 0.06, 0.03]  # mean 0.03, var (ddof=1) 0.0005
    res = stats.corrected_resampled_ttest(diffs, n_train=75, n_test=75)
    # se = sqrt(0.0005 * (1/5 + 1)) = 0.0244949; t = 1.2247449
    assert res.mean_diff == pytest.approx(0.03)
    assert res.t == pytest.approx(1.2247449, rel=1e-6)
    assert res.sd == pytest.approx(math.sqrt(0.0005)) and res.se == pytest.approx(0.0244949, rel=1e-6)
    # two-sided p with 4 df: 2 * t.sf(1.2247449, 4) = 0.287864
    assert res.p == pytest.approx(0.287864, abs=1e-5)
    # CI half-width = t(0.975, 4) * se = 2.776445 * 0.0244949 = 0.068009
    assert res.high - res.mean_diff == pytest.approx(0.068009, abs=1e-5)
    assert res.mean_diff - res.low == pytest.approx(0.068009, abs=1e-5)
    assert (res.wins, res.ties, res.losses) == (4, 1, 0) and res.n_splits == 5 and not res.constant
    # the naive test on the same numbers: se = sqrt(0.0005/5) = 0.01, t = 3 -> p = 2 * 0.019971 = 0.039942
    assert stats.naive_paired_ttest(diffs) == pytest.approx(0.039942, abs=1e-5)
    assert stats.naive_paired_ttest([0.0, 0.0]) == 1.0 and stats.naive_paired_ttest([0.1, 0.1]) == 0.0


def test_confidence_level_sets_the_interval():
    res = stats.corrected_resampled_ttest([0.02, 0.04, 0.00, 0.06, 0.03], 75, 75, confidence=0.9)
    # t(0.95, 4) = 2.131847
    assert res.high - res.mean_diff == pytest.approx(2.131847 * 0.0244949, rel=1e-5)
    ci = stats.corrected_mean_ci([0.96, 0.98, 1.00, 0.94, 0.97], 75, 75, confidence=0.9)
    assert ci.high - ci.mean == pytest.approx(2.131847 * 0.0244949, rel=1e-5)


def _noncentrality_by_bisection(df: int, alpha: float, target: float = 0.8) -> float:
    """An independent solver: power from the CDF (both tails), bisection instead of Brent."""
    crit = sps.t.ppf(1 - alpha / 2, df)
    lo, hi = 0.0, 200.0
    for _ in range(200):
        mid = (lo + hi) / 2
        power = 1 - sps.nct.cdf(crit, df, mid) + np.nan_to_num(sps.nct.cdf(-crit, df, mid))  # NaN far out: ~0
        lo, hi = (mid, hi) if power < target else (lo, mid)
    return (lo + hi) / 2


def test_exact_power_against_hand_values():
    # no true difference: the power is the level itself, both tails (alpha/2 each)
    assert stats.power(0.0, 9, 0.05) == pytest.approx(0.05, rel=1e-9)
    assert stats.power(0.0, 3, 0.01) == pytest.approx(0.01, rel=1e-9)
    # the two-quantile approximation at J = 2 (df 1) has power 0.73, not 0.80 (the number)
    approx = sps.t.ppf(0.975, 1) + sps.t.ppf(0.8, 1)
    assert stats.power(approx, 1, 0.05) == pytest.approx(0.7308, abs=1e-4)
    # many degrees of freedom: the normal answer, z(0.975) + z(0.80) = 1.959964 + 0.841621 = 2.801585
    assert stats.noncentrality_for_power(10**7, 0.05) == pytest.approx(2.801585, abs=2e-4)
    for df, alpha in ((1, 0.05), (4, 0.05), (9, 0.05 / 9), (9, 0.05 / 13), (2, 0.0005)):
        assert stats.noncentrality_for_power(df, alpha) == pytest.approx(
            _noncentrality_by_bisection(df, alpha), rel=1e-7
        )
    assert stats.noncentrality_for_power(9, 0.05, target=0.9) == pytest.approx(
        _noncentrality_by_bisection(9, 0.05, 0.9), rel=1e-7
    )


def test_detectable_difference_at_the_level_the_verdict_uses():
    """The issue's audit: sd of per-split differences ~0.023-0.025 on iris at J = 10 gave 0.069-0.083 at 0.05
    (the approximation) but 0.108-0.129 at the Holm level of 13 tests."""
    se_factor = math.sqrt(1 / 10 + 75 / 75)
    for sd in (0.0227, 0.0252):
        at_holm = stats.detectable_difference(sd, 10, 75, 75, alpha=0.05 / 13)
        assert at_holm == pytest.approx(_noncentrality_by_bisection(9, 0.05 / 13) * sd * se_factor, rel=1e-6)
        assert 0.105 < at_holm < 0.132
    assert stats.detectable_difference(0.026, 10, 75, 75) == pytest.approx(
        _noncentrality_by_bisection(9, 0.05) * 0.026 * se_factor, rel=1e-6
    )
    assert stats.detectable_difference(0.026, 10, 75, 75, target=0.9) > stats.detectable_difference(0.026, 10, 75, 75)
    assert math.isnan(stats.detectable_difference(0.026, 1, 75, 75))
    assert math.isnan(stats.detectable_difference(math.nan, 5, 75, 75))
    assert stats.detectable_difference(0.026, 2, 75, 75) > 0
    # the test object gives the same at any level, from its own corrected standard error
    res = stats.corrected_resampled_ttest([0.02, 0.04, 0.00, 0.06, 0.03], 75, 75)
    assert res.detectable(0.05 / 4) == pytest.approx(_noncentrality_by_bisection(4, 0.05 / 4) * res.se, rel=1e-6)
    assert math.isnan(stats.corrected_resampled_ttest([0.01, 0.01], 75, 75).detectable(0.05))


def test_tost_equivalence_hand_computed():
    res = stats.corrected_resampled_ttest([0.02, 0.04, 0.00, 0.06, 0.03], 75, 75)
    # margin 0.1: t_low = (0.03 + 0.1) / se, p = t.sf(5.3072, 4) = 0.003029; t_high = (0.03 - 0.1) / se,
    # p = t.cdf(-2.8577, 4) = 0.023017; TOST p is the larger
    assert res.equivalence_p(0.1) == pytest.approx(0.023017, abs=1e-6)
    below = stats.corrected_resampled_ttest([-0.02, -0.04, 0.00, -0.06, -0.03], 75, 75)
    assert below.equivalence_p(0.1) == pytest.approx(0.023017, abs=1e-6)  # mirrored: the other tail decides
    assert res.equivalence_p(0.01) > 0.5  # a margin smaller than the mean difference cannot be shown
    assert math.isnan(stats.corrected_resampled_ttest([0.0, 0.0], 75, 75).equivalence_p(0.1))


def test_corrected_is_far_less_confident_than_naive_on_iris_like_splits():
    rng = np.random.default_rng(0)
    diffs = 0.015 + 0.025 * rng.standard_normal(20)
    corrected = stats.corrected_resampled_ttest(diffs, 75, 75).p
    assert stats.naive_paired_ttest(diffs) < 0.05 < corrected


def test_zero_variance_declares_nothing():
    """Every split won by one flower: no p-value, no interval, never a verdict."""
    constant = stats.corrected_resampled_ttest([1 / 75, 1 / 75], 75, 75)
    assert constant.constant and math.isnan(constant.p) and math.isnan(constant.t)
    assert constant.low == constant.high == constant.mean_diff == pytest.approx(1 / 75)
    # ten splits each won by one flower: np.var gives 3.3e-36, not 0; still no test (it once gave p ~ 1e-139)
    ten = stats.corrected_resampled_ttest([1 / 75] * 10, 75, 75)
    assert ten.constant and math.isnan(ten.p) and ten.mean_diff == 1 / 75 and ten.sd == 0.0
    assert stats.corrected_resampled_ttest([0.97 - 0.95] * 5, 75, 75).constant
    same = stats.corrected_resampled_ttest([0.0, 0.0, 0.0], 10, 10)
    assert same.constant and (same.wins, same.ties, same.losses) == (0, 3, 0)
    with pytest.raises(ValueError, match="at least 2"):
        stats.corrected_resampled_ttest([0.1], 10, 10)
    assert stats.win_tie_loss([1e-13, -1e-13, 0.1, -0.1]) == (1, 2, 1)


def test_holm_hand_computed():
    # sorted p: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.5 (x1 = 0.5)
    assert stats.holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    adjusted = stats.holm([0.04, math.nan, 0.02])
    assert adjusted[0] == pytest.approx(0.04) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0]  # capped at 1, and kept there (step-down)
    assert stats.holm([]) == []


def test_holm_is_step_down_monotone():
    """0.01 x 3 = 0.03, 0.02 x 2 = 0.04, 0.025 x 1 = 0.025 -> 0.04: a later step never undercuts an earlier one."""
    assert stats.holm([0.01, 0.02, 0.025]) == pytest.approx([0.03, 0.04, 0.04])
    assert stats.holm([0.025, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0) | st.just(math.nan), min_size=1, max_size=12))
def test_holm_properties(pvalues):
    adjusted = stats.holm(pvalues)
    valid = [(p, a) for p, a in zip(pvalues, adjusted) if not math.isnan(p)]
    assert all(math.isnan(a) for p, a in zip(pvalues, adjusted) if math.isnan(p))
    m = len(valid)
    for p, a in valid:
        assert p <= a + 1e-15 and a <= 1.0  # never below the raw p, never above 1
        assert a <= min(1.0, m * p) + 1e-15  # never above Bonferroni
    ordered = sorted(valid)
    assert all(a1 <= a2 + 1e-15 for (_, a1), (_, a2) in zip(ordered, ordered[1:]))  # monotone in raw-p order
    if valid:
        p_min, a_min = ordered[0]
        assert a_min == pytest.approx(min(1.0, m * p_min))  # the first step is Bonferroni's


def test_ratio_ci_t_interval_and_counts():
    r = stats.ratio_ci([1.0, 2.0, 4.0, 1.0, 3.0], [2.0, 4.0, 8.0, 2.0, 6.0])
    assert r.ratio == pytest.approx(2.0) and r.low == pytest.approx(2.0) and r.high == pytest.approx(2.0)
    assert (r.n, r.below, r.above) == (5, 0, 5)
    # two pairs: a t-interval on log ratios, honestly wide (the issue's [0.32, 2.56] example)
    two = stats.ratio_ci([1.0, 1.0], [0.6, 1.5])
    half = 12.706205 * np.std(np.log([0.6, 1.5]), ddof=1) / math.sqrt(2)
    assert two.low == pytest.approx(math.exp(np.log([0.6, 1.5]).mean() - half), rel=1e-6)
    assert two.high == pytest.approx(math.exp(np.log([0.6, 1.5]).mean() + half), rel=1e-6)
    assert (two.below, two.above) == (1, 1)
    one = stats.ratio_ci([2.0], [1.0])
    assert one.ratio == 0.5 and math.isnan(one.low) and (one.n, one.below, one.above) == (1, 1, 0)
    assert stats.ratio_ci([], []).n == 0
    ninety = stats.ratio_ci([1.0, 1.0, 1.0], [1.0, 2.0, 4.0], confidence=0.9)
    half90 = sps.t.ppf(0.95, 2) * np.std(np.log([1.0, 2.0, 4.0]), ddof=1) / math.sqrt(3)
    assert ninety.high == pytest.approx(2.0 * math.exp(half90), rel=1e-9)
    with pytest.raises(ValueError, match="paired"):
        stats.ratio_ci([1.0, 2.0], [1.0])


def test_median_ci_order_statistics_hand_computed():
    # n = 10: P(Binomial(10, 1/2) <= 1) = 11/1024 -> [x(2), x(9)] covers 1 - 22/1024 = 0.979 >= 0.95;
    # k = 3 would cover 1 - 2 * 56/1024 = 0.891 only
    assert stats.median_ci(list(range(1, 11))) == (5.5, 2.0, 9.0)
    assert stats.median_ci(list(range(10, 0, -1))) == (5.5, 2.0, 9.0)  # order of input is irrelevant
    # at 98% the 0.979 interval is not enough: [x(1), x(10)] (coverage 1 - 2/1024)
    assert stats.median_ci(list(range(1, 11)), confidence=0.98) == (5.5, 1.0, 10.0)
    # censored splits (+inf) sort last: the upper bound is "not reached"
    med, low, high = stats.median_ci([1, 2, 3, 4, 5, 6, 7, 8, math.inf, math.inf])
    assert (med, low, high) == (5.5, 2.0, math.inf)
    assert stats.median_ci([1, 2, 3, math.inf, math.inf, math.inf])[0] == math.inf
    # n = 6: [min, max] covers 1 - 2/64 = 0.969; n = 5: 1 - 2/32 = 0.9375 < 0.95, no interval
    assert stats.median_ci([3, 1, 2, 6, 5, 4]) == (3.5, 1.0, 6.0)
    five = stats.median_ci([1, 2, 3, 4, 5])
    assert five[0] == 3.0 and math.isnan(five[1]) and math.isnan(five[2])
    assert all(math.isnan(v) for v in stats.median_ci([]))


def test_sign_test_hand_computed_with_censoring():
    # six pairs, A smaller on all: p = 2 * 0.5^6 = 0.03125
    assert stats.sign_test([1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7]) == stats.SignTest(6, 0, 0, 0.03125)
    # +inf (never reached) loses to any finite time, two +inf tie and are left out:
    # A smaller once, B smaller five times, one tie: p = 2 * P(Bin(6, 1/2) <= 1) = 2 * 7/64 = 0.21875
    a = [1.0, math.inf, math.inf, 5.0, 5.0, 5.0, 5.0]
    b = [math.inf, math.inf, 3.0, 1.0, 1.0, 1.0, 1.0]
    assert stats.sign_test(a, b) == stats.SignTest(1, 5, 1, 0.21875)
    assert stats.sign_test([1.0, 2.0], [2.0, 1.0]).p == 1.0  # capped at 1
    empty = stats.sign_test([math.inf], [math.inf])
    assert (empty.a_smaller, empty.b_smaller, empty.ties) == (0, 0, 1) and math.isnan(empty.p)
    with pytest.raises(ValueError, match="paired"):
        stats.sign_test([1.0], [1.0, 2.0])


def test_noise_flag_and_median_iqr():
    assert stats.is_noisy([1.0, 1.5, 0.6]) and not stats.is_noisy([1.0, 1.01, 0.99])
    assert stats.median_iqr([1, 2, 3, 4, 5]) == (3.0, 2.0, 4.0)


def test_friedman_ranks_and_nemenyi():
    res = stats.friedman({"a": [0.9, 0.8, 0.7], "b": [0.8, 0.9, 0.6], "c": [0.7, 0.7, 0.5]})
    assert res.mean_ranks == pytest.approx({"a": 4 / 3, "b": 5 / 3, "c": 3.0})
    # chi2 = 12N/(k(k+1)) * sum(R^2) - 3N(k+1) with N=3, k=3, rank sums 4, 5, 9: 3*(16+25+81)/36*... = 4.666667
    assert res.statistic == pytest.approx(4.666667, abs=1e-5)
    assert "too few" in res.note
    assert "needs" in stats.friedman({"a": [1.0], "b": [2.0]}).note
    # Demsar (2006), table 5: q_0.05 = 2.343 for k = 3, 2.569 for k = 4; CD = q * sqrt(k(k+1)/(6N))
    assert stats.nemenyi_critical_difference(3, 10) == pytest.approx(2.343 * math.sqrt(12 / 60), abs=2e-3)
    assert stats.nemenyi_critical_difference(4, 14) == pytest.approx(2.569 * math.sqrt(20 / 84), abs=2e-3)
    pairs = stats.nemenyi_pairs({"a": 1.0, "b": 2.0, "c": 3.0}, cd=1.5)
    assert pairs == [("a", "b", 1.0, False), ("a", "c", 2.0, True), ("b", "c", 1.0, False)]


def test_variance_components_hand_computed():
    # split means 0.9, 0.8 (3 inits each), within-split variance 0.0001 each:
    # sigma2_init = 0.0001; var of split means = 0.005; sigma2_split = 0.005 - 0.0001/3
    by_split = {0: [0.89, 0.90, 0.91], 1: [0.79, 0.80, 0.81]}
    vc = stats.variance_components(by_split)
    assert vc.init_sd == pytest.approx(0.01)
    assert vc.split_sd == pytest.approx(math.sqrt(0.005 - 0.0001 / 3))
    assert (vc.n_splits, vc.n_inits) == (2, 3)
    assert math.isnan(stats.variance_components({0: [0.9]}).split_sd)


def _all_nan(*values: float) -> bool:
    return all(math.isnan(v) for v in values)


def test_inputs_become_floats():
    x = stats._floats(["0.5", 2])  # a column of text or objects is read as numbers, not compared as strings
    assert x.dtype == float and x.tolist() == [0.5, 2.0]


def test_intervals_at_zero_one_and_two_values():
    empty = stats.mean_ci([])
    assert _all_nan(empty.mean, empty.low, empty.high) and empty.n == 0
    one = stats.mean_ci([5.0])
    assert one.mean == 5.0 and _all_nan(one.low, one.high) and one.n == 1
    # two values 1, 3: mean 2, sd sqrt(2), half = t(0.975, 1) x sqrt(2) / sqrt(2) = 12.706205
    two = stats.mean_ci([1.0, 3.0])
    assert (two.mean, two.n) == (2.0, 2) and two.high - 2.0 == pytest.approx(12.706205, rel=1e-6)
    empty = stats.corrected_mean_ci([], 75, 75)
    assert _all_nan(empty.mean, empty.low, empty.high) and empty.n == 0
    one = stats.corrected_mean_ci([0.9], 75, 75)
    assert one.mean == 0.9 and _all_nan(one.low, one.high) and one.n == 1
    # two splits 0.5, 0.7: se = sqrt(0.02 x (1/2 + 1)) = 0.173205, half = 12.706205 x 0.173205 = 2.200780
    two = stats.corrected_mean_ci([0.5, 0.7], 75, 75)
    assert two.n == 2 and two.high - two.mean == pytest.approx(2.200780, rel=1e-6)
    # clipped to what accuracy can be, at both ends, and only where asked
    clipped = stats.corrected_mean_ci([0.5, 0.7], 75, 75, bounds=(0.0, 1.0))
    assert (clipped.low, clipped.high, clipped.mean, clipped.n) == (0.0, 1.0, pytest.approx(0.6), 2)
    assert stats.corrected_mean_ci([0.5, 0.7], 75, 75, bounds=(-5.0, 5.0)).low == pytest.approx(0.6 - 2.200780)
    same = stats.corrected_mean_ci([0.97, 0.97, 0.97], 75, 75)
    assert same.mean == 0.97 and same.n == 3 and _all_nan(same.low, same.high)


def test_noncentrality_below_one_for_a_low_power_target():
    # 10% power at 5%: the root lies below 1, so the search must start from 0
    assert stats.noncentrality_for_power(9, 0.05, target=0.1) == pytest.approx(
        _noncentrality_by_bisection(9, 0.05, 0.1), rel=1e-7
    )
    assert stats.noncentrality_for_power(9, 0.05, target=0.1) < 1


def test_win_tie_loss_at_the_tolerance():
    assert stats.win_tie_loss([1e-12, -1e-12, 2e-12, -2e-12]) == (1, 2, 1)


def test_constant_test_fields():
    constant = stats.corrected_resampled_ttest([0.02, 0.02, 0.02], 75, 75)
    assert (constant.n_splits, constant.sd, constant.se) == (3, 0.0, 0.0)
    assert (constant.wins, constant.ties, constant.losses) == (3, 0, 0)


def test_paired_inputs_must_have_the_same_length():
    for f in (stats.ratio_ci, stats.sign_test):
        with pytest.raises(ValueError, match=r"^a and b must be paired \(same length\)$"):
            f([1.0, 2.0], [1.0])


def test_ratio_ci_edges():
    empty = stats.ratio_ci([], [])
    assert _all_nan(empty.ratio, empty.low, empty.high) and (empty.n, empty.below, empty.above) == (0, 0, 0)
    one = stats.ratio_ci([2.0], [3.0])
    assert (
        one.ratio == pytest.approx(1.5) and _all_nan(one.low, one.high) and (one.n, one.below, one.above) == (1, 0, 1)
    )
    # a pair with ratio exactly 1 is neither below nor above
    ties = stats.ratio_ci([1.0, 1.0, 2.0], [1.0, 2.0, 1.0])
    assert (ties.n, ties.below, ties.above) == (3, 1, 1)


def test_median_ci_edges():
    one = stats.median_ci([3.0])
    assert one[0] == 3.0 and _all_nan(one[1], one[2])
    # confidence 0: the interval shrinks to the middle, and no further
    assert stats.median_ci([4, 1, 3, 2], confidence=0.0) == (2.5, 2.0, 3.0)
    assert stats.median_ci([5, 1, 4, 2, 3], confidence=0.0) == (3.0, 2.0, 4.0)
    # n = 10 at 97.5%: [x(2), x(9)] covers 0.9785 (>= 0.975), so k = 2
    assert stats.median_ci(list(range(1, 11)), confidence=0.975) == (5.5, 2.0, 9.0)
    # coverage exactly at the confidence counts: n = 6, [min, max] covers 1 - 2/64 = 0.96875
    assert stats.median_ci([1, 2, 3, 4, 5, 6], confidence=0.96875) == (3.5, 1.0, 6.0)


def test_coefficient_of_variation_and_noise():
    assert stats.coefficient_of_variation([1.0, 2.0, 3.0]) == pytest.approx(0.5)  # sd 1 (ddof 1), mean 2
    assert stats.coefficient_of_variation([1.0, 3.0]) == pytest.approx(math.sqrt(2) / 2)
    assert stats.coefficient_of_variation([0.5, 1.5]) == pytest.approx(math.sqrt(0.5))  # mean exactly 1
    assert math.isnan(stats.coefficient_of_variation([5.0]))
    assert math.isnan(stats.coefficient_of_variation([-1.0, 1.0]))  # mean 0: no ratio
    assert not stats.is_noisy([1.0, 2.0, 3.0], threshold=0.5) and stats.is_noisy([1.0, 2.0, 3.0], threshold=0.49)
    assert not stats.is_noisy([5.0])


def test_friedman_edges_and_numbers():
    # the earlier example: chi2 = 4.666667 with k - 1 = 2 df, p = exp(-4.666667 / 2) = 0.096972
    res = stats.friedman({"a": [0.9, 0.8, 0.7], "b": [0.8, 0.9, 0.6], "c": [0.7, 0.7, 0.5]})
    assert res.p == pytest.approx(math.exp(-4.666667 / 2), rel=1e-5) and res.n_datasets == 3
    assert res.critical_difference == pytest.approx(stats.nemenyi_critical_difference(3, 3))
    assert not res.significant
    # 3 models x 4 datasets: n counts datasets, not models
    four = stats.friedman({"a": [1, 2, 3, 4], "b": [2, 3, 4, 5], "c": [3, 4, 5, 6]})
    assert four.n_datasets == 4 and four.mean_ranks == {"a": 3.0, "b": 2.0, "c": 1.0}
    assert four.statistic == pytest.approx(8.0)  # 12N/(k(k+1)) sum R^2 - 3N(k+1) = 1 x (144+64+16) - 64... = 8
    # five datasets: no "too few" note; two datasets: a test, with the note
    five = stats.friedman({"a": [1, 2, 3, 4, 5], "b": [2, 3, 4, 5, 6], "c": [3, 4, 5, 6, 7]})
    assert five.note == "" and five.significant and five.p == pytest.approx(math.exp(-10.0 / 2))
    two = stats.friedman({"a": [1, 2], "b": [2, 3], "c": [3, 4]})
    assert two.statistic == pytest.approx(4.0) and "Only 2 datasets" in two.note
    # two models: no test, whatever the number of datasets
    pair = stats.friedman({"a": [1.0, 2.0, 3.0], "b": [2.0, 1.0, 4.0]})
    assert pair.mean_ranks == {"a": pytest.approx(5 / 3), "b": pytest.approx(4 / 3)}
    assert _all_nan(pair.statistic, pair.p, pair.critical_difference) and pair.n_datasets == 3
    assert pair.note == "Friedman's test needs >= 3 models and >= 2 datasets." and not pair.significant


def test_nemenyi_edges():
    # k = 2: q_0.05 = 1.960 (Demsar 2006, table 5), CD = 1.960 x sqrt(6 / (6 x 1))
    assert stats.nemenyi_critical_difference(2, 1) == pytest.approx(1.960, abs=2e-3)
    assert math.isnan(stats.nemenyi_critical_difference(1, 5)) and math.isnan(stats.nemenyi_critical_difference(3, 0))
    # ordered by rank, not by name; a difference equal to the CD is not "more than" it
    assert stats.nemenyi_pairs({"z": 1.0, "a": 2.0}, cd=1.0) == [("z", "a", 1.0, False)]


def test_variance_components_edges():
    two_each = stats.variance_components({0: [0.8, 0.9], 1: [0.6, 0.7]})
    assert (two_each.n_splits, two_each.n_inits) == (2, 2) and two_each.init_sd == pytest.approx(math.sqrt(0.005))
    few = stats.variance_components({0: [0.9, 0.8], 1: [0.7]})
    assert _all_nan(few.split_sd, few.init_sd) and (few.n_splits, few.n_inits) == (1, 0)
    assert math.isnan(stats.VarianceComponents(0.0, 0.0, 2, 2).init_share)
    assert stats.VarianceComponents(0.3, 0.4, 2, 2).init_share == pytest.approx(0.64)
