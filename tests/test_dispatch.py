"""The empty-call costs: recovered exactly from a known clock, measured by the worker, carried by every record."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hello_bench.adapters import dispatch


class Clock:
    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


class Clocked:
    """A 'model' whose fit advances a clock by a fixed cost and, per epoch, its own cost and its steps' (ns), and
    records each epoch's duration as the adapters do (``epoch_times_ns_``); ``noise()`` is added to each epoch."""

    def __init__(self, clock: Clock, fixed: int, per_epoch: int, per_step: int, batch_size: int, noise=None) -> None:
        self.clock, self.fixed, self.per_epoch, self.per_step = clock, fixed, per_epoch, per_step
        self.batch_size, self.epochs, self.calls, self.noise = batch_size, 1, 0, noise or (lambda: 0)

    def _train(self, X: np.ndarray, y: np.ndarray, seed: int) -> None:
        self.calls += 1
        steps = -(-len(X) // self.batch_size)
        self.clock.now += (10**9 if self.calls == 1 else 0) + self.fixed  # a first call that compiles, the setup
        self.epoch_times_ns_ = []
        for _ in range(self.epochs):
            took = max(0, self.per_epoch + steps * self.per_step + int(self.noise()))
            self.clock.now += took
            self.epoch_times_ns_.append(took)

    def sync(self) -> None:
        pass


@pytest.mark.parametrize("fixed, per_epoch, per_step, batch_size", [
    (5_000_000, 80_000_000, 350_000, 1),  # Keras-like: a costly epoch
    (1_000, 300, 40, 32),  # a compiled loop: epochs are doubled until the run is long enough to resolve
    (0, 0, 0, 1),  # nothing at all costs nothing, never a negative cost
])  # fmt: skip
def test_costs_are_recovered_from_the_differences(fixed, per_epoch, per_step, batch_size):
    clock = Clock()
    model = Clocked(clock, fixed, per_epoch, per_step, batch_size)
    step, epoch = dispatch.step_and_epoch_costs(model, batch_size, timer=clock)
    assert step == pytest.approx(per_step / 1e9, rel=1e-9, abs=1e-15)
    assert epoch == pytest.approx(per_epoch / 1e9, rel=1e-9, abs=1e-15)


def test_a_noisy_setup_before_the_first_epoch_does_not_reach_the_costs():
    """Keras on TensorFlow pays hundreds of noisy ms before its first epoch: outside every epoch, so outside
    the costs (an adapter without epoch times would be measured from whole fits)."""
    clock, rng = Clock(), np.random.default_rng(0)
    model = Clocked(clock, 400_000_000, 30_000_000, 20_000, 1)
    model._train = _with_setup_noise(model._train, clock, rng)
    step, epoch = dispatch.step_and_epoch_costs(model, 1, timer=clock)
    assert step == pytest.approx(20e-6) and epoch == pytest.approx(30e-3)


def _with_setup_noise(train, clock, rng):
    def noisy(X, y, seed):
        clock.now += int(rng.uniform(0, 100e6))
        train(X, y, seed)

    return noisy


def test_a_step_cost_hidden_in_noisy_epochs_is_resolved_not_guessed():
    """Epochs of 30 ms +- 5 ms hide 20 us per step in 64 steps; the longer epochs grow until the difference
    stands out of the epochs' spread."""
    rng = np.random.default_rng(0)
    model = Clocked(Clock(), 0, 30_000_000, 20_000, 1, noise=lambda: rng.uniform(-5e6, 5e6))
    step, _ = dispatch.step_and_epoch_costs(model, 1, timer=model.clock)
    assert step == pytest.approx(20e-6, rel=0.25)


def test_a_negative_difference_is_zero_not_a_negative_cost():
    """Noise can make the longer epochs faster; at the largest a cost per step is then below resolution: 0."""
    clock = Clock()

    class Backwards(Clocked):
        def _train(self, X, y, seed):
            self.epoch_times_ns_ = [1_000_000 - len(X)] * self.epochs  # more rows, less time: only noise does this
            self.clock.now += sum(self.epoch_times_ns_)

    step, epoch = dispatch.step_and_epoch_costs(Backwards(clock, 0, 0, 0, 1), 1, timer=clock)
    assert step == 0.0 and epoch >= 0.0


def test_a_cost_not_resolved_within_the_budget_is_unknown_not_a_guess():
    """Noise larger than anything the budget lets the epochs grow to: NaN (the worker then records no cost)."""
    rng = np.random.default_rng(1)
    model = Clocked(Clock(), 0, 0, 1_000, 1, noise=lambda: rng.uniform(0, 5e9))  # up to 5 s of noise per epoch
    step, epoch = dispatch.step_and_epoch_costs(model, 1, timer=model.clock)
    assert np.isnan(step) and np.isnan(epoch)


def test_the_hook_does_not_touch_the_adapter_and_caps_the_batch():
    from hello_bench.adapters.sklearn_mlp import SklearnMLPClassifier

    clf = SklearnMLPClassifier(epochs=3, batch_size=10**6, random_state=1)
    before = clf.get_params()
    costs = clf.empty_call_costs()
    assert clf.get_params() == before and not hasattr(clf, "classes_")
    assert set(costs) == {"step", "epoch", "predict"}
    assert all(v >= 0 for v in costs.values()) and costs["predict"] > 0


def test_the_budget_is_the_runs_setting_and_stays_out_of_stored_configs_by_default():
    from hello_bench.measure.settings import TimingSettings

    assert "call_cost_budget_s" not in TimingSettings().to_dict()
    assert TimingSettings.from_dict({"call_cost_budget_s": 5}).to_dict()["call_cost_budget_s"] == 5
    with pytest.raises(ValueError, match="call_cost_budget_s must be a number of seconds"):
        TimingSettings(call_cost_budget_s=0)


def test_adapters_without_the_hook_have_no_costs():
    from hello_bench.adapters.sklearn_lr import SklearnLRClassifier

    assert SklearnLRClassifier().empty_call_costs() is None


def test_every_trial_records_its_steps_and_its_workers_costs(tmp_path, monkeypatch):
    """Through the worker: optimiser steps per fit, the group's empty-call costs, the floor flag (records of
    adapters that are no floor leave it out: tests/test_harness.py's record has none), the shape warm-up."""
    pytest.importorskip("numba")
    from hello_bench.run.config import AdapterSpec, Config, validate
    from hello_bench.store.reader import read_records
    from hello_bench.store.writer import RunStore
    from tests.conftest import run_local
    from tests.test_harness import TINY_TIMING

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    adapters = (AdapterSpec("numba-mlp", "seed", (("epochs", 2),)),)
    timing = dataclasses.replace(TINY_TIMING, serving=False, curves=False)
    config = validate(Config(adapters=adapters, splits=2, timing=timing, trial_timeout_s=60.0), "test")
    store = RunStore.open(tmp_path, "r", config.to_dict(), {"machine_id": "test"})
    run_local(config, store)
    first, record = sorted(read_records(store.path / "records.jsonl"), key=lambda r: r["split_seed"])
    assert first["status"] == record["status"] == "ok"
    # the worker's first trial of a data shape had an untimed fit on its own data before its timed one
    assert first["shape_warmup_s"] > 0 and "shape_warmup_s" not in record
    assert record["n_steps"] == 2 * record["n_train"]  # batch size 1: one step per row and epoch
    assert record["step_overhead_s"] >= 0 and record["epoch_overhead_s"] >= 0
    assert record["predict_overhead_s"] > 0 and record["overhead_probe_s"] > 0
    assert record["reference_floor"] is True
