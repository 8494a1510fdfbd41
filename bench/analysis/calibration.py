"""What a calibration says: rates with Clopper-Pearson intervals, the smallest slowdown detected, and the
run-to-run variance of a machine. Pure functions over numbers.

A calibration counts gate outcomes over independent comparisons: false alarms (FAIL when nothing
changed: A/A), detections (FAIL when a known slowdown was injected: A/B). A rate from n comparisons is
uncertain: its exact (Clopper-Pearson) 95% interval says how much, and n alone decides how small a
rate can be shown to be. "At most 5%" is a one-sided claim, shown by the one-sided 95% upper bound
(:func:`upper_bound`): with no false alarm at all, 59 comparisons are needed before it drops under 5%
(:func:`comparisons_to_bound`); "detected at least 95% of the time" by the one-sided lower bound.

The run-to-run variance lives in :mod:`hello_bench.analysis.run_variance` (Satterthwaite df, a truncated
estimate unknown, enough repeats).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from scipy import stats as sps

#: The detection rate "the smallest slowdown detected" must reach.
DETECTION = 0.95


@dataclass(frozen=True)
class Rate:
    """k events in n comparisons, with the exact 95% interval of the rate (two-sided, for showing it)."""

    k: int
    n: int
    low: float = math.nan
    high: float = math.nan

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def upper(self) -> float:
        """The one-sided 95% upper bound: what "a false-alarm rate under 5%" is shown by."""
        return upper_bound(self.k, self.n)

    @property
    def lower(self) -> float:
        """The one-sided 95% lower bound: what "detected at least 95% of the time" is shown by."""
        return lower_bound(self.k, self.n)

    def text(self) -> str:
        if not self.n:
            return "no comparisons"
        return f"{self.k}/{self.n} = {self.rate:.0%} [95% CI {self.low:.0%}, {self.high:.0%}]"


def _check(k: int, n: int) -> None:
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n]; got k={k}, n={n}")


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> Rate:
    """The exact binomial interval: Beta quantiles, 0 and 1 at the ends; NaN for no comparisons."""
    if n <= 0:
        return Rate(0, 0)
    _check(k, n)
    tail = (1 - confidence) / 2
    low = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(sps.beta.ppf(1 - tail, k + 1, n - k))
    return Rate(k, n, low, high)


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate (1 when k = n; NaN for no comparisons)."""
    if n <= 0:
        return math.nan
    _check(k, n)
    return 1.0 if k == n else float(sps.beta.ppf(confidence, k + 1, n - k))


def lower_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson lower bound of a rate (0 when k = 0; NaN for no comparisons)."""
    if n <= 0:
        return math.nan
    _check(k, n)
    return 0.0 if k == 0 else float(sps.beta.ppf(1 - confidence, k, n - k + 1))


def comparisons_to_bound(rate: float, confidence: float = 0.95) -> int:
    """Comparisons needed, with no event at all, for the one-sided upper bound to be at most ``rate``.

    With k = 0 the one-sided bound is ``1 - (1 - confidence)^(1/n)``; solving for n: 59 for 5% at 95%
    (a two-sided interval's upper end needs 72). The same count, every comparison an event, takes the
    one-sided lower bound to ``1 - rate``.
    """
    return int(math.ceil(math.log(1 - confidence) / math.log(1 - rate)))


@dataclass(frozen=True)
class Smallest:
    """The smallest injected slowdown detected at least DETECTION of the time: observed, and shown by the interval."""

    #: Smallest slowdown whose observed detection rate is >= DETECTION (None: none was).
    observed: float | None
    #: Smallest slowdown whose one-sided lower bound is >= DETECTION (None: none was, at these counts).
    shown: float | None


def smallest_detected(rates: Mapping[float, Rate], level: float = DETECTION) -> Smallest:
    observed = [s for s, r in rates.items() if r.n and r.rate >= level]
    shown = [s for s, r in rates.items() if r.n and r.lower >= level]
    return Smallest(min(observed) if observed else None, min(shown) if shown else None)
