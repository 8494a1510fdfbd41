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


def _count(better: str | None) -> Metric:
    return Metric.measured("n_things", lambda clf, split: 1.0, label="things", kind="count", better=better)


@pytest.mark.parametrize(
    ("a", "b", "verdict", "estimate", "claims"),
    [
        ([7, 7, 7], [7, 7, 7], "identical on every split", (0.0, 0.0, 0.0), {"lower": NONE, "higher": NONE}),
        (
            [100, 100],
            [110, 110],
            "changed by +10 (+10%) on every split",
            (10.0, 10.0, 10.0),
            {"lower": WORSE, "higher": BETTER},
        ),
        (
            [1_000_000] * 2,
            [750_000] * 2,
            "changed by -250,000 (-25%) on every split",
            (-250_000.0, -250_000.0, -250_000.0),
            {"lower": BETTER, "higher": WORSE},
        ),
        ([0, 0], [5, 5], "changed by +5 on every split", (5.0, 5.0, 5.0), {"lower": WORSE, "higher": BETTER}),
        (
            [10, 10, 10, 10],
            [10, 12, 9, 10],
            "changed on 2 of 4 splits (B - A from -1 to +2)",
            (0.25, -1.0, 2.0),
            {"lower": NONE, "higher": NONE},
        ),
        (
            [10, 10, 10, 10],
            [10, 12, 11, 10],
            "changed on 2 of 4 splits (B - A from +0 to +2)",
            (0.75, 0.0, 2.0),
            {"lower": WORSE, "higher": BETTER},
        ),
        (
            [10, 10, 10],
            [9, 10, 10],
            "changed on 1 of 3 splits (B - A from -1 to +0)",
            (-1 / 3, -1.0, 0.0),
            {"lower": BETTER, "higher": WORSE},
        ),
    ],
)
def test_a_count_row_says_exactly_how_it_changed_and_claims_only_one_way(a, b, verdict, estimate, claims):
    """exact_row: identical, the same change on every split (with its share of A where A is not 0), or the range of
    changes; it claims worse or better only when every change goes one way, and nothing for an undirected count."""
    from hello_bench.analysis.comparison import exact_row

    g = pd.DataFrame({"a": a, "b": b})
    for better in ("lower", "higher", None):
        r = exact_row(_count(better), "n_things", "iris/lr/cpu", g)
        assert (r.group, r.column, r.pairs, r.verdict) == ("iris/lr/cpu", "n_things", len(a), verdict)
        assert (r.estimate.value, r.estimate.low, r.estimate.high, r.estimate.level) == pytest.approx((*estimate, 1.0))
        assert r.claims == (NONE if better is None else claims[better])
        assert r.gated is None and r.normalised is None and math.isnan(r.p)


def _same_estimate(doc: dict, e) -> None:
    """An estimate's JSON: its value, its interval where both bounds are finite, and the level only with one."""
    finite = math.isfinite(e.low) and math.isfinite(e.high)
    assert doc == {"value": e.value if math.isfinite(e.value) else None,
                   "interval": [e.low, e.high] if finite else None, "level": e.level if finite else None}  # fmt: skip


def _nan_is_null(value: float):
    return value if math.isfinite(value) else None


