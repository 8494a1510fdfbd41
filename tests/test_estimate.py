"""A run's time before it runs (history, per step, pilot), its warnings, the progress ETA, and MLPs sized to the data."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hello_bench.cli import main
from hello_bench.measure.settings import TimingSettings
from hello_bench.run import estimate as est
from hello_bench.run.config import AdapterSpec, Config, validate
from hello_bench.run.config_files import load_config
from hello_bench.run.matrix import expand
from hello_bench.run.progress import Progress
from hello_bench.run.sizing import batch_within, fit_to_data
from hello_bench.store.writer import RunStore
from tests.conftest import run_local

TINY = TimingSettings(warmup=1, latency_min_calls=5, latency_budget_s=0.01, stock_min_calls=2, stock_budget_s=0.01,
                      batch_sizes=(1,), throughput_budget_s=0.005, serving=False, curves=False)  # fmt: skip
MLP = {"name": "sklearn-mlp", "params": {"epochs": 4, "batch_size": 16}}


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setenv("BENCH_ADAPTERS", "fake-ok=tests.fake_adapters:_Fake")


def tiny(*adapters: object, splits: int = 2, **kw: object) -> Config:
    from hello_bench.run.config import config_from_dict

    data = {"adapters": list(adapters), "devices": ["cpu"], "splits": splits, "timing": TINY.to_dict(), **kw}
    return config_from_dict(data, "test")


def big_csv(path, rows: int = 2000):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(4)})
    frame["y"] = rng.choice(["a", "b", "c"], size=rows)
    frame.to_csv(path, index=False)
    return path


# -- the size of a fit ------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(rows=st.integers(1, 10**6), epochs=st.integers(1, 1000), batch=st.integers(1, 512),
       limit=st.integers(1, 10**6))  # fmt: skip
def test_the_chosen_batch_is_the_smallest_that_keeps_a_fit_within_the_limit(rows, epochs, batch, limit):
    chosen = batch_within(rows, epochs, batch, limit)
    steps = epochs * math.ceil(rows / chosen)
    assert chosen >= batch
    if epochs > limit:  # no batch size can: one batch of every row per epoch
        assert chosen >= rows or epochs * math.ceil(rows / batch) <= limit
    else:
        assert steps <= limit
        assert chosen == batch or epochs * math.ceil(rows / (chosen - 1)) > limit


def test_the_default_matrix_is_unchanged_on_iris_and_sized_on_bigger_data(tmp_path):
    from hello_bench.run.config_files import builtin_config_path

    default = load_config(builtin_config_path("default"))
    assert fit_to_data(default) == (default, [])  # the blog post's experiment: batch 1, 100 epochs, 7,500 steps
    from dataclasses import replace

    from hello_bench.data.datasets import DatasetSpec

    mine = replace(default, datasets=(DatasetSpec(str(big_csv(tmp_path / "d.csv")), "y"),))
    sized, notes = fit_to_data(mine)
    changed = [s for s in sized.adapters if "batch_size" in dict(s.params)]
    assert len(changed) == len(notes) == 5 and all(dict(s.params)["batch_size"] == 14 for s in changed)  # the floor too
    assert all(s.profile == "seed" for s in changed) and "7,200 steps per fit, not 100,000" in notes[0]
    assert all(est.steps_per_fit(s.resolved_params(), 1000) <= 7500 for s in changed)


def test_adapters_named_on_the_command_line_run_as_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    big_csv(tmp_path / "d.csv")
    common = ["run", "--dry-run", "--no-pilot", "--datasets", "d.csv", "--target", "y", "--devices", "cpu"]
    assert main([*common, "--splits", "1"]) == 0
    out = capsys.readouterr()
    assert "d/torch-mlp:seed(batch_size=14)/cpu/split-00" in out.out and "max_fit_steps = 7500" in out.err
    assert main([*common, "--adapters", "torch-mlp:seed", "--splits", "1"]) == 0
    assert capsys.readouterr().out.split() == ["d/torch-mlp:seed/cpu/split-00"]


# -- estimates ------------------------------------------------------------------------------------
def test_history_of_the_same_cell_then_per_step_for_other_settings(tmp_path, monkeypatch):
    from tests.invariants import fast_runs

    fast_runs(monkeypatch)
    ran = tiny("fake-ok", MLP)
    with RunStore.open(tmp_path, "before", ran.to_dict(), {"machine_id": "test"}) as store:
        run_local(ran, store)
    again = est.estimate(ran, list(expand(ran)), tmp_path, pilots="none")
    assert {g.source.split(":")[0] for g in again.groups.values()} == {"history"}
    assert all(g.trial_s and g.trial_s > 0 for g in again.groups.values())
    other = tiny({"name": "sklearn-mlp", "params": {"epochs": 8, "batch_size": 4}})
    found = est.estimate(other, list(expand(other)), tmp_path, pilots="none").groups
    (only,) = found.values()
    assert only.source.startswith("per step: 152 steps")  # 8 epochs x ceil(75 / 4) batches


def test_a_pilot_times_a_few_epochs_or_one_whole_trial(tmp_path):
    config = tiny("fake-ok", {"name": "sklearn-mlp", "params": {"epochs": 50, "batch_size": 16}}, splits=1)
    found = est.estimate(config, list(expand(config)), tmp_path, pilots="all").groups
    mlp, fake = found["sklearn-mlp(batch_size=16,epochs=50)/cpu"], found["fake-ok/cpu"]
    assert mlp.source.startswith("pilot: 3 epochs, then") and mlp.trial_s and mlp.startup_s > 0
    assert fake.source == "pilot: one trial" and fake.trial_s and fake.trial_s > 0
    none = est.estimate(config, list(expand(config)), tmp_path, pilots="none").groups
    assert all(g.trial_s is None for g in none.values())


def test_a_trial_expected_past_its_limit_is_a_warning_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(est, "pilot", lambda config, trial, *a: est.GroupEstimate(trial.group, 900.0, 1.0, "pilot"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text('adapters = ["fake-ok"]\ndevices = ["cpu"]\nsplits = 1\ntrial_timeout_s = 60\n')
    assert main(["run", "--config", "c.toml", "--dry-run", "--results-dir", "results"]) == 0
    err = capsys.readouterr().err
    assert "warning: fake-ok/cpu: a trial is expected to take ~15.0 min (pilot), past its trial_timeout_s=60" in err
    assert not (tmp_path / "results").exists()


def test_a_real_run_warns_before_its_first_trial_and_its_eta_uses_the_estimate(tmp_path, capsys, monkeypatch):
    from tests.invariants import fast_runs

    fast_runs(monkeypatch)
    monkeypatch.setattr(est, "PILOT_ABOVE_STEPS", 0)  # pilot everything a real run would pilot if it were long
    monkeypatch.setattr(est, "pilot", lambda config, trial, *a: est.GroupEstimate(trial.group, 900.0, 1.0, "pilot"))
    (tmp_path / "c.toml").write_text('adapters = [{ name = "sklearn-mlp", params = { epochs = 2 } }]\n'
                                     'devices = ["cpu"]\nsplits = 1\ntrial_timeout_s = 60\n[timing]\nserving = false\n')  # fmt: skip
    code = main(["run", "--config", str(tmp_path / "c.toml"), "--results-dir", str(tmp_path / "r"), "--run-id", "x"])
    err = capsys.readouterr().err
    assert code == 0 and err.index("warning: sklearn-mlp(epochs=2)/cpu") < err.index("Run x: 1 trials")


def test_the_eta_follows_the_estimate_corrected_by_what_ran():
    progress = Progress(4, live=False, stream=open("/dev/null", "w"))
    progress.expect({"a": ("g", 10.0), "b": ("g", 10.0), "c": ("h", 20.0), "d": ("h", None)}, {"g": 5.0, "h": 5.0})
    assert progress._planned_eta(0.0) == pytest.approx(10 + 10 + 20 + 40 / 3 + 5 + 5)  # unknown: the typical trial
    progress.start = time.monotonic() - 30.0  # "a" took twice its estimate (start-up included)
    progress.finished("a", "ok")
    assert progress._planned_eta(30.0) == pytest.approx(2 * (10 + 20 + 40 / 3 + 5))


def test_steps_and_training_rows_as_train_test_split_counts_them():
    assert est.n_train(150, 0.5) == 75 and est.n_train(151, 0.5) == 75 and est.n_train(10, 0.25) == 7
    assert est.steps_per_fit({"epochs": 100, "batch_size": 1}, 75) == 7500
    assert est.steps_per_fit({"epochs": 3, "batch_size": "auto"}, 75) is None
    assert est.steps_per_fit({"epochs": True, "batch_size": 2}, 75) is None
    assert validate(Config(adapters=(AdapterSpec("sklearn-lr"),), max_fit_steps=1), "t").max_fit_steps == 1
