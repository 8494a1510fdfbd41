"""Statistics against hand-computed values, and the ways a report could over-claim."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis import stats


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
    # two-sided p with 4 df: 2 * t.sf(1.2247449, 4) = 0.287864
    assert res.p == pytest.approx(0.287864, abs=1e-5)
    # CI half-width = t(0.975, 4) * se = 2.776445 * 0.0244949 = 0.068009
    assert res.high - res.mean_diff == pytest.approx(0.068009, abs=1e-5)
    assert (res.wins, res.ties, res.losses) == (4, 1, 0)
    assert not res.significant
    # minimum detectable difference: (t(0.975, 4) + t(0.80, 4)) * se = (2.776445 + 0.940965) * 0.0244949 = 0.0910577
    assert res.mdd == pytest.approx(0.0910577, abs=1e-6)
    assert "not significant; detectable: 0.091" in res.describe()
    # the naive test on the same numbers: se = sqrt(0.0005/5) = 0.01, t = 3 -> p = 2 * 0.019971 = 0.039942
    assert stats.naive_paired_ttest(diffs) == pytest.approx(0.039942, abs=1e-5)


def test_corrected_is_far_less_confident_than_naive_on_iris_like_splits():
    rng = np.random.default_rng(0)
    diffs = 0.015 + 0.025 * rng.standard_normal(20)
    corrected = stats.corrected_resampled_ttest(diffs, 75, 75).p
    assert stats.naive_paired_ttest(diffs) < 0.05 < corrected


def test_zero_variance_declares_nothing():
    """Every split won by one flower: no p-value, no verdict, never 'significant'."""
    constant = stats.corrected_resampled_ttest([1 / 75, 1 / 75], 75, 75)
    assert constant.constant and math.isnan(constant.p) and not constant.significant
    assert constant.describe() == "constant difference +0.0133 on every split (no test possible)"
    same = stats.corrected_resampled_ttest([0.0, 0.0, 0.0], 10, 10)
    assert same.describe() == "identical on every split" and (same.wins, same.ties, same.losses) == (0, 3, 0)
    with pytest.raises(ValueError, match="at least 2"):
        stats.corrected_resampled_ttest([0.1], 10, 10)


def test_minimum_detectable_difference_on_iris():
    """The issue's example: 75 test rows, per-split differences with sd ~0.026 -> ~7 points at 10 splits."""
    mdd_10 = stats.minimum_detectable_difference(0.026, 10, 75, 75)
    mdd_100 = stats.minimum_detectable_difference(0.026, 100, 75, 75)
    assert 0.06 < mdd_10 < 0.09 and 0.05 < mdd_100 < mdd_10  # more splits help little: the overlap term stays


def test_holm_hand_computed():
    # sorted p: 0.01 (x4 = 0.04), 0.02 (x3 = 0.06), 0.03 (x2 = 0.06), 0.5 (x1 = 0.5)
    assert stats.holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    adjusted = stats.holm([0.04, math.nan, 0.02])
    assert adjusted[0] == pytest.approx(0.04) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)


def test_ratio_ci_t_interval_and_minimum_pairs():
    r = stats.ratio_ci([1.0, 2.0, 4.0, 1.0, 3.0], [2.0, 4.0, 8.0, 2.0, 6.0])
    assert r.ratio == pytest.approx(2.0) and r.low == pytest.approx(2.0) and r.high == pytest.approx(2.0)
    assert r.verdict() == "slower"
    # two pairs: a t-interval on log ratios, honestly wide (the issue's [0.32, 2.56] example)
    two = stats.ratio_ci([1.0, 1.0], [0.6, 1.5])
    half = 12.706205 * np.std(np.log([0.6, 1.5]), ddof=1) / math.sqrt(2)
    assert two.low == pytest.approx(math.exp(np.log([0.6, 1.5]).mean() - half), rel=1e-6)
    assert two.verdict() == "too few pairs (2 < 5)"
    assert stats.ratio_ci([2.0] * 4, [1.0] * 4).verdict() == "too few pairs (4 < 5)"
    mixed = stats.ratio_ci([1.0] * 6, [0.5, 2.0, 0.5, 2.0, 0.5, 2.0])
    assert mixed.ratio == pytest.approx(1.0) and mixed.verdict() == "no difference"


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