def test_the_json_of_a_comparison_is_the_comparison_field_by_field():
    """to_json against the object it serialises (and the schema --json promises): each row's numbers, its gate's
    tests and decision, the pair's gate with its reasons, problems, gated metrics and regressions."""
    import jsonschema

    from hello_bench.analysis.comparison import _detectable
    from hello_bench.schemas import schema as schema_of

    rng = np.random.default_rng(3)
    a = frame([1.0 + 0.01 * i for i in range(8)], acc=[0.9] * 8, tput=list(1000 * (1 + 0.01 * rng.standard_normal(8))))
    b = frame([2.0 + 0.02 * i for i in range(8)], acc=[0.80, 0.79, 0.81, 0.80, 0.80, 0.79, 0.81, 0.80],
              tput=list(563 * (1 + 0.01 * rng.standard_normal(8))))  # fmt: skip
    control = noise.control_ratio([1.0, 1.01, 0.99, 1.0], [1.0, 1.02, 0.98, 1.0])
    variance = RunVariance("cal", {"fit_wall_s": (0.0004, 20.0), "tput_32": (0.0004, 20.0)})
    cases = [build(a, b, KEYS, on(fail_above=10), Context(DUET, design=["two test sizes"])),
             build(a, b, KEYS, on(fail_above=10), Context(SEPARATE, control=control, floor=0.05, variance=variance)),
             build(a, b, KEYS, GatePolicy())]  # fmt: skip
    schema = schema_of("compare")
    for c in cases:
        doc = c.to_json()
        jsonschema.validate({"pair": "a vs b", "a": "a", "b": "b", **doc}, {"$defs": schema["$defs"], "$ref": "#/$defs/comparison"},
                            cls=jsonschema.Draft202012Validator)  # fmt: skip
        assert (doc["relation"], doc["keys"], doc["design_differences"]) == (c.relation, KEYS, c.context.design)
        assert doc["noise_floor"] == _nan_is_null(c.context.floor)
        assert doc["unpaired"] == [u.describe() for u in c.unpaired]
        if c.context.control is None:
            assert doc["control_ratio"] is None
        else:
            ratio = c.context.control
            assert doc["control_ratio"] == {"value": ratio.ratio, "interval": [ratio.low, ratio.high], "level": 0.95}
        assert len(doc["rows"]) == len(c.rows) > 0
        for r, j in zip(c.rows, doc["rows"]):
            assert (j["trials"], j["metric"], j["column"], j["label"]) == (r.group, r.metric.short_name(r.column),
                                                                           r.column, r.name)  # fmt: skip
            assert (j["compared_as"], j["pairs"], j["verdict"], j["claims"]) == (r.compared_as, r.pairs, r.verdict,
                                                                                 r.claims)  # fmt: skip
            assert (j["p"], j["p_holm"]) == (_nan_is_null(r.p), _nan_is_null(r.p_holm))
            _same_estimate(j["estimate"], r.estimate)
            if r.normalised is None:
                assert j["normalised"] is None
            else:
                _same_estimate(j["normalised"], r.normalised)
            if r.gated is None:
                assert j["gate"] is None
                continue
            g, t, judged = j["gate"], r.gated.judged.tested, r.gated.judged
            assert (g["threshold"], g["fails_when"], g["method"]) == (r.gated.threshold, gate.threshold_text(t.measured),
                                                                      t.method)  # fmt: skip
            assert (g["p"], g["p_holm"], g["p_pass"]) == (_nan_is_null(t.p_fail), _nan_is_null(judged.p_holm),
                                                          _nan_is_null(t.p_pass))  # fmt: skip
            assert (g["decision"], g["reason"], g["basis"]) == (r.gated.state, r.gated.reason, "as_measured")
            assert g["detectable"] == _nan_is_null(_detectable(judged))
            _same_estimate(g["estimate"], r.gated.estimate())
        if c.verdict is None:
            assert doc["gate"] is None and c.regressions() == [] and c.line() is None
            continue
        v = c.verdict
        assert (doc["gate"]["outcome"], doc["gate"]["line"], doc["gate"]["alpha"], doc["gate"]["holm_tests"]) == (
            v.outcome, c.line(), v.alpha, v.m)  # fmt: skip
        assert doc["gate"]["reasons"] == [{"reason": k, "count": n} for k, n in v.reasons.items()]
        assert doc["gate"]["problems"] == [{"reason": p.reason, "detail": p.detail} for p in v.problems]
        assert doc["gate"]["gated"] == sorted({r.metric.short_name(r.column) for r in c.gated_rows()})
        failed = [r for r in c.gated_rows() if r.gated.state == "fail"]
        assert doc["gate"]["regressions"] == c.regressions() and len(c.regressions()) == len(failed)
        for r, reg in zip(failed, c.regressions()):
            assert (reg["trials"], reg["metric"], reg["label"]) == (r.group, r.metric.short_name(r.column), r.name)
            assert {k: reg[k] for k in r.gated.to_json()} == r.gated.to_json()
    duet, separate, ungated = cases
    assert duet.to_json()["gate"]["gated"] == ["accuracy", "fit", "tput:32"] and len(duet.gated_rows()) == 3
    assert duet.outcome == gate.FAIL and {r["metric"] for r in duet.regressions()} == {"fit", "tput:32", "accuracy"}
    tput = row(duet, "tput_32").gated.estimate()  # B/A of a throughput that fell to 56%
    assert tput.value == pytest.approx(0.563, rel=0.02) and tput.low < tput.value < tput.high and tput.level == 0.9
    drop = row(duet, "accuracy").gated.estimate()  # accuracy 10 points lower, as the metric reads: B - A
    assert drop.value == pytest.approx(-10.0, abs=0.1) and drop.low < drop.value < drop.high
    assert separate.to_json()["noise_floor"] == 0.05 and ungated.to_json()["gate"] is None


