"""`bench run --until-precise`: interval widths, the splits a width needs, and the loop that adds them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from hello_bench.analysis.precision import mean_width, ratio_width, splits_needed
from hello_bench.run.config import AdapterSpec, Config
from hello_bench.run.precision import check_target, run_until_precise, widest
from hello_bench.store.writer import RunStore
from tests.test_report import record


def test_ratio_width_hand_computed():
    # log ratios log 1.1, log 1.2, 0: mean 0.092544, sd 0.091192; half = t(0.975, 2) * sd / sqrt(3) = 0.226538
    half = 4.302653 * 0.0911923 / math.sqrt(3)
    assert ratio_width([1.0, 1.0, 1.0], [1.1, 1.2, 1.0]) == pytest.approx(math.exp(2 * half) - 1, rel=1e-5)
    assert ratio_width([1.0], [1.1]) == math.inf
    assert mean_width([1.0, 1.1, 1.2]) == pytest.approx(
        math.exp(2 * sps.t.ppf(0.975, 2) * np.log([1.0, 1.1, 1.2]).std(ddof=1) / math.sqrt(3)) - 1
    )
    assert mean_width([2.0]) == math.inf


def test_splits_needed_hand_computed():
    # width 20% from 5 splits, target 10%: t(0.975,4)/sqrt(5) = 1.2416 must shrink by log 1.1 / log 1.2 = 0.52276
    # to 0.64906; t(0.975,10)/sqrt(11) = 0.67181 > 0.64906 >= t(0.975,11)/sqrt(12) = 0.63536: 12 splits
    assert splits_needed(5, 0.20, 0.10, cap=3) == 12
    assert splits_needed(5, 0.20, 0.10) == 10  # capped at twice the splits so far
    assert splits_needed(5, 0.05, 0.10) == 5  # already precise
    assert splits_needed(2, 0.50, 0.10) == 4  # too few splits to extrapolate: double
    assert splits_needed(2, 0.11, 0.10, cap=3) == 6  # nearly precise, but from 2 splits: no extrapolation, the cap
    assert splits_needed(5, math.inf, 0.10) == 10


def test_until_precise_adds_splits_until_the_widest_interval_is_narrow_enough(tmp_path):
    rng = np.random.default_rng(4)
    ratios = 1.0 + 0.05 * rng.standard_normal(200)
    config = Config(adapters=(AdapterSpec("sklearn-lr"), AdapterSpec("torch-mlp")), splits=3)
    calls = []
    with RunStore.open(tmp_path, "p", config.to_dict(), {"machine_id": "m"}) as store:

        def run_once(cfg):
            done = {r["split_seed"] for r in store.folder.records()}
            calls.append(cfg.splits)
            for s in range(cfg.splits):
                if s not in done:
                    store.append(record("sklearn-lr", s, 0.95, fit=1.0))
                    store.append(record("torch-mlp", s, 0.95, fit=float(ratios[s])))

        said = []
        run_until_precise(config, store, 10, 600, run_once, say=said.append)
        final = widest(store.folder.records(), config)
    assert calls[0] == 3 and calls == sorted(calls) and len(calls) > 1
    assert final.width <= 0.10 and final.splits == calls[-1]
    info = json.loads((tmp_path / "runs" / "p" / "run.json").read_text())["until_precise"]
    assert info["stopped"] == "precise" and info["splits"] == calls[-1] and info["widest_pct"] <= 10
    assert said[0].startswith("Until precise: the widest timing interval is ") and "adding" in said[0]
    assert said[-1].startswith("Until precise: reached")


def test_until_precise_stops_at_its_time_budget(tmp_path, monkeypatch):
    import hello_bench.run.precision as precision

    clock = iter(range(0, 10_000, 100))  # every reading 100 s later: the first batch uses the whole budget
    monkeypatch.setattr(precision.time, "monotonic", lambda: next(clock))
    config = Config(adapters=(AdapterSpec("sklearn-lr"), AdapterSpec("torch-mlp")), splits=3)
    with RunStore.open(tmp_path, "t", config.to_dict(), {"machine_id": "m"}) as store:

        def run_once(cfg):
            for s in range(cfg.splits):
                store.append(record("sklearn-lr", s, 0.95, fit=1.0))
                store.append(record("torch-mlp", s, 0.95, fit=[1.0, 1.5, 0.7][s]))

        run_until_precise(config, store, 1, 100, run_once, say=lambda _: None)
    info = json.loads((tmp_path / "runs" / "t" / "run.json").read_text())["until_precise"]
    assert info["stopped"] == "time budget" and info["splits"] == 3 and info["widest_pct"] > 1


@pytest.mark.parametrize("pct,limit,message", [(0, None, "--until-precise must be a percentage"),
                                               (10, -1, "--max-time must be"), (None, 60, "--max-time needs")])  # fmt: skip
def test_bad_precision_flags_are_one_line_and_nothing_is_written(tmp_path, capsys, pct, limit, message):
    from hello_bench.cli import main
    from hello_bench.errors import UserError

    with pytest.raises(UserError, match=message):
        check_target(pct, limit)
    args = ["run", "--adapters", "sklearn-lr", "--results-dir", str(tmp_path), "--run-id", "x"]
    args += ["--until-precise", str(pct)] if pct is not None else []
    args += ["--max-time", str(limit)] if limit is not None else []
    assert main(args) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "runs" / "x").exists()


def test_precision_edges():
    assert splits_needed(5, 0.10, 0.10) == 5  # exactly at the target: precise
    assert splits_needed(3, 0.30, 0.20, cap=3) == 4  # from three splits: t(2)/sqrt 3 = 2.484 -> 4 splits, 1.591
    assert splits_needed(4, 0.2001, 0.20, cap=1) == 5  # one more split, at most: the cap
    assert splits_needed(4, 0.2001, 0.20) == 5  # the first split count that gets there
    assert splits_needed(1, 0.5, 0.1) == 2
    assert mean_width([1.0, 2.0, 0.0]) == mean_width([1.0, 2.0]) < math.inf  # a zero is no time: left out
    assert ratio_width([1.0, 1.0], [1.1, 1.2]) < math.inf and ratio_width([], []) == math.inf


# -- a duet: the sequential gate ------------------------------------------------------------------------------------
def _duet_config(splits: int = 5) -> Config:
    from hello_bench.run.config import EnvironmentSpec

    return Config(adapters=(AdapterSpec("sklearn-lr"),), splits=splits,
                  environments=(EnvironmentSpec("base", ("x==1",)), EnvironmentSpec("head", ("x==2",))))  # fmt: skip


def _duet_run(store, factor: float, noise: float, seed: int = 0):
    """A run_once that writes both environments' records split by split (head's fit time ``factor`` x base's)."""
    rng = np.random.default_rng(seed)
    draws = [(1 + noise * rng.standard_normal(), 1 + noise * rng.standard_normal()) for _ in range(500)]
    calls = []

    def run_once(cfg):
        done = {(r["split_seed"], r.get("environment")) for r in store.folder.records()}
        calls.append(cfg.splits)
        for s in range(cfg.splits):
            for env, f in (("base", 1.0), ("head", factor)):
                if (s, env) not in done:
                    rec = record("sklearn-lr", s, 0.95, fit=f * draws[s][env == "head"], environment=env)
                    rec["trial_id"] += f"%{env}"
                    rec["latency"] = {**rec["latency"], "p50_us": 100.0 * f * draws[s][env == "head"]}
                    rec["throughput_sps"] = {"1": 1e4 / (f * draws[s][env == "head"])}
                    store.append(rec)

    return run_once, calls


