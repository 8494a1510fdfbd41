"""The report never over-claims: hand-made records with known answers.

Each test builds records whose right answer is computed by hand here, so a
report that used the naive variance, counted a split twice or pseudo-
replicated init seeds would fail.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from scipy import stats as sps

from hello_bench.cli import main
from hello_bench.errors import UserError
from hello_bench.report.build import write_report
from tests.test_report import record, write_run


def rows_of(text: str, adapter: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and f"| {adapter} " in line]


def test_accuracy_interval_is_the_corrected_one(tmp_path):
    accs = [0.86, 0.88, 0.90, 0.84, 0.87]
    write_run(tmp_path, "r", [record("lr", s, a) for s, a in enumerate(accs)])
    text = write_report(["r"], tmp_path).markdown.read_text()
    half = sps.t.ppf(0.975, 4) * math.sqrt(np.var(accs, ddof=1) * (1 / 5 + 75 / 75))  # n_test = n_train = 75
    naive = sps.t.ppf(0.975, 4) * np.std(accs, ddof=1) / math.sqrt(5)
    expected = f"0.87 [{0.87 - half:.3g}, {0.87 + half:.3g}]"
    assert expected in text and f"{0.87 - naive:.3g}" not in text


def test_accuracy_interval_is_clipped_to_what_accuracy_can_be(tmp_path):
    write_run(tmp_path, "r", [record("lr", s, a) for s, a in enumerate([0.96, 0.98, 1.00, 0.94, 0.97])])
    text = write_report(["r"], tmp_path).markdown.read_text()
    assert re.search(r"\| 0\.97 \[0\.9\d+, 1\]", text)


def test_report_of_a_run_named_twice_counts_each_split_once(tmp_path, capsys):
    rng = np.random.default_rng(3)
    recs = []
    for s in range(6):
        recs.append(record("lr", s, 0.95 + 0.01 * rng.standard_normal(), test_rows_sha=f"rows{s}"))
        recs.append(record("mlp", s, 0.955 + 0.02 * rng.standard_normal(), test_rows_sha=f"rows{s}"))
    write_run(tmp_path, "r", recs)
    strip = lambda t: re.sub(r"^(Generated|.*duplicate record).*$", "", t, flags=re.M)  # noqa: E731
    once = write_report(["r"], tmp_path, out_dir=tmp_path / "once").markdown.read_text()
    twice = write_report(["r", "r"], tmp_path, out_dir=tmp_path / "twice").markdown.read_text()
    table = lambda t: [line for line in t.splitlines() if line.startswith("| iris")]  # noqa: E731
    assert table(strip(once)) == table(strip(twice))
    assert "12 duplicate record(s)" not in twice and "1 run(s) named twice" in twice
    # a copy of the run under another id: its records are the same splits, counted once
    write_run(tmp_path, "copy", recs)
    both = write_report(["r", "copy"], tmp_path, out_dir=tmp_path / "both").markdown.read_text()
    assert table(strip(both)) == table(strip(once)) and "12 duplicate record(s)" in both


def test_same_split_with_different_test_rows_is_an_error_naming_both_runs(tmp_path):
    write_run(tmp_path, "a", [record("lr", 0, 0.9, test_rows_sha="aaaa")])
    write_run(tmp_path, "b", [record("lr", 0, 0.9, test_rows_sha="bbbb")])
    with pytest.raises(UserError, match="Runs 'a' and 'b' both hold .* on different test rows"):
        write_report(["a", "b"], tmp_path)


def test_the_same_trial_with_another_split_size_is_an_error_even_without_a_row_hash(tmp_path):
    write_run(tmp_path, "a", [record("lr", 0, 0.9)])
    write_run(tmp_path, "b", [record("lr", 0, 0.9, n_test=30, n_train=120)])
    with pytest.raises(UserError, match=r"Runs 'a' and 'b' both hold .* on different test rows \(n_test 75 vs 30"):
        write_report(["a", "b"], tmp_path)
    write_run(tmp_path, "c", [record("lr", 0, 0.9, dataset_sha="v1")])
    write_run(tmp_path, "d", [record("lr", 0, 0.9, dataset_sha="v2")])
    # One name, two contents: two datasets (a dataset is its content), never paired with each other.
    frame = write_report(["c", "d"], tmp_path).doc.data()
    datasets = {row["dataset"] for t in frame["tables"] for row in t["rows"] if "dataset" in row}
    assert {"iris #v1", "iris #v2"} <= datasets and "iris" not in datasets


def test_init_seeds_are_averaged_within_each_split(tmp_path):
    """3 init seeds x 4 splits: the test has 4 splits (3 df), on the per-split means."""
    rng = np.random.default_rng(0)
    recs, diffs = [], []
    for s in range(4):
        base, other = [], []
        for i in range(3):
            a, b = 0.9 + 0.01 * rng.standard_normal(), 0.92 + 0.01 * rng.standard_normal()
            base.append(a)
            other.append(b)
            recs.append(record("lr", s, a, init_seed=1000 + i, trial_id=f"iris/lr/cpu/split-0{s}/init-{1000 + i}"))
            recs.append(record("mlp", s, b, init_seed=1000 + i, trial_id=f"iris/mlp/cpu/split-0{s}/init-{1000 + i}"))
        diffs.append(np.mean(other) - np.mean(base))
    write_run(tmp_path, "r", recs)
    text = write_report(["r"], tmp_path).markdown.read_text()
    d = np.asarray(diffs)
    t = d.mean() / math.sqrt(d.var(ddof=1) * (1 / 4 + 1))
    p = 2 * sps.t.sf(abs(t), 3)
    (row,) = [
        line for line in rows_of(text, "mlp") if "detectable" in line or "not significant" in line or "accurate" in line
    ]
    assert f"| {p:.3f} " in row and "| 4  " in row  # 4 splits, not 12
    assert "Where the variation comes from" in text and "init share of variance" in text


def test_zero_variance_has_no_p_value_and_no_winner(tmp_path):
    recs = []
    for s in range(3):
        recs += [record("lr", s, 0.96), record("mlp", s, 0.96 + 1 / 75)]  # one flower better on every split
    write_run(tmp_path, "r", recs)
    text = write_report(["r"], tmp_path).markdown.read_text()
    (row,) = [line for line in rows_of(text, "mlp") if "difference" in line]
    assert "constant difference +0.0133 on every split (no test possible)" in row
    assert "accurate" not in row and "significant" not in row


def test_holm_family_and_detectable_difference_are_shown(tmp_path):
    rng = np.random.default_rng(7)
    recs = []
    for s in range(8):
        base = 0.95 + 0.01 * rng.standard_normal()
        recs += [record("lr", s, base), record("mlp-a", s, base + 0.01 * rng.standard_normal()),
                 record("mlp-b", s, base + 0.012 * rng.standard_normal())]  # fmt: skip
    write_run(tmp_path, "r", recs)
    text = write_report(["r"], tmp_path).markdown.read_text()
    assert "p (Holm)" in text and "2 comparisons (baseline) hold 2 distinct corrected t-tests" in text
    assert "'Not significant' here is not 'equal'" in text and "detectable (80% power, alpha/2)" in text


def test_ratio_verdicts_need_five_pairs(tmp_path):
    recs = [r for s in range(3) for r in (record("lr", s, 0.9, fit=1.0), record("mlp", s, 0.9, fit=3.0 + 0.1 * s))]
    write_run(tmp_path, "r", recs)
    text = write_report(["r"], tmp_path).markdown.read_text()
    fit_row = next(line for line in text.splitlines() if "| fit time " in line and "| mlp " in line)
    assert "too few pairs (3 < 5)" in fit_row and "slower" not in fit_row


def test_friedman_post_hoc_and_critical_difference_figure(tmp_path):
    recs = []
    for d in range(6):
        for s in range(2):
            for adapter, acc in (("a", 0.95), ("b", 0.9), ("c", 0.85)):
                recs.append(
                    record(
                        adapter, s, acc + 0.001 * s, dataset=f"data{d}", trial_id=f"data{d}/{adapter}/cpu/split-0{s}"
                    )
                )
    write_run(tmp_path, "r", recs)
    written = write_report(["r"], tmp_path)
    text = written.markdown.read_text()
    assert "Friedman's test rejects equal ranks" in text and "critical difference" in text
    assert (written.markdown.parent / "figures" / "critical-difference-cpu.png").stat().st_size > 1000


def test_warnings_and_controls_are_reported(tmp_path):
    recs = [record("lr", s, 0.9, warnings=["ConvergenceWarning: lbfgs failed to converge"]) for s in range(3)]
    path = write_run(tmp_path, "r", recs)
    (path / "control.json").write_text(json.dumps({
        "before": {"threads": 1, "numpy_matmul_256_ms": 0.8, "python_loop_200k_ms": 6.5},
        "after": {"threads": 1, "numpy_matmul_256_ms": 1.6, "python_loop_200k_ms": 6.6},
    }))  # fmt: skip
    text = write_report(["r"], tmp_path).markdown.read_text()
    assert re.search(r"\| lr\s+\| ConvergenceWarning\s+\| 3\s+\|", text)
    assert re.search(r"\| before\s+\| 1\s+\| 0.8\s+\|", text) and re.search(r"\| after\s+\| 1\s+\| 1.6\s+\|", text)


def test_quick_runs_say_they_are_not_comparable(tmp_path, capsys):
    path = write_run(tmp_path, "q", [record("lr", s, 0.9) for s in range(2)])
    (path / "config.json").write_text(json.dumps({"splits": 2, "quick": True}))
    assert main(["report", "q", "--results-dir", str(tmp_path)]) == 0
    text = (tmp_path / "reports" / "q" / "REPORT.md").read_text()
    assert text.index("Quick run: not comparable") < text.index("## Environment")


def test_learning_curves_time_to_target_and_convergence_flags(tmp_path):
    from hello_bench.report import learning

    rising = {"train_time_s": list(np.linspace(0.1, 2.0, 40)), "loss": list(np.linspace(1.0, 0.5, 40)),
              "test_accuracy": list(np.linspace(0.3, 0.9, 40))}  # fmt: skip
    settled = {"train_time_s": list(np.linspace(0.1, 2.0, 40)), "loss": list(np.linspace(1.0, 0.2, 40)),
               "test_accuracy": [0.5] * 10 + [0.96] * 30}  # fmt: skip
    assert learning.still_improving(rising) == (True, True)
    assert learning.still_improving(settled) == (True, False)
    assert learning.still_improving({"loss": [0.2] * 30, "test_accuracy": [0.9] * 30}) == (False, False)
    # first epoch at or over the target; never: censored (inf); a model without a curve: its fit time if it reached it
    assert learning.time_to_target({"curve": settled}, 0.95) == pytest.approx(settled["train_time_s"][10])
    assert learning.time_to_target({"curve": rising}, 0.95) == math.inf
    assert learning.time_to_target({"fit_wall_s": 0.3, "accuracy": 0.97}, 0.95) == 0.3
    recs = []
    for s in range(4):
        recs.append(record("mlp-slow", s, 0.9, curve=rising))
        recs.append(record("mlp-done", s, 0.96, curve=settled))
        recs.append(record("lr", s, 0.94 + 0.01 * (s % 2)))
    write_run(tmp_path, "r", recs)
    text = write_report(["r"], tmp_path, target_accuracy=0.95).markdown.read_text()
    assert "mlp-slow on iris (cpu): accuracy still rising at the last epoch in 4 of 4 splits" in text
    assert "mlp-done on iris (cpu): 4 of 4 splits" in text  # loss falling, accuracy settled
    lr_row = next(line for line in rows_of(text, "lr") if "not reached" in line)
    assert "| 2/4 " in lr_row  # censored splits counted, never dropped
    slow_row = next(line for line in rows_of(text, "mlp-slow") if "not reached" in line)
    assert "| 0/4 " in slow_row
