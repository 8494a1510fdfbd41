"""Which sentence a number earns: every verdict function called directly, on both sides of each threshold."""

from __future__ import annotations

import math

from hello_bench.analysis import stats, verdicts
from hello_bench.analysis.time_to_accuracy import Ordering


def _test(diffs: list[float]) -> stats.PairedTest:
    return stats.corrected_resampled_ttest(diffs, 75, 75)


UP = _test([0.02, 0.04, 0.00, 0.06, 0.03])  # raw p 0.288
DOWN = _test([-0.02, -0.04, 0.00, -0.06, -0.03])


def test_accuracy_verdict_uses_the_holm_p_and_alpha_005_only():
    assert stats.ALPHA == 0.05
    assert verdicts.accuracy_verdict(UP, 0.04, 0.09, "mlp") == "mlp more accurate (p < 0.05 after Holm)"
    assert verdicts.accuracy_verdict(DOWN, 0.0499, 0.09, "mlp") == "mlp less accurate (p < 0.05 after Holm)"
    # the raw p of UP is 0.288: the verdict reads the Holm p it is given, never the test's own p
    strong = _test([0.05, 0.051, 0.049, 0.05, 0.052, 0.05, 0.048, 0.05])
    assert strong.p < 0.001
    assert verdicts.accuracy_verdict(strong, 0.2, 0.02, "mlp") == "not significant after Holm; detectable: 0.02"
    # at the threshold and above it (0.07 would pass a 0.10 threshold): not significant
    assert verdicts.accuracy_verdict(UP, 0.05, 0.0912, "mlp") == "not significant after Holm; detectable: 0.091"
    assert verdicts.accuracy_verdict(UP, 0.07, 0.0912, "mlp").startswith("not significant")
    assert verdicts.accuracy_verdict(UP, 0.07, math.nan) == "not significant after Holm"
    assert verdicts.accuracy_verdict(UP, math.nan, 0.1).startswith("not significant")


def test_accuracy_verdict_without_a_test():
    assert verdicts.accuracy_verdict(None, math.nan, math.nan) == "too few splits for a test"
    assert verdicts.accuracy_verdict(_test([0.0, 0.0, 0.0]), math.nan, math.nan) == "identical on every split"
    constant = _test([1 / 75, 1 / 75])
    assert (
        verdicts.accuracy_verdict(constant, 0.0, 0.0) == "constant difference +0.0133 on every split (no test possible)"
    )


def test_accuracy_changed_flag_needs_the_holm_p():
    assert verdicts.accuracy_changed(UP, 0.01)
    assert not verdicts.accuracy_changed(UP, 0.05) and not verdicts.accuracy_changed(UP, 0.07)
    assert not verdicts.accuracy_changed(None, 0.0) and not verdicts.accuracy_changed(_test([0.1, 0.1]), 0.0)


def test_equivalence_verdict():
    assert verdicts.equivalence_verdict(UP, 0.01, 0.1) == "equivalent within ±0.1 (TOST, p < 0.05 after Holm)"
    assert verdicts.equivalence_verdict(UP, 0.05, 0.01) == "not shown equivalent within ±0.01"
    assert verdicts.equivalence_verdict(None, 0.0, 0.01) == "no test possible"
    assert verdicts.equivalence_verdict(_test([0.0, 0.0]), 0.0, 0.01) == "no test possible"


def test_family_sentence_names_the_count_and_the_level():
    text = verdicts.family_sentence(13, 9, ["baseline", "model"])
    assert text.startswith("13 comparisons (baseline, model) hold 9 distinct corrected t-tests")
    assert "over those 9" in text and "alpha/m = 0.05/9 = 0.0056" in text and "observed spread" in text
    assert "alpha/m = 0.05/1 = 0.05" in verdicts.family_sentence(0, 0, [])


def ratio(r: float, low: float, high: float, n: int, below: int = 0, above: int = 0) -> stats.RatioCI:
    return stats.RatioCI(r, low, high, n, below, above)


