"""bench.timing with a fake timer: exact durations, budgets, drift, GC accounting."""

from __future__ import annotations

import gc

import pytest

from hello_bench.measure.timing import (
    GCCounter,
    drift_ratio,
    gc_paused,
    measure,
    measure_for,
    measure_for_cpu,
    time_call,
    time_call_cpu,
    timer_overhead_ns,
)


class FakeTimer:
    """Advances by ``step`` ns on each call; records the calls."""

    def __init__(self, step: int = 10):
        self.now = 0
        self.step = step
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        self.now += self.step
        return self.now


def test_time_call_returns_result_and_synchronised_duration():
    timer = FakeTimer(step=7)
    synced = []
    result, ns = time_call(lambda: "x", timer=timer, sync=lambda: synced.append(timer.now))
    assert result == "x" and ns == 7 and synced == [7]  # sync ran before the timer stopped


def test_measure_times_each_call_after_untimed_warmup():
    timer = FakeTimer(step=5)
    calls = []
    durations = measure(lambda: calls.append(1), warmup=3, rounds=4, timer=timer)
    assert durations == [5, 5, 5, 5] and len(calls) == 7 and timer.calls == 8  # warm-up calls are not timed
    with pytest.raises(ValueError, match="warmup must be >= 0 and rounds >= 1"):
        measure(lambda: None, rounds=0)


def test_measure_for_respects_min_rounds_budget_and_max_rounds():
    # each timer call advances 10 ns: a call measures 10 ns and the clock moves 20 ns per round
    assert len(measure_for(lambda: None, min_rounds=3, max_rounds=100, budget_ns=1, timer=FakeTimer())) == 3
    assert len(measure_for(lambda: None, min_rounds=1, max_rounds=100, budget_ns=95, timer=FakeTimer())) == 5
    assert len(measure_for(lambda: None, min_rounds=1, max_rounds=4, budget_ns=10**9, timer=FakeTimer())) == 4
    assert set(measure_for(lambda: None, min_rounds=2, max_rounds=5, budget_ns=0, timer=FakeTimer())) == {10}


def test_timer_overhead_is_the_median_pair():
    assert timer_overhead_ns(FakeTimer(step=3), samples=11) == 3.0
    with pytest.raises(ValueError):
        timer_overhead_ns(samples=0)


def test_drift_ratio_compares_last_third_with_first():
    assert drift_ratio([100] * 6 + [150] * 6 + [200] * 6) == pytest.approx(2.0)
    assert drift_ratio([100] * 30) == 1.0
    assert drift_ratio([100] * 8) is None  # too few calls to say


def test_gc_counter_counts_collections_and_gc_paused_restores_state():
    with GCCounter() as counter:
        gc.collect()
        gc.collect()
    assert counter.collections >= 2
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # restored to what it was
    finally:
        gc.enable()


def test_time_call_cpu_reads_the_cpu_clock_outside_the_wall_window():
    order = []
    wall, cpu = FakeTimer(step=7), FakeTimer(step=3)

    def tick(timer, name):
        def read() -> int:
            order.append(name)
            return timer()

        return read

    result, wall_ns, cpu_ns = time_call_cpu(lambda: order.append("fn") or "x", timer=tick(wall, "wall"),
                                            cpu_timer=tick(cpu, "cpu"), sync=lambda: order.append("sync"))  # fmt: skip
    assert result == "x" and wall_ns == 7 and cpu_ns == 3
    assert order == ["cpu", "wall", "fn", "sync", "wall", "cpu"]  # the wall never pays for the CPU clock's read


def test_measure_for_cpu_charges_each_call_its_cpu_and_stops_on_the_wall_budget():
    wall, cpu = FakeTimer(step=10), FakeTimer(step=4)
    durations, used = measure_for_cpu(lambda: None, min_rounds=1, max_rounds=100, budget_ns=95, timer=wall,
                                      cpu_timer=cpu)  # fmt: skip
    assert durations == [10] * 5 and used == [4] * 5  # the same count as measure_for: the wall decides
    assert cpu.calls == 10
    durations, used = measure_for_cpu(lambda: None, min_rounds=3, max_rounds=3, budget_ns=10**9, timer=FakeTimer(),
                                      cpu_timer=FakeTimer(step=1))  # fmt: skip
    assert len(durations) == len(used) == 3
    # measure_for is the same loop without a CPU clock
    assert measure_for(lambda: None, min_rounds=1, max_rounds=100, budget_ns=95, timer=FakeTimer()) == [10] * 5
