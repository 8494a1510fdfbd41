"""One typed comparison (hello_bench.analysis.comparison): each contradiction the pages once held, built and refused.

Hand-made frames, one per case: a duet whose throughput fell, a heatmap that may colour only what a verdict
claims, a per-trial count, a metric missing on one side, separate runs with and without a calibration.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hello_bench.analysis import gate, noise
from hello_bench.analysis.comparison import BETTER, DUET, NONE, SEPARATE, WORSE, Context, build
from hello_bench.analysis.policy import GatePolicy
from hello_bench.analysis.separate import RunVariance, run_variance_from, within_span
from hello_bench.errors import UserError
from hello_bench.metrics import Metric
from hello_bench.record import metric_for
from hello_bench.report.compare import heat_frame

KEYS = ["dataset", "adapter", "device"]


def frame(
    fit: list[float], acc: list[float] | None = None, tput: list[float] | None = None, **extra: list
) -> pd.DataFrame:
    n = len(fit)
    rows = {"dataset": ["iris"] * n, "adapter": ["lr"] * n, "device": ["cpu"] * n, "split_seed": list(range(n)),
            "init_seed": list(range(n)), "status": ["ok"] * n, "run_id": ["r"] * n, "fit_wall_s": fit,
            "accuracy": acc if acc is not None else [0.9] * n, "n_train": [75] * n, "n_test": [75] * n,
            "test_rows_sha": [f"s{i}" for i in range(n)]}  # fmt: skip
    if tput is not None:
        rows["tput_32"] = tput
    rows.update(extra)
    return pd.DataFrame(rows)


def on(**options: object) -> GatePolicy:
    return GatePolicy.from_options(**options)


def row(c, column: str):
    return next(r for r in c.rows if r.column == column)


def test_a_duet_whose_throughput_fell_says_lower_and_fails_with_no_noise_floor_and_no_normalisation():
    rng = np.random.default_rng(0)
    a = frame([1.0] * 8, tput=list(1000 * (1 + 0.01 * rng.standard_normal(8))))
    b = frame([1.0] * 8, tput=list(563 * (1 + 0.01 * rng.standard_normal(8))))
    context = Context(DUET, control=noise.control_ratio([1.0, 1.1], [1.0, 1.1]), floor=1.19)
    c = build(a, b, KEYS, on(fail_above=10), context)
    tput = row(c, "tput_32")
    assert tput.verdict == "lower" and tput.claims == WORSE and tput.normalised is None
    assert "noise floor" not in tput.verdict and tput.gated is not None and tput.gated.state == "fail"
    assert c.outcome == gate.FAIL and c.to_json()["noise_floor"] is not None  # the field, never applied in a duet


def test_a_heatmap_colours_only_what_a_verdict_claims():
    a = frame([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    b = frame([2.89, 0.4, 5.0, 1.2, 0.9, 9.0])  # a geometric mean of 1.7x, wildly spread: no difference shown
    c = build(a, b, KEYS, GatePolicy())
    fit = row(c, "fit_wall_s")
    assert fit.verdict == "no difference" and fit.claims == NONE
    heat = heat_frame(c)
    assert math.isnan(heat.loc[heat["metric"] == "fit time", "goodness"].iloc[0])
    slow = build(a, frame([1.5, 1.52, 1.49, 1.51, 1.5, 1.5]), KEYS, GatePolicy())
    assert row(slow, "fit_wall_s").claims == WORSE
    assert heat_frame(slow).loc[0, "goodness"] < 0  # painted: B worse
    fast = build(a, frame([0.5, 0.51, 0.49, 0.5, 0.5, 0.5]), KEYS, GatePolicy())
    assert row(fast, "fit_wall_s").claims == BETTER and heat_frame(fast).loc[0, "goodness"] > 0


COUNT = Metric.measured("n_params", lambda clf, split: 1.0, label="parameters", kind="count", compare=True)


def test_a_count_compares_exactly_is_never_normalised_and_passes_between_separate_runs(monkeypatch):
    import hello_bench.record as rec

    monkeypatch.setattr(rec, "_REGISTERED", [COUNT])
    a, b = frame([1.0] * 5, n_params=[131.0] * 5), frame([1.3] * 5, n_params=[131.0] * 5)
    control = noise.control_ratio([1.0, 1.02, 0.98], [1.3, 1.32, 1.28])
    c = build(a, b, KEYS, on(fail_above=10, metrics=("n_params", "accuracy")), Context(SEPARATE, control=control))
    params = row(c, "n_params")
    assert params.verdict == "identical on every split" and params.normalised is None and params.compared_as == "exact"
    assert params.gated is not None and params.gated.state == "pass"  # no run-to-run variance needed: not a timing
    assert c.outcome == gate.PASS
    grown = build(a, frame([1.0] * 5, n_params=[140.0] * 5), KEYS, on(metrics=("n_params",)), Context(SEPARATE))
    assert row(grown, "n_params").verdict.startswith("changed by +9") and grown.outcome == gate.FAIL
    assert row(grown, "n_params").claims == WORSE


def test_a_gated_metric_missing_on_either_side_is_never_a_pass():
    a, b = frame([1.0] * 6), frame([1.0] * 6)
    assert build(a, b, KEYS, on(fail_above=10)).outcome == gate.PASS
    for left, right in ((a, b.drop(columns="accuracy")), (a.drop(columns="accuracy"), b)):
        c = build(left, right, KEYS, on(fail_above=10))
        assert c.outcome == gate.INCONCLUSIVE and c.verdict is not None and gate.MISSING in c.verdict.reasons
        assert any("accuracy" in p.detail for p in c.problems)


def test_a_gated_metric_that_reaches_no_test_is_named_not_dropped():
    """If a gated metric's pairs never reach a test (here: every value non-positive), the gate cannot pass."""
    a = frame([1.0] * 6, tput=[1000.0] * 6)
    b = frame([1.0] * 6, tput=[0.0] * 6)
    c = build(a, b, KEYS, on(fail_above=10))
    assert c.outcome == gate.INCONCLUSIVE and any(
        "no usable pairs" in p.detail or "throughput" in p.detail for p in c.problems
    )


