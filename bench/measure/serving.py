"""Measure every serving path of a fitted adapter, and check it is still the same model.

For each path (``hello_bench.adapters.serving.ServingPath``): build it (export or compile,
timed), note the artifact's size, load it (timed, cold), time its first call,
its single-sample latency and its throughput, and compare its probabilities
with the adapter's on the whole test set. A path whose probabilities differ
by more than its tolerance, or whose labels differ at all, is ``invalid``
(MLPerf's rule): it is reported with its numbers but never ranked fastest. A
path that cannot be built here is ``skipped`` with the reason and the install
command; one whose exporter or runtime raises is ``error``. Artifacts are
written to a temporary folder and removed once measured.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hello_bench.measure import memory
from hello_bench.measure.calls import agreement, cpu_summary, latency, percentiles_us, throughput
from hello_bench.measure.settings import TimingSettings
from hello_bench.measure.timing import drift_ratio, time_call, time_call_cpu

VALID, INVALID, SKIPPED, ERROR = "valid", "invalid", "skipped", "error"


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:300]}" if lines else type(err).__name__


def _size(artifact: Path | None) -> int | None:
    if artifact is None or not artifact.exists():
        return None
    if artifact.is_dir():
        return sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file())
    return artifact.stat().st_size


def measure_path(path: Any, X_test: np.ndarray, reference: np.ndarray, settings: TimingSettings, threads: int) -> dict:
    """Build, load, check and time one serving path; never raises."""
    from hello_bench.adapters.serving import ServingUnavailable

    X = np.ascontiguousarray(X_test, dtype=np.float32)
    one = X[:1]
    rss_before = memory.rss_now_mb()
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        try:
            artifact, export_ns = time_call(lambda: path.build(Path(folder)), sync=path.sync)
            predict, load_ns = time_call(lambda: path.load(artifact, threads))
            _, first_ns, first_cpu_ns = time_call_cpu(lambda: predict(one), sync=path.sync)
            proba = predict(X)
        except ServingUnavailable as err:
            return {"status": SKIPPED, "reason": err.reason, "install": err.install, "reference": path.reference}
        except Exception as err:  # an exporter or runtime that raises: recorded, the trial goes on
            return {"status": ERROR, "reason": _first_line(err), "reference": path.reference}
        out: dict = {
            "reference": path.reference,
            "tolerance": path.tolerance,
            "export_s": export_ns / 1e9,
            "artifact_bytes": _size(artifact),
            "load_s": load_ns / 1e9,
            "first_call_s": first_ns / 1e9,
            "first_call_cpu_s": first_cpu_ns / 1e9,
            **agreement(proba, reference),
        }
        durations, cpu = latency(
            lambda: predict(one), settings.serving_min_calls, settings.serving_budget_s, settings, path.sync
        )
        out.update(
            latency=percentiles_us(durations), latency_drift=drift_ratio(durations), latency_cpu=cpu_summary(cpu)
        )
        out["throughput_sps"], out["throughput_cpu_sps"] = throughput(predict, X, settings, path.sync)
    out["rss_delta_mb"] = memory.rss_now_mb() - rss_before
    diff, same = out["max_abs_diff"], out["label_agreement"]
    if diff is None or diff > path.tolerance or same < 1.0:
        out["status"] = INVALID
        out["reason"] = (
            f"max |dp| {diff if diff is None else f'{diff:.2g}'} (tolerance {path.tolerance:g}), labels {same:.1%} identical"
        )
    else:
        out["status"] = VALID
    return out


def measure_serving(
    clf: Any, X_test: np.ndarray, reference: np.ndarray, settings: TimingSettings, threads: int
) -> dict:
    """Every serving path of ``clf``, by name."""
    try:
        paths = clf.serving_paths()
    except Exception as err:  # an adapter hook that raises costs its paths, not the trial
        return {"paths": {"status": ERROR, "reason": _first_line(err)}}
    reference = np.asarray(reference, dtype=np.float64)
    return {path.name: measure_path(path, X_test, reference, settings, threads) for path in paths}
