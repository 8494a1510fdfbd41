"""Time to accuracy: a target no test row chose, reached *and held*, censored, ordered only by a paired test."""

from __future__ import annotations

import math

import pytest

from hello_bench.analysis import stats
from hello_bench.analysis import time_to_accuracy as tta


def test_default_target_comes_from_the_number_of_classes_only():
    # 1 - 0.10 x (1 - 1/k): iris (3 classes) 1 - 0.1 x 2/3 = 0.933333; 10 classes 0.91; 2 classes 0.95
    assert tta.TARGET_ERROR_SHARE == 0.10
    assert tta.default_target(3) == pytest.approx(0.9333333333)
    assert tta.default_target(10) == pytest.approx(0.91)
    assert tta.default_target(2) == pytest.approx(0.95)
    with pytest.raises(ValueError, match="at least 2 classes"):
        tta.default_target(1)


def test_reached_means_reached_and_held_to_the_end():
    times = [1.0, 2.0, 3.0, 4.0, 5.0]
    # touches 0.96 at epoch 2, falls back, holds from epoch 4: reached at 4.0 (the old rule said 2.0)
    assert tta.time_held(times, [0.5, 0.96, 0.90, 0.96, 0.97], 0.95) == 4.0
    # ends below: not reached, whatever it touched on the way (100 chances are not 100 wins)
    assert tta.time_held(times, [0.96, 0.97, 0.98, 0.99, 0.94], 0.95) == math.inf
    assert tta.time_held(times, [0.96] * 5, 0.95) == 1.0
    # exactly at the target counts (accuracies are k/n fractions: float noise must not decide)
    assert tta.time_held([1.0], [0.7 - 1e-15], 0.7) == 1.0
    assert tta.time_held([1.0], [0.7 - tta.EPS], 0.7) == 1.0  # the tolerance itself is still "at the target"
    assert tta.time_held([1.0], [70 / 75], tta.default_target(3)) == 1.0  # 70 of iris' 75 test flowers
    assert tta.time_held([1.0, 2.0], [0.95, 0.95 - 1e-9], 0.95) == math.inf
    assert tta.time_held([], [], 0.5) == math.inf


def test_the_logistic_regressions_single_fit_is_a_one_point_curve():
    assert tta.curve_of({"fit_wall_s": 0.3, "accuracy": 0.97}) == ([0.3], [0.97])
    assert tta.time_to_target({"fit_wall_s": 0.3, "accuracy": 0.97}, 0.95) == 0.3
    assert tta.time_to_target({"fit_wall_s": 0.3, "accuracy": 0.94}, 0.95) == math.inf
    curve = {"train_time_s": [0.1, 0.2, 0.3], "loss": [1.0, 0.5, 0.4], "test_accuracy": [0.9, 0.96, 0.97]}
    record = {"fit_wall_s": 9.9, "accuracy": 0.97, "curve": curve}
    assert tta.curve_of(record) == ([0.1, 0.2, 0.3], [0.9, 0.96, 0.97])
    assert tta.time_to_target(record, 0.95) == 0.2
    assert tta.curve_of({"fit_wall_s": 1.0, "accuracy": 0.5, "curve": {"test_accuracy": []}}) == ([1.0], [0.5])


def test_split_time_is_the_median_over_init_seeds():
    assert tta.split_time([1.0, 3.0, math.inf]) == 3.0
    assert tta.split_time([1.0, math.inf, math.inf]) == math.inf


def test_orderings_are_paired_sign_tests_with_holm():
    fast = {s: 1.0 for s in range(6)}
    slow = {s: 2.0 for s in range(6)}
    never = {s: math.inf for s in range(6)}
    mixed = {0: 0.5, 1: 3.0, 2: 0.5, 3: 3.0, 4: 0.5, 5: 3.0}
    times = {"fast": fast, "slow": slow, "never": never, "mixed": mixed}
    pairs = [("fast", "slow"), ("slow", "fast"), ("fast", "fast"), ("slow", "never"), ("fast", "mixed"), ("x", "fast")]
    found = tta.orderings(times, pairs)
    assert [(o.a, o.b) for o in found] == [("fast", "slow"), ("slow", "never"), ("fast", "mixed")]
    # 6 of 6 splits: p = 2 / 64 = 0.03125 each; mixed: 3 vs 3, p = 1. Holm over 3: 0.09375, 0.09375, 1
    assert [o.test for o in found] == [stats.SignTest(6, 0, 0, 0.03125), stats.SignTest(6, 0, 0, 0.03125),
                                       stats.SignTest(3, 3, 0, 1.0)]  # fmt: skip
    assert [o.p_holm for o in found] == pytest.approx([0.09375, 0.09375, 1.0])
    assert found[0].splits == 6
    # only the splits both hold are compared
    partial = tta.orderings({"a": {0: 1.0, 1: 1.0, 9: 5.0}, "b": {0: 2.0, 1: 2.0}}, [("a", "b")])
    assert partial[0].test == stats.SignTest(2, 0, 0, 0.5)
    none_shared = tta.orderings({"a": {0: 1.0}, "b": {1: 2.0}}, [("a", "b")])
    assert math.isnan(none_shared[0].p_holm)


def test_a_relative_target_is_nine_tenths_of_the_way_from_chance_to_the_weakest_training_accuracy():
    """relative_target reads the training accuracies only: 1/k + 0.9 (weakest - 1/k), chance where the weakest is
    below it, the first name in order on a tie; fewer than 2 classes or no adapter is a ValueError."""
    target, weakest = tta.relative_target(3, {"mlp": 0.95, "lr": 0.84})
    assert weakest == "lr" and target == pytest.approx(1 / 3 + 0.9 * (0.84 - 1 / 3))
    assert tta.relative_target(4, {"b": 0.7, "a": 0.7}) == (pytest.approx(0.25 + 0.9 * 0.45), "a")  # a tie: by name
    assert tta.relative_target(2, {"a": 0.3}) == (0.5, "a")  # below chance: the bar is chance itself
    assert tta.relative_target(2, {"a": 1.0})[0] == pytest.approx(0.95)
    assert tta.relative_target(10, {"a": 0.1})[0] == pytest.approx(0.1)  # exactly chance
    for n_classes, accuracies in ((1, {"a": 0.9}), (0, {"a": 0.9}), (3, {})):
        with pytest.raises(ValueError, match="a relative target needs at least 2 classes and one adapter's training"):
            tta.relative_target(n_classes, accuracies)