def test_separate_runs_add_two_run_offsets_and_are_blocked_without_a_variance():
    a, b = frame([1.0 + 0.01 * i for i in range(6)]), frame([1.3 + 0.013 * i for i in range(6)])
    blocked = build(a, b, KEYS, on(fail_above=10), Context(SEPARATE))
    assert blocked.outcome == gate.INCONCLUSIVE and gate.RUN_VARIANCE in blocked.verdict.reasons
    variance = RunVariance("cal", {"fit_wall_s": (0.0004, 10.0)})
    assert variance.extra("fit_wall_s") == (0.0008, 10.0)  # two run offsets, one per run
    c = build(a, b, KEYS, on(fail_above=10), Context(SEPARATE, variance=variance))
    fit = row(c, "fit_wall_s").gated.judged.tested
    assert fit.measured.extra_var == pytest.approx(0.0008) and c.outcome == gate.FAIL


def test_a_metric_the_calibration_cannot_vouch_for_is_named_with_why_and_what_would_decide():
    """Separate runs, a calibration usable for the fit time but not for p50 (truncated): the line names p50, says
    why, and names what would decide (gate what the calibration has)."""
    p50 = [50.0 + i for i in range(6)]
    a, b = frame([1.0 + 0.01 * i for i in range(6)], latency_p50_us=p50), frame([1.0] * 6, latency_p50_us=p50)
    variance = RunVariance("cal", {"fit_wall_s": (0.0004, 10.0)}, unusable={"latency_p50_us": "truncated to 0"})
    c = build(a, b, KEYS, on(fail_above=10, metrics=("fit", "p50")), Context(SEPARATE, variance=variance))
    (why,) = [p.detail for p in c.problems if p.reason == gate.RUN_VARIANCE]
    assert why.startswith("cal gives no usable variance for predict p50 (in it: p50 truncated to 0)")
    assert why.endswith("--gate-metrics accuracy,fit") and c.outcome == gate.INCONCLUSIVE


