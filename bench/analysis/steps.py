"""Step detection over a history of measurements, weighted by each point's uncertainty.

The anchor is asv's regression detection: fit a piecewise-constant function
to the history, paying a penalty per step, and keep the steps that stand out
from the noise. Choices here, and why:

- **Log scale.** Times and speeds change by factors; a step is reported as
  the ratio after/before.
- **Weights from uncertainty.** Each point is a run's estimate with a
  standard error (from its splits). Runs also differ from each other by more
  than their own splits say (machine state, the day's speed), so each point's
  variance is its own plus a between-run variance ``tau^2`` estimated from the
  history itself. Without it, every small day-to-day shift would look like a
  step. The first estimate comes from the squared successive differences
  without the largest one (a step moves one difference; the spread of the
  whole series would count the step as noise and hide it), corrected for
  dropping it; once the steps are
  placed, ``tau^2`` is estimated again within the segments (method of moments,
  as in a random-effects meta-analysis) and the steps placed again.
- **Optimal partitioning** (exact dynamic programming) of the weighted sum of
  squares with a penalty of ``2 log n + 2`` per step, about what the best of
  ``n - 1`` candidate positions gains by chance.
- **Every step is then tested**: the ratio of the weighted means after and
  before, with a normal interval from their standard errors at the
  Bonferroni level over the ``n - 1`` candidate positions (``alpha / m``,
  since the steps shown were selected among them); a step is kept
  only when that interval excludes 1, so the interval shown is the one the
  decision used.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy import stats as sps

ALPHA = 0.05


@dataclass(frozen=True)
class Step:
    """A change between point ``index - 1`` and point ``index``: after/before ratio with its interval."""

    index: int
    ratio: float
    low: float
    high: float
    p: float


def between_variance(y: np.ndarray, var: np.ndarray, segments: list[tuple[int, int]]) -> float:
    """tau^2: variance between points beyond their own (DerSimonian-Laird over the segments), floored at 0."""
    q, df, c = 0.0, 0, 0.0
    for start, end in segments:
        w = 1 / var[start:end]
        if end - start < 2:
            continue
        mean = float(np.sum(w * y[start:end]) / np.sum(w))
        q += float(np.sum(w * (y[start:end] - mean) ** 2))
        df += end - start - 1
        c += float(np.sum(w) - np.sum(w**2) / np.sum(w))
    return max(0.0, (q - df) / c) if c > 0 else 0.0


@functools.lru_cache(maxsize=256)
def trimmed_chi2_mean(m: int) -> float:
    """E[mean of the m - 1 smallest of m chi-squared(1) draws]: the bias of dropping the largest difference."""
    if m < 2:
        return 1.0

    def order_mean(i: int) -> float:  # the i-th smallest of m: density m!/((i-1)!(m-i)!) F^(i-1) (1-F)^(m-i) f
        coef = math.exp(math.lgamma(m + 1) - math.lgamma(i) - math.lgamma(m - i + 1))
        return integrate.quad(lambda x: x * coef * sps.chi2.cdf(x, 1) ** (i - 1) * sps.chi2.sf(x, 1) ** (m - i)
                              * sps.chi2.pdf(x, 1), 0, math.inf)[0]  # fmt: skip

    return sum(order_mean(i) for i in range(1, m)) / (m - 1)


def successive_variance(y: np.ndarray, own: np.ndarray) -> float:
    """tau^2 from the squared successive differences without the largest one (where a step would be), corrected
    for dropping it, less the points' own variance, floored at 0. For d ~ N(0, 2 sigma^2), d^2 / (2 sigma^2) is
    chi-squared(1)."""
    d2 = np.sort(np.diff(y) ** 2)
    if len(d2) == 0:
        return 0.0
    kept = d2[:-1] if len(d2) > 1 else d2
    sigma2 = float(np.mean(kept)) / (2 * (trimmed_chi2_mean(len(d2)) if len(d2) > 1 else 1.0))
    return max(0.0, sigma2 - float(np.median(own)))


def _segment_cost(y: np.ndarray, w: np.ndarray, start: int, end: int) -> float:
    ys, ws = y[start:end], w[start:end]
    mean = float(np.sum(ws * ys) / np.sum(ws))
    return float(np.sum(ws * (ys - mean) ** 2))


def partition(y: np.ndarray, var: np.ndarray, penalty: float) -> list[int]:
    """Indices where a new segment starts (optimal partitioning of the weighted squared error)."""
    n = len(y)
    w = 1 / var
    best = [0.0] + [math.inf] * n
    last = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end):
            cost = best[start] + _segment_cost(y, w, start, end) + (penalty if start > 0 else 0.0)
            if cost < best[end]:
                best[end], last[end] = cost, start
    starts, end = [], n
    while end > 0:
        starts.append(last[end])
        end = last[end]
    return sorted(s for s in starts if s > 0)


def _segments(starts: list[int], n: int) -> list[tuple[int, int]]:
    bounds = [0, *starts, n]
    return list(zip(bounds[:-1], bounds[1:]))


def _weighted(y: np.ndarray, var: np.ndarray) -> tuple[float, float]:
    w = 1 / var
    return float(np.sum(w * y) / np.sum(w)), float(math.sqrt(1 / np.sum(w)))


#: Fewest points in which a step can be told from the between-run spread (which the history estimates).
MIN_POINTS = 3


def detect_steps(log_values: Sequence[float], std_errors: Sequence[float], alpha: float = ALPHA) -> list[Step]:
    """Steps in a history of log-scale estimates with their standard errors (oldest first)."""
    y = np.asarray(log_values, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    n = len(y)
    if n < MIN_POINTS:
        return []
    floor = max(float(np.nanmedian(se[se > 0])) if np.any(se > 0) else 1e-3, 1e-6) * 1e-3
    own = np.maximum(np.nan_to_num(se, nan=floor), floor) ** 2
    # First guess of tau^2 from successive differences: a step moves one difference only, which is dropped
    # (the spread of the whole series would count the step itself as noise and hide it).
    tau2 = successive_variance(y, own)
    starts = partition(y, own + tau2, 2 * math.log(n) + 2)
    tau2 = between_variance(y, own, _segments(starts, n))  # the noise once the steps are taken out
    var = own + tau2
    starts = partition(y, var, 2 * math.log(n) + 2)
    segments = _segments(starts, n)
    m = n - 1  # every position between two points was a candidate: the steps shown were selected among them
    z = float(sps.norm.ppf(1 - alpha / (2 * m)))
    steps = []
    for (a0, a1), (b0, b1) in zip(segments[:-1], segments[1:]):
        (ma, sa), (mb, sb) = _weighted(y[a0:a1], var[a0:a1]), _weighted(y[b0:b1], var[b0:b1])
        diff, se_diff = mb - ma, math.sqrt(sa**2 + sb**2)
        p = min(1.0, m * float(2 * sps.norm.sf(abs(diff) / se_diff)))
        if abs(diff) > z * se_diff:
            steps.append(Step(b0, math.exp(diff), math.exp(diff - z * se_diff), math.exp(diff + z * se_diff), p))
    return steps