def test_ratio_verdict_needs_five_pairs_and_an_interval_excluding_one():
    assert stats.MIN_RATIO_PAIRS == 5
    assert verdicts.ratio_verdict(ratio(2.0, 1.5, 2.5, 4)) == "too few pairs (4 < 5)"
    assert verdicts.ratio_verdict(ratio(2.0, 1.5, 2.5, 5)) == "slower"
    assert verdicts.ratio_verdict(ratio(0.5, 0.4, 0.6, 5)) == "faster"
    assert verdicts.ratio_verdict(ratio(0.5, math.nan, math.nan, 5)) == "too few pairs (5 < 5)"
    assert verdicts.ratio_verdict(ratio(1.0, 0.9, 1.1, 9)) == "no difference"
    assert verdicts.ratio_verdict(ratio(1.2, 1.0, 1.4, 9)) == "no difference"  # bound at 1: not excluded
    assert verdicts.ratio_verdict(ratio(0.8, 0.6, 1.0, 9)) == "no difference"
    assert verdicts.ratio_verdict(ratio(1.04, 1.01, 1.07, 9)) == "slightly slower (<5%)"
    assert verdicts.ratio_verdict(ratio(0.96, 0.93, 0.99, 9)) == "slightly faster (<5%)"
    assert verdicts.ratio_verdict(ratio(1.05, 1.01, 1.09, 9)) == "slightly slower (<5%)"  # exactly 5%: slightly
    assert verdicts.ratio_verdict(ratio(0.95, 0.91, 0.99, 9)) == "slightly faster (<5%)"
    assert verdicts.ratio_verdict(ratio(1.06, 1.01, 1.09, 9), tolerance=0.1) == "slightly slower (<10%)"
    assert verdicts.ratio_verdict(ratio(0.5, 0.4, 0.6, 5), "GPU faster", "GPU slower") == "GPU faster"
    assert verdicts.ratio_verdict(ratio(2.0, 1.5, 2.5, 5), "GPU faster", "GPU slower") == "GPU slower"


def test_setting_effect_says_made_it_slower_only_when_earned():
    """The README said "`jit_compile=True` made it slower here" from 3 pairs with an interval containing 1."""
    three = ratio(1.17, 0.876, 1.57, 3)
    assert verdicts.setting_effect(three) == (
        "was measured on too few splits to say whether it helps (1.17x [0.876, 1.57] the fit time over 3 splits; "
        "a verdict needs 5)"
    )
    assert (
        verdicts.setting_effect(ratio(1.31, 1.18, 1.46, 5))
        == "made it slower here (1.31x [1.18, 1.46] the fit time over 5 splits)"
    )
    assert verdicts.setting_effect(ratio(0.5, 0.4, 0.6, 10)).startswith("made it faster here (0.5x [0.4, 0.6]")
    assert verdicts.setting_effect(ratio(1.1, 0.9, 1.3, 10)).startswith("made no measurable difference here")
    assert verdicts.setting_effect(ratio(1.02, 1.01, 1.03, 10)).startswith("made it slightly slower (<5%) here")
    assert verdicts.setting_effect(ratio(2.0, math.nan, math.nan, 1)).startswith(
        "was measured on too few splits to say whether it helps (2x the fit time over 1 split;"
    )