def test_separate_runs_gate_the_ratio_normalised_by_the_control():
    """A machine made 2x slower between two runs of the same code: raw 2x, normalised 1x; never a FAIL, for a
    time and for a rate alike (a throughput halved by the machine was once shifted the wrong way: a FAIL in every
    pair of separate runs across a CPU-quota change)."""
    a = frame([1.0 + 0.01 * i for i in range(8)], tput=[1000.0 - i for i in range(8)])
    b = frame([2.0 + 0.02 * i for i in range(8)], tput=[500.0 - 0.5 * i for i in range(8)])
    control = noise.control_ratio([1.0, 1.01, 0.99, 1.0], [2.0, 2.02, 1.98, 2.0])
    variance = RunVariance("cal", {"fit_wall_s": (0.0004, 20.0), "tput_32": (0.0004, 20.0)})
    c = build(a, b, KEYS, on(fail_above=10), Context(SEPARATE, control=control, variance=variance))
    fit = row(c, "fit_wall_s")
    assert fit.estimate.value == pytest.approx(2.0, rel=0.01) and fit.normalised.value == pytest.approx(1.0, rel=0.02)
    assert fit.gated.state != "fail" and c.outcome != gate.FAIL
    tput = row(c, "tput_32")
    assert tput.normalised.value == pytest.approx(1.0, rel=0.02) and tput.gated is not None
    assert tput.gated.judged.tested.mean == pytest.approx(0.0, abs=0.02)  # the worsening after the shift: none
    # the raw 2x is the machine's: the row claims nothing, says why, and no figure may colour it
    assert fit.claims == NONE and fit.verdict.endswith("not after normalising by the control (its interval includes 1)")
    floored = build(a, b, KEYS, on(fail_above=10), Context(SEPARATE, floor=3.0))  # a 2x inside a ±300% floor
    assert row(floored, "fit_wall_s").claims == NONE and "within the noise floor" in row(floored, "fit_wall_s").verdict
    assert row(build(a, b, KEYS, on(fail_above=10)), "fit_wall_s").claims == WORSE  # one run: the pairing speaks


def test_a_calibration_of_too_few_repeats_or_a_truncated_zero_is_unknown_and_a_span_bounds_it():
    from hello_bench.analysis import run_variance as rv

    def stored(var: float, df: float, runs: int, truncated: bool = False, **extra: object) -> dict:
        entry = rv.Estimate(var, df, runs, 10, truncated).to_dict()
        return {"run_variance": {"fit_wall_s": entry}, **extra}

    assert run_variance_from(stored(0.01, 1.0, 2), "c").by_column == {}  # two repeats: never
    assert run_variance_from(stored(0.0, 9.0, 8, truncated=True), "c").by_column == {}  # truncated: unknown, not 0
    assert run_variance_from({"run_variance": {"fit_wall_s": {"var": 0.01, "df": 9}}}, "c").by_column == {}  # R-1 df
    ok = run_variance_from(stored(0.01, 3.2, 8, span={"first": 0.0, "last": 360.0, "seconds": 360.0, "runs": 8}), "c")
    assert ok.by_column == {"fit_wall_s": (0.01, 3.2)} and ok.why is None and ok.span_s == 360.0
    assert within_span(ok, 300).why is None
    far = within_span(run_variance_from(stored(0.01, 3.2, 8, span={"seconds": 360.0, "last": 360.0}), "c"), 2 * 86400)
    assert far.why is not None and "2.0 days apart" in far.why and far.extra("fit_wall_s") is None


def test_policy_options_are_checked_before_anything_is_read():
    with pytest.raises(UserError, match="No metric named 'nope'"):
        on(metrics=("nope",))
    with pytest.raises(UserError, match="not better either way"):
        on(metrics=("epochs",))
    with pytest.raises(UserError, match="--threshold cold=-1"):
        on(thresholds="cold=-1")
    policy = on(fail_above=10, thresholds=["cold=40", "p99=20"], metrics=("fit", "cold", "p99", "tput:32"))
    assert policy.threshold(metric_for("cold_predict_s"), "cold_predict_s") == 40.0
    assert policy.threshold(metric_for("fit_wall_s"), "fit_wall_s") == 10.0
    assert policy.threshold(metric_for("tput_32"), "tput_32") == 10.0
    assert policy.threshold(metric_for("tput_1"), "tput_1") is None  # one key named: the others are not gated
    assert policy.threshold(metric_for("accuracy"), "accuracy") is None  # not named
    default = on(fail_above=10)
    gated = {m.short for m in (metric_for(c) for c in ("fit_wall_s", "latency_p50_us", "tput_1", "accuracy",
                                                       "cold_predict_s", "latency_p99_us"))
             if default.threshold(m, m.column_for("1")) is not None}  # fmt: skip
    assert gated == {"fit", "p50", "tput", "accuracy"}  # the cold first predict and p99 only when named
    assert on(accuracy_drop=2).threshold(metric_for("fit_wall_s"), "fit_wall_s") is None  # accuracy alone


