"""Measure one trial: the sequence every trial goes through, in one place.

No framework imports (the adapter brings its framework) and no files (the
caller brings the data; peak memory is read from ``/proc`` through
:mod:`bench.memory`). Used by the worker process.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hello_bench.measure import memory
from hello_bench.measure.calls import agreement, cpu_summary, latency, percentiles_us, throughput
from hello_bench.measure.curves import CurveRecorder
from hello_bench.measure.settings import TimingSettings
from hello_bench.measure.timing import (
    DRIFT_LIMIT,
    GCCounter,
    drift_ratio,
    drifted,
    measure,
    time_call,
    time_call_cpu,
    timer_overhead_ns,
)

#: Latency is measured at most this many times per trial when it drifts within the measurement.
MAX_LATENCY_ATTEMPTS = 3


@dataclass
class Split:
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)


def test_rows_sha(test_index: np.ndarray) -> str:
    """Short hash of a split's test-row indices: two records with the same hash used the same split."""
    return hashlib.sha1(np.sort(np.asarray(test_index, dtype=np.int64)).tobytes()).hexdigest()[:16]


def probabilities(proba: Any) -> np.ndarray:
    """float64 probabilities, rows renormalised (float32 sums drift from 1 by ~1e-7)."""
    p = np.asarray(proba, dtype=np.float64)
    return p / p.sum(axis=1, keepdims=True)


def scores(classes: np.ndarray, y_test: np.ndarray, proba: Any) -> dict:
    """Accuracy, macro-F1 and log loss on the test set."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    p = probabilities(proba)
    pred = classes[np.argmax(p, axis=1)]
    return {
        "accuracy": float(accuracy_score(y_test, pred)),
        "f1_macro": float(f1_score(y_test, pred, average="macro")),
        "log_loss": float(log_loss(y_test, p, labels=classes)),
    }


def _fit(clf: Any, split: Split, settings: TimingSettings) -> dict:
    """Fit, timed (wall and CPU), with the learning curve recorded outside the clock."""
    recorder = CurveRecorder(split.X_test, split.y_test, clf.sync) if settings.curves and clf.iterative else None
    clf.set_epoch_callback(recorder)
    rss_before = memory.rss_now_mb()
    with warnings.catch_warnings(record=True) as caught, GCCounter() as gc_fit:
        warnings.simplefilter("always")
        cpu0 = time.process_time_ns()
        if recorder:
            recorder.start()
        _, fit_ns = time_call(lambda: clf.fit(split.X_train, split.y_train), sync=clf.sync)
        cpu_ns = time.process_time_ns() - cpu0
    clf.set_epoch_callback(None)
    paused, paused_cpu = (recorder.paused_ns, recorder.paused_cpu_ns) if recorder else (0, 0)
    out: dict = {
        "fit_wall_s": (fit_ns - paused) / 1e9,
        "fit_cpu_s": (cpu_ns - paused_cpu) / 1e9,
        "warnings": sorted({f"{type(w.message).__name__}: {str(w.message).splitlines()[0][:160]}" for w in caught}),
        "rss_fit_delta_mb": memory.rss_now_mb() - rss_before,
        "gc": {"fit": gc_fit.collections},
    }
    if recorder:
        out["curve"] = recorder.as_record()
        out["curve_eval_s"] = paused / 1e9
    steps = getattr(clf, "n_steps_", None)
    if steps is not None:
        out["n_steps"] = int(steps)
    epochs = getattr(clf, "epoch_times_ns_", None)
    if epochs:
        out["n_epochs"] = len(epochs)
        out["first_epoch_s"] = epochs[0] / 1e9
        out["epoch_median_s"] = statistics.median(epochs[1:] or epochs) / 1e9
    return out


def _predict(clf: Any, split: Split, settings: TimingSettings) -> dict:
    """Cold first call, then latency and throughput of the adapter's path and the stock API."""
    sync = clf.sync
    one = np.ascontiguousarray(split.X_test[:1], dtype=np.float32)
    out: dict = {}
    _, cold_ns, cold_cpu_ns = time_call_cpu(lambda: clf.predict_proba(one), sync=sync)
    out["cold_predict_s"], out["cold_predict_cpu_s"] = cold_ns / 1e9, cold_cpu_ns / 1e9
    measure(lambda: clf.predict_proba(one), warmup=settings.warmup, rounds=1, sync=sync)
    attempts: list[dict] = []
    with GCCounter() as gc_latency:
        while True:
            lat, lat_cpu = latency(
                lambda: clf.predict_proba(one), settings.latency_min_calls, settings.latency_budget_s, settings, sync
            )
            drift = drift_ratio(lat)
            if not drifted(drift) or len(attempts) + 1 >= MAX_LATENCY_ATTEMPTS:
                break
            # The machine's speed changed while this was measured: keep the attempt, measure again.
            attempts.append({"latency": percentiles_us(lat), "latency_drift": drift, "drift_limit": DRIFT_LIMIT})
    out.update(latency=percentiles_us(lat), latency_raw_ns=lat, latency_drift=drift, latency_cpu=cpu_summary(lat_cpu))
    if attempts:
        out["latency_attempts"] = attempts
    out["gc_latency"] = gc_latency.collections
    out["gc_disabled_in_latency"] = True
    # The stock API's first call is timed on its own: Keras builds its predict
    # function and input pipeline there.
    _, stock_cold_ns, stock_cold_cpu_ns = time_call_cpu(lambda: clf.predict_proba_stock(one), sync=sync)
    out["stock_cold_predict_s"], out["stock_cold_predict_cpu_s"] = stock_cold_ns / 1e9, stock_cold_cpu_ns / 1e9
    stock, stock_cpu = latency(
        lambda: clf.predict_proba_stock(one), settings.stock_min_calls, settings.stock_budget_s, settings, sync
    )
    out.update(
        stock_latency=percentiles_us(stock), stock_latency_raw_ns=stock, stock_latency_cpu=cpu_summary(stock_cpu)
    )
    X_test = np.ascontiguousarray(split.X_test, dtype=np.float32)
    out["throughput_sps"], out["throughput_cpu_sps"] = throughput(clf.predict_proba, X_test, settings, sync)
    return out


