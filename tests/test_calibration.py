"""bench calibrate: the exact slowdown of the wrapper, rates with Clopper-Pearson intervals, the run-to-run
variance, and every comparison gated as bench compare gates it (hand-computed numbers, synthetic records)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis import calibration as calib
from bench.run import calibrate as cal
from tests.test_report import record


def test_clopper_pearson_hand_computed():
    # k = 0 of 10: upper = 1 - 0.025^(1/10) = 1 - exp(ln 0.025 / 10) = 1 - 0.691503 = 0.308497
    r = calib.clopper_pearson(0, 10)
    assert (r.k, r.n, r.low) == (0, 10, 0.0) and r.high == pytest.approx(0.308497, abs=1e-6)
    assert calib.clopper_pearson(10, 10).low == pytest.approx(0.691503, abs=1e-6)
    five = calib.clopper_pearson(5, 10)  # Beta(0.025; 5, 6) = 0.187086
    assert five.low == pytest.approx(0.187086, abs=1e-6) and five.high == pytest.approx(0.812914, abs=1e-6)
    assert five.text() == "5/10 = 50% [95% CI 19%, 81%]"
    assert math.isnan(calib.clopper_pearson(0, 0).low) and calib.clopper_pearson(0, 0).text() == "no comparisons"
    with pytest.raises(ValueError):
        calib.clopper_pearson(3, 2)
    # no false alarm at all: ln 0.025 / ln 0.95 = 71.92 -> 72 comparisons before the bound is under 5%
    assert calib.comparisons_to_bound(0.05) == 72 and calib.clopper_pearson(0, 72).high <= 0.05
    assert calib.clopper_pearson(0, 71).high > 0.05


def test_run_variance_hand_computed():
    # two runs 0.3 apart on every split, no interaction: MS_run = 3 * (0.15^2 + 0.15^2) = 0.135,
    # MS_error = 0: var = 0.135 / 3 = 0.045 (the variance of 0 and 0.3), on 1 df
    assert calib.run_variance([[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]]) == (pytest.approx(0.045), 1.0)
    # all the difference is interaction: MS_run = 2 * (0.05^2 * 2) = 0.01 = MS_error -> 0
    assert calib.run_variance([[0.0, 0.1], [0.2, 0.1]]) == (pytest.approx(0.0, abs=1e-15), 1.0)
    assert math.isnan(calib.run_variance([[0.0, 0.1]])[0]) and math.isnan(calib.run_variance([[0.0], [1.0]])[0])
    assert calib.pooled([(0.01, 4), (0.03, 4), (math.nan, 2)]) == (pytest.approx(0.02), 4)
    assert math.isnan(calib.pooled([])[0])


def test_smallest_detected_observed_and_shown():
    rates = {0.10: calib.clopper_pearson(3, 5), 0.25: calib.clopper_pearson(5, 5), 0.40: calib.clopper_pearson(80, 80)}
    found = calib.smallest_detected(rates)
    assert found.observed == 0.25 and found.shown == 0.40  # 5/5: lower bound 48%; 80/80: 95.5%
    assert calib.smallest_detected({0.1: calib.clopper_pearson(1, 5)}) == calib.Smallest(None, None)


def test_the_wrapper_adds_exactly_its_fraction_of_the_measured_cost(monkeypatch):
    from adapters import calibration

    now = {"t": 0}

    class Clock:
        @staticmethod
        def perf_counter_ns() -> int:
            now["t"] += 1  # every reading costs 1 ns
            return now["t"]

    monkeypatch.setattr(calibration, "time", Clock)
    calibration.spin(50)
    assert 50 <= now["t"] <= 52
    cls = calibration.wrapper("sklearn-lr")
    assert cls is calibration.wrapper("sklearn-lr") and cls.__name__ == "CalibratedSklearnLRClassifier"
    clf = cls(slowdown=0.25)
    assert clf.get_params()["slowdown"] == 0.25 and {"side", "repeat", "Cs"} <= set(clf.get_params())

    def work() -> str:
        now["t"] += 1000  # the real call: 1000 ns
        return "done"

    before = now["t"]
    assert clf._timed(work) == "done"
    # start, +1000, end (1002 measured, incl. its own reading), spin 250 ns on 1-ns readings
    assert now["t"] - before == pytest.approx(1250, abs=5)
    clf.set_params(slowdown=0.0)
    before = now["t"]
    clf._timed(work)
    assert now["t"] - before == 1002  # side A runs the same code, and adds nothing
    with pytest.raises(AttributeError, match="no calibration wrapper for 'nope'"):
        calibration.__getattr__("nope")


def test_plan_config_has_every_side_of_every_repeat_and_bad_plans_are_one_line():
    from bench.errors import UserError

    config = cal.QUICK.config()
    assert len(config.adapters) == cal.QUICK.repeats * 2 * 4
    labels = {a.label for a in config.adapters}
    assert "calibrated-sklearn-lr(repeat=0,side=a,slowdown=0.0)" in labels
    assert "calibrated-sklearn-lr(repeat=4,side=b25,slowdown=0.25)" in labels
    assert cal.THOROUGH.repeats == calib.comparisons_to_bound(0.05) and cal.THOROUGH.disturbed[:2] == (2, 5)
    from dataclasses import replace

    for bad, message in [(dict(repeats=1), "--repeats"), (dict(splits=3), "--splits"), (dict(slowdowns=()), "--slowdowns"),
                         (dict(slowdowns=(0.151, 0.152)), "differ"), (dict(disturbed=(9,)), "disturbed")]:  # fmt: skip
        with pytest.raises(UserError, match=message):
            cal.check_plan(replace(cal.QUICK, **bad))


def _calibration_records(repeats: int = 4, splits: int = 8, slow: float = 0.5) -> list[dict]:
    rng = np.random.default_rng(7)
    out = []
    for r in range(repeats):
        offset = math.exp(0.02 * rng.standard_normal())  # each repeat's own machine state
        for s in range(splits):
            for side, k in (("a", 0.0), ("a2", 0.0), (cal.side_name(slow), slow)):
                adapter = f"calibrated-sklearn-lr(repeat={r},side={side},slowdown={k})"
                fit = offset * (1 + k) * math.exp(0.01 * rng.standard_normal())
                rec = record(adapter, s, 0.95, fit=fit, adapter_name="calibrated-sklearn-lr",
                             params={"repeat": r, "side": side, "slowdown": k, "Cs": 10})  # fmt: skip
                rec["latency"]["p99_us"] = 150.0 * fit
                rec["stock_latency"]["p50_us"] = 200.0 * fit
                out.append(rec)
    return out


def test_comparisons_gate_a_over_a_and_a_over_b_and_separate_repeats():
    plan = cal.Plan(cal.QUICK.adapters[:1], splits=8, repeats=4, slowdowns=(0.5,), fail_above=10.0, disturbed=(1,))
    records = _calibration_records()
    frames = cal.side_frames(records)
    assert set(frames) == {(r, s) for r in range(4) for s in ("a", "a2", "b50")}
    assert set(frames[(0, "a")]["adapter"]) == {"sklearn-lr(Cs=10)"}  # the wrapped adapter's own label
    found = cal.comparisons(records, plan)
    kinds = [c.kind for c in found]
    assert kinds.count("aa") == 4 and kinds.count("ab") == 4 and kinds.count("aa-separate") == 2
    assert not any(c.fired for c in found if c.kind == "aa")
    assert all(c.fired and c.fit_time for c in found if c.kind == "ab")
    summary = cal.summarise(found, plan, records)
    assert summary["aa"]["k"] == 0 and summary["aa"]["n"] == 4 and summary["aa"]["disturbed"]["n"] == 1
    assert summary["ab"]["b50"]["k"] == 4 and summary["ab"]["b50"]["high"] == 1.0
    assert summary["smallest_detected"]["observed"] == 0.5 and summary["smallest_detected"]["shown"] is None
    variance = summary["run_variance"]["fit_wall_s"]
    assert 0 < variance["var"] < 0.01 and variance["df"] == 3
    from bench.report.calibration import lines

    text = " ".join(lines(summary))
    assert "**False alarms, A/A inside one run**" in text and "0/4 = 0% [95% CI 0%, 60%]" in text
    assert "50% slower: 4/4 = 100% [95% CI 40%, 100%]" in text and "takes 72 comparisons" in text


def test_the_second_job_starts_and_stops_its_own_processes():
    job = cal.SecondJob(1)
    job.start()
    procs = list(job.running)
    assert len(procs) == 1 and procs[0].poll() is None
    job.start()  # already running: nothing more
    assert job.running == procs
    job.stop()
    assert procs[0].poll() is not None and job.running == []
    assert cal.split_of("iris/x(side=a)/cpu/split-07") == 7 and cal.split_of("nothing") == -1


@pytest.mark.parametrize("flags,message", [(["--repeats", "1"], "--repeats must be in [2, 500]"),
                                           (["--slowdowns", "abc"], "--slowdowns: 'abc' is not a number"),
                                           (["--disturbed", "0"], "--disturbed: '0' is not a repeat number"),
                                           (["--splits", "2"], "--splits must be at least 5")])  # fmt: skip
def test_bad_calibrate_flags_are_one_line_and_nothing_is_written(tmp_path, capsys, flags, message):
    from bench.cli import main

    assert main(["calibrate", *flags, "--results-dir", str(tmp_path), "--run-id", "c"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_bench_calibrate_end_to_end_and_compare_finds_its_run_variance(tmp_path):
    """Five repeats of a fake adapter (A, A, +50%; the fewest whose run-to-run variance may gate separate
    runs): the stored summary, CALIBRATION.md, --report, and bench compare of two separate runs on this
    machine using the calibration's run-to-run variance."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, BENCH_ADAPTERS="fake-ok=tests.fake_adapters:_Fake")
    results = str(tmp_path / "results")

    def bench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bench", *args, "--results-dir", results], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip

    done = bench("calibrate", "--adapters", "fake-ok", "--repeats", "5", "--splits", "5", "--slowdowns", "50",
                 "--disturbed", "2", "--run-id", "cal")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "False alarms, A/A inside one run" in done.stdout and "50% slower: " in done.stdout
    info = json.loads((tmp_path / "results/runs/cal/run.json").read_text())
    assert info["kind"] == "calibration" and info["calibration"]["aa"]["n"] == 5
    assert info["calibration"]["plan"]["disturbed"] == [1] and "fit_wall_s" in info["calibration"]["run_variance"]
    assert (tmp_path / "results/reports/cal/CALIBRATION.md").exists()
    again = bench("calibrate", "--report", "cal", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["calibration"]["aa"]["n"] == 5
    for run_id in ("one", "two"):
        ran = bench("run", "--adapters", "fake-ok", "--splits", "5", "--devices", "cpu", "--run-id", run_id)
        assert ran.returncode == 0, ran.stderr[-1000:]
    cmp = bench("compare", "one", "two", "--fail-above", "10", "--out", str(tmp_path / "cmp"))
    assert cmp.returncode in (0, 4, 5) and "run-to-run variance unknown" not in cmp.stdout
    assert "from calibration `cal`" in next((tmp_path / "cmp").glob("COMPARE-*.md")).read_text()


def test_calibration_edges():
    empty = calib.clopper_pearson(0, 0)
    assert (empty.k, empty.n) == (0, 0) and math.isnan(empty.high) and math.isnan(empty.rate)
    with pytest.raises(ValueError, match=r"k must be in \[0, n\]; got k=3, n=2"):
        calib.clopper_pearson(3, 2)
    # three runs: offsets 0, 0.3, 0.6 on every split: MS_run = 3 * (0.09 + 0 + 0.09) / 2 = 0.27 -> var = 0.09 on 2 df
    assert calib.run_variance([[0.0, 0.1, 0.2], [0.3, 0.4, 0.5], [0.6, 0.7, 0.8]]) == (pytest.approx(0.09), 2.0)
    assert math.isnan(calib.run_variance([])[0]) and math.isnan(calib.run_variance([[0.0, 1.0], [0.0]])[0])
    exactly = calib.smallest_detected({0.2: calib.clopper_pearson(19, 20), 0.3: calib.clopper_pearson(20, 20)})
    assert exactly.observed == 0.2  # 19/20 = 95%: at the level counts
