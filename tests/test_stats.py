"""Statistics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import stats


def test_mean_ci_hand_computed():
    # mean 2, sd 1, n 3: half-width = t(0.975, 2) * 1 / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    ci = stats.mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == 2.0 and ci.n == 3
    assert ci.low == pytest.approx(2 - 2.484138, abs=1e-5)
    assert ci.high == pytest.approx(2 + 2.484138, abs=1e-5)
    assert math.isnan(stats.mean_ci([1.0]).low)


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
    # the naive test on the same numbers: se = sqrt(0.0005/5) = 0.01, t = 3 -> p = 2 * 0.019971 = 0.039942
    assert stats.naive_paired_ttest(diffs) == pytest.approx(0.039942, abs=1e-5)


def test_corrected_is_far_less_confident_than_naive_on_iris_like_splits():
    rng = np.random.default_rng(0)
    diffs = 0.015 + 0.025 * rng.standard_normal(20)
    corrected = stats.corrected_resampled_ttest(diffs, 75, 75).p
    assert stats.naive_paired_ttest(diffs) < 0.05 < corrected


def test_corrected_ttest_edge_cases():
    same = stats.corrected_resampled_ttest([0.0, 0.0, 0.0], 10, 10)
    assert same.p == 1.0 and (same.wins, same.ties, same.losses) == (0, 3, 0)
    constant = stats.corrected_resampled_ttest([0.1, 0.1], 10, 10)
    assert constant.p == 0.0
    with pytest.raises(ValueError, match="at least 2"):
        stats.corrected_resampled_ttest([0.1], 10, 10)


def test_ratio_ci():
    r = stats.ratio_ci([1.0, 2.0, 4.0], [2.0, 4.0, 8.0])
    assert r.ratio == pytest.approx(2.0) and r.low == pytest.approx(2.0) and r.high == pytest.approx(2.0)
    assert r.verdict() == "slower"
    mixed = stats.ratio_ci([1.0, 1.0, 1.0, 1.0], [0.5, 2.0, 0.5, 2.0])
    assert mixed.ratio == pytest.approx(1.0) and mixed.verdict() == "no difference"
    assert stats.ratio_ci([2.0, 2.0], [1.0, 1.0]).verdict() == "faster"


def test_noise_flag_and_median_iqr():
    assert stats.is_noisy([1.0, 1.5, 0.6]) and not stats.is_noisy([1.0, 1.01, 0.99])
    assert stats.median_iqr([1, 2, 3, 4, 5]) == (3.0, 2.0, 4.0)


def test_friedman_ranks():
    res = stats.friedman({"a": [0.9, 0.8, 0.7], "b": [0.8, 0.9, 0.6], "c": [0.7, 0.7, 0.5]})
    assert res.mean_ranks == pytest.approx({"a": 4 / 3, "b": 5 / 3, "c": 3.0})
    # chi2 = 12N/(k(k+1)) * sum(R^2) - 3N(k+1) with N=3, k=3, rank sums 4, 5, 9: 3*(16+25+81)/36*... = 4.666667
    assert res.statistic == pytest.approx(4.666667, abs=1e-5)
    assert "too few" in res.note
    assert "needs" in stats.friedman({"a": [1.0], "b": [2.0]}).note