def test_fastest_path_only_when_every_paired_interval_excludes_one():
    trials = [f"t{i}" for i in range(6)]
    clear = {
        "onnx": dict(zip(trials, [10, 11, 10, 12, 10, 11])),
        "adapter": dict(zip(trials, [100, 90, 95, 99, 100, 97])),
    }
    found = verdicts.fastest_path(clear)
    assert found == verdicts.Fastest("onnx", []) and found.fastest == "onnx"
    assert verdicts.fastest_sentence(found) == "`onnx` (faster than every other valid path, pair by pair)"
    # bimodal: lower median, but the paired interval contains 1 -> no single fastest path
    bimodal = {
        "onnx": dict(zip(trials, [12, 31, 29, 28, 12, 13])),
        "numpy": dict(zip(trials, [14, 14, 14, 14, 23, 31])),
    }
    tied = verdicts.fastest_path(bimodal)
    assert tied is not None and tied.candidate == "numpy" and tied.tied == ["onnx"] and tied.fastest is None
    assert verdicts.fastest_sentence(tied) == "no single fastest path: `numpy` cannot be told apart from `onnx`"
    # clearly faster but on 4 trials only: not enough pairs for "fastest"
    four = {k: dict(list(v.items())[:4]) for k, v in clear.items()}
    assert verdicts.fastest_path(four) == verdicts.Fastest("onnx", ["adapter"])
    # only the trials both paths hold are paired
    partial = {"onnx": clear["onnx"], "adapter": {**clear["adapter"], "t9": 1.0}}
    assert verdicts.fastest_path(partial) == verdicts.Fastest("onnx", [])
    assert verdicts.fastest_path({"only": {"t0": 1.0}}) == verdicts.Fastest("only", [])
    assert verdicts.fastest_path({}) is None
    # equal medians: the first name in order is the candidate, and it is not called fastest
    same = {"b": {"t0": 1.0}, "a": {"t0": 1.0}}
    assert verdicts.fastest_path(same) == verdicts.Fastest("a", ["b"])


def test_reference_sentence_shows_the_interval_and_disagreeing_trials():
    bimodal = ratio(1.13, 0.812, 1.56, 10, below=7, above=3)
    assert verdicts.reference_sentence(bimodal) == (
        "1.13x [0.812, 1.56] the numpy reference: no difference; under 1 on 7 of 10 trials"
    )
    clear = ratio(0.5, 0.4, 0.6, 10, below=10, above=0)
    assert verdicts.reference_sentence(clear) == "0.5x [0.4, 0.6] the numpy reference: faster than the numpy reference"
    slow = ratio(2.0, 1.5, 2.5, 10, below=0, above=10)
    assert verdicts.reference_sentence(slow).endswith("slower than the numpy reference")
    assert verdicts.ratio_text(ratio(2.0, math.nan, math.nan, 1)) == "2x"


def _ordering(a: str, b: str, a_smaller: int, b_smaller: int, ties: int, p_holm: float) -> Ordering:
    return Ordering(a, b, stats.SignTest(a_smaller, b_smaller, ties, math.nan), p_holm)


def test_orderings_only_from_the_holm_adjusted_sign_test():
    found = [
        _ordering("lr", "mlp", 10, 0, 0, 0.029),
        _ordering("keras", "torch", 1, 9, 0, 0.04),
        _ordering("a", "b", 9, 1, 0, 0.05),  # at the threshold: no ordering
        _ordering("c", "d", 10, 0, 0, 0.07),  # would pass a 0.10 threshold
        _ordering("e", "f", 0, 0, 3, math.nan),
    ]
    assert verdicts.ordering_sentences(found) == [
        "`lr` before `mlp` (10 of 10 splits, Holm p = 0.029)",
        "`torch` before `keras` (9 of 10 splits, Holm p = 0.04)",
    ]
    assert verdicts.ordering_summary(found) == (
        "Orderings from a paired sign test per split (not reached = +inf), Holm over 4 pairs: "
        "`lr` before `mlp` (10 of 10 splits, Holm p = 0.029); `torch` before `keras` (9 of 10 splits, Holm p = 0.04)."
    )
    assert verdicts.ordering_summary(found[2:4]).endswith("Holm over 2 pairs: none is supported at this level.")
    assert verdicts.ordering_summary(found[4:]) == "No pair of adapters shares a split to compare times on."
    assert verdicts.ordering_summary([]) == "No pair of adapters shares a split to compare times on."


