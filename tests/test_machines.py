"""Across machines: rank agreement with its uncertainty, ratios normalised by the control, and a slower
machine made here with a cgroup v1 CPU quota (skipped where the cpu controller is not writable)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from hello_bench.analysis import noise
from hello_bench.analysis.comparison import normalised_ratio
from hello_bench.analysis.ranks import rank_agreement
from hello_bench.record import metric_for
from tests.invariants import TINY_TIMING

ROOT = Path(__file__).resolve().parent.parent
CPU_CGROUP = Path("/sys/fs/cgroup/cpu")


def test_rank_agreement_same_reversed_and_uncertain():
    names = ["a", "b", "c"]
    a = [[1.0, 1.1, 0.9], [2.0, 2.1, 1.9], [3.0, 3.2, 2.9]]
    same = rank_agreement(names, a, [[v * 2 for v in row] for row in a])  # a machine twice as slow
    assert same.holds and same.order_a == ("a", "b", "c") and same.tau == 1.0 and same.same_order == 1.0
    assert same.low == same.high == 1.0 and same.splits == 3
    reversed_ = rank_agreement(names, a, a[::-1])
    assert not reversed_.holds and reversed_.tau == -1.0 and reversed_.same_order == 0.0
    rng = np.random.default_rng(0)
    close = [[1.0 * math.exp(0.3 * rng.standard_normal()) for _ in range(8)] for _ in range(3)]
    other = [[v * math.exp(0.3 * rng.standard_normal()) for v in row] for row in close]
    r = rank_agreement(names, close, other)
    assert r.low <= r.tau <= r.high and 0 < r.same_order < 1  # near-ties: an order that may not hold
    one = rank_agreement(["a", "b"], [[1.0], [2.0]], [[1.0], [3.0]])
    assert one.holds and math.isnan(one.low) and math.isnan(one.high) and math.isnan(one.same_order)
    assert one.tau == 1.0 and one.splits == 1
    with pytest.raises(ValueError):
        rank_agreement(["a"], [[1.0]], [[1.0]])


def test_normalised_ratio_divides_times_and_multiplies_throughputs():
    control = noise.control_ratio([1.0, 1.0, 1.0], [2.0, 2.0, 2.0])  # B's machine twice as slow, exactly
    assert control.ratio == pytest.approx(2.0) and control.var_log == 0
    logs = np.log(np.array([2.0, 2.2, 1.8182, 2.0]))  # every time twice as long (geometric mean 2.000)
    fit, tput = metric_for("fit_wall_s"), metric_for("tput_1")
    for metric, sign in ((fit, 1), (tput, -1)):  # a throughput halved: normalised 1 as well
        e = normalised_ratio(sign * logs, metric, control)
        assert (round(e.value, 3), round(e.low, 3), round(e.high, 3)) == (1.0, 0.884, 1.132)
    no_control = noise.control_ratio([], [])
    assert normalised_ratio(logs, fit, no_control) is None


def _cgroup(quota_us: int) -> Path:
    path = CPU_CGROUP / f"bench-test-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    (path / "cpu.cfs_period_us").write_text("100000")
    (path / "cpu.cfs_quota_us").write_text(str(quota_us))
    return path


def _writable_cpu_controller() -> str | None:
    if not (CPU_CGROUP / "cgroup.procs").exists() or not (CPU_CGROUP / "cpu.cfs_quota_us").exists():
        return "no cgroup v1 cpu controller at /sys/fs/cgroup/cpu"
    try:
        probe = _cgroup(-1)
        probe.rmdir()
    except OSError as err:
        return f"cgroup v1 cpu controller not writable: {err.strerror}"
    return None


def _remove(path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not (path / "cgroup.procs").read_text().strip():
            path.rmdir()
            return
        time.sleep(0.1)  # waiting for the kernel to reap the run's processes, not synchronising with them


CONFIG = (
    """
