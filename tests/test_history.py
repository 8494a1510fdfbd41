"""Versions side by side and history: the running order, environments, step detection, bench history."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hello_bench.analysis.steps import detect_steps
from hello_bench.cli import main
from hello_bench.errors import UserError
from hello_bench.run.config import AdapterSpec, Config, EnvironmentSpec, env_flags, parse_environments, validate
from hello_bench.run.matrix import expand, groups
from hello_bench.run.order import running_order

ROOT = Path(__file__).resolve().parent.parent


def lanes_of(config):
    return list(groups(expand(config)).values())


def test_running_order_interleaves_environments_back_to_back_and_counterbalanced():
    envs = (EnvironmentSpec("a", ("scikit-learn==1.8.*",)), EnvironmentSpec("b", ("scikit-learn==1.9.*",)))
    config = validate(Config(adapters=(AdapterSpec("sklearn-lr"), AdapterSpec("sklearn-mlp")), splits=4,
                             environments=envs), "test")  # fmt: skip
    order = [t for _, t in running_order(lanes_of(config), True, seed=7)]
    assert len(order) == config.n_trials() == 16
    for i in range(0, 16, 2):  # the same cell in both environments, back to back
        assert order[i].cell == order[i + 1].cell and {order[i].environment, order[i + 1].environment} == {"a", "b"}
    firsts = [order[i].environment for i in range(0, 16, 2)]
    assert firsts.count("a") == firsts.count("b") == 4  # each environment runs first as often
    rounds = [order[i : i + 4] for i in range(0, 16, 4)]
    assert all(len({t.split_seed for t in r}) == 1 for r in rounds)  # split by split
    adapters_first = {r[0].adapter.name for r in rounds}
    assert adapters_first == {"sklearn-lr", "sklearn-mlp"}  # the adapter order is not fixed...
    again = [t.trial_id for _, t in running_order(lanes_of(config), True, seed=7)]
    assert again == [t.trial_id for t in order]  # ...but reproducible from its seed


def test_environment_flags_and_their_errors():
    assert env_flags(["new=scikit-learn==1.9.*", "new=numpy<3", "old=scikit-learn==1.8.*"]) == [
        {"name": "new", "requirements": ["scikit-learn==1.9.*", "numpy<3"]},
        {"name": "old", "requirements": ["scikit-learn==1.8.*"]},
    ]
    for bad, words in [(["x"], "expected NAME=REQUIREMENT"), (["a=scikit-learn==>1"], "environment 'a'"),
                       (["a b=numpy"], "environment name 'a b'"), (["a=git+https://x/y"], "not a valid requirement")]:  # fmt: skip
        with pytest.raises(UserError, match=words):
            parse_environments(env_flags(bad), "--env")
    ids = [t.trial_id for t in expand(validate(Config(adapters=(AdapterSpec("sklearn-lr"),), splits=1,
                                                      environments=parse_environments(env_flags(["a=numpy"]), "x")), "t"))]  # fmt: skip
    assert ids == ["iris/sklearn-lr/cpu/split-00%a"]


def _false_steps(histories: int, first_seed: int, longest: int, scatter: float = 0.05, own: float = 0.02) -> int:
    """Histories of 3..longest runs without a change that scatter by ``scatter`` beyond their own standard
    errors ``own`` (log scale), each from its own seed: how many of them show a step."""
    found = 0
    for seed in range(first_seed, first_seed + histories):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(3, longest + 1))
        y = rng.normal(0, scatter, n) + rng.normal(0, own, n)
        found += bool(detect_steps(y, np.full(n, own)))
    return found


def test_step_detection_keeps_its_stated_level_when_runs_scatter_beyond_their_errors():
    """200 histories (3 to 20 runs, each its own seed), runs 5% apart beyond their 2% errors: the false-step
    rate is consistent with the stated 5% (the lower end of its exact 95% interval is at most 5%). The
    uncalibrated rule (a normal threshold, Bonferroni over the positions) raised false steps in 6% to 24%."""
    from hello_bench.analysis.calibration import clopper_pearson

    k = _false_steps(200, first_seed=1000, longest=20)
    assert clopper_pearson(k, 200).low <= 0.05, k


@pytest.mark.slow
def test_step_detection_keeps_its_stated_level_over_many_histories_and_scatters():
    """The thorough version: 1000 histories of 3 to 30 runs for each scatter (none, below, at and far beyond
    the runs' own errors), about a minute and a half."""
    from hello_bench.analysis.calibration import clopper_pearson

    for scatter in (0.0, 0.01, 0.05, 0.2):
        k = _false_steps(1000, first_seed=5000, longest=30, scatter=scatter)
        assert clopper_pearson(k, 1000).low <= 0.05, (scatter, k)


def test_a_real_step_is_found_where_it_is_with_an_interval_that_covers_it():
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(100):
        y = rng.normal(0, 0.05, 8) + rng.normal(0, 0.02, 8)  # runs differ by ~5% more than their own splits say
        y[5:] += math.log(1.6)
        steps = detect_steps(y, np.full(8, 0.02))
        found += len(steps) == 1 and steps[0].index == 5 and steps[0].low < 1.6 < steps[0].high
    assert found >= 85
    assert detect_steps([0.0, 0.0], [0.1, 0.1]) == []  # two points: a comparison, not a history


def _run(tmp_path, run_id, fit_s):
    env = dict(
        os.environ, BENCH_ADAPTERS="fake-sleepy=tests.fake_adapters:SleepyClassifier", BENCH_TEST_FIT_S=str(fit_s)
    )
    conf = tmp_path / "c.toml"
    conf.write_text('adapters = ["fake-sleepy"]\ndevices = ["cpu"]\nsplits = 5\n[timing]\nwarmup = 1\nlatency_min_calls = 5\n'
                    'latency_budget_s = 0.005\nstock_min_calls = 2\nstock_budget_s = 0.005\nbatch_sizes = [1]\n'
                    'throughput_budget_s = 0.005\nserving = false\ncurves = false\ncontrol_span_s = 0.02\n')  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "hello_bench", "run", "--config", str(conf), "--run-id", run_id, "--results-dir",
                           str(tmp_path / "results")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]