def test_seed_claim_names_the_defaults_that_ran():
    said = verdicts.seed_claim("sklearn-lr:2016", "0.83 vs 0.99", False, "sklearn-lr", None, "1.9.1")
    assert said == (
        "The logistic regression repeated here is `sklearn-lr` (no profile: scikit-learn 1.9.1's defaults), not the "
        "post's `sklearn-lr:2016`: these splits say nothing about the post's own 0.83 vs 0.99, which came from the "
        "older defaults (run on the post's one split only, in the seed table)."
    )
    other = verdicts.seed_claim("sklearn-lr:2016", "0.83 vs 0.99", False, "lr:x", "x", None)
    assert "`lr:x` (profile `x`: the installed scikit-learn's defaults)" in other
    ran = verdicts.seed_claim("sklearn-lr:2016", "0.83 vs 0.99", True, "sklearn-lr", None, "1.9.1")
    assert ran.startswith("The post's logistic-regression settings (`sklearn-lr:2016`) ran on these splits")
    assert "does not survive" not in said + other + ran


def test_numbers_in_sentences():
    assert verdicts._g(0.04567) == "0.0457" and verdicts._g(999.4) == "999"
    assert verdicts._g(1000.0) == "1,000" and verdicts._g(3382.4) == "3,382" and verdicts._g(-1234567.0) == "-1,234,567"
    assert verdicts.ratio_text(ratio(3382.4, 2565.0, 4460.2, 10)) == "3,382x [2,565, 4,460]"


def test_default_name_and_the_family_sentence_in_full():
    assert verdicts.accuracy_verdict(UP, 0.01, 0.1) == "B more accurate (p < 0.05 after Holm)"
    assert verdicts.family_sentence(16, 9, ["baseline", "tuned"]) == (
        "16 comparisons (baseline, tuned) hold 9 distinct corrected t-tests: a comparison whose per-split differences "
        "equal another's is the same test and is counted once, and a constant difference has no test. p (Holm) is "
        "Holm's step-down adjustment over those 9, and every verdict uses it, never the raw p. 'Detectable' is the "
        "difference each test would find 80% of the time at alpha/m = 0.05/9 = 0.0056, Holm's most demanding step "
        "(exact noncentral-t power, corrected standard error, the observed spread of the per-split differences: an "
        "estimate, not a known constant)."
    )


def test_fastest_path_boundaries():
    trials = [f"t{i}" for i in range(5)]
    five = {"onnx": dict(zip(trials, [10, 11, 10, 12, 10])), "adapter": dict(zip(trials, [100, 90, 95, 99, 100]))}
    assert verdicts.fastest_path(five) == verdicts.Fastest("onnx", [])  # exactly MIN_RATIO_PAIRS pairs: enough
    # lower median, a paired interval from about 0.8 to 1.2: not below 1, so not the fastest
    close = {"a": dict(zip(trials, [10, 12, 9, 11, 10])), "b": dict(zip(trials, [11, 10, 10, 12, 10.5]))}
    found = verdicts.fastest_path(close)
    assert found == verdicts.Fastest("a", ["b"])
    three = {**close, "c": dict(zip(trials, [12, 11, 10, 10, 11]))}
    tied = verdicts.fastest_path(three)
    assert tied is not None and tied.tied == ["b", "c"]
    assert verdicts.fastest_sentence(tied) == "no single fastest path: `a` cannot be told apart from `b`, `c`"
    assert verdicts.below_one(ratio(0.5, 0.4, 0.6, 5)) and not verdicts.below_one(ratio(0.5, 0.4, 0.6, 4))
    assert not verdicts.below_one(ratio(0.8, 0.6, 1.0, 9)) and not verdicts.below_one(ratio(0.9, 0.6, 1.5, 9))


def test_orderings_keep_looking_past_an_unsupported_pair():
    found = [_ordering("a", "b", 5, 5, 0, 1.0), _ordering("c", "d", 0, 10, 0, 0.01)]
    assert verdicts.ordering_sentences(found) == ["`d` before `c` (10 of 10 splits, Holm p = 0.01)"]


def test_seed_claim_when_the_post_settings_ran():
    assert verdicts.seed_claim("lr:2016", "0.83 vs 0.99", True, "lr", None, "1.9.1") == (
        "The post's logistic-regression settings (`lr:2016`) ran on these splits: its paired tests above are what "
        "repetition says about the post's gap."
    )