adapters = ["fake-busy", "fake-busier"]
devices = ["cpu"]
splits = 4
trial_timeout_s = 120
"""
    + TINY_TIMING
)


def _ratio(cell: str | dict) -> float:
    """A ratio cell: an interval as data (``{"value", "low", "high"}``) or its text (``1.9 [1.7, 2.1]``)."""
    return float(cell["value"]) if isinstance(cell, dict) else float(str(cell).split(" ")[0])


def _run_in(group: Path, args: list[str], env: dict) -> subprocess.CompletedProcess:
    """A bench command inside a cgroup (the shell joins it, then becomes the command; its children stay in it)."""
    return subprocess.run(["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$0" "$@"', sys.executable, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.mark.slow
def test_a_machine_slowed_by_a_cpu_quota_raw_ratios_follow_it_normalised_stay_near_one(tmp_path):
    """Two machines made by cgroup v1 CPU quotas: A gets 40% of a core, B 20% (both below this shared
    machine's fair share, so the quota, not the neighbours, sets the speed). The raw fit ratios follow the
    quotas (about 2x), the ratios normalised by the per-round controls stay near 1, the ranking holds."""
    why = _writable_cpu_controller()
    if why:
        pytest.skip(why)
    (tmp_path / "busy.toml").write_text(CONFIG)
    env = dict(os.environ, BENCH_ADAPTERS="fake-busy=tests.fake_adapters:BusyClassifier,"
               "fake-busier=tests.fake_adapters:BusierClassifier")  # fmt: skip
    results = str(tmp_path / "results")
    args = ["-m", "hello_bench", "run", "--config", str(tmp_path / "busy.toml"), "--results-dir", results]
    for run_id, quota in (("fast", 40_000), ("slow", 20_000)):  # per 100 ms period
        group = _cgroup(quota)
        try:
            done = _run_in(group, [*args, "--run-id", run_id], env)
        finally:
            _remove(group)
        assert done.returncode == 0, done.stderr[-2000:]
    out = subprocess.run([sys.executable, "-m", "hello_bench", "compare", "fast", "slow", "--results-dir", results, "--json",
                          "--out", str(tmp_path / "cmp")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    tables = {t["name"]: by_label(t) for t in json.loads(out.stdout)["tables"]}
    fits = [r for r in tables["ratios"] if r["metric"] == "fit time (B/A)"]
    assert len(fits) == 2
    for row in fits:
        raw, normalised = _ratio(row["value [95% CI]"]), _ratio(row["normalised by the control [95% CI]"])
        assert 1.5 < raw < 2.7, row  # the quotas: 40% / 20% of a core -> about twice the time
        assert 0.75 < normalised < 1.33, row  # the controls saw the same slowdown
    ranking = [r for r in tables["ranking"] if r["metric"] == "fit time"]
    assert ranking and ranking[0]["verdict"] == "the ranking holds"
    assert ranking[0]["order on A"].startswith("fake-busy <")


def test_rank_agreement_bootstrap_is_the_percentiles_of_resampled_taus():
    from scipy import stats as sps

    names = ["a", "b", "c"]
    a = [[1.0, 1.3, 0.8, 1.1], [1.2, 1.0, 1.4, 1.1], [3.0, 2.5, 3.5, 2.8]]
    b = [[1.1, 1.2, 0.9, 1.0], [1.0, 1.3, 1.1, 1.2], [2.9, 2.4, 3.6, 2.7]]
    r = rank_agreement(names, a, b, resamples=300)
    assert r == rank_agreement(names, a, b, resamples=300, seed=0)  # the default seed is 0: reproducible
    rng = np.random.default_rng(0)
    la, lb = np.log(a), np.log(b)
    taus, same = [], 0
    for _ in range(300):
        pick = rng.integers(0, 4, 4)
        ma, mb = la[:, pick].mean(axis=1), lb[:, pick].mean(axis=1)
        taus.append(sps.kendalltau(ma, mb).statistic)
        same += list(np.argsort(ma, kind="stable")) == list(np.argsort(mb, kind="stable"))
    assert (r.low, r.high) == tuple(pytest.approx(v) for v in np.nanpercentile(taus, [2.5, 97.5]))
    assert r.same_order == same / 300 and 0 < r.same_order < 1 and r.splits == 4
    two = rank_agreement(["a", "b"], [[1.0, 2.0], [1.5, 1.5]], [[1.0, 2.0], [1.5, 1.5]], resamples=200)
    assert two.splits == 2 and math.isfinite(two.low)
    ties = rank_agreement(["a", "b"], [[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]], resamples=50)
    assert math.isnan(ties.tau)  # every adapter equally fast on A: no ranking to agree with
    with pytest.raises(ValueError, match="^need at least two adapters and one split, the same shape on both sides$"):
        rank_agreement(["a", "b"], [[1.0], [2.0]], [[1.0, 2.0], [1.0, 2.0]])


def by_label(table: dict) -> list[dict]:
    """A ``--json`` table's rows keyed by the column labels the report shows (the JSON keys are snake_case)."""
    labels = {c["key"]: c["label"] for c in table["columns"]}
    return [{labels.get(k, k): v for k, v in row.items()} for row in table["rows"]]


def test_rank_agreement_interval_is_the_central_95_percent_of_many_valued_taus():
    """Twenty adapters: Kendall's tau takes many values, so the 2.5th and 97.5th percentiles are pinned (with
    three adapters tau takes four values and neighbouring percentiles coincide)."""
    from scipy import stats as sps

    rng = np.random.default_rng(4)
    names = [f"m{i}" for i in range(20)]
    a = [[math.exp(0.05 * i + 0.2 * rng.standard_normal()) for _ in range(6)] for i in range(20)]
    b = [[v * math.exp(0.4 * rng.standard_normal()) for v in row] for row in a]
    r = rank_agreement(names, a, b, resamples=400, seed=2)
    rng = np.random.default_rng(2)
    la, lb = np.log(a), np.log(b)
    taus = []
    for _ in range(400):
        pick = rng.integers(0, 6, 6)
        taus.append(sps.kendalltau(la[:, pick].mean(axis=1), lb[:, pick].mean(axis=1)).statistic)
    assert (r.low, r.high) == (pytest.approx(np.percentile(taus, 2.5)), pytest.approx(np.percentile(taus, 97.5)))
    assert np.percentile(taus, 2.5) != np.percentile(taus, 3.5) and np.percentile(taus, 97.5) != np.percentile(
        taus, 98.5
    )
