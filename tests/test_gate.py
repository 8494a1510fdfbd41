"""The CI gate's verdict (hello_bench.analysis.gate): hand-computed tests, and one test per outcome and reason."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from scipy import stats as sps

from hello_bench.analysis import gate, stats

LOG110 = math.log(1.10)


def _ratio(group: str, ratios: list[float], pct: float = 10, **kw: object) -> gate.Measured:
    return gate.Measured(group, "fit time", tuple(math.log(r) for r in ratios), math.log1p(pct / 100), **kw)  # type: ignore[arg-type]


def _accuracy(group: str, a: list[float], b: list[float], points: float = 2, correction: float = 1.0) -> gate.Measured:
    worse = tuple(x - y for x, y in zip(a, b))
    return gate.Measured(group, "accuracy", worse, points / 100, gate.DIFFERENCE, lower_is_better=False,
                         correction=correction)  # fmt: skip


def test_one_sided_tests_hand_computed():
    # worsening 0.1, 0.2, 0.3, 0.2, 0.2: mean 0.2, var (ddof 1) = (0.01 + 0 + 0.01 + 0 + 0) / 4 = 0.005,
    # se = sqrt(0.005 / 5) = 0.0316228; against 0.05: t = 0.15 / 0.0316228 = 4.743416 with 4 df.
    # Student's t with 4 df: F(t) = 1/2 + t / (2 sqrt(t^2 + 4)) * (1 + 2 / (t^2 + 4)); t^2 + 4 = 26.5:
    # F = 0.5 + 4.743416 / (2 * 5.147815) * (1 + 2 / 26.5) = 0.995491, so p_fail = 0.004509, p_pass = 0.995491.
    t = gate.one_sided(gate.Measured("g", "fit", (0.1, 0.2, 0.3, 0.2, 0.2), 0.05))
    assert (t.n, t.mean, t.df, t.method) == (5, pytest.approx(0.2), 4, "t")
    assert t.se == pytest.approx(0.0316228, abs=1e-7)
    assert t.p_fail == pytest.approx(0.004509, abs=2e-6) and t.p_pass == pytest.approx(0.995491, abs=2e-6)
    # 90% interval: t(0.95, 4) = 2.131847; half = 2.131847 * 0.0316228 = 0.0674149
    assert t.low == pytest.approx(0.2 - 0.0674149, abs=1e-6) and t.high == pytest.approx(0.2 + 0.0674149, abs=1e-6)
    assert t.reason is None


def test_accuracy_uses_the_nadeau_bengio_term_and_separate_runs_add_their_variance():
    # drops 0.02, 0.04, 0.00, 0.06, 0.03: mean 0.03, var 0.0005; correction 1 (n_test = n_train):
    # se = sqrt(0.0005 * (1/5 + 1)) = 0.0244949
    acc = gate.one_sided(gate.Measured("g", "accuracy", (0.02, 0.04, 0.0, 0.06, 0.03), 0.02, gate.DIFFERENCE,
                                       lower_is_better=False, correction=1.0))  # fmt: skip
    assert acc.se == pytest.approx(0.0244949, abs=1e-7) and acc.df == 4
    # two separate runs: se^2 = 0.0005 / 5 + 0.0001 = 0.0002; df by Welch-Satterthwaite:
    # (0.0001 + 0.0001)^2 / (0.0001^2 / 4 + 0.0001^2 / 9) = 4 / (1/4 + 1/9) = 11.0769
    both = gate.one_sided(gate.Measured("g", "fit", (0.02, 0.04, 0.0, 0.06, 0.03), 0.02, extra_var=0.0001, extra_df=9))
    assert both.se == pytest.approx(math.sqrt(0.0002)) and both.df == pytest.approx(11.0769, abs=1e-4)
    assert gate.satterthwaite(0.001, 4, 0.0, 9) == 4  # nothing added: the within-run df
    assert gate.satterthwaite(0.001, 4, 0.001, math.inf) == pytest.approx(4 * 4)  # a known variance adds no doubt
    assert gate.satterthwaite(0.0, 4, 0.001, math.inf) == math.inf  # only a known variance: no doubt at all


def test_no_variance_is_decided_by_an_exact_sign_test_against_the_threshold():
    # six identical accuracies (an unchanged, deterministic model): every split below a 2-point drop,
    # P(6 of 6 | median at the threshold) = 2^-6 = 0.015625
    same = gate.one_sided(_accuracy("g", [0.9] * 6, [0.9] * 6))
    assert same.method == "sign" and same.se == 0 and same.p_pass == pytest.approx(1 / 64) and same.p_fail == 1.0
    assert gate.sign_p([0.03] * 5, 0.02) == (pytest.approx(1 / 32), 1.0)  # a constant 3-point drop: "above"
    assert math.isnan(gate.sign_p([0.02, 0.02], 0.02)[0])  # all tie with the threshold: no test
    assert gate.sign_p([0.03, 0.01, 0.03], 0.02) == (pytest.approx(0.5), pytest.approx(0.875))


def test_one_sided_power_hand_checked():
    nc = gate.one_sided_noncentrality(4, 0.05)
    assert sps.nct.sf(sps.t.ppf(0.95, 4), 4, nc) == pytest.approx(0.80, abs=1e-9)
    assert nc == pytest.approx(3.03975, abs=1e-4)
    t = gate.one_sided(gate.Measured("g", "fit", (0.1, 0.2, 0.3, 0.2, 0.2), 0.05))
    assert gate.detectable(t, 0.05) == pytest.approx(0.05 + nc * 0.0316228, abs=1e-6)
    assert gate.detectable(t, 0.01) > gate.detectable(t, 0.05)  # a stricter level needs a larger regression
    assert math.isnan(gate.detectable(gate.one_sided(_accuracy("g", [0.9] * 6, [0.9] * 6)), 0.05))


# -- one test per outcome and reason -------------------------------------------------------------


def test_pass_when_every_metric_excludes_a_regression_beyond_the_threshold():
    v = gate.decide([_ratio("lr", [1.01, 0.99, 1.0, 1.02, 0.98, 1.01]), _accuracy("lr", [0.9] * 6, [0.9] * 6)])
    assert v.outcome == gate.PASS and v.exit_status == 0 and v.m == 2 and not v.reasons
    assert gate.line(v).startswith("PASS (exit 0): all 2 gated metric(s) in 1 group(s) exclude a regression")


def test_fail_on_timing_names_the_metric_and_is_tested_against_the_threshold_not_against_one():
    slow = _ratio("torch", [1.30, 1.32, 1.28, 1.31, 1.29, 1.30])
    v = gate.decide([slow, _accuracy("torch", [0.9] * 6, [0.9] * 6)])
    assert v.outcome == gate.FAIL and v.exit_status == 4 and [j.tested.measured.group for j in v.failures] == ["torch"]
    assert gate.line(v).startswith("FAIL (exit 4): 1 metric(s) worse than the threshold with confidence")
    assert "torch fit time 1.3x [90%: 1.29x, 1.31x], B/A > 1.1x" in gate.line(v)
    # 5% slower with confidence (the interval excludes 1) is no FAIL at 10%: it passes (bound below 1.10)
    v = gate.decide([_ratio("torch", [1.05, 1.06, 1.04, 1.05, 1.05, 1.06])])
    assert v.outcome == gate.PASS
    # 8% slower but too noisy to exclude 10%: inconclusive, never a silent pass
    v = gate.decide([_ratio("torch", [1.0, 1.2, 1.05, 1.15, 0.98, 1.1])])
    assert v.outcome == gate.INCONCLUSIVE and v.reasons == {gate.ACROSS: 1}


def test_fail_on_accuracy():
    a = [0.95, 0.96, 0.94, 0.95, 0.97, 0.95]
    b = [0.85, 0.86, 0.82, 0.86, 0.86, 0.85]  # about 10 points lower on every split
    v = gate.decide([_ratio("mlp", [1.0, 1.01, 0.99, 1.0, 1.0, 1.01]), _accuracy("mlp", a, b)])
    assert v.outcome == gate.FAIL and v.failures[0].tested.measured.metric == "accuracy"
    assert "mlp accuracy -10 points" in gate.line(v) and "a drop > 2 points" in gate.line(v)


def test_inconclusive_too_few_pairs_even_when_the_tests_would_decide():
    v = gate.decide([_ratio("lr", [2.0, 2.01, 1.99])])  # 3 < 5 pairs: no verdict, however clear
    assert v.outcome == gate.INCONCLUSIVE and v.exit_status == 5 and v.reasons == {gate.TOO_FEW: 1}
    assert v.m == 0 and "too few pairs: 1 (lr fit time 2x" in gate.line(v)


def test_inconclusive_interval_across_the_threshold():
    v = gate.decide([_ratio("lr", [1.05, 1.15, 1.08, 1.14, 1.12, 1.06])])
    assert v.outcome == gate.INCONCLUSIVE and v.reasons == {gate.ACROSS: 1}
    assert gate.line(v).startswith("INCONCLUSIVE (exit 5): interval across the threshold: 1 (lr fit time 1.1x [90%:")


def test_inconclusive_nothing_matched():
    v = gate.decide([], [])
    assert v.outcome == gate.INCONCLUSIVE and v.reasons == {gate.NOTHING: 1}
    v = gate.decide([_ratio("lr", [1.0] * 6)], [gate.Problem(gate.NOTHING, "iris/mlp/cpu: not in B")])
    assert v.outcome == gate.INCONCLUSIVE and "nothing matched: 1 (iris/mlp/cpu: not in B)" in gate.line(v)


def test_inconclusive_when_b_errored_where_a_was_ok_or_a_metric_is_missing():
    fine = [_ratio("lr", [1.0, 1.01, 0.99, 1.0, 1.0, 1.01])]
    v = gate.decide(fine, [gate.Problem(gate.ERRORED, "iris/mlp/cpu: 6 split(s)")])
    assert (
        v.outcome == gate.INCONCLUSIVE
        and "B's trials errored where A's were ok: 1 (iris/mlp/cpu: 6 split(s))" in gate.line(v)
    )
    v = gate.decide(fine, [gate.Problem(gate.MISSING, "iris/lr/cpu predict p50: in A, not in B")])
    assert v.outcome == gate.INCONCLUSIVE and v.reasons == {gate.MISSING: 1}


def test_inconclusive_when_separate_runs_have_no_run_to_run_variance():
    v = gate.decide([_ratio("lr", [1.5] * 6, blocked=gate.RUN_VARIANCE)])
    assert v.outcome == gate.INCONCLUSIVE and v.reasons == {gate.RUN_VARIANCE: 1} and v.m == 0


def test_a_confident_failure_wins_over_other_problems_and_holm_controls_the_family():
    slow = _ratio("torch", [1.30, 1.32, 1.28, 1.31, 1.29, 1.30])
    v = gate.decide([slow, _ratio("lr", [1.0, 1.2, 1.05])], [gate.Problem(gate.ERRORED, "x")])
    assert v.outcome == gate.FAIL
    # Holm: the adjusted p of each FAIL test is what decides, over every tested metric
    tests = [_ratio("a", [1.12, 1.16, 1.14, 1.17, 1.13, 1.15]), _ratio("b", [1.12, 1.15, 1.14, 1.18, 1.13, 1.16])]
    raw = [gate.one_sided(m).p_fail for m in tests]
    v = gate.decide(tests)
    assert [j.p_holm for j in v.judged] == pytest.approx(stats.holm(raw)) and v.m == 2
    assert all(p < 0.05 for p in raw) and v.outcome == gate.FAIL
    alone = gate.decide(tests[:1])
    assert alone.judged[0].p_holm == pytest.approx(raw[0])


def test_throughput_worsens_downwards_and_reads_as_b_over_a():
    m = gate.Measured("lr", "throughput batch 32", tuple(-math.log(r) for r in [0.7] * 3 + [0.71] * 3), LOG110,
                      lower_is_better=False)  # fmt: skip
    v = gate.decide([m])
    assert v.outcome == gate.FAIL and "B/A < 0.909x" in gate.line(v) and "0.705x" in gate.line(v)


def test_detectable_range_and_line_limits():
    v = gate.decide([_ratio(f"g{i}", [1.0, 1.02, 0.98, 1.01, 0.99, 1.0 + i / 100]) for i in range(5)])
    low, high = gate.detectable_range(v)["fit time"]
    assert LOG110 < low <= high
    tests = [_ratio(f"g{i}", [1.5, 1.52, 1.48, 1.51, 1.49, 1.5]) for i in range(5)]
    assert "; and 2 more" in gate.line(gate.decide(tests))


def test_edge_cases_keep_every_field():
    empty = gate.one_sided(_ratio("g", []))
    assert (empty.n, empty.method, empty.reason) == (0, "none", gate.NOTHING) and math.isnan(empty.mean)
    assert all(math.isnan(x) for x in (empty.se, empty.df, empty.p_fail, empty.p_pass, empty.low, empty.high))
    one = gate.one_sided(_ratio("g", [1.2]))
    assert (one.n, one.method, one.reason) == (1, "none", gate.TOO_FEW) and one.mean == pytest.approx(math.log(1.2))
    assert all(math.isnan(x) for x in (one.se, one.df, one.p_fail, one.p_pass, one.low, one.high))
    blocked = gate.one_sided(_ratio("g", [1.2], blocked=gate.RUN_VARIANCE))
    assert blocked.reason == gate.RUN_VARIANCE
    sign = gate.one_sided(_accuracy("g", [0.9] * 7, [0.9] * 7))
    assert (sign.n, sign.mean, sign.se, sign.df, sign.low, sign.high, sign.method) == (7, 0.0, 0.0, 6, 0.0, 0.0, "sign")
    assert sign.p_pass == pytest.approx(2**-7) and sign.reason is None
    few = gate.one_sided(_ratio("g", [1.1, 1.2, 1.3]))
    assert few.reason == gate.TOO_FEW and few.method == "t" and few.df == 2


def test_texts_in_the_metrics_own_terms():
    thr = gate.one_sided(gate.Measured("lr", "throughput", tuple(-math.log(r) for r in [0.70, 0.71, 0.69, 0.70, 0.70]),
                                       LOG110, lower_is_better=False))  # fmt: skip
    text = gate.estimate_text(thr)
    low, high = (float(x.rstrip("x")) for x in text.split("[90%: ")[1].rstrip("]").split(", "))
    assert text.startswith("0.7x [90%: ") and low < 0.7 < high  # ascending as B/A, though worsening runs the other way
    assert gate.estimate_text(gate.one_sided(_ratio("g", [1.2]))) == "1.2x"
    assert gate.estimate_text(gate.one_sided(_accuracy("g", [0.9] * 5, [0.88] * 5))) == "-2 points on every split"
    acc = gate.one_sided(_accuracy("g", [0.9] * 5, [0.85, 0.86, 0.84, 0.85, 0.85]))
    assert gate.estimate_text(acc).startswith("-5 points [90%: -") and gate.shown(acc, math.nan) == "-"
    assert gate.in_terms(acc, 0.05) == pytest.approx(-5.0) and gate.in_terms(thr, math.log(1.25)) == pytest.approx(0.8)
    assert gate.threshold_text(_accuracy("g", [0.9], [0.9], points=2.5)) == "a drop > 2.5 points"
    assert gate.threshold_text(_ratio("g", [1.0], pct=25)) == "B/A > 1.25x"
    assert gate.detectable_text(thr, math.log(1.2)) == "20%" and gate.detectable_text(acc, 0.05) == "5 points"
    assert gate.detectable_text(acc, math.nan) == "-"
    assert gate.holm_level(4) == 0.0125 and gate.holm_level(0) == 0.05 and gate.holm_level(3, 0.3) == pytest.approx(0.1)


def test_lines_list_at_most_three_and_say_how_many_more():
    three = [_ratio(f"g{i}", [1.5, 1.52, 1.48, 1.51, 1.49, 1.5]) for i in range(3)]
    line = gate.line(gate.decide(three))
    assert line.count("; ") == 2 and "more" not in line and "Holm over 3" in line
    four = gate.line(gate.decide([*three, _ratio("g3", [1.5, 1.52, 1.48, 1.51, 1.49, 1.5])]))
    assert four.endswith("; and 1 more")
    assert gate.line(gate.decide([])) == "INCONCLUSIVE (exit 5): nothing matched: 1"
    many = [gate.Problem(gate.ERRORED, f"p{i}") for i in range(4)]
    assert gate.line(gate.decide([], many)) == (
        "INCONCLUSIVE (exit 5): B's trials errored where A's were ok: 4 (p0; p1; p2; and 1 more)"
    )
    mixed = gate.decide([_ratio("lr", [1.0, 1.2, 1.05])], [gate.Problem(gate.MISSING, "m")])
    assert gate.line(mixed).startswith(
        "INCONCLUSIVE (exit 5): a gated metric missing: 1 (m); too few pairs: 1 (lr fit time "
    )


def test_decide_states_alpha_and_the_smallest_detectable_ranges():
    tests = [_ratio("a", [1.0, 1.02, 0.98, 1.01, 0.99, 1.0]), _ratio("b", [1.0, 1.04, 0.96, 1.02, 0.98, 1.0])]
    v = gate.decide(tests)
    assert (
        [j.state for j in v.judged] == ["pass", "pass"]
        and v.alpha == 0.05
        and [j.reason for j in v.judged] == [None, None]
    )
    lo, hi = gate.detectable_range(v)["fit time"]
    assert lo == pytest.approx(v.judged[0].detectable) and hi == pytest.approx(v.judged[1].detectable) and lo < hi
    nc = gate.one_sided_noncentrality(5, 0.025)  # Holm's first level over two tests
    assert v.judged[0].detectable == pytest.approx(LOG110 + nc * v.judged[0].tested.se)
    across = _ratio("c", [1.0, 1.2, 1.05, 1.15, 0.98, 1.1])
    assert gate.decide([across]).judged[0].state == "undecided"
    # a looser alpha decides what 0.05 cannot
    loose = gate.decide([across], alpha=0.3)
    assert loose.alpha == 0.3 and loose.judged[0].state in ("pass", "fail")
    assert gate.decide([across]).undecided and not gate.decide([across]).passed


def test_one_sided_power_for_one_degree_of_freedom_at_a_tiny_level():
    nc = gate.one_sided_noncentrality(1, 0.0005)  # far in the tail: the search must widen its bracket
    assert sps.nct.sf(sps.t.ppf(1 - 0.0005, 1), 1, nc) == pytest.approx(0.80, abs=1e-9)


# -- the cases the gate's reasons name, exact counts, the sequential levels ------------------------------------


def test_beyond_the_threshold_but_not_after_holm_is_named_as_such():
    """1.14x [1.11, 1.16] against 1.1x lies beyond the threshold: undecided only because of Holm, and says so."""
    beyond = _ratio("a", [1.10, 1.19, 1.12, 1.18, 1.12, 1.16])  # 1.14x [90%: 1.11x, 1.18x], raw p 0.015
    others = [_ratio(f"b{i}", [1.0, 1.2, 1.05, 1.15, 0.98, 1.1]) for i in range(40)]
    v = gate.decide([beyond, *others])
    j = v.judged[0]
    assert j.tested.p_fail < 0.05 <= j.p_holm and j.state == "undecided" and j.reason == gate.BEYOND
    assert (
        v.outcome == gate.INCONCLUSIVE
        and "beyond the threshold, not shown after Holm: 1 (a fit time 1.14x" in gate.line(v)
    )
    assert gate.decide([beyond]).outcome == gate.FAIL  # alone, its raw p is its Holm p


def test_the_fail_decision_uses_holms_p_never_the_raw_p():
    tests = [_ratio(f"g{i}", [1.10, 1.19, 1.12, 1.18, 1.12, 1.16]) for i in range(30)]  # raw p 0.015 each
    v = gate.decide(tests)
    assert all(j.tested.p_fail < 0.05 for j in v.judged) and all(j.p_holm >= 0.05 for j in v.judged)
    assert v.outcome == gate.INCONCLUSIVE and not v.failures


def test_four_pairs_decide_nothing():
    v = gate.decide([_ratio("lr", [2.0, 2.01, 1.99, 2.0])])
    assert gate.MIN_PAIRS == 5 and v.outcome == gate.INCONCLUSIVE and v.reasons == {gate.TOO_FEW: 1}
    assert gate.decide([_ratio("lr", [2.0, 2.01, 1.99, 2.0, 2.02])]).outcome == gate.FAIL


def _count(worse: list[float], threshold: float = 0.0) -> gate.Measured:
    return gate.Measured("g", "parameters", tuple(worse), threshold, gate.EXACT, scale=1.0, unit="")


def test_a_count_is_gated_by_an_exact_rule():
    same = gate.one_sided(_count([0.0] * 3))  # a deterministic count, identical: no statistics needed
    assert same.method == "exact" and same.reason is None and (same.low, same.high) == (0.0, 0.0)
    assert gate.decide([_count([0.0] * 3)]).outcome == gate.PASS  # three splits are enough for an exact rule
    grown = gate.decide([_count([12.0] * 5)])
    assert grown.outcome == gate.FAIL and "g parameters +12 on every split, a rise > 0" in gate.line(grown)
    assert grown.m == 0  # no p-value: not a member of Holm's family
    assert gate.decide([_count([12.0, 0.0, 3.0], threshold=12)]).outcome == gate.PASS  # within 12, on every split
    assert gate.decide([_count([13.0, 0.0], threshold=12)]).outcome == gate.FAIL


def test_sequential_levels_sum_to_alpha_and_shrink_with_each_look():
    from hello_bench.analysis.policy import spent

    levels = [spent(k) for k in range(1, 10_000)]
    assert levels[0] == pytest.approx(0.025) and levels[1] == pytest.approx(0.05 / 6)
    assert sum(levels) < 0.05 and sum(levels) == pytest.approx(0.05, rel=1e-3)
    assert all(a > b for a, b in zip(levels, levels[1:]))


def test_a_fraction_of_one_df_bounds_nothing_and_reads_so():
    """Separate runs on a variance with 0.3 df: the 90% bound overflows a ratio, the power search cannot reach
    80%; the gate says INCONCLUSIVE with an unbounded interval and detects nothing, never a traceback."""
    m = _ratio("g", [1.01, 1.02, 1.0, 1.03, 1.01, 1.02], extra_var=0.05, extra_df=0.1)
    verdict = gate.decide([m])
    assert verdict.outcome == gate.INCONCLUSIVE
    assert "unbounded on" in gate.line(verdict) and "inf" not in gate.line(verdict)
    assert verdict.judged[0].detectable == math.inf
    assert gate.one_sided_noncentrality(0.05, 0.05) == math.inf and gate.as_ratio(800.0, True) == math.inf


def test_identical_accuracy_passes_a_zero_drop_threshold():
    """--fail-accuracy-drop 0 on identical accuracy: every split exactly at the threshold, none beyond: PASS
    (from five splits, as any sign test); four such splits decide nothing."""
    same = _accuracy("g", [0.9] * 5, [0.9] * 5, points=0)
    assert gate.decide([same]).outcome == gate.PASS
    assert gate.decide([_accuracy("g", [0.9] * 4, [0.9] * 4, points=0)]).outcome == gate.INCONCLUSIVE
    assert gate.decide([_accuracy("g", [0.9] * 5, [0.89] * 5, points=0)]).outcome == gate.FAIL


def test_an_interval_is_labelled_at_the_level_it_was_made():
    """A sequential look tests at less than alpha: its bounds are wider, and the line says by how much (never '90%')."""
    from hello_bench.analysis.policy import spent

    ratios = [1.02, 0.98, 1.01, 0.99, 1.03, 1.0, 0.97, 1.01]
    plain, look = gate.one_sided(_ratio("g", ratios)), gate.one_sided(_ratio("g", ratios), spent(3))
    assert plain.level == pytest.approx(0.9) and "[90%:" in gate.estimate_text(plain)
    assert look.level == pytest.approx(1 - 2 * spent(3)) and "[99.2%:" in gate.estimate_text(look)
    assert look.low < plain.low < plain.high < look.high
    slower = gate.decide([_ratio("g", [r * 1.5 for r in ratios])], alpha=spent(3))
    assert slower.outcome == gate.FAIL and gate.line(slower).count("[99.2%:") == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"equivalence_margin": 0}, "--equivalence-margin must be an accuracy difference in (0, 1), e.g. 0.02. Got 0."),
        ({"equivalence_margin": 1}, "--equivalence-margin must be an accuracy difference in (0, 1), e.g. 0.02. Got 1."),
        ({"equivalence_margin": "x"}, "--equivalence-margin: 'x' is not a number."),
        ({"equivalence_margin": True}, "--equivalence-margin: True is not a finite number."),
        ({"fail_above": -1}, "--fail-above must be a percentage >= 0. Got -1."),
        ({"fail_above": "nan"}, "--fail-above: 'nan' is not a finite number."),
        ({"accuracy_drop": 100}, "--fail-accuracy-drop must be accuracy points in [0, 100), e.g. 2. Got 100."),
        ({"accuracy_drop": -0.5}, "--fail-accuracy-drop must be accuracy points in [0, 100), e.g. 2. Got -0.5."),
        ({"metrics": ""}, "--gate-metrics '': expected a comma-separated list of metric names, e.g. fit,p50,cold."),
        (
            {"metrics": "fit,,p50"},
            "--gate-metrics 'fit,,p50': expected a comma-separated list of metric names, e.g. fit,p50,cold.",
        ),
        (
            {"metrics": ["fit", 3]},
            "--gate-metrics ['fit', 3]: expected a comma-separated list of metric names, e.g. fit,p50,cold.",
        ),
        ({"metrics": 5}, "--gate-metrics 5: expected a comma-separated list of metric names, e.g. fit,p50,cold."),
        ({"thresholds": "cold"}, "--threshold 'cold': expected NAME=VALUE, e.g. cold=50 or accuracy=1."),
        ({"thresholds": "=5"}, "--threshold '=5': expected NAME=VALUE, e.g. cold=50 or accuracy=1."),
        ({"thresholds": "cold=x"}, "--threshold cold: 'x' is not a number."),
        ({"thresholds": ["cold=5", "cold=6"]}, "--threshold cold is given twice (5 and 6): give it once."),
        ({"thresholds": "cold=-1"}, "--threshold cold=-1.0: a threshold must be a number >= 0."),
        ({"thresholds": "accuracy=100"}, "--threshold accuracy=100.0: accuracy is gated in points, below 100."),
        ({"thresholds": {"nope": 5}}, "No metric named 'nope' to gate. Metrics with a direction: "),
        ({"calibration": " "}, "--calibration ' ': name a calibration run."),
        ({"calibration": 7}, "--calibration 7: name a calibration run."),
    ],
)
def test_each_gate_option_refuses_a_bad_value_in_one_line_naming_the_flag(options, message):
    from hello_bench.analysis.policy import GatePolicy
    from hello_bench.errors import UserError

    with pytest.raises(UserError) as err:
        GatePolicy.from_options(**options)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_good_option_values_are_read_as_given_and_say_what_is_gated():
    from hello_bench.analysis.policy import GatePolicy

    p = GatePolicy.from_options(equivalence_margin="0.02", fail_above=0, metrics=" fit , cold ",
                                thresholds="cold=50,p99=30", calibration="cal")  # fmt: skip
    assert (p.equivalence_margin, p.fail_above, p.metrics) == (0.02, 0.0, ("fit", "cold"))
    assert dict(p.thresholds) == {"cold": 50.0, "p99": 30.0} and p.calibration == "cal" and p.on
    assert GatePolicy.from_options(thresholds=["cold=5", "cold=5.0"]).thresholds == {"cold": 5.0}  # the same twice
    assert GatePolicy.from_options(thresholds={"cold": "7"}).thresholds == {"cold": 7.0}
    assert GatePolicy.from_options(metrics=["fit"]).metrics == ("fit",)
    assert GatePolicy.from_options(equivalence_margin=0.5).on is False  # described, never gated
    assert GatePolicy.from_options(thresholds="cold=0").thresholds == {"cold": 0.0}  # zero is a threshold
    assert p.describe() == "gated: fit, cold"
    assert GatePolicy().describe() == "gated: the registry's default metrics"
    assert p.at_look(3).describe() == "gated: fit, cold; look 3 of a sequential gate, at alpha 0.00417"
    assert p.at_look(1).level == 0.025 and p.level == 0.05


def _tested_as(kind: str, mean: float, low: float, high: float, method: str, unit: str = "points", **kw):
    m = gate.Measured("g", "metric", (0.0,), 0.0, kind=kind, unit=unit, **kw)
    return gate.Tested(m, 5, mean, low=low, high=high, method=method, df=4.0)


def test_worsenings_read_in_their_metrics_terms_a_count_in_whole_units_with_separators():
    count = _tested_as(gate.EXACT, 1234.0, 1234.0, 1234.0, "exact", unit="", scale=1.0)
    assert gate.shown(count, 1234.0) == "+1,234" and gate.shown(count, -3.0) == "-3"
    assert gate.estimate_text(count) == "+1,234 on every split"
    assert gate.estimate_text(replace(count, low=2.0)) == "+1,234 at worst"
    params = _tested_as(gate.EXACT, 5.0, 5.0, 5.0, "exact", unit="params", scale=1.0)
    assert gate.shown(params, 5.0) == "+5 params"
    acc = _tested_as(gate.DIFFERENCE, 0.025, 0.01, 0.04, "t", lower_is_better=False)
    assert gate.shown(acc, 0.025) == "-2.5 points" and gate.shown(acc, math.nan) == "-"
    assert gate.estimate_text(acc) == "-2.5 points [90%: -4 points, -1 points]"
    assert gate.estimate_text(replace(acc, low=0.0)).endswith("unbounded on 4 df]")  # a bound at 0: not bounded
    assert gate.detectable_text(acc, 0.03) == "3 points" and gate.detectable_text(acc, math.nan) == "-"
    bare = _tested_as(gate.DIFFERENCE, 0.5, 0.1, 0.9, "t", unit="", scale=1.0)
    assert gate.detectable_text(bare, 0.5) == "0.5" and gate.shown(bare, 0.5) == "+0.5"
    ratio = _tested_as(gate.RATIO, math.log(1.31), math.log(1.2), math.log(1.4), "t")
    assert gate.shown(ratio, math.log(1.31)) == "1.31x" and gate.detectable_text(ratio, math.log(1.25)) == "25%"
    assert gate.as_ratio(800.0, True) == math.inf and gate.as_ratio(-800.0, False) == math.inf
    assert gate.as_ratio(math.log(2.0), False) == pytest.approx(0.5)


def test_the_noncentrality_of_a_low_bar_is_found_below_one():
    """A weak target at a loose level: the root sits under 1, below the bracket's first guess, and is still found."""
    nc = gate.one_sided_noncentrality(1000.0, 0.4, 0.5)
    assert nc == pytest.approx(sps.t.ppf(0.6, 1000), abs=1e-3) and 0 < nc < 1
    assert sps.nct.sf(sps.t.ppf(0.6, 1000), 1000, nc) == pytest.approx(0.5, abs=1e-6)