def test_a_metric_named_for_the_gate_that_neither_side_measured_is_never_a_pass():
    c = build(frame([1.0] * 6), frame([1.0] * 6), KEYS, on(fail_above=10, metrics=("fit", "gpu-mem")))
    assert c.outcome == gate.INCONCLUSIVE and any("gpu-mem (peak GPU memory): measured on neither side" in p.detail
                                                   for p in c.problems)  # fmt: skip
    # a threshold for a key nobody measured (batch 999) asks for it as --gate-metrics would: never a silent no-op
    t = build(frame([1.0] * 6, tput=[9.0] * 6), frame([1.0] * 6, tput=[9.0] * 6), KEYS,
              on(fail_above=10, thresholds="tput:999=3"))  # fmt: skip
    assert t.outcome == gate.INCONCLUSIVE and any("tput:999" in p.detail and "measured on neither side" in p.detail
                                                   for p in t.problems)  # fmt: skip


def test_a_named_metric_one_group_never_measured_is_missing_there_not_a_pass():
    """--gate-metrics names a metric one group measured and another did not (on either side): that group is
    INCONCLUSIVE, never a PASS of the group that had it alone."""

    def two() -> pd.DataFrame:
        one, other = frame([1.0] * 6, cold_predict_s=[0.01] * 6), frame([1.0] * 6, cold_predict_s=[math.nan] * 6)
        return pd.concat([one, other.assign(adapter="tree")], ignore_index=True)

    c = build(two(), two(), KEYS, on(fail_above=10, metrics=("cold",)))
    assert c.outcome == gate.INCONCLUSIVE
    assert any("iris/tree/cpu" in p.detail and "measured on neither side" in p.detail for p in c.problems)
    assert build(two(), two(), KEYS, on(fail_above=10)).outcome == gate.PASS  # not named: not gated, no problem


def test_two_test_sizes_are_called_different_splits_not_a_missing_metric():
    """Runs made with another test size hold other splits: the comparison says so, and the gate names that case."""
    from hello_bench.analysis.sides import design_differences

    a = frame([1.0] * 6, test_size=[0.5] * 6)
    b = frame([1.0] * 6, test_size=[0.3] * 6, test_rows_sha=[f"other{i}" for i in range(6)])
    found = design_differences(a, b, KEYS)
    assert found == ["the splits differ: test size 0.5 in A, 0.3 in B (no split pairs)"]
    c = build(a, b, KEYS, on(fail_above=10), Context(DUET, design=found))
    assert c.outcome == gate.INCONCLUSIVE and gate.SPLITS_DIFFER in c.verdict.reasons
    assert gate.line(c.verdict).startswith("INCONCLUSIVE (exit 5): the sides differ: 1 (the splits differ: test size")


def test_one_adapter_name_backed_by_two_classes_is_called_out():
    from hello_bench.analysis.sides import design_differences

    a = frame([1.0] * 5, adapter_class=["mypkg.model:Old"] * 5)
    b = frame([1.0] * 5, adapter_class=["mypkg.model:New"] * 5)
    assert design_differences(a, b, KEYS) == [
        "adapter 'lr' is another class on each side: mypkg.model:Old in A, mypkg.model:New in B"
    ]
    assert design_differences(a, a, KEYS) == []


def test_a_busy_machine_decides_a_timed_call_on_its_cpu_time_and_says_so():
    """The baseline's wall time 2x its CPU time (a busy machine): fit time is decided on CPU time, which passes;
    with --wall-only the noisy wall time cannot decide. A candidate that waits itself keeps its wall time gated."""
    rng = np.random.default_rng(5)
    wall_a = [1.0] * 8
    wall_b = [1.5, 0.7, 1.4, 0.75, 1.6, 0.65, 1.3, 0.8]  # the neighbours' noise: no decision on wall time
    cpu = list(0.5 * np.exp(0.005 * rng.standard_normal(8)))
    a, b = frame(wall_a, fit_cpu_s=cpu), frame(wall_b, fit_cpu_s=list(np.array(cpu) * 1.01))
    c = build(a, b, KEYS, on(fail_above=10, metrics=("fit",)))
    fit = row(c, "fit_wall_s")
    assert c.outcome == gate.PASS and fit.gated.judged.tested.measured.metric == "fit time, by CPU time"
    assert "fit time, by CPU time" not in gate.line(c.verdict) or c.outcome == gate.PASS
    wall = build(a, b, KEYS, on(fail_above=10, metrics=("fit",), wall_only=True))
    assert (
        wall.outcome == gate.INCONCLUSIVE and row(wall, "fit_wall_s").gated.judged.tested.measured.metric == "fit time"
    )
    # the baseline was not busy (wall = CPU); the candidate waits (a sleep): wall stays gated and fails
    calm = frame([0.5] * 8, fit_cpu_s=[0.5] * 8)
    waits = frame([1.0] * 8, fit_cpu_s=[0.5] * 8)
    assert build(calm, waits, KEYS, on(fail_above=10, metrics=("fit",))).outcome == gate.FAIL


