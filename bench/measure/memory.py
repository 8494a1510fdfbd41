"""Memory of this process: current and peak resident set size (Linux ``/proc``, psutil elsewhere)."""

from __future__ import annotations

import resource
import sys


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (Linux: ``/proc/self/clear_refs``), so the
    next reading is the peak of one trial, not of everything before it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rss_peak_mb() -> float:
    """Peak resident memory (MiB) since the last :func:`reset_peak_rss`."""
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


def rss_now_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20