@pytest.mark.slow
def test_history_finds_the_step_of_a_plugin_that_became_slower(tmp_path):
    # A 10x step: a loaded machine delays short sleeps by tens of ms, which must not hide the step.
    for i, fit_s in enumerate([0.02, 0.02, 0.02, 0.2, 0.2, 0.2]):
        _run(tmp_path, f"r{i}", fit_s)
    out = subprocess.run([sys.executable, "-m", "hello_bench", "history", "--results-dir", str(tmp_path / "results"), "--json",
                          "--metrics", "fit_wall_s"], cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    steps = json.loads(out.stdout)["steps"]
    assert [(s["run"], s["metric"], s["adapter"]) for s in steps] == [("r3", "fit_wall_s", "fake-sleepy")]
    assert 4.0 < steps[0]["ratio"]["value"] < 12.0  # about 10x, less the fixed costs of a trial
    quiet = subprocess.run([sys.executable, "-m", "hello_bench", "history", "r0", "r1", "r2", "--results-dir",
                            str(tmp_path / "results"), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert json.loads(quiet.stdout)["steps"] == []
    assert main(["history", "r0", "--results-dir", str(tmp_path / "results")]) == 1  # one run is not a history


@pytest.mark.slow
def test_a_duet_of_two_scikit_learn_versions_compared_within_one_run(tmp_path):
    """Needs the package registry (skips without it); the environments are cached, so a rerun costs seconds."""
    results = str(tmp_path / "results")
    args = ["run", "--quick", "--adapters", "sklearn-lr", "--devices", "cpu", "--run-id", "duet", "--results-dir", results,
            "--env", "old=scikit-learn==1.8.*", "--env", "new=scikit-learn==1.9.*"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "hello_bench", *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    if done.returncode == 1 and any(
        w in done.stderr.lower() for w in ("network", "connect", "dns", "resolve host", "timed out")
    ):
        pytest.skip(f"no package registry: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "results/runs/duet/records.jsonl").read_text().splitlines()]
    versions = {r["environment"]: r["framework_version"] for r in records}
    assert versions["old"].startswith("1.8.") and versions["new"].startswith("1.9.")
    by_split = {}
    for r in records:
        by_split.setdefault(r["split_seed"], set()).add(r["test_rows_sha"])
    assert all(len(shas) == 1 for shas in by_split.values())  # the parent decided the rows: the same in both
    positions = sorted(records, key=lambda r: r["position"])
    assert all(positions[i]["split_seed"] == positions[i + 1]["split_seed"] for i in range(0, len(positions), 2))
    info = json.loads((tmp_path / "results/runs/duet/run.json").read_text())
    assert info["environments"]["new"]["packages"]["scikit-learn"].startswith("1.9.")
    cmp = subprocess.run([sys.executable, "-m", "hello_bench", "compare", "duet%old", "duet%new", "--results-dir", results,
                          "--json", "--out", str(tmp_path / "cmp")], cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert cmp.returncode in (0, 4, 5), cmp.stderr[-1000:]
    assert "scikit-learn" in cmp.stdout
    bad = subprocess.run([sys.executable, "-m", "hello_bench", "run", "--quick", "--adapters", "sklearn-lr", "--run-id", "bad",
                          "--results-dir", results, "--env", "x=scikit-learn==0.0.0.1"], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.count("\n") <= 2 and "Environment 'x'" in bad.stderr
    assert not (tmp_path / "results/runs/bad").exists()  # nothing written: the build failed before the run


def test_history_says_what_it_cannot_decide_apart_from_the_steps_it_found(tmp_path, monkeypatch, capsys):
    """Four runs of `lr` (a 10x step in fit time at r2) and two of `mlp`: the step is found, `mlp`'s series
    cannot be decided, and the two are said in separate sentences (never "1 step(s) (cannot decide ...)")."""
    from tests.invariants import tiny_figures
    from tests.test_report import record, write_run

    tiny_figures(monkeypatch)
    rng = np.random.default_rng(0)
    for i, fit in enumerate([0.1, 0.1, 1.0, 1.0]):
        recs = [record("lr", s, 0.9, fit=fit * math.exp(0.01 * rng.standard_normal()), started_at=1e9 + 100 * i)
                for s in range(6)]  # fmt: skip
        if i >= 2:
            recs += [record("mlp", s, 0.9, fit=0.5, started_at=1e9 + 100 * i) for s in range(6)]
        write_run(tmp_path, f"r{i}", recs)
    code = main(["history", "--results-dir", str(tmp_path), "--metrics", "fit_wall_s", "--out", str(tmp_path / "h")])
    out = capsys.readouterr().out
    assert code == 0
    assert "step: lr fit_wall_s x" in out and "from r1 to r2" in out and "(p = 0.002)" in out
    assert "1 step(s) in 1 series with enough points (3; a count's 2)." in out
    assert (
        "Cannot decide for 1 series with fewer than 3 points (a count: 2; points in brackets): mlp fit_wall_s (2)."
        in out
    )
    assert "step(s) (cannot decide" not in out and "p = 0.0)" not in out and "p = 0 " not in out
    text = (tmp_path / "h" / "HISTORY.md").read_text()
    assert "Cannot decide for 1 series" in text and "1 step(s) in 1 series" in text
    code = main(["history", "--results-dir", str(tmp_path), "--metrics", "fit_wall_s", "--out", str(tmp_path / "j"),
                 "--json"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert [u["adapter"] for u in data["undecided"]] == ["mlp"] and data["undecided"][0]["points"] == 2
    assert len(data["steps"]) == 1 and data["steps"][0]["p"] > 0 and data["summary"][1].startswith("Cannot decide")
    ratio = data["steps"][0]["ratio"]  # after/before, its interval at the step's level, as every command's intervals
    assert 8 < ratio["value"] < 12 and ratio["interval"][0] > 1 and ratio["level"] == 0.95
    pytest.importorskip("jsonschema")
    from hello_bench.schemas import validate

    validate("history", data)


def test_a_step_is_said_in_its_metrics_terms_accuracy_in_points_a_count_exactly(tmp_path, monkeypatch, capsys):
    """History speaks as compare does: accuracy steps by points (never 'x0.87'), a count changes exactly (no p)."""
    from tests.invariants import tiny_figures
    from tests.test_report import record, write_run

    tiny_figures(monkeypatch)
    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:ALL")
    rng = np.random.default_rng(1)
    for i, (acc, params) in enumerate([(0.95, 9), (0.95, 9), (0.95, 9), (0.7, 12), (0.7, 12), (0.7, 12)]):
        recs = [record("lr", s, acc + 0.01 * rng.standard_normal(), started_at=1e9 + 100 * i,
                       metrics={"n_params": float(params)}) for s in range(8)]  # fmt: skip
        write_run(tmp_path, f"r{i}", recs)
    args = ["history", "--results-dir", str(tmp_path), "--metrics", "accuracy,n_params", "--out", str(tmp_path / "h")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"step: lr accuracy -2\d(\.\d)? points \[-\d+(\.\d)?, -\d+(\.\d)?\] from r2 to r3 \(p = ", out), (
        out
    )
    assert "step: lr n_params +3 exactly from r2 to r3 (exact)" in out and " x0." not in out
    assert main([*args[:-1], str(tmp_path / "j"), "--json"]) == 0
    steps = {s["metric"]: s for s in json.loads(capsys.readouterr().out)["steps"]}
    assert steps["n_params"]["compared_as"] == "exact" and steps["n_params"]["change"]["value"] == 3
    assert steps["n_params"]["p"] is None and steps["accuracy"]["compared_as"] == "difference"
    assert -0.3 < steps["accuracy"]["change"]["value"] < -0.2


def test_a_count_of_zero_is_a_point_and_two_points_of_a_count_decide(tmp_path, monkeypatch, capsys):
    """A count falling to 0 is a change like any other (it was dropped as a log of 0), and two points of a count
    decide (it changes exactly): no 'cannot decide' beside the step found."""
    from tests.invariants import tiny_figures
    from tests.test_report import record, write_run

    tiny_figures(monkeypatch)
    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:ALL")
    for i, params in enumerate([10, 0]):
        recs = [record("lr", s, 0.9, started_at=1e9 + 100 * i, metrics={"n_params": float(params)}) for s in range(4)]
        write_run(tmp_path, f"c{i}", recs)
    args = ["history", "--results-dir", str(tmp_path), "--metrics", "n_params", "--out", str(tmp_path / "h")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "step: lr n_params -10 exactly from c0 to c1 (exact)" in out and "Cannot decide" not in out