def registered_metrics(clf: Any, split: Split) -> tuple[dict, list[str]]:
    """Every metric registered with a measuring function (hello_bench.record.register), after the timed work,
    and why each one that failed has no value (kept in the record's warnings: never a silent gap)."""
    from hello_bench.record import measured_metrics

    out: dict = {}
    failed: list[str] = []
    for m in measured_metrics():
        out[m.column] = None
        try:
            value = m.measure(clf, split) if m.measure else None
            if value is None:
                continue
            number = float(value)
        except Exception as err:  # a broken metric costs its value, not the trial
            failed.append(f"metric {m.column} not measured: {type(err).__name__}: {str(err).splitlines()[0][:160]}")
            continue
        # the record refuses an impossible value; checked here, it costs the metric, never the trial's other numbers
        why = f"{number!r}, not a finite number" if not math.isfinite(number) else m.invalid(number)
        if not why and m.kind == "count" and not number.is_integer():  # a count compares exactly: whole numbers
            why = f"{number!r}, not a whole number (a count)"
        if why:
            failed.append(f"metric {m.column} not measured: it returned {why}")
        else:
            out[m.column] = number
    return out, failed


def measure_trial(clf: Any, split: Split, settings: TimingSettings, threads: int = 1, serve: bool = True) -> dict:
    """Fit ``clf`` and measure it; return the measurement fields of one record.

    Order: fit (timed, wall and CPU, learning curve outside the clock), first
    predict on one sample (cold: includes tracing/compilation), warm-up,
    single-sample latency through the adapter and through the stock API,
    throughput per batch size, scores, then every serving path.

    Parameters
    ----------
    clf : adapter
        Unfitted; ``clf.sync`` is called before every timer stops.
    threads : int
        Thread count for serving paths that take one (ONNX Runtime).
    serve : bool
        Measure the adapter's serving paths (when the settings ask for them).
    """
    memory.reset_peak_rss()
    probe = clf.gpu_memory_probe()
    out: dict[str, Any] = {"timer_overhead_ns": timer_overhead_ns()}
    out.update(_fit(clf, split, settings))
    out.update(_predict(clf, split, settings))
    gc_latency = out.pop("gc_latency")
    out["gc"]["latency"] = gc_latency
    proba = clf.predict_proba(split.X_test)
    out.update(scores(clf.classes_, split.y_test, proba))
    fitted = clf.classes_[np.argmax(probabilities(clf.predict_proba(split.X_train)), axis=1)]
    out["train_accuracy"] = float(np.mean(fitted == split.y_train))  # the report's target comes from it, not test rows
    out["stock_agreement"] = agreement(clf.predict_proba_stock(split.X_test), proba)
    out["rss_peak_mb"] = memory.rss_peak_mb()
    registered, failed = registered_metrics(clf, split)
    if registered:
        out["metrics"] = registered
    if failed:
        out["warnings"] = sorted({*out.get("warnings", []), *failed})
    out["gpu_peak_mb"] = probe() if probe else None
    if settings.instructions and threads == 1:  # after the timed work: the counted runs disturb nothing timed
        from hello_bench.measure.instructions import first_of_worker

        out["instructions"] = first_of_worker(clf, split)
    if serve and settings.serving:
        from hello_bench.measure.serving import measure_serving

        out["serving"] = measure_serving(clf, split.X_test, proba, settings, threads)
    return out
