"""The timed calls a fitted model serves, measured the same way for the trial's own path and every serving path
(:mod:`hello_bench.measure.trial`, :mod:`hello_bench.measure.serving`, which both import this module and never each other):
single-call latency with its CPU time, throughput per batch size, and agreement with the adapter's output."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np

from hello_bench.measure.settings import TimingSettings
from hello_bench.measure.timing import gc_paused, measure_for_cpu

#: Waits for queued device work before a timer stops.
Sync = Callable[[], None] | None


def percentiles_us(durations_ns: list[int]) -> dict:
    """p50/p90/p99 and mean in microseconds, with the number of samples."""
    arr = np.asarray(durations_ns, dtype=np.float64) / 1e3
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"p50_us": p50, "p90_us": p90, "p99_us": p99, "mean_us": float(arr.mean()), "n": int(arr.size)}


def agreement(proba: np.ndarray, reference: np.ndarray) -> dict:
    """How far a path's probabilities are from the adapter's: max |dp| and share of equal labels."""
    a, b = np.asarray(proba, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        return {"max_abs_diff": None, "label_agreement": 0.0, "shape": list(a.shape)}
    return {
        "max_abs_diff": float(np.abs(a - b).max()),
        "label_agreement": float(np.mean(a.argmax(axis=1) == b.argmax(axis=1))),
    }


def cpu_summary(cpu_ns: list[int]) -> dict:
    """Per-call process CPU time of a latency loop: p50 and mean in microseconds, the loop's total in seconds."""
    arr = np.asarray(cpu_ns, dtype=np.float64)
    return {"p50_us": float(np.percentile(arr, 50)) / 1e3, "mean_us": float(arr.mean()) / 1e3,
            "total_s": float(arr.sum()) / 1e9, "n": int(arr.size)}  # fmt: skip


def latency(
    fn: Callable[[], object], min_calls: int, budget_s: float, settings: TimingSettings, sync: Sync
) -> tuple[list[int], list[int]]:
    """Single-call durations and their process CPU times, with the garbage collector paused (as ``timeit``)."""
    with gc_paused():
        return measure_for_cpu(
            fn,
            min_rounds=min_calls,
            max_rounds=max(min_calls, settings.latency_max_calls),
            budget_ns=int(budget_s * 1e9),
            sync=sync,
        )


def throughput(
    predict: Callable[[np.ndarray], object], X: np.ndarray, settings: TimingSettings, sync: Sync
) -> tuple[dict, dict]:
    """Samples per second at each batch size (and the whole test set), median over calls: per wall second and
    per second of process CPU time (None where a call's CPU time was below the clock's resolution)."""
    sizes = sorted({min(b, len(X)) for b in settings.batch_sizes} | {len(X)})
    out, per_cpu = {}, {}
    for b in sizes:
        batch = X[:b]
        predict(batch)  # the first call at a shape may compile

        def call(batch: np.ndarray = batch) -> object:
            return predict(batch)

        with gc_paused():
            durations, cpu = measure_for_cpu(
                call,
                min_rounds=3,
                max_rounds=10_000,
                budget_ns=int(settings.throughput_budget_s * 1e9),
                sync=sync,
            )
        out[str(b)] = b / (statistics.median(durations) / 1e9)
        cpu_median = statistics.median(cpu)
        per_cpu[str(b)] = b / (cpu_median / 1e9) if cpu_median > 0 else None
    return out, per_cpu
