"""What the machine was doing: a raw-speed control long enough to see throttling, and CPU shares from ``/proc/stat``.

The control times three fixed workloads, each for a wall-clock span (:data:`SPAN_S`), not a fixed count
of short repeats: a Linux CFS quota or a neighbour's burst acts over scheduling periods of 100 ms, and a
median of five 1-ms repeats fits between two throttled stretches and sees nothing (a machine held to
half a core looked 1.06x slower to such a numpy control while its fits were 2-3.7x slower). Each value
is the span divided by the units done in it (a mean over the span, stalls included):

- ``python_loop_ms``: one unit is a pure-Python loop of 100,000 additions (one thread, no library);
- ``numpy_matmul_1t_ms``: one 256x256 float64 matrix product with BLAS held to one thread;
- ``numpy_matmul_mt_ms``: one 512x512 product with BLAS at ``mt_threads`` threads (every core, or the
  trials' thread count when larger).

``spread`` holds, per workload, the slowest unit over the fastest within the span (a stall or a
throttled period shows there first). CPU shares between two readings of ``/proc/stat`` say how busy
the whole machine was (all cores, every process) and how much time the hypervisor stole.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: Wall-clock seconds each control workload runs: at least two CFS periods (100 ms) and a half.
SPAN_S = 0.25
#: The columns of ``/proc/stat``'s ``cpu`` line, in order.
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
#: The control values, in ms per unit, and what each measures.
CONTROL_KEYS = {
    "python_loop_ms": "Python loop, 100k additions (1 thread)",
    "numpy_matmul_1t_ms": "numpy 256x256 matmul (BLAS 1 thread)",
    "numpy_matmul_mt_ms": "numpy 512x512 matmul (BLAS, all cores)",
}


def timed_span(fn: Callable[[], object], span_s: float, min_units: int = 3,
               clock: Callable[[], int] = time.perf_counter_ns) -> tuple[float, float, int]:  # fmt: skip
    """Run ``fn`` until ``span_s`` has passed (and at least ``min_units`` times).

    Returns (ms per unit over the whole span, slowest unit / fastest unit, units).
    """
    fn()  # first call outside the clock (caches, lazy initialisation)
    begin = clock()
    end_at = begin + int(span_s * 1e9)
    units, slowest, fastest = 0, 0, None
    now = begin
    while units < min_units or now < end_at:
        start = clock()
        fn()
        now = clock()
        took = now - start
        slowest = max(slowest, took)
        fastest = took if fastest is None else min(fastest, took)
        units += 1
    total_ms = (now - begin) / 1e6
    return total_ms / units, (slowest / fastest if fastest else float("nan")), units


def control_measurement(threads: int = 1, span_s: float = SPAN_S) -> dict:
    """The three control workloads (see the module docstring): ms per unit, their spread, the units done."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    small = np.random.default_rng(0).standard_normal((256, 256))
    large = np.random.default_rng(1).standard_normal((512, 512))

    def loop() -> int:
        total = 0
        for i in range(100_000):
            total += i
        return total

    mt = max(threads, os.cpu_count() or 1)
    out: dict = {"span_s": span_s, "mt_threads": mt, "spread": {}, "units": {}}
    with threadpool_limits(1):
        for key, fn in (("python_loop_ms", loop), ("numpy_matmul_1t_ms", lambda: small @ small)):
            out[key], out["spread"][key], out["units"][key] = timed_span(fn, span_s)
    with threadpool_limits(mt):
        key = "numpy_matmul_mt_ms"
        out[key], out["spread"][key], out["units"][key] = timed_span(lambda: large @ large, span_s)
    return out


def read_proc_stat(path: str | Path = "/proc/stat") -> dict[str, int] | None:
    """The machine-wide ``cpu`` line of ``/proc/stat`` (clock ticks since boot), or None where there is none."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("cpu "):
                values = [int(v) for v in line.split()[1:]]
                return dict(zip(STAT_FIELDS, values + [0] * (len(STAT_FIELDS) - len(values))))
    except (OSError, ValueError):
        return None
    return None


def cpu_shares(before: dict[str, int] | None, after: dict[str, int] | None) -> dict | None:
    """Shares of all cores' time between two readings: busy (not idle nor waiting on I/O), steal, iowait."""
    if not before or not after:
        return None
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in STAT_FIELDS}
    total = sum(delta.values())
    if total <= 0:
        return None
    idle = delta["idle"] + delta["iowait"]
    return {
        "busy": (total - idle) / total,
        "steal": delta["steal"] / total,
        "iowait": delta["iowait"] / total,
        "cores": os.cpu_count(),
    }