# -- where separate runs get their run-to-run variance (hello_bench.analysis.separate) ----------------------------
def _variance_entry(var: float = 0.0004, df: float = 10.0, runs: int = 11, **changes: object) -> dict:
    return {"var": var, "df": df, "runs": runs, "splits": 10, "truncated": False, "df_method": "satterthwaite",
            **changes}  # fmt: skip


def _calibration_run(root, run_id: str, finished: float, machine: str = "m1", calibration: dict | None = None):
    """A calibration run folder: one record (when it last wrote), its machine, its results in run.json."""
    import json

    from tests.test_report import ENV, record, write_run

    env = {**ENV, "machine_id": machine}
    path = write_run(root, run_id, [record("torch-mlp", 0, 0.95, finished_at=finished, started_at=finished - 1)], env)
    info = {"kind": "calibration"} if calibration is None else {"kind": "calibration", "calibration": calibration}
    (path / "run.json").write_text(json.dumps(info))
    return path


def test_the_newest_usable_calibration_of_the_machine_both_runs_ran_on_is_found_or_the_line_says_why(tmp_path):
    import json

    from hello_bench.analysis.separate import find_calibration

    m1, m2 = {"machine_id": "m1", "hostname": "a"}, {"machine_id": "m2", "hostname": "a"}
    none = find_calibration(tmp_path, m1, m1)
    assert (none.source, none.why, none.by_column) == ("", "no calibration of this machine (run `bench calibrate`)", {})
    two = find_calibration(tmp_path, m1, m2)
    assert two.why == "the runs ran on two machines (a calibration describes one: name one with --calibration)"
    assert find_calibration(tmp_path, m1, {"machine_id": "m1", "hostname": "b"}).why == two.why  # the hostname too
    _calibration_run(tmp_path, "old", 100.0, calibration={"run_variance": {"fit_wall_s": _variance_entry(0.01)}})
    _calibration_run(tmp_path, "new", 200.0, calibration={"run_variance": {"fit_wall_s": _variance_entry(0.02)}})
    _calibration_run(tmp_path, "few", 300.0, calibration={"run_variance": {"fit_wall_s": _variance_entry(runs=2)}})
    _calibration_run(tmp_path, "other", 400.0, machine="m2",
                     calibration={"run_variance": {"fit_wall_s": _variance_entry(0.03)}})  # fmt: skip
    m3 = {"machine_id": "m3", "hostname": "a"}
    _calibration_run(
        tmp_path, "thin", 50.0, machine="m3", calibration={"run_variance": {"fit_wall_s": {"var": 0.01, "df": 9}}}
    )
    _calibration_run(tmp_path, "thin2", 60.0, machine="m3", calibration={"run_variance": {}})
    assert find_calibration(tmp_path, m3, m3).why == (
        "no usable calibration of this machine ('thin2', 'thin': none holds a run-to-run variance from 5+ repeats "
        "with Satterthwaite's df; run `bench calibrate`)"
    )
    _calibration_run(tmp_path, "unfinished", 500.0)  # no results yet
    matrix = _calibration_run(
        tmp_path, "a-matrix", 600.0, calibration={"run_variance": {"fit_wall_s": _variance_entry(0.05)}}
    )
    info = json.loads((matrix / "run.json").read_text())
    (matrix / "run.json").write_text(
        json.dumps({**info, "kind": "matrix"})
    )  # the newest, with numbers, not a calibration
    found = find_calibration(tmp_path, m1, m1)  # the newest of m1 with a usable variance: "few" is passed over
    assert (found.source, found.by_column, found.why) == ("new", {"fit_wall_s": (0.02, 10.0)}, None)
    assert find_calibration(tmp_path, m2, m2).by_column == {"fit_wall_s": (0.03, 10.0)}
    named = find_calibration(tmp_path, m1, m2, "old")  # named: any machine
    assert (named.source, named.by_column) == ("old", {"fit_wall_s": (0.01, 10.0)})
    assert two.source == "" and find_calibration(tmp_path, m3, m3).source == ""
    with pytest.raises(UserError, match=r"^Run 'unfinished' holds no calibration results; run `bench calibrate`\.$"):
        find_calibration(tmp_path, m1, m1, "unfinished")
    with pytest.raises(
        UserError,
        match=r"^Calibration 'few' has no usable run-to-run variance \(needs 5 or more "
        r"repeats, stored with Satterthwaite's df\): run `bench calibrate`\.$",
    ):
        find_calibration(tmp_path, m1, m1, "few")


