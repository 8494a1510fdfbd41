"""Pure timing helpers: raw durations in nanoseconds, no I/O, no frameworks.

The caller supplies ``sync`` (for example ``torch.cuda.synchronize``) so that
queued device work is finished before a timer stops.

Each timed call can also be charged its **process CPU time** (``cpu_timer``,
``time.process_time_ns``: every thread of the process, user and system). It is
read just outside the wall clock's window, so the wall time never includes the
CPU clock's own cost (a system call, unlike ``perf_counter_ns``). CPU time is a
second cost signal that a busy machine moves much less: a call that waited for a
core shows wall time far above its CPU time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Timer = Callable[[], int]


def _noop() -> None:
    return None


def time_call(
    fn: Callable[[], Any], *, timer: Timer = time.perf_counter_ns, sync: Callable[[], None] | None = None
) -> tuple[Any, int]:
    """Run ``fn`` once; return ``(result, duration_ns)``, synchronised."""
    sync = sync or _noop
    start = timer()
    result = fn()
    sync()
    return result, timer() - start


def time_call_cpu(
    fn: Callable[[], Any],
    *,
    timer: Timer = time.perf_counter_ns,
    cpu_timer: Timer = time.process_time_ns,
    sync: Callable[[], None] | None = None,
) -> tuple[Any, int, int]:
    """Run ``fn`` once; return ``(result, wall_ns, cpu_ns)``, synchronised (the CPU clock read outside the wall's)."""
    sync = sync or _noop
    cpu0 = cpu_timer()
    start = timer()
    result = fn()
    sync()
    end = timer()
    return result, end - start, cpu_timer() - cpu0


def measure(
    fn: Callable[[], Any],
    *,
    warmup: int = 0,
    rounds: int = 1,
    timer: Timer = time.perf_counter_ns,
    sync: Callable[[], None] | None = None,
) -> list[int]:
    """Durations (ns) of ``rounds`` calls of ``fn``, after ``warmup`` untimed calls.

    Each call is timed on its own (so percentiles can be derived), with
    ``sync`` called before the timer stops.

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    warmup : int, default=0
        Calls made first and not timed (caches, lazy compilation).
    rounds : int, default=1
        Timed calls.

    Returns
    -------
    list of int
    """
    if warmup < 0 or rounds < 1:
        raise ValueError(f"warmup must be >= 0 and rounds >= 1; got warmup={warmup}, rounds={rounds}.")
    sync = sync or _noop
    for _ in range(warmup):
        fn()
    sync()
    durations = []
    for _ in range(rounds):
        start = timer()
        fn()
        sync()
        durations.append(timer() - start)
    return durations


def measure_for(
    fn: Callable[[], Any],
    *,
    min_rounds: int,
    max_rounds: int,
    budget_ns: int,
    timer: Timer = time.perf_counter_ns,
    sync: Callable[[], None] | None = None,
) -> list[int]:
    """Time single calls until ``budget_ns`` is spent, between min and max rounds.

    Fast calls get many samples (p99 needs hundreds); slow ones stop at the
    budget once ``min_rounds`` are in.
    """
    return measure_for_cpu(
        fn, min_rounds=min_rounds, max_rounds=max_rounds, budget_ns=budget_ns, timer=timer, cpu_timer=_zero, sync=sync
    )[0]


def _zero() -> int:
    return 0


def measure_for_cpu(
    fn: Callable[[], Any],
    *,
    min_rounds: int,
    max_rounds: int,
    budget_ns: int,
    timer: Timer = time.perf_counter_ns,
    cpu_timer: Timer = time.process_time_ns,
    sync: Callable[[], None] | None = None,
) -> tuple[list[int], list[int]]:
    """:func:`measure_for`, each call also charged its process CPU time: ``(wall_ns, cpu_ns)``, one per call.

    The wall budget alone decides when to stop; the CPU clock is read outside each wall window.
    """
    sync = sync or _noop
    durations: list[int] = []
    cpu: list[int] = []
    begin = timer()
    while len(durations) < max_rounds:
        cpu0 = cpu_timer()
        start = timer()
        fn()
        sync()
        end = timer()
        cpu.append(cpu_timer() - cpu0)
        durations.append(end - start)
        if len(durations) >= min_rounds and end - begin >= budget_ns:
            break
    return durations, cpu


def timer_overhead_ns(timer: Timer = time.perf_counter_ns, samples: int = 1000) -> float:
    """Median cost of one back-to-back pair of timer calls (what every duration includes)."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1; got {samples}.")
    pairs = []
    for _ in range(samples):
        start = timer()
        pairs.append(timer() - start)
    pairs.sort()
    return float(pairs[len(pairs) // 2])


#: A measurement whose last third of calls is this much slower or faster than its first third drifted.
DRIFT_LIMIT = 0.20


def drifted(ratio: float | None, limit: float = DRIFT_LIMIT) -> bool:
    """Whether a drift ratio (last third / first third) is beyond ``limit`` either way (None: too few calls)."""
    return ratio is not None and abs(ratio - 1) > limit


def drift_ratio(durations: list[int]) -> float | None:
    """Median of the last third of ``durations`` over the median of the first third.

    Far from 1 means the machine's speed changed while a trial was measured
    (another process, frequency scaling): its percentiles mix two regimes.
    None with fewer than 9 samples.
    """
    if len(durations) < 9:
        return None
    third = len(durations) // 3
    first, last = sorted(durations[:third]), sorted(durations[-third:])
    head, tail = first[len(first) // 2], last[len(last) // 2]
    return tail / head if head > 0 else None


class GCCounter:
    """Counts garbage collections while active (``with GCCounter() as gc_count: ...``).

    Uses ``gc.callbacks``, so it sees every collection, automatic or not.
    """

    def __init__(self) -> None:
        self.collections = 0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.collections += 1

    def __enter__(self) -> GCCounter:
        import gc

        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        gc.callbacks.remove(self._callback)


class gc_paused:
    """Disable the garbage collector inside the block (as ``timeit`` does), restoring its state."""

    def __enter__(self) -> gc_paused:
        import gc

        self.was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        if self.was_enabled:
            gc.enable()