def test_the_gate_line_of_each_outcome_word_for_word():
    """gate.line as a CI log shows it: FAIL lists exact failures first, then by Holm p, up to the limit and how many
    more; PASS counts metrics and groups and names what was gated; INCONCLUSIVE gives each reason's count with
    examples (problems first), in the order of REASONS."""
    fails = [_ratio("small", [1.3, 1.5, 1.2, 1.45, 1.25, 1.4]), _ratio("big", [2.0, 2.1, 1.9, 2.05, 1.95, 2.0]),
             gate.Measured("n", "parameters", (12.0,) * 5, 0.0, gate.EXACT, unit="", scale=1.0)]  # fmt: skip
    assert gate.line(gate.decide(fails), limit=2) == (
        "FAIL (exit 4): 3 metric(s) worse than the threshold with confidence (one-sided tests, Holm over 2): "
        "n parameters +12 on every split, a rise > 0 (exact: no p-value); "
        "big fit time 2x [90%: 1.94x, 2.06x], B/A > 1.1x (Holm p = 1.6e-07); and 1 more"
    )
    assert gate.line(gate.decide(fails[:2])).endswith("(Holm p = 1.6e-07); small fit time 1.35x [90%: 1.25x, 1.45x], "
                                                      "B/A > 1.1x (Holm p = 0.0012)")  # fmt: skip
    ok = gate.decide([_ratio("lr", [1.01, 0.99, 1.0, 1.02, 0.98, 1.01]), _accuracy("lr", [0.9] * 6, [0.9] * 6),
                      _ratio("mlp", [1.01, 0.99, 1.0, 1.02, 0.98, 1.01])])  # fmt: skip
    assert gate.line(ok) == (
        "PASS (exit 0): all 3 gated metric(s) in 2 group(s) exclude a regression beyond the threshold (each one-sided "
        "95% bound; no FAIL test after Holm over 3); gated: fit time B/A > 1.1x; accuracy a drop > 2 points"
    )
    few = [_ratio(g, [1.0, 1.3]) for g in "bcde"]
    inc = gate.decide([_ratio("a", [1.0, 1.2, 1.05, 1.15, 0.98, 1.1]), *few], [gate.Problem(gate.MISSING, "x: gone")])
    assert gate.line(inc) == (
        "INCONCLUSIVE (exit 5): a gated metric missing: 1 (x: gone); too few pairs: 4 (b fit time 1.14x [90%: 0.498x, "
        "2.61x]; c fit time 1.14x [90%: 0.498x, 2.61x]; d fit time 1.14x [90%: 0.498x, 2.61x]; and 1 more); interval "
        "across the threshold: 1 (a fit time 1.08x [90%: 1.01x, 1.15x]); gated: fit time B/A > 1.1x"
    )
    assert gate.line(inc, limit=4).count("; and ") == 0
    blocked = gate.decide([], [gate.Problem(gate.NOTHING, "")])
    assert gate.line(blocked) == "INCONCLUSIVE (exit 5): nothing matched: 1"


def test_failures_tied_on_holm_p_are_listed_smallest_raw_p_first():
    """Holm's adjusted p values tie often (its step-down keeps a running maximum): b's raw p is above a's but under
    twice it, so both adjust to 2 p_a. The line then goes by the raw p: a first, whatever order they were given in."""
    a = _ratio("a", [1.30, 1.35, 1.25, 1.38, 1.29, 1.33])
    b = _ratio("b", [1.30, 1.35, 1.24, 1.38, 1.29, 1.33])
    v = gate.decide([b, a])
    (jb, ja) = v.judged
    assert jb.p_holm == ja.p_holm and ja.tested.p_fail < jb.tested.p_fail < 2 * ja.tested.p_fail
    assert gate.line(v, limit=1).split(": ", 2)[2].startswith("a fit time")
    assert gate.line(gate.decide([a, b]), limit=1).split(": ", 2)[2].startswith("a fit time")
