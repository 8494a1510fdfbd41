"""The report's and ``bench compare``'s verdicts against hand-computed numbers: each guards a rule a wrong
edit once removed unnoticed (the Holm family, Holm p for verdicts, the 0.05 threshold, the accuracy interval
over splits not init seeds, pairing on split identity, the default time-to-accuracy target)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from hello_bench.analysis import stats
from hello_bench.analysis.load import tidy
from hello_bench.cli import main
from hello_bench.report import accuracy, headline, learning, serving
from hello_bench.report.build import write_report
from hello_bench.report.compare import compare_runs
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt_p
from tests.test_report import record, write_run

BASE = 0.90 + 0.01 * np.array([0, 1, -1, 2, -2, 1, 0, -1])
D1 = np.array([0.04, 0.05, 0.03, 0.04, 0.06, 0.02, 0.04, 0.05])  # sklearn MLP - LR: raw p 0.017
E1 = np.array([0.01, -0.01, 0.0, 0.02, -0.01, 0.0, 0.01, -0.02])  # torch - sklearn MLP
E2 = np.array([-0.01, 0.0, 0.01, 0.0, 0.02, -0.02, 0.01, 0.0])  # keras - sklearn MLP


def corrected_p(diffs: np.ndarray) -> float:
    """The corrected resampled t-test written out again: n_test = n_train = 75."""
    j = len(diffs)
    se = math.sqrt(np.var(diffs, ddof=1) * (1 / j + 1))
    return float(2 * sps.t.sf(abs(diffs.mean() / se), j - 1))


def holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def family_records() -> list[dict]:
    """LR, the MLP in scikit-learn, torch (seed and a tuned setting with identical accuracies) and Keras."""
    fields = {
        "lr": dict(adapter_name="lr", framework="sklearn", model="logistic-regression", backend="default"),
        "sk-mlp:seed": dict(adapter_name="sk-mlp", framework="sklearn", model="mlp", profile="seed", backend="default",
                            stock_profile="seed"),
        "torch-mlp:seed": dict(adapter_name="torch-mlp", framework="torch", model="mlp", profile="seed", backend="default"),
        "torch-mlp:tuned": dict(adapter_name="torch-mlp", framework="torch", model="mlp", profile="tuned", backend="default"),
        "keras-mlp:seed[tensorflow]": dict(adapter_name="keras-mlp", framework="keras", model="mlp", profile="seed",
                                           backend="tensorflow"),
    }  # fmt: skip
    accs = {"lr": BASE, "sk-mlp:seed": BASE + D1, "torch-mlp:seed": BASE + D1 + E1, "torch-mlp:tuned": BASE + D1 + E1,
            "keras-mlp:seed[tensorflow]": BASE + D1 + E2}  # fmt: skip
    return [record(a, s, float(accs[a][s]), test_rows_sha=f"rows{s}", **fields[a]) for a in accs for s in range(8)]


def ok_frame(records: list[dict]) -> pd.DataFrame:
    df = tidy(records)
    return df[df["status"] == "ok"]


def significance_text(tested: accuracy.Tested, tmp_path: Path, baseline: str = "lr") -> str:
    doc = Doc("t")
    accuracy.significance(doc, tested, baseline)
    accuracy.family_table(doc, tested)
    return doc.markdown(tmp_path)


def test_the_holm_family_holds_every_distinct_test_once(tmp_path):
    tested = accuracy.comparisons(ok_frame(family_records()), "lr")
    assert len(tested.comparisons) == 8 and tested.m == 5 and tested.level == pytest.approx(0.01)
    # the five distinct tests: the model effect repeats the sk-mlp baseline row, torch tuned repeats torch seed,
    # and tuned vs seed is a constant (no test)
    raw = [corrected_p(D1), corrected_p(D1 + E1), corrected_p(D1 + E2), corrected_p(E1), corrected_p(E2)]
    expected = dict(zip(["d1", "d1e1", "d1e2", "e1", "e2"], holm_by_hand(raw)))
    by = {(c.family, c.b): c for c in tested.comparisons}
    assert by[("baseline", "sk-mlp:seed")].p_holm == pytest.approx(expected["d1"])  # 5 x 0.0168 = 0.084
    assert by[("model", "sk-mlp:seed")].p_holm == pytest.approx(expected["d1"])
    assert by[("baseline", "torch-mlp:tuned")].p_holm == pytest.approx(expected["d1e1"])
    assert by[("framework", "keras-mlp:seed[tensorflow]")].p_holm == pytest.approx(expected["e2"])
    assert math.isnan(by[("tuned", "torch-mlp:tuned")].p_holm)
    text = significance_text(tested, tmp_path)
    assert "8 comparisons (baseline, framework, model, tuned) hold 5 distinct corrected t-tests" in text
    assert "detectable (80% power, alpha/5)" in text and "alpha/m = 0.05/5 = 0.01" in text
    firsts = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    family_rows = [cell for cell in firsts if cell.isdigit()]
    assert family_rows == ["1", "2", "3", "4", "5"]  # the family listed: five tests, each with what it stands for
    assert "baseline: sk-mlp:seed - lr; model: sk-mlp:seed - lr" in text


def test_verdicts_read_the_holm_p_at_005_not_the_raw_p(tmp_path):
    """sk-mlp vs lr: raw p 0.017 < 0.05, but Holm over 5 tests gives 0.084: not significant (nor at 0.10's 0.084)."""
    tested = accuracy.comparisons(ok_frame(family_records()), "lr")
    text = significance_text(tested, tmp_path)
    (row,) = [line for line in text.splitlines() if line.startswith("| iris") and "| sk-mlp:seed " in line]
    p_raw = corrected_p(D1)
    assert p_raw < 0.05 and f"| {fmt_p(p_raw)} " in row
    assert f"| {fmt_p(5 * p_raw)} " in row and 0.05 < 5 * p_raw < 0.10
    assert "not significant after Holm; detectable:" in row and "accurate" not in row


def test_detectable_differences_are_at_alpha_over_m(tmp_path):
    tested = accuracy.comparisons(ok_frame(family_records()), "lr")
    c = next(c for c in tested.comparisons if c.family == "baseline" and c.b == "sk-mlp:seed")
    se = math.sqrt(np.var(D1, ddof=1) * (1 / 8 + 1))
    crit = sps.t.ppf(1 - 0.01 / 2, 7)
    assert sps.nct.sf(crit, 7, c.assessed.detectable / se) + sps.nct.sf(crit, 7, -c.assessed.detectable / se) == (
        pytest.approx(0.8, abs=1e-7)
    )


def test_tuned_flag_reads_the_holm_p():
    """Tuned vs seed with raw p < 0.05 in a family where Holm lifts it over 0.05: not flagged as changed."""
    recs = family_records()
    for r in recs:
        if r["adapter"] == "torch-mlp:tuned":
            r["accuracy"] += 0.004 + 0.002 * (r["split_seed"] % 3)  # small, consistent shift
    tested = accuracy.comparisons(ok_frame(recs), "lr")
    c = next(c for c in tested.comparisons if c.family == "tuned")
    assert c.test is not None and c.test.p < 0.05 < c.p_holm
    doc = Doc("t")
    accuracy.tuned(doc, tested)
    assert "ACCURACY CHANGED" not in doc.markdown(Path("."))


def test_accuracy_interval_is_over_split_means_not_split_x_init(tmp_path):
    """4 splits x 3 init seeds: J = 4 (3 df) on the split means; 12 pseudo-replicates would be far narrower."""
    recs, means = [], []
    for s in range(4):
        accs = [0.80 + 0.02 * s + d for d in (-0.01, 0.0, 0.01)]
        means.append(np.mean(accs))
        recs += [
            record("lr", s, a, init_seed=i, trial_id=f"iris/lr/cpu/split-0{s}/init-{i}") for i, a in enumerate(accs)
        ]
    doc = Doc("t")
    acc = accuracy.accuracy_table(doc, ok_frame(recs))
    half = sps.t.ppf(0.975, 3) * math.sqrt(np.var(means, ddof=1) * (1 / 4 + 1))
    assert acc["low"].iloc[0] == pytest.approx(np.mean(means) - half)
    assert acc["high"].iloc[0] == pytest.approx(np.mean(means) + half)
    text = doc.markdown(tmp_path)
    assert f"[{np.mean(means) - half:.3g}, {np.mean(means) + half:.3g}]" in text and "| 4        | 3 " in text


def test_headline_interval_is_over_split_means_too(tmp_path):
    recs = []
    for s in range(4):
        for i, d in enumerate((-0.01, 0.0, 0.01)):
            recs.append(record("lr", s, 0.90 + 0.02 * s + d, init_seed=i, trial_id=f"iris/lr/cpu/split-0{s}/init-{i}",
                               n_classes=3, stock_latency={"p50_us": 1.0, "p99_us": 1.0, "n": 10}))  # fmt: skip
    write_run(tmp_path, "r", recs)
    from hello_bench.analysis.load import load_runs

    table = headline.headline(load_runs(["r"], tmp_path))
    means = [0.90 + 0.02 * s for s in range(4)]
    half = sps.t.ppf(0.975, 3) * math.sqrt(np.var(means, ddof=1) * (1 / 4 + 1))
    assert f"[{np.mean(means) - half:.3g}, {min(1.0, np.mean(means) + half):.3g}]" in table


def test_runs_with_the_same_seeds_but_other_test_rows_are_never_paired(tmp_path):
    """The issue's case: n_test 75 vs 30 on shared seeds was called 'more accurate (p < 0.05) after Holm'."""
    write_run(tmp_path, "big", [record("lr", s, 0.90 + 0.001 * s, test_rows_sha=f"a{s}") for s in range(6)])
    write_run(tmp_path, "small", [record("mlp", s, 0.99 - 0.001 * s, test_rows_sha=f"b{s}", n_test=30, n_train=120)
                                  for s in range(6)])  # fmt: skip
    text = write_report(["big", "small"], tmp_path).markdown.read_text()
    assert "accurate" not in text.split("## Accuracy")[1].split("## Time")[0]
    assert "**Never paired**" in text
    assert "iris/cpu split 0: test_rows_sha a0 vs b0 (run big vs run small)" in text


def test_compare_pairs_on_split_identity_and_uses_holm(tmp_path):
    shifts = {"m1": D1, "m2": E1, "m4": E2, "m5": -E2, "m6": E1[::-1]}  # m5 is m4's test with the sign flipped
    a = [record(ad, s, 0.9, test_rows_sha=f"r{s}") for ad in [*shifts, "m3"] for s in range(8)]
    b = [record(ad, s, 0.9 + float(d[s]), test_rows_sha=f"r{s}") for ad, d in shifts.items() for s in range(8)]
    b += [record("m3", s, 0.9 + float(E2[s]), test_rows_sha=f"x{s}") for s in range(8)]  # other rows: never paired
    write_run(tmp_path, "a", a)
    write_run(tmp_path, "b", b)
    text = compare_runs(["a", "b"], tmp_path).path.read_text()
    m1 = next(line for line in text.splitlines() if "| iris/m1/cpu " in line and "accuracy" in line)
    # four distinct tests (m4 and m5 are one): Holm p of m1 = 4 x 0.0168 = 0.067, raw p 0.0168
    holm = holm_by_hand([corrected_p(D1), corrected_p(E1), corrected_p(E2), corrected_p(E1[::-1])])[0]
    assert corrected_p(D1) < 0.05 < holm < 0.10 and holm == pytest.approx(4 * corrected_p(D1))
    assert "Holm over 4" in m1 and "not significant after Holm" in m1
    assert not any("| iris/m3/cpu " in line and "accuracy" in line for line in text.splitlines())
    assert "iris/m3/cpu split 0: test_rows_sha r0 vs x0 (run a vs run b)" in text


def test_equivalence_margin_in_report_and_compare(tmp_path, capsys):
    recs = []
    for s in range(8):
        recs += [record("lr", s, float(BASE[s])), record("mlp", s, float(BASE[s] + E1[s]))]
    write_run(tmp_path, "r", recs)
    assert main(["report", "r", "--results-dir", str(tmp_path), "--equivalence-margin", "0.05"]) == 0
    text = (tmp_path / "reports" / "r" / "REPORT.md").read_text()
    # E1: mean 0, se = sd x sqrt(1/8 + 1); TOST p = t.sf(0.05 / se, 7), one test in the family
    se = math.sqrt(np.var(E1, ddof=1) * (1 / 8 + 1))
    assert sps.t.sf(0.05 / se, 7) < 0.05
    assert (
        "equivalent within ±0.05 (TOST, Holm)" in text and "equivalent within ±0.05 (TOST, p < 0.05 after Holm)" in text
    )
    assert main(["report", "r", "--results-dir", str(tmp_path), "--equivalence-margin", "0.001"]) == 0
    assert "not shown equivalent within ±0.001" in (tmp_path / "reports" / "r" / "REPORT.md").read_text()
    assert main(["report", "r", "--results-dir", str(tmp_path), "--equivalence-margin", "2"]) == 1
    assert "--equivalence-margin must be" in capsys.readouterr().err
    write_run(tmp_path, "r2", recs)
    assert main(["compare", "r", "r2", "--results-dir", str(tmp_path), "--equivalence-margin", "0.05"]) == 0


def test_default_target_comes_from_the_classes_not_the_accuracies(tmp_path):
    curve = {"train_time_s": [0.1, 0.2, 0.3], "loss": [1.0, 0.5, 0.4], "test_accuracy": [0.9, 0.94, 0.95]}
    for accs in ((0.95, 0.99), (0.80, 0.85)):
        recs = [record("mlp", s, accs[0], n_classes=3, curve=curve) for s in range(3)]
        recs += [record("lr", s, accs[1], n_classes=3) for s in range(3)]
        ok = ok_frame(recs)
        assert learning.targets(ok, None) == {
            "iris": pytest.approx(1 - 0.1 * (1 - 1 / 3))
        }  # 0.933, whatever they scored
        assert learning.targets(ok, 0.5) == {"iris": 0.5}
    # a 10-class dataset: 1 - 0.1 x 0.9 = 0.91
    assert learning.targets(ok_frame([record("lr", 0, 0.5, n_classes=10)]), None) == {"iris": pytest.approx(0.91)}
    recs = [record("mlp", s, 0.95, n_classes=3, curve=curve) for s in range(6)]
    recs += [record("lr", s, 0.9 + 0.05 * (s % 2), n_classes=3) for s in range(6)]
    write_run(tmp_path, "r", recs)
    text = write_report(["r"], tmp_path).markdown.read_text()
    lr_row = next(
        line for line in text.splitlines() if line.startswith("| iris") and "| lr " in line and "| 0.933 " in line
    )
    assert "| 3/6 " in lr_row  # 0.95 reaches 0.933, 0.90 does not: censored, counted
    mlp_row = next(
        line for line in text.splitlines() if line.startswith("| iris") and "| mlp " in line and "| 0.933 " in line
    )
    assert "| 6/6 " in mlp_row and "| 0.2 (too few" not in mlp_row  # held from epoch 2 (0.94) on
    assert "an error at most 10% of a uniform guess's among 3 classes" in text and "paired sign test" in text


def test_serving_ratio_to_reference_is_a_geometric_mean_with_an_interval():
    """Per-trial ratios 0.5 and 2 alternate: their median can read 'faster' while the geometric mean is 1."""
    recs = []
    for s, (path, ref) in enumerate([(10.0, 20.0), (40.0, 20.0)] * 3):
        recs.append({**record("m", s, 0.9), "serving": {
            "onnx": {"status": "valid", "latency": {"p50_us": path}},
            "numpy-reference": {"status": "valid", "reference": True, "latency": {"p50_us": ref}}}})  # fmt: skip
    frame = serving.serving_frame(recs)
    summ = serving.summary(frame)
    onnx = summ[summ["path"] == "onnx"].iloc[0]
    r = onnx["ref_ratio"]
    assert r.ratio == pytest.approx(1.0) and (r.n, r.below, r.above) == (6, 3, 3) and r.low < 1 < r.high
    best = serving.fastest_valid(frame, summ).iloc[0]
    assert best["path"] == "onnx" and best["fastest"]  # 10-40 us against the adapter's own 100 us, every trial
    said = serving.best_sentence(best)
    assert "the numpy reference: no difference; under 1 on 3 of 6 trials" in said
    assert stats.MIN_RATIO_PAIRS <= 6
