"""Step detection (bench.analysis.steps) against hand-computed values: every rule has a test that fails without it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis import steps as st


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


def test_a_clean_step_is_found_with_its_bonferroni_interval_and_none_without_one():
    found = st.detect_steps([0, 0, 0, math.log(4), math.log(4), math.log(4)], [0.05] * 6)
    assert len(found) == 1
    step = found[0]
    se_diff = math.sqrt(2 * 0.05**2 / 3)
    z = 2.575829  # Bonferroni over the 5 candidate positions: 1 - 0.05 / (2 x 5)
    assert step.index == 3 and step.ratio == pytest.approx(4.0)
    assert step.low == pytest.approx(4 * math.exp(-z * se_diff), rel=1e-6)
    assert step.high == pytest.approx(4 * math.exp(z * se_diff), rel=1e-6)
    rng = np.random.default_rng(0)
    assert st.detect_steps(list(rng.normal(0, 0.05, 8)), [0.05] * 8) == []
    assert st.detect_steps([0.0, 1.0], [0.01, 0.01]) == []  # two points: nothing can be decided
    assert st.MIN_POINTS == 3


def test_between_run_noise_larger_than_each_run_s_own_hides_no_step_and_makes_none():
    # Runs scatter by sd 0.2 although each says se 0.01: without tau^2 every run would be a step.
    rng = np.random.default_rng(3)
    flat = list(rng.normal(0, 0.2, 10))
    assert st.detect_steps(flat, [0.01] * 10) == []
    stepped = flat[:5] + [v + math.log(8) for v in flat[5:]]
    found = st.detect_steps(stepped, [0.01] * 10)
    assert [s.index for s in found] == [5] and 4 < found[0].ratio < 16


def test_the_level_counts_every_candidate_position_not_only_the_steps_kept():
    y = [0, 0, 0, math.log(2), math.log(2), math.log(2), math.log(8), math.log(8), math.log(8)]
    found = st.detect_steps(y, [0.05] * 9)
    assert [s.index for s in found] == [3, 6]
    z = 2.734369  # 8 candidate positions: 1 - 0.05 / (2 x 8)
    se_diff = math.sqrt(2 * 0.05**2 / 3)
    assert found[0].high == pytest.approx(2 * math.exp(z * se_diff), rel=1e-5)
    assert found[1].ratio == pytest.approx(4.0)
    from scipy import stats as sps

    assert found[0].p == pytest.approx(min(1.0, 8 * 2 * float(sps.norm.sf(math.log(2) / se_diff))))
