"""bench calibrate: the exact slowdown of the wrapper, rates with Clopper-Pearson intervals, the run-to-run
variance, and every comparison gated as bench compare gates it (hand-computed numbers, synthetic records)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hello_bench.analysis import calibration as calib
from hello_bench.run import calibrate as cal
from hello_bench.run import spread
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


def test_one_sided_bounds_and_the_59_comparisons_they_take():
    # k = 0: the one-sided upper bound is 1 - 0.05^(1/n); ln 0.05 / ln 0.95 = 58.4 -> 59 comparisons
    assert (
        calib.upper_bound(0, 59) == pytest.approx(1 - 0.05 ** (1 / 59), abs=1e-9) and calib.upper_bound(0, 59) <= 0.05
    )
    assert calib.upper_bound(0, 58) > 0.05
    assert calib.comparisons_to_bound(0.05) == 59 and calib.comparisons_to_bound(0.05, confidence=0.975) == 72
    assert calib.clopper_pearson(0, 59).high > 0.05  # the two-sided interval's upper end would need 72
    assert calib.lower_bound(59, 59) == pytest.approx(0.05 ** (1 / 59), abs=1e-9) and calib.lower_bound(59, 59) >= 0.95
    assert calib.lower_bound(1, 10) == pytest.approx(1 - 0.95 ** (1 / 10), abs=1e-9)  # Beta(1, n) in closed form
    assert calib.upper_bound(9, 10) == pytest.approx(0.95 ** (1 / 10), abs=1e-9)  # Beta(n, 1) in closed form
    assert calib.upper_bound(10, 10) == 1.0 and calib.lower_bound(0, 10) == 0.0
    assert calib.upper_bound(0, 1) == pytest.approx(0.95) and calib.lower_bound(1, 1) == pytest.approx(0.05)
    assert math.isnan(calib.upper_bound(0, 0)) and math.isnan(calib.lower_bound(0, 0))
    r = calib.clopper_pearson(0, 59)
    assert r.upper == calib.upper_bound(0, 59) and r.lower == 0.0
    for bad in (calib.upper_bound, calib.lower_bound):
        with pytest.raises(ValueError, match=r"k must be in \[0, n\]"):
            bad(3, 2)


def test_smallest_detected_observed_and_shown():
    rates = {0.10: calib.clopper_pearson(3, 5), 0.25: calib.clopper_pearson(5, 5), 0.40: calib.clopper_pearson(80, 80)}
    found = calib.smallest_detected(rates)
    assert found.observed == 0.25 and found.shown == 0.40  # 5/5: one-sided lower bound 55%; 80/80: 96.3%
    # 59/59 is shown at 95% one-sided (95.05%), 58/58 is not (94.97%)
    assert (
        calib.smallest_detected({0.1: calib.clopper_pearson(58, 58), 0.2: calib.clopper_pearson(59, 59)}).shown == 0.2
    )
    assert calib.smallest_detected({0.1: calib.clopper_pearson(1, 5)}) == calib.Smallest(None, None)
    at = calib.lower_bound(59, 59)  # a bound exactly at the level shows it
    assert calib.smallest_detected({0.2: calib.clopper_pearson(59, 59)}, level=at).shown == 0.2


def test_the_wrapper_adds_exactly_its_fraction_of_the_measured_cost(monkeypatch):
    from hello_bench.adapters import calibration

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
    from hello_bench.errors import UserError

    config = cal.QUICK.config()
    assert len(config.adapters) == cal.QUICK.repeats * 2 * 4
    labels = {a.label for a in config.adapters}
    assert "calibrated-sklearn-lr(repeat=0,side=a,slowdown=0.0)" in labels
    assert "calibrated-sklearn-lr(repeat=4,side=b25,slowdown=0.25)" in labels
    assert cal.THOROUGH.repeats == calib.comparisons_to_bound(0.05) == 59 and cal.THOROUGH.disturbed[:2] == (2, 5)
    # separate runs: 59 disjoint pairs of repeats, side A only
    assert cal.THOROUGH_SEPARATE.repeats == 2 * 59 and cal.THOROUGH_SEPARATE.sides() == [("a", 0.0)]
    assert cal.THOROUGH_SEPARATE.kind == "separate" and cal.check_plan(cal.THOROUGH_SEPARATE)
    from dataclasses import replace

    for bad, message in [(dict(repeats=1), "--repeats"), (dict(splits=3), "--splits"), (dict(slowdowns=()), "--slowdowns"),
                         (dict(slowdowns=(0.151, 0.152)), "differ"), (dict(disturbed=(9,)), "disturbed"),
                         (dict(spread_s=-1.0), "--spread"), (dict(spread_s=math.inf), "--spread"),
                         (dict(spread_s=31 * 86400.0), "--spread")]:  # fmt: skip
        with pytest.raises(UserError, match=message):
            cal.check_plan(replace(cal.QUICK, **bad))


def _calibration_records(repeats: int = 4, splits: int = 8, slow: float = 0.5) -> list[dict]:
    """Records of a calibration: each repeat's own offset (sd 2%), each split's noise (1%), started 100 s apart."""
    rng = np.random.default_rng(7)
    out = []
    for r in range(repeats):
        offset = math.exp(0.02 * rng.standard_normal())  # each repeat's own machine state
        for s in range(splits):
            for side, k in (("a", 0.0), ("a2", 0.0), (cal.side_name(slow), slow)):
                adapter = f"calibrated-sklearn-lr(repeat={r},side={side},slowdown={k})"
                fit = offset * (1 + k) * math.exp(0.01 * rng.standard_normal())
                rec = record(adapter, s, 0.95, fit=fit, adapter_name="calibrated-sklearn-lr",
                             params={"repeat": r, "side": side, "slowdown": k, "Cs": 10},
                             started_at=1e9 + 100 * r + s, finished_at=1e9 + 100 * r + s + 0.5)  # fmt: skip
                rec["latency"]["p99_us"] = 150.0 * fit
                rec["stock_latency"]["p50_us"] = 200.0 * fit
                out.append(rec)
    return out


def test_comparisons_gate_a_over_a_and_a_over_b_and_separate_repeats():
    plan = cal.Plan(cal.QUICK.adapters[:1], splits=8, repeats=8, slowdowns=(0.5,), fail_above=10.0, disturbed=(1,))
    records = _calibration_records(repeats=8)
    frames = cal.side_frames(records)
    assert set(frames) == {(r, s) for r in range(8) for s in ("a", "a2", "b50")}
    assert set(frames[(0, "a")]["adapter"]) == {"sklearn-lr(Cs=10)"}  # the wrapped adapter's own label
    found = cal.comparisons(records, plan)
    kinds = [c.kind for c in found]
    # 4 disjoint pairs, each gated with the variance of the 6 other repeats
    assert kinds.count("aa") == 8 and kinds.count("ab") == 8 and kinds.count("aa-separate") == 4
    assert not any(c.fired for c in found if c.kind == "aa")
    assert all(c.fired and c.fit_time for c in found if c.kind == "ab")
    # the metrics whose runs moved (fit, latencies) are gated with the variance; the constant ones are not
    # (truncated to 0: unknown), and the line says which
    separate = [line for c in found if c.kind == "aa-separate" for line in c.lines]
    assert all("run-to-run variance unknown: 2 (" in line and "throughput batch 1 " in line for line in separate)
    assert not any("fit time" in line.split("; gated: ")[0] for line in separate)  # not blocked (it is gated)
    summary = cal.summarise(found, plan, records, {"machine_id": "m1", "hostname": "h1", "other": 1})
    assert summary["aa"]["k"] == 0 and summary["aa"]["n"] == 8 and summary["aa"]["disturbed"]["n"] == 1
    assert summary["ab"]["b50"]["k"] == 8 and summary["ab"]["b50"]["high"] == 1.0
    assert summary["aa"]["upper"] == pytest.approx(1 - 0.05 ** (1 / 8)) and summary["ab"]["b50"]["lower"] > 0.6
    assert summary["smallest_detected"]["observed"] == 0.5 and summary["smallest_detected"]["shown"] is None
    variance = summary["run_variance"]["fit_wall_s"]
    assert 0 < variance["var"] < 0.01 and 0 < variance["df"] < 7 and variance["runs"] == 8  # Satterthwaite, not R - 1
    assert variance["df_method"] == "satterthwaite" and not variance["truncated"]
    assert summary["machine"] == {"machine_id": "m1", "hostname": "h1"}
    assert (
        summary["span"]["runs"] == 8 and summary["span"]["seconds"] > 0 and len(summary["span"]["repeat_starts"]) == 8
    )
    from hello_bench.report.calibration import lines

    text = " ".join(lines(summary))
    assert (
        "**False alarms, A/A inside one run**" in text
        and "0/8 = 0% [95% CI 0%, 37%], one-sided 95% upper bound 31.2%" in text
    )
    assert "50% slower: 8/8 = 100% [95% CI 63%, 100%], one-sided 95% lower bound 68.8%" in text
    assert "takes 59 comparisons without a false alarm" in text and "118 repeats, 59 disjoint pairs" in text
    assert "its 8 repeats covered" in text and "`h1`" in text


def test_a_calibration_of_too_few_repeats_gates_no_separate_runs_and_gives_no_variance():
    """Two repeats (or four: each pair leaves two): no separate comparison is counted, and the variance
    stored is unknown, so bench compare never uses it."""
    from hello_bench.analysis.separate import run_variance_from

    for repeats in (2, 4, 6):
        plan = cal.Plan(cal.QUICK.adapters[:1], splits=8, repeats=repeats, slowdowns=(0.5,), fail_above=10.0,
                        disturbed=())  # fmt: skip
        records = _calibration_records(repeats=repeats)
        found = cal.comparisons(records, plan)
        assert not [c for c in found if c.kind == "aa-separate"]  # 6 repeats leave 4 others per pair: too few
        summary = cal.summarise(found, plan, records)
        entry = summary["run_variance"]["fit_wall_s"]
        assert entry["runs"] == repeats
        usable = run_variance_from(summary, "cal").by_column
        assert ("fit_wall_s" in usable) == (repeats >= 5)
        from hello_bench.report.calibration import lines

        assert "no pair could be gated" in " ".join(lines(summary))


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


@pytest.mark.parametrize("flags,message,code", [
    (["--repeats", "1"], "--repeats: expected 2 to 500", 2), (["--repeats", "0"], "--repeats: expected 2 to 500", 2),
    (["--slowdowns", "abc"], "--slowdowns: 'abc' is not a number", 1),
    (["--disturbed", "0"], "--disturbed: '0' is not a repeat number", 1),
    (["--splits", "2"], "--splits: expected 5 to", 2), (["--splits", "0"], "--splits: expected 5 to", 2),
])  # fmt: skip
def test_bad_calibrate_flags_are_one_line_and_nothing_is_written(tmp_path, capsys, flags, message, code):
    """A count out of its range is the same usage error whatever the value (0 and 1 alike), as --help says it."""
    from hello_bench.cli import main

    try:
        got = main(["calibrate", *flags, "--results-dir", str(tmp_path), "--run-id", "c"])
    except SystemExit as exit_:
        got = exit_.code
    err = capsys.readouterr().err
    assert got == code and err.count("\n") == 1 and message in err and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_bench_calibrate_end_to_end_and_compare_finds_its_run_variance(tmp_path):
    """Five repeats of a fake adapter (A, A, +50%; the fewest whose run-to-run variance may gate separate
    runs): the stored summary (span, machine, Satterthwaite df), CALIBRATION.md, --report, and bench compare
    of two separate runs on this machine using the calibration's run-to-run variance where it is known."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, BENCH_ADAPTERS="fake-ok=tests.fake_adapters:_Fake")
    results = str(tmp_path / "results")

    def bench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hello_bench", *args, "--results-dir", results], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip

    done = bench("calibrate", "--adapters", "fake-ok", "--repeats", "5", "--splits", "5", "--slowdowns", "50",
                 "--disturbed", "2", "--run-id", "cal")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "False alarms, A/A inside one run" in done.stdout and "50% slower: " in done.stdout
    info = json.loads((tmp_path / "results/runs/cal/run.json").read_text())
    assert info["kind"] == "calibration" and info["calibration"]["aa"]["n"] == 5
    assert info["calibration"]["plan"]["disturbed"] == [1] and "fit_wall_s" in info["calibration"]["run_variance"]
    assert info["calibration"]["span"]["runs"] == 5 and info["calibration"]["machine"]["hostname"]
    assert info["plan"]["repeats"] == 5  # the plan, kept from the start (a resumed spread keeps its schedule)
    assert (tmp_path / "results/reports/cal/CALIBRATION.md").exists()
    again = bench("calibrate", "--report", "cal", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["calibration"]["aa"]["n"] == 5
    for run_id in ("one", "two"):
        ran = bench("run", "--adapters", "fake-ok", "--splits", "5", "--devices", "cpu", "--run-id", run_id)
        assert ran.returncode == 0, ran.stderr[-1000:]
    cmp = bench("compare", "one", "two", "--fail-above", "10", "--out", str(tmp_path / "cmp"))
    assert cmp.returncode in (0, 4, 5)
    from hello_bench.analysis.separate import run_variance_from

    # a metric whose five repeats' spread stood out from the splits' is gated with it; one truncated to 0 is
    # unknown, and the line says so (a fake adapter's microsecond timings may go either way)
    usable = run_variance_from(info["calibration"], "cal").by_column
    entries = info["calibration"]["run_variance"]
    assert all(e["runs"] == 5 and e["df_method"] == "satterthwaite" and e["df"] <= 4 for e in entries.values())
    if usable:
        assert "from calibration `cal`" in next((tmp_path / "cmp").glob("COMPARE-*.md")).read_text()
    if len(usable) < len(entries):
        assert "run-to-run variance unknown" in cmp.stdout


def test_calibration_edges():
    empty = calib.clopper_pearson(0, 0)
    assert (empty.k, empty.n) == (0, 0) and math.isnan(empty.high) and math.isnan(empty.rate)
    with pytest.raises(ValueError, match=r"k must be in \[0, n\]; got k=3, n=2"):
        calib.clopper_pearson(3, 2)
    exactly = calib.smallest_detected({0.2: calib.clopper_pearson(19, 20), 0.3: calib.clopper_pearson(20, 20)})
    assert exactly.observed == 0.2  # 19/20 = 95%: at the level counts


def test_spread_parses_schedules_waits_with_progress_and_resumes_on_schedule():
    assert [spread.parse_spread(t) for t in ("24h", "90m", "2d", "3600", "1.5h", " 10s ")] == [
        86400,
        5400,
        172800,
        3600,
        5400,
        10,
    ]
    from hello_bench.errors import UserError

    for bad in ("", "h", "-1h", "1w", "1h30m", "abc"):
        with pytest.raises(UserError, match="--spread: .* is not a duration"):
            spread.parse_spread(bad)
    assert spread.schedule(100.0, 5, 400.0) == [100.0, 200.0, 300.0, 400.0, 500.0]  # the last starts at the end
    assert spread.schedule(100.0, 3, 0.0) == [100.0] * 3 and spread.schedule(100.0, 1, 50.0) == [100.0]
    assert spread.schedule(100.0, 2, 50.0) == [100.0, 150.0] and spread.schedule(0.0, 3, 1.0) == [0.0, 0.5, 1.0]
    clock, said, slept = [1000.0], [], []

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    spread.wait_until(1000.0 + 1500.0, "repeat 2/5", said.append, now=lambda: clock[0], sleep=sleep)
    assert slept == [spread.WAIT_REPORT_S, spread.WAIT_REPORT_S, 300.0] and clock[0] == 2500.0
    assert len(said) == 3 and said[0].startswith("waiting 25m00s before repeat 2/5 (at ") and "resumes" in said[0]
    import time

    assert f"(at {time.strftime('%Y-%m-%d %H:%M', time.localtime(2500.0))})" in said[0]
    slept.clear()
    spread.wait_until(clock[0] + 0.5, "repeat 3/5", said.append, now=lambda: clock[0], sleep=sleep)
    assert slept == [0.5]  # half a second is waited too
    said.clear()
    spread.wait_until(10.0, "repeat 3/5", said.append, now=lambda: clock[0], sleep=sleep)  # already due: no wait
    assert said == []
    records = [{"params": {"repeat": 0}, "started_at": 40.0}, {"params": {"repeat": 0}, "started_at": 50.0},
               {"params": {"repeat": 2}, "started_at": 70.0}, {"params": {}, "started_at": 1.0},
               {"params": {"repeat": 1}}]  # fmt: skip
    assert spread.repeats_begun(records) == {0: 40.0, 2: 70.0}


def test_a_bad_spread_is_one_line_and_nothing_is_written(tmp_path, capsys):
    from hello_bench.cli import main

    assert main(["calibrate", "--spread", "soon", "--results-dir", str(tmp_path), "--run-id", "c"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--spread: 'soon' is not a duration" in err and not (tmp_path / "runs").exists()
    assert main(["calibrate", "--spread", "40d", "--results-dir", str(tmp_path), "--run-id", "c"]) == 1
    assert "--spread must be between 0 and 30 days" in capsys.readouterr().err


def test_calibrate_waits_for_each_spread_repeat_and_a_resumed_one_keeps_its_schedule(tmp_path, monkeypatch):
    """The loop of bench calibrate with the runs faked: each repeat's records say when it started; a spread
    calibration waits before every repeat that has not begun, on the schedule of its first repeat's start."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from hello_bench import record as rec
    from hello_bench.measure import machine
    from hello_bench.run import runner
    from tests.test_report import RAW_FIELDS, record

    monkeypatch.setattr(machine, "fingerprint", lambda control=True: {"machine_id": "m1", "hostname": "h1"})
    clock = {"t": 5000.0}
    monkeypatch.setattr(cal.time, "time", lambda: clock["t"])
    waits: list[tuple[float, str]] = []
    monkeypatch.setattr(cal, "wait_until", lambda when, label, say: waits.append((when, label)))
    stop_after: dict = {"repeat": None}

    def fake_run(config, store, executor, progress):
        repeat = dict(config.adapters[0].params)["repeat"]
        if repeat == stop_after["repeat"]:
            raise KeyboardInterrupt  # the user stops it: the store keeps what was recorded
        if repeat in spread.repeats_begun(store.folder.records()):
            return SimpleNamespace(failed=0, new={})  # resumed: the runner skips what is recorded
        for spec in config.adapters:
            params = dict(spec.params)
            fields = record(spec.label, 0, 0.9, params=params, adapter_name=spec.name, started_at=clock["t"],
                            finished_at=clock["t"] + 1)  # fmt: skip
            store.append(rec.build({k: v for k, v in fields.items() if k not in RAW_FIELDS}))  # raw: raw.jsonl
        clock["t"] += 100.0
        return SimpleNamespace(failed=0, new={"x": len(config.adapters)})

    monkeypatch.setattr(runner, "run", fake_run)
    plan = cal.Plan(cal.QUICK.adapters[:1], splits=5, repeats=4, slowdowns=(0.5,), fail_above=10.0, disturbed=(),
                    spread_s=3000.0)  # fmt: skip
    results = str(tmp_path / "results")
    stop_after["repeat"] = 2
    with pytest.raises(KeyboardInterrupt):
        cal.calibrate(plan, results, "spread", nullcontext(), lambda line: None, "bench calibrate --spread 3000")
    assert waits == [(5000.0, "repeat 1/4"), (6000.0, "repeat 2/4"), (7000.0, "repeat 3/4")]
    waits.clear()
    stop_after["repeat"] = None
    clock["t"] = 9000.0  # resumed later: repeats 1 and 2 are recorded, the schedule is the first one's
    done = cal.calibrate(plan, results, "spread", nullcontext(), lambda line: None, "bench calibrate --spread 3000")
    assert waits == [(7000.0, "repeat 3/4"), (8000.0, "repeat 4/4")]
    assert done.summary["plan"]["spread_s"] == 3000.0 and done.summary["machine"]["hostname"] == "h1"
    assert done.summary["span"]["repeat_starts"] == [5000.0, 5100.0, 9000.0, 9100.0]


@given(k=st.integers(0, 200), extra=st.integers(0, 200), below=st.booleans())
@settings(max_examples=200, deadline=None)
def test_a_target_is_shown_only_by_its_one_sided_bound_and_never_met_by_a_handful(k, extra, below):
    """Any count: the sentence says "shown" exactly when the one-sided bound is on the right side of the target,
    "missed" only when the other bound is on the wrong side, and never "met"."""
    from hello_bench.report.calibration import _target

    n = k + extra
    if n == 0:
        return
    limit = 0.05 if below else 0.95
    text = _target({"k": k, "n": n}, limit, below)
    assert " met" not in text and not text.startswith("met")
    shown = calib.upper_bound(k, n) <= limit if below else calib.lower_bound(k, n) >= limit
    assert text.startswith("shown") == shown
    assert ("**missed**" in text) == (calib.lower_bound(k, n) > limit if below else calib.upper_bound(k, n) < limit)
    if below and k == 0:
        assert shown == (n >= calib.comparisons_to_bound(0.05))  # no false alarm at all: 59 show it
