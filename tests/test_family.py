"""The Holm family: distinct tests counted once, the level verdicts need, equivalence: hand-computed."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from hello_bench.analysis import family, stats


def test_comparison_key_is_the_data_of_the_test():
    splits = [(0, "a"), (1, "b"), (2, "c")]
    key = family.comparison_key(splits, [0.0, 1 / 75, -2 / 75], 75, 75)
    # one sign for both orders: the first non-zero difference negative
    assert key == (75, 75, (((0, "a"), 0.0), ((1, "b"), -0.013333333333), ((2, "c"), 0.026666666667)))
    # the same differences, float noise apart: one test
    assert family.comparison_key(splits, [1e-15, 1 / 75 + 1e-15, -2 / 75], 75, 75) == key
    # the same differences with the sign flipped (B - A vs A - B): one test (the same |t|, the same p)
    assert family.comparison_key(splits, [-0.0, -1 / 75, 2 / 75], 75, 75) == key
    # other splits, another correction, other differences: other tests
    assert family.comparison_key([(0, "a"), (1, "b"), (3, "d")], [0.0, 1 / 75, -2 / 75], 75, 75) != key
    assert family.comparison_key(splits, [0.0, 1 / 75, -2 / 75], 120, 30) != key
    assert family.comparison_key(splits, [0.0, 2 / 75, -2 / 75], 75, 75) != key
    assert family.comparison_key(splits, [0.0, 0.0, 0.0], 75, 75)[2][0][1] == 0.0


def test_holm_counts_each_distinct_test_once():
    # keys a, a, b, c: m = 3 (not 4). sorted distinct p: 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> 0.06
    adjusted, m = family.holm_distinct(["a", "a", "b", "c"], [0.01, 0.01, 0.03, 0.04])
    assert m == 3 and adjusted == pytest.approx([0.03, 0.03, 0.06, 0.06])
    # counted twice: 0.01 x 4 = 0.04 for the first: a padded family makes every verdict needlessly timid
    assert stats.holm([0.01, 0.01, 0.03, 0.04]) == pytest.approx([0.04, 0.04, 0.06, 0.06])
    # a comparison without a test is not a member and keeps NaN
    adjusted, m = family.holm_distinct(["a", "z", "b"], [0.01, math.nan, 0.02])
    assert (
        m == 2 and adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)
    )
    assert family.holm_distinct([], []) == ([], 0)


def _test(diffs: list[float]) -> stats.PairedTest:
    return stats.corrected_resampled_ttest(diffs, 75, 75)


def test_assess_uses_the_family_level_for_detectable_differences():
    t1, t2, t3 = _test([0.02, 0.04, 0.00, 0.06, 0.03]), _test([0.01, -0.01, 0.02, 0.0, 0.01]), _test([0.1, 0.1])
    fam = family.assess([t1, t2, t1, t3, None], ["k1", "k2", "k1", "k3", "k4"])
    assert fam.m == 2 and fam.level == pytest.approx(0.025)  # t1 twice is one test; constant t3 and None: no test
    assert t1.p == pytest.approx(0.287864, abs=1e-5) and t1.p < t2.p  # t1 is Holm's first step: x 2
    assert fam.assessed[0].p_holm == pytest.approx(2 * t1.p) and fam.assessed[2].p_holm == fam.assessed[0].p_holm
    assert fam.assessed[1].p_holm == pytest.approx(max(2 * t1.p, t2.p))
    assert math.isnan(fam.assessed[3].p_holm) and math.isnan(fam.assessed[4].p_holm)
    # detectable at alpha/m = 0.025, not at 0.05: se x the noncentrality for 80% power at that level
    crit = sps.t.ppf(1 - 0.025 / 2, 4)
    power_at = lambda nc: sps.nct.sf(crit, 4, nc) + sps.nct.sf(crit, 4, -nc)  # noqa: E731
    assert power_at(fam.assessed[0].detectable / t1.se) == pytest.approx(0.8, abs=1e-7)
    assert fam.assessed[0].detectable > t1.detectable(0.05)
    assert math.isnan(fam.assessed[3].detectable) and math.isnan(fam.assessed[4].detectable)
    assert all(math.isnan(a.p_equivalent) for a in fam.assessed)  # no margin, no equivalence test


def test_assess_equivalence_is_holm_adjusted_over_distinct_tests():
    t1, t2 = _test([0.02, 0.04, 0.00, 0.06, 0.03]), _test([-0.02, -0.04, 0.00, -0.06, -0.03])
    fam = family.assess([t1, t2, None], ["k1", "k2", "k3"], margin=0.1)
    # each TOST p is 0.023017 (hand-computed in test_stats); two distinct tests: 0.023017 x 2, then the max
    assert fam.assessed[0].p_equivalent == pytest.approx(2 * 0.023017, abs=1e-5)
    assert fam.assessed[1].p_equivalent == pytest.approx(2 * 0.023017, abs=1e-5)
    assert math.isnan(fam.assessed[2].p_equivalent)


def test_level_is_alpha_over_m():
    assert family.level(9) == pytest.approx(0.05 / 9)
    assert family.level(0) == family.level(1) == 0.05