def test_a_duet_with_nothing_changed_passes_at_its_first_look(tmp_path):
    from hello_bench.analysis.policy import GatePolicy
    from hello_bench.run.precision import run_until_decided

    config = _duet_config()
    with RunStore.open(tmp_path, "d", config.to_dict(), {"machine_id": "m"}) as store:
        run_once, calls = _duet_run(store, 1.0, 0.01)
        said: list[str] = []
        _, info = run_until_decided(config, store, GatePolicy.from_options(fail_above=10), 300, run_once, said.append)
    assert info["outcome"] == "PASS" and info["looks"] == 1 and calls == [6] and info["level"] == pytest.approx(0.025)
    assert said[-1].startswith("Until decided: PASS at look 1 (alpha 0.025)")
    stored = json.loads((tmp_path / "runs" / "d" / "run.json").read_text())["until_precise"]
    assert stored["outcome"] == "PASS" and stored["looks"] == 1


def test_a_noisy_duet_adds_splits_look_by_look_at_shrinking_levels_until_it_decides(tmp_path):
    from hello_bench.analysis.policy import GatePolicy
    from hello_bench.run.precision import run_until_decided

    config = _duet_config()
    with RunStore.open(tmp_path, "n", config.to_dict(), {"machine_id": "m"}) as store:
        run_once, calls = _duet_run(store, 1.3, 0.12, seed=3)
        said: list[str] = []
        _, info = run_until_decided(config, store, GatePolicy.from_options(fail_above=10), 3600, run_once, said.append)
    assert info["outcome"] == "FAIL" and info["looks"] >= 2 and calls == sorted(calls) and calls[0] == 6
    assert info["level"] == pytest.approx(0.05 / (info["looks"] * (info["looks"] + 1)))
    assert any("look 1 at alpha 0.025" in s and "adding" in s for s in said)


def test_a_duet_stopped_by_its_budget_says_what_more_would_decide(tmp_path, monkeypatch):
    import hello_bench.run.precision as precision
    from hello_bench.analysis.policy import GatePolicy

    clock = iter(range(0, 10_000, 100))  # every reading 100 s later: the first look uses the whole budget
    monkeypatch.setattr(precision.time, "monotonic", lambda: next(clock))
    config = _duet_config()
    with RunStore.open(tmp_path, "b", config.to_dict(), {"machine_id": "m"}) as store:
        run_once, _ = _duet_run(store, 1.08, 0.06, seed=1)
        _, info = precision.run_until_decided(config, store, GatePolicy.from_options(fail_above=10), 100, run_once,
                                              lambda _: None)  # fmt: skip
    assert info["outcome"] == "INCONCLUSIVE" and info["stopped"] == "time budget"
    assert info["more_splits"] is None or info["more_splits"] > 0
    assert "raise --max-time" in precision.decision_text(info) or "would not decide" in precision.decision_text(info)