def test_a_stored_calibration_entry_counts_only_with_satterthwaite_df_enough_repeats_and_a_positive_variance():
    from hello_bench.analysis.separate import run_variance_from

    data = {"run_variance": {
        "fit_wall_s": _variance_entry(),
        "tput": _variance_entry(0.0009, 4.0, 6),
        "old": {"var": 0.01, "df": 9},  # stored before Satterthwaite: df = R - 1
        "broken": _variance_entry(var="x"), "partial": {"df_method": "satterthwaite", "var": 0.1},
        "nonsense": "text", "truncated": _variance_entry(0.0, truncated=True), "thin": _variance_entry(df=0.35),
    }, "span": {"seconds": 360.0, "last": 1000.0}}  # fmt: skip
    v = run_variance_from(data, "cal")
    assert v.by_column == {"fit_wall_s": (0.0004, 10.0), "tput": (0.0009, 4.0)} and v.why is None
    assert v.unusable == {"truncated": "truncated to 0", "thin": "0.35 df"}
    assert (v.source, v.span_s, v.made_at) == ("cal", 360.0, 1000.0)
    assert run_variance_from({"run_variance": {"fit_wall_s": _variance_entry()}, "seconds": 60}, "c").span_s == 60.0
    for span in ({"seconds": 0}, {"seconds": -5.0}, {"seconds": math.inf}, {"seconds": "1h"}, {}):
        gone = run_variance_from({"run_variance": {"fit_wall_s": _variance_entry()}, "span": span}, "c")
        assert math.isnan(gone.span_s) and math.isnan(gone.made_at)
    empty = run_variance_from({"run_variance": {"old": {"var": 0.01, "df": 9}}}, "cal")
    assert (
        empty.by_column == {} and empty.why == "calibration 'cal' has no usable run-to-run variance (needs 5+ repeats)"
    )
    assert run_variance_from({}, "cal").why == empty.why


def test_two_separate_runs_add_two_run_offsets_a_keyed_metric_takes_its_pooled_entry_and_a_blocked_one_none():
    v = RunVariance("cal", {"fit_wall_s": (0.001, 7.0), "tput": (0.002, 5.0)})
    assert v.extra("fit_wall_s") == (0.002, 7.0) and v.extra("tput_32") == (0.004, 5.0)
    assert v.extra("latency_p50_us") is None and v.extra("no_such_column") is None
    v.by_column["tput_32"] = (0.003, 9.0)  # its own entry first
    assert v.extra("tput_32") == (0.006, 9.0)
    assert RunVariance("cal", {"fit_wall_s": (0.001, 7.0)}, why="too old").extra("fit_wall_s") is None


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (45.4, "45 s"), (119, "119 s"), (120, "2.0 min"),
                         (7199, "120.0 min"), (7200, "2.0 h"), (172799, "48.0 h"), (172800, "2.0 days"),
                         (3 * 86400, "3.0 days")])  # fmt: skip
def test_a_duration_is_said_in_its_largest_sensible_unit(seconds, text):
    from hello_bench.analysis.separate import duration

    assert duration(seconds) == text


def test_a_calibration_speaks_within_the_span_it_covered_and_says_its_age():
    from hello_bench.analysis.separate import age

    def made(span: float = 360.0, why: str | None = None) -> RunVariance:
        return RunVariance("cal", {"fit_wall_s": (0.001, 7.0)}, why, span, 1000.0)

    assert within_span(made(), 360.0).why is None  # exactly the span: covered
    assert within_span(made(), math.nan).why is None and within_span(made(math.nan), 1e9).why is None
    assert within_span(made(why="earlier"), 1e9).why == "earlier"
    assert within_span(made(), 361.0).why is not None
    assert within_span(made(), 7200.0).why == (
        "the runs started 2.0 h apart, beyond the 6.0 min calibration 'cal' covered (calibrate over a longer span, "
        "or run both sides in one run: --env)"
    )
    assert age(made(), now=1000.0 + 7200) == "2.0 h" and age(RunVariance("cal")) == "-"
    assert age(made(), now=1000.0 + 30) == "30 s"