def test_the_noise_floor_speaks_for_times_and_rates_only():
    """Two separate runs with a 75% floor from their controls: a fit time within it is marked, a peak RSS never."""
    a = frame([1.0] * 6, rss_peak_mb=[100.0] * 6)
    b = frame([1.2] * 6, rss_peak_mb=[104.0] * 6)
    c = build(a, b, KEYS, on(), Context(SEPARATE, floor=0.75))
    assert "within the noise floor" in row(c, "fit_wall_s").verdict
    assert "noise floor" not in row(c, "rss_peak_mb").verdict


def test_a_metric_given_its_own_threshold_is_gated_whatever_the_list_says():
    """--threshold cold=40 gates cold though it is not a default; --fail-accuracy-drop gates accuracy beside a
    --gate-metrics list that leaves it out: an asked-for limit is never dropped silently."""
    cold, acc, fit = metric_for("cold_predict_s"), metric_for("accuracy"), metric_for("fit_wall_s")
    assert on(thresholds=["cold=40"]).threshold(cold, "cold_predict_s") == 40.0
    assert on(fail_above=10).threshold(cold, "cold_predict_s") is None  # not a default, not asked
    both = on(metrics=("fit",), accuracy_drop=1)
    assert both.threshold(acc, "accuracy") == 1.0 and both.threshold(fit, "fit_wall_s") is not None
    assert on(metrics=("fit",), fail_above=10).threshold(acc, "accuracy") is None


def test_a_named_key_no_side_measured_is_named_not_nothing_matched():
    """--gate-metrics tput:999 where the runs measured batches 32 only: that key is missing, by its name."""
    c = build(frame([1.0] * 6, tput=[9.0] * 6), frame([1.0] * 6, tput=[9.0] * 6), KEYS, on(fail_above=10,
              metrics=("tput:999",)))  # fmt: skip
    assert c.outcome == gate.INCONCLUSIVE
    assert any(p.detail.startswith("tput:999 (throughput batch 999") and "neither side" in p.detail for p in c.problems)


def test_a_threshold_given_twice_with_two_values_is_one_line():
    with pytest.raises(UserError, match=r"--threshold fit is given twice \(10 and 20\)"):
        on(thresholds="fit=10,fit=20")
    assert on(thresholds=["fit=10", "fit=10"]).thresholds == {"fit": 10.0}
    with pytest.raises(UserError, match=r"--threshold accuracy=5 and --fail-accuracy-drop 1 give accuracy two"):
        on(thresholds="accuracy=5", accuracy_drop=1)  # one metric's threshold from two flags: never one silently
    assert on(thresholds="accuracy=2", accuracy_drop=2).thresholds == {"accuracy": 2.0}


@pytest.mark.parametrize("side", ["A@", "A@ ", "A%x@"])
def test_a_side_with_an_empty_host_is_one_line(tmp_path, side):
    from hello_bench.analysis.sides import load_side

    with pytest.raises(UserError, match="name the host after '@'"):
        load_side(side, tmp_path)


def test_two_environments_of_one_project_show_their_requirements_ends():
    from hello_bench.analysis.sides import environment_differences

    base = {"requirements": "teampkg @ git+file://localhost/home/me/src/teampkg@" + "a" * 40}
    head = {"requirements": "teampkg @ file:///home/me/src/teampkg"}
    ((field, a, b),) = environment_differences(base, head)
    assert field == "requirements" and a.endswith("a" * 20) and "…" in a and b == head["requirements"]
