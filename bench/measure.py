"""Measure one fitted-and-timed trial: the sequence every trial goes through.

No I/O and no framework imports: the adapter brings its framework, the caller
brings the data. Used by the worker process and by ``bench seed``.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .timing import measure, measure_for, time_call


@dataclass(frozen=True)
class TimingSettings:
    """How much to measure after each fit.

    Attributes
    ----------
    warmup : int
        Untimed single-sample predict calls after the first (cold) one.
    latency_min_calls, latency_max_calls, latency_budget_s
        Single-sample latency: calls are timed one by one until the budget is
        spent, between min and max calls (p99 needs hundreds).
    stock_min_calls, stock_budget_s
        The same for the framework's stock predict API (can be ~50 ms a call).
    batch_sizes : tuple of int
        Throughput batch sizes; the whole test set is added, all capped by it.
    throughput_budget_s : float
        Time per batch size.
    """

    warmup: int = 20
    latency_min_calls: int = 200
    latency_max_calls: int = 5000
    latency_budget_s: float = 0.5
    stock_min_calls: int = 10
    stock_budget_s: float = 0.5
    batch_sizes: tuple[int, ...] = (1, 32, 1024)
    throughput_budget_s: float = 0.1

    @classmethod
    def from_dict(cls, data: dict) -> TimingSettings:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown timing setting(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        data = dict(data)
        if "batch_sizes" in data:
            data["batch_sizes"] = tuple(int(b) for b in data["batch_sizes"])
        return cls(**data)


@dataclass
class Split:
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)


def percentiles_us(durations_ns: list[int]) -> dict:
    """p50/p90/p99 and mean in microseconds, with the number of samples."""
    arr = np.asarray(durations_ns, dtype=np.float64) / 1e3
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"p50_us": p50, "p90_us": p90, "p99_us": p99, "mean_us": float(arr.mean()), "n": int(arr.size)}


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (Linux: ``/proc/self/clear_refs``), so the
    next reading is the peak of one trial, not of everything before it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _rss_peak_mb() -> float:
    # VmHWM belongs to this address space; getrusage's ru_maxrss survives exec on
    # Linux and would report the parent's peak when the parent was bigger.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB on Linux


def _rss_now_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def scores(clf, X_test, y_test, proba) -> dict:
    """Accuracy, macro-F1 and log loss on the test set."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    pred = clf.classes_[np.argmax(proba, axis=1)]
    return {
        "accuracy": float(accuracy_score(y_test, pred)),
        "f1_macro": float(f1_score(y_test, pred, average="macro")),
        "log_loss": float(log_loss(y_test, np.asarray(proba, dtype=np.float64), labels=clf.classes_)),
    }


def measure_trial(clf, split: Split, settings: TimingSettings, gpu_memory=None) -> dict:
    """Fit ``clf`` and measure it; return the metric fields of one record.

    Order: fit (timed, wall and CPU), first predict on one sample (cold,
    includes tracing/compilation), warm-up, single-sample latency through the
    adapter and through the stock API, throughput per batch size, scores.

    Parameters
    ----------
    clf : adapter
        Unfitted; ``clf.sync`` is called before every timer stops.
    gpu_memory : callable or None
        Returns peak GPU memory in MiB since the last call (None on CPU).
    """
    sync = clf.sync
    reset_peak_rss()
    rss_before = _rss_now_mb()
    out: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cpu0 = time.process_time_ns()
        _, fit_ns = time_call(lambda: clf.fit(split.X_train, split.y_train), sync=sync)
        out["fit_cpu_s"] = (time.process_time_ns() - cpu0) / 1e9
    out["fit_wall_s"] = fit_ns / 1e9
    out["warnings"] = sorted({f"{type(w.message).__name__}: {str(w.message).splitlines()[0][:160]}" for w in caught})
    epochs = getattr(clf, "epoch_times_ns_", None)
    if epochs:
        out["n_epochs"] = len(epochs)
        out["first_epoch_s"] = epochs[0] / 1e9
        out["epoch_median_s"] = statistics.median(epochs[1:] or epochs) / 1e9
    out["rss_fit_delta_mb"] = _rss_now_mb() - rss_before

    one = np.ascontiguousarray(split.X_test[:1], dtype=np.float32)
    _, cold_ns = time_call(lambda: clf.predict_proba(one), sync=sync)
    out["cold_predict_s"] = cold_ns / 1e9
    measure(lambda: clf.predict_proba(one), warmup=settings.warmup, rounds=1, sync=sync)
    lat = measure_for(
        lambda: clf.predict_proba(one),
        min_rounds=settings.latency_min_calls,
        max_rounds=settings.latency_max_calls,
        budget_ns=int(settings.latency_budget_s * 1e9),
        sync=sync,
    )
    out["latency"] = percentiles_us(lat)
    out["latency_raw_ns"] = lat

    # The stock API's first call is timed on its own: Keras builds its predict
    # function and input pipeline there.
    _, stock_cold_ns = time_call(lambda: clf.predict_proba_stock(one), sync=sync)
    out["stock_cold_predict_s"] = stock_cold_ns / 1e9
    stock = measure_for(
        lambda: clf.predict_proba_stock(one),
        min_rounds=settings.stock_min_calls,
        max_rounds=settings.latency_max_calls,
        budget_ns=int(settings.stock_budget_s * 1e9),
        sync=sync,
    )
    out["stock_latency"] = percentiles_us(stock)
    out["stock_latency_raw_ns"] = stock

    X_test = np.ascontiguousarray(split.X_test, dtype=np.float32)
    n_test = len(X_test)
    sizes = sorted({min(b, n_test) for b in settings.batch_sizes} | {n_test})
    throughput = {}
    for b in sizes:
        batch = X_test[:b]

        def predict_batch(batch=batch):
            return clf.predict_proba(batch)

        predict_batch()  # first call at this shape may compile
        durations = measure_for(
            predict_batch,
            min_rounds=3,
            max_rounds=10_000,
            budget_ns=int(settings.throughput_budget_s * 1e9),
            sync=sync,
        )
        throughput[str(b)] = b / (statistics.median(durations) / 1e9)
    out["throughput_sps"] = throughput

    proba = clf.predict_proba(split.X_test)
    out.update(scores(clf, split.X_test, split.y_test, proba))
    out["rss_peak_mb"] = _rss_peak_mb()
    out["gpu_peak_mb"] = gpu_memory() if gpu_memory else None
    return out