def test_the_history_of_a_matrix_gives_a_variance_only_with_enough_runs_spanning_the_two_compared(tmp_path):
    """from_stored_history: the other runs of this config on this machine (the two compared left out), at least
    MIN_RUNS of them, with a usable variance, spanning both compared runs; else its why says which."""
    import json

    from hello_bench.analysis.separate import from_stored_history
    from hello_bench.store.reader import RunFolder
    from tests.test_report import ENV, record, write_run

    rng = np.random.default_rng(2)

    def run(run_id: str, start: float, level: float, env: dict = ENV, fit_noise: float = 0.01):
        recs = [record("torch-mlp", s, 0.95, fit=level * (1 + fit_noise * rng.standard_normal()),
                       started_at=start + s, finished_at=start + s + 1, machine_id="m1", hostname="a")
                for s in range(6)]  # fmt: skip
        return write_run(tmp_path, run_id, recs, env)

    paths = [run(f"h{r}", 1.7e9 + 1000 * r, float(np.exp(0.03 * rng.standard_normal()))) for r in range(6)]
    config = RunFolder(paths[0]).config()
    compared = (paths[1], paths[2])
    starts = (1.7e9 + 1000, 1.7e9 + 2000)
    four = from_stored_history(tmp_path, config, ENV, compared, starts)  # six runs, two compared: four left
    assert (four.source, four.why) == ("", "4 stored run(s) of this matrix on this machine, not 5")
    run("other-config", 1.7e9 + 5500, 1.0)
    (tmp_path / "runs" / "other-config" / "config.json").write_text(json.dumps({**config, "splits": 3}))
    run("h6", 1.7e9 + 6000, 1.0)
    used = from_stored_history(tmp_path, config, ENV, compared, starts)
    assert used.why is None and used.source == "the history of this matrix (5 runs)"
    var, df = used.by_column["fit_wall_s"]
    assert var > 0 and df > 0 and used.span_s == pytest.approx(6006.0) and used.made_at == pytest.approx(1.7e9 + 6006)
    beyond = from_stored_history(tmp_path, config, ENV, compared, (1.7e9 + 1000, 1.7e9 + 9000))
    assert (
        beyond.why == "the history of this matrix (5 runs) does not span the two runs compared" and not beyond.by_column
    )
    before = from_stored_history(tmp_path, config, ENV, compared, (1.7e9 - 1, 1.7e9 + 2000))
    assert before.why == beyond.why
    assert from_stored_history(tmp_path, config, ENV, compared, (math.nan, 1.7e9)).why == beyond.why  # NaN: never
    elsewhere = from_stored_history(tmp_path, config, {**ENV, "machine_id": "m9"}, compared, starts)
    assert elsewhere.why == "the history of this matrix (0 runs) gives no usable run-to-run variance"


def test_a_busy_ratio_is_the_median_wall_over_cpu_of_the_calls_both_clocks_measured():
    from hello_bench.analysis.comparison import busy_ratio

    f = pd.DataFrame({"w": [2.0, 3.0, 1.0, math.nan, 0.0, 5.0, -1.0], "c": [1.0, 1.0, 1.0, 1.0, 1.0, math.nan, 1.0]})
    assert busy_ratio(f, "w", "c") == 2.0  # (2, 3, 1): the NaN, zero, negative and unmeasured pairs left out
    assert busy_ratio(f.assign(c=[1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]), "w", "c") == 3.0  # CPU 0 left out; (2, 3, 5)
    assert math.isnan(busy_ratio(f, "w", "missing")) and math.isnan(busy_ratio(f, "missing", "c"))
    assert math.isnan(busy_ratio(pd.DataFrame({"w": [math.nan], "c": [1.0]}), "w", "c"))