def test_the_run_header_counts_the_first_rounds_trials():
    """A stranger read 'Run ci: 10 trials' then '1/12 trials': a duet's first look takes 6 splits (2^-6 beats its
    level 0.025), so the header counts 12, the round, not the config's 10."""
    from hello_bench.run.precision import first_look_trials

    assert first_look_trials(_duet_config(5), 10) == 12 and first_look_trials(_duet_config(8), 10) == 16
    one = Config(adapters=(AdapterSpec("sklearn-lr"),), splits=5)
    assert first_look_trials(one, 10) == one.n_trials() == 5  # one environment: until precise, as asked


def _tested(mean: float, se: float, n: int, method: str = "t", threshold: float = math.log(1.1), **measured):
    from hello_bench.analysis import gate

    m = gate.Measured("iris/lr/cpu", "fit time", (0.0,) * n, threshold, **measured)
    return gate.Tested(m, n, mean, se, df=n - 1, method=method)


def _decides(n: int, within: float, gap: float, level: float, correction: float = 0.0, extra: float = 0.0) -> bool:
    return sps.t.ppf(1 - level, n - 1) * math.sqrt(within * (1 / n + correction) + extra) <= gap


def test_the_splits_that_would_decide_are_the_fewest_whose_one_sided_bound_clears_the_threshold():
    """splits_for_decision, checked against the bound it plugs in: the n it returns decides, n - 1 does not; it
    never answers below the splits already run nor below the fewest pairs a ratio is tested on; the sign test's
    answer is 2^-n < level; no answer where no number of splits can decide."""
    from hello_bench.analysis.precision import splits_for_decision

    gap = math.log(1.1)
    n = splits_for_decision(_tested(0.0, 0.06, 5), 0.05)  # per-split variance 0.018
    assert n == 8 and _decides(8, 0.018, gap, 0.05) and not _decides(7, 0.018, gap, 0.05)
    strict = splits_for_decision(_tested(0.0, 0.06, 5), 0.01)
    assert strict is not None and strict > n and _decides(strict, 0.018, gap, 0.01)
    assert not _decides(strict - 1, 0.018, gap, 0.01)
    assert splits_for_decision(_tested(0.0, 0.001, 3), 0.05) == 5  # decided already, but never under 5 pairs
    assert splits_for_decision(_tested(0.0, 0.001, 9), 0.05) == 9  # nor under the splits run
    assert splits_for_decision(_tested(2 * gap, 0.06, 5), 0.05) == n  # as far above the threshold as 0 is below it
    # half of the separate-run variance cannot shrink with splits: the per-split part is what is left of se^2
    near = splits_for_decision(_tested(0.0, 0.06, 5, extra_var=0.0002), 0.05)
    assert near is not None and _decides(near, (0.0036 - 0.0002) * 5, gap, 0.05, extra=0.0002)
    assert not _decides(near - 1, (0.0036 - 0.0002) * 5, gap, 0.05, extra=0.0002)
    assert splits_for_decision(_tested(0.0, 0.01, 5, extra_var=0.0004), 0.05) == 5  # se^2 < extra: within is 0
    assert splits_for_decision(_tested(0.0, 0.01, 5, extra_var=0.01), 0.05) is None  # extra alone too wide
    # a difference with Nadeau-Bengio's correction: the variance of the mean keeps within x correction
    acc = _tested(0.0, 0.03, 5, threshold=0.05, kind="difference", correction=0.1)
    within = 0.03**2 / (1 / 5 + 0.1)
    found = splits_for_decision(acc, 0.05)
    assert (
        found is not None
        and _decides(found, within, 0.05, 0.05, 0.1)
        and not _decides(found - 1, within, 0.05, 0.05, 0.1)
    )
    assert splits_for_decision(_tested(0.0, 0.06, 5), 0.05, limit=7) is None  # 8 needed: past the limit
    assert splits_for_decision(_tested(0.0, 0.06, 5), 0.05, limit=8) == 8
    assert splits_for_decision(_tested(gap, 0.06, 5), 0.05) is None  # on the threshold: never
    assert splits_for_decision(_tested(0.0, math.nan, 5), 0.05) is None
    assert splits_for_decision(_tested(0.0, 0.06, 5, method="none"), 0.05) is None
    assert splits_for_decision(_tested(0.0, 0.0, 3, method="sign"), 0.05) == 5  # 2^-5 < 0.05 <= 2^-4
    assert splits_for_decision(_tested(0.0, 0.0, 3, method="sign"), 0.01) == 7
    assert splits_for_decision(_tested(0.0, 0.0, 9, method="sign"), 0.05) == 9
