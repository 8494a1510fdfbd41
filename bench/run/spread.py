"""Calibration repeats spread in time (``bench calibrate --spread 24h``): when each repeat starts, the wait before it
(with progress), and where a resumed calibration stands. A run-to-run variance speaks for the span its repeats
covered: repeats run back to back say how a machine moves within minutes, not between days.
"""

from __future__ import annotations

import math
import time
from typing import Any

from hello_bench.analysis.run_variance import duration_text

#: The longest spread in time a calibration may take (30 days).
MAX_SPREAD_S = 30 * 86400.0


def parse_spread(text: str) -> float:
    """``--spread``: a duration such as ``24h``, ``90m``, ``2d`` or ``3600`` (seconds), as seconds; one line if not."""
    import re

    from hello_bench.errors import UserError

    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smhd]?)\s*", text)
    if not found:
        raise UserError(f"--spread: {text!r} is not a duration (e.g. 24h, 90m, 2d, 3600).")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]


def schedule(first_start: float, repeats: int, spread_s: float) -> list[float]:
    """When each repeat starts: evenly over ``spread_s`` from the first repeat's start (all at once without one)."""
    step = spread_s / (repeats - 1) if repeats > 1 else 0.0
    return [first_start + r * step for r in range(repeats)]


#: While waiting for a spread repeat, a progress line at least this often (seconds).
WAIT_REPORT_S = 600.0


def wait_until(when: float, label: str, say: Any, now: Any = time.time, sleep: Any = time.sleep) -> None:
    """Wait until ``when`` (unix seconds), saying what for and until when, again every WAIT_REPORT_S."""
    while (left := when - now()) > 0:
        at = time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
        say(f"waiting {duration_text(left)} before {label} (at {at}); Ctrl-C stops, the same command resumes")
        sleep(min(left, WAIT_REPORT_S))


def repeats_begun(records: list[dict]) -> dict[int, float]:
    """Repeats that already have records, with their first start (unix seconds): a resumed calibration keeps its
    schedule, and does not wait again for a repeat it had begun."""
    out: dict[int, float] = {}
    for record in records:
        repeat = (record.get("params") or {}).get("repeat")
        start = record.get("started_at")
        if isinstance(repeat, int) and isinstance(start, (int, float)):
            out[repeat] = min(out.get(repeat, math.inf), float(start))
    return out