def test_a_normalised_ratio_divides_a_time_and_multiplies_a_rate_by_the_control_with_the_combined_interval():
    from hello_bench.analysis.comparison import normalised_ratio

    logs = np.log([2.0, 2.1, 1.9, 2.0, 2.05])
    control = noise.control_ratio([1.0, 1.01, 0.99, 1.0], [2.0, 2.02, 1.98, 2.0])  # B's machine 2x slower
    time_metric, rate = metric_for("fit_wall_s"), metric_for("tput_32")
    t = normalised_ratio(logs, time_metric, control)
    expect = noise.normalise(float(logs.mean()), float(logs.var(ddof=1)) / 5, 4, control)
    assert (t.value, t.low, t.high) == (expect.ratio, expect.low, expect.high) and t.value == pytest.approx(
        1.0, rel=0.03
    )
    r = normalised_ratio(-logs, rate, control)  # a throughput halved on a machine 2x slower: 1x, read as B/A
    assert r.value == pytest.approx(1 / expect.ratio) and r.low == pytest.approx(1 / expect.high)
    assert r.high == pytest.approx(1 / expect.low) and r.low <= r.value <= r.high
    one = normalised_ratio(np.log([2.0]), time_metric, control)  # one split: a value, no interval
    assert one.value == pytest.approx(1.0, rel=0.03) and not math.isfinite(one.high - one.low)
    assert normalised_ratio(np.array([]), time_metric, control) is None
    assert normalised_ratio(logs, time_metric, noise.ControlRatio(math.nan, math.nan, math.nan)) is None


def test_what_a_row_compares_reads_as_its_table_shows_it():
    a, b = frame([1.0] * 6), frame([1.1] * 6)
    c = build(a, b, KEYS, GatePolicy())
    assert row(c, "fit_wall_s").what() == "fit time (B/A)" and row(c, "accuracy").what() == "accuracy (B - A)"
    assert c.line() is None and c.outcome is None


def test_the_reason_a_variance_blocks_names_the_blocked_metrics_why_and_only_unblocked_ones_to_gate():
    from hello_bench.analysis.comparison import _no_variance_why

    by_column = {c: (0.1, 5) for c in ("fit_wall_s", "cold_predict_s", "tput", "tput_32", "no_such")}
    v = RunVariance("cal", by_column,
                    unusable={"latency_p50_us": "truncated to 0", "latency_p99_us": "0.4 df"})  # fmt: skip
    advice = "; to decide, calibrate with more repeats, or gate what it has: --gate-metrics "
    assert _no_variance_why(v, ["predict p50", "predict p50"]) == (
        "cal gives no usable variance for predict p50 (in it: p50 truncated to 0)" + advice + "accuracy,cold,fit,tput"
    )
    assert _no_variance_why(v, ["predict p50", "predict p99"]) == (
        "cal gives no usable variance for predict p50, predict p99 (in it: p50 truncated to 0; p99 0.4 df)" + advice
        + "accuracy,cold,fit,tput")  # fmt: skip
    assert _no_variance_why(v, ["throughput batch 32"]) == (  # its pooled entry: never advised while blocked
        "cal gives no usable variance for throughput batch 32 (it holds no usable entry for them)" + advice
        + "accuracy,cold,fit")  # fmt: skip
    assert _no_variance_why(v, ["fit time"]).endswith(advice + "accuracy,cold,tput")
    assert _no_variance_why(RunVariance("c", why="too old"), ["fit time"]) == "too old"
    assert _no_variance_why(None, ["fit time"]) == "no calibration of this machine (run `bench calibrate`)"


def test_json_numbers_are_finite_floats_or_null_and_a_keyed_metric_is_named_by_any_of_its_keys():
    from hello_bench.analysis.comparison import _any_key_named, _num

    assert _num(None) is None and _num(math.nan) is None and _num(math.inf) is None and _num(-math.inf) is None
    assert _num(3) == 3.0 and isinstance(_num(3), float) and _num(np.float64(0.5)) == 0.5
    tput = metric_for("tput_32")
    assert _any_key_named(tput, ["throughput batch 32"]) and _any_key_named(tput, ["fit time", "throughput batch 1"])
    assert not _any_key_named(tput, ["throughput"]) and not _any_key_named(tput, ["CPU throughput batch 32"])
    assert not _any_key_named(metric_for("cpu_tput_32"), ["CPU time of fit"])
