"""What a calibration says: rates with Clopper-Pearson intervals, the smallest slowdown detected, and the
run-to-run variance of a machine. Pure functions over numbers.

A calibration counts gate outcomes over independent comparisons: false alarms (FAIL when nothing
changed: A/A), detections (FAIL when a known slowdown was injected: A/B). A rate from n comparisons is
uncertain: its exact (Clopper-Pearson) 95% interval says how much, and n alone decides how small a
rate can be shown to be (:func:`comparisons_to_bound`: with no false alarm at all, 72 comparisons
are needed before the upper bound drops under 5%).

The run-to-run variance is the variance of a run's own offset on the log scale: the same trials
measured in R separate runs (rows) on the same S splits (columns) are a two-way layout without
replication, ``log y = mean + run + split + error``; with ``MS_run = S * var(run means)`` and
``MS_error`` the residual mean square, ``var(run) = max(0, (MS_run - MS_error) / S)`` on R - 1
degrees of freedom (the random-effects estimate).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats as sps

#: The detection rate "the smallest slowdown detected" must reach.
DETECTION = 0.95


@dataclass(frozen=True)
class Rate:
    """k events in n comparisons, with the exact 95% interval of the rate."""

    k: int
    n: int
    low: float = math.nan
    high: float = math.nan

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else math.nan

    def text(self) -> str:
        if not self.n:
            return "no comparisons"
        return f"{self.k}/{self.n} = {self.rate:.0%} [95% CI {self.low:.0%}, {self.high:.0%}]"


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> Rate:
    """The exact binomial interval: Beta quantiles, 0 and 1 at the ends; NaN for no comparisons."""
    if n <= 0:
        return Rate(0, 0)
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n]; got k={k}, n={n}")
    tail = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(sps.beta.ppf(1 - tail, k + 1, n - k))
    return Rate(k, n, low, high)


def comparisons_to_bound(rate: float, confidence: float = 0.95) -> int:
    """Comparisons needed, with no event at all, for the Clopper-Pearson upper bound to be at most ``rate``.

    With k = 0 the upper bound is ``1 - (tail)^(1/n)``, tail = (1 - confidence) / 2; solving for n.
    """
    tail = (1 - confidence) / 2
    return int(math.ceil(math.log(tail) / math.log(1 - rate)))


@dataclass(frozen=True)
class Smallest:
    """The smallest injected slowdown detected at least DETECTION of the time: observed, and shown by the interval."""

    #: Smallest slowdown whose observed detection rate is >= DETECTION (None: none was).
    observed: float | None
    #: Smallest slowdown whose Clopper-Pearson lower bound is >= DETECTION (None: none was, at these counts).
    shown: float | None


def smallest_detected(rates: Mapping[float, Rate], level: float = DETECTION) -> Smallest:
    observed = [s for s, r in rates.items() if r.n and r.rate >= level]
    shown = [s for s, r in rates.items() if r.n and r.low >= level]
    return Smallest(min(observed) if observed else None, min(shown) if shown else None)


def run_variance(table: Sequence[Sequence[float]]) -> tuple[float, float]:
    """(var(run), df) from R runs x S splits of log values (see the module docstring); NaN under 2 x 2."""
    r = len(table)
    if r < 2 or len(table[0]) < 2 or any(len(row) != len(table[0]) for row in table):
        return math.nan, math.nan
    s = len(table[0])
    grand = sum(map(sum, table)) / (r * s)
    row_means = [sum(row) / s for row in table]
    col_means = [sum(row[j] for row in table) / r for j in range(s)]
    ms_run = s * sum((m - grand) ** 2 for m in row_means) / (r - 1)
    resid = sum((table[i][j] - row_means[i] - col_means[j] + grand) ** 2 for i in range(r) for j in range(s))
    ms_error = resid / ((r - 1) * (s - 1))
    return max(0.0, (ms_run - ms_error) / s), float(r - 1)


def pooled(estimates: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The mean of several groups' run variances; df of one group (the groups share each run's offset)."""
    found = [(v, d) for v, d in estimates if math.isfinite(v)]
    if not found:
        return math.nan, math.nan
    return sum(v for v, _ in found) / len(found), min(d for _, d in found)
