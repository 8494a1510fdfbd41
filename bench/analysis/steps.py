"""Step detection over a history of measurements, weighted by each point's uncertainty, at its stated level.

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
  dropping it; once the steps are placed, ``tau^2`` is estimated again within
  the segments (method of moments, as in a random-effects meta-analysis) and
  the steps placed again.
- **Optimal partitioning** (exact dynamic programming) of the weighted sum of
  squares with a penalty of ``2 log n + 2`` per step: the **candidate** steps.
- **The level is calibrated, not assumed.** Each candidate's statistic is
  ``|after - before| / se`` (weighted means of the two segments). A normal or
  Bonferroni threshold assumes ``tau^2`` known; estimated from a handful of
  runs it is not, and with runs scattering 5% beyond their own errors such a
  threshold raised false steps in 6% to 24% of histories. Here the threshold
  is the 95% point of the **largest** candidate statistic over histories
  simulated without any step (a parametric bootstrap of the maximum, which
  covers the choice among the ``n - 1`` positions and the estimation of
  ``tau^2``), each simulated history going through the same procedure. The
  simulation needs a value of ``tau^2``; the statistic's null distribution
  widens as ``tau^2`` grows, so it is simulated at the estimate and at its
  upper confidence bound under "no step" (Q-profile, level ``1 - BETA``) and
  the larger threshold kept: Berger and Boos' p-value, ``sup p + BETA``, is at
  most ``ALPHA`` for every kept step. A step is kept when its statistic
  exceeds that threshold, and its interval shown is ``diff +- threshold x se``,
  so the interval excludes 1 exactly when the step is kept.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize
from scipy import stats as sps

ALPHA = 0.05
#: Berger-Boos: the part of ALPHA spent on the between-run variance being above its upper bound.
BETA = 0.001
#: Simulated histories per threshold (p-values are multiples of 1/(SIMULATIONS + 1), never 0).
SIMULATIONS = 999
#: Fewest points in which a step can be told from the between-run spread (which the history estimates).
MIN_POINTS = 3


@dataclass(frozen=True)
class Step:
    """A change between point ``index - 1`` and point ``index``: after/before ratio with its interval."""

    index: int
    ratio: float
    low: float
    high: float
    #: Berger-Boos p of the largest-statistic test (at least 1/(SIMULATIONS + 1) + BETA; never 0).
    p: float


# -- the pieces, vectorised over simulated histories (rows) ------------------------------------


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


def successive_many(y: np.ndarray, own: np.ndarray) -> np.ndarray:
    """tau^2 per row from the squared successive differences without the largest one (where a step would be),
    corrected for dropping it, less the points' own variance, floored at 0. For d ~ N(0, 2 sigma^2),
    d^2 / (2 sigma^2) is chi-squared(1)."""
    d2 = np.sort(np.diff(y) ** 2)  # along each row (the last axis)
    m = d2.shape[1]
    if m == 0:
        return np.zeros(len(y))
    kept = d2[:, :-1] if m > 1 else d2
    sigma2 = kept.mean(axis=1) / (2 * trimmed_chi2_mean(m))
    return np.maximum(0.0, sigma2 - float(np.median(own)))


def successive_variance(y: np.ndarray, own: np.ndarray) -> float:
    """:func:`successive_many` of one history."""
    return float(successive_many(np.asarray(y)[None, :], np.asarray(own))[0])


def prefix_sums(y: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, prefix sums (a 0 first) of ``w``, ``w c`` and ``w c^2``, ``w = 1/var``, ``c`` the values less their
    row's mean (prefix sums of centred values lose less to cancellation: log microseconds are far from 0)."""
    w = np.broadcast_to(1 / var, y.shape)
    centred = y - y.mean(axis=1, keepdims=True)
    zero = np.zeros((len(y), 1))
    return tuple(np.hstack([zero, np.cumsum(v, axis=1)]) for v in (w, w * centred, w * centred**2))  # type: ignore[return-value]


def segment_costs(sums: tuple[np.ndarray, np.ndarray, np.ndarray], end: int) -> np.ndarray:
    """Weighted squared error about their weighted mean of the points ``start..end - 1``, for every start < end."""
    W, S1, S2 = sums
    return (S2[:, end : end + 1] - S2[:, :end]) - (S1[:, end : end + 1] - S1[:, :end]) ** 2 / (
        W[:, end : end + 1] - W[:, :end]
    )


def partition_many(y: np.ndarray, var: np.ndarray, penalty: float) -> np.ndarray:
    """Per row, True where a new segment starts (optimal partitioning of the weighted squared error).

    Every segment pays the penalty (the first too: the same for every partition); among equal costs the
    first start wins, so a tie keeps the simpler fit.
    """
    rows, n = y.shape
    sums = prefix_sums(y, var)
    everyone = np.arange(rows)
    best = [np.zeros(rows)]  # best[e]: the least cost of points 0..e-1
    begins = []  # begins[e - 1]: where the last segment of that best partition begins
    for end in range(1, n + 1):
        cost = np.stack(best, axis=1) + penalty + segment_costs(sums, end)
        pick = np.argmin(cost, axis=1)
        best.append(cost[everyone, pick])
        begins.append(pick)
    begun = np.stack(begins, axis=1)
    marks = np.zeros((rows, n), dtype=bool)
    at = np.full(rows, n)
    for _ in range(n):  # walk back from the end, one segment at a time (a row back at 0 walks its path again)
        at = begun[everyone, at - 1]
        marks[everyone, at] = True
    return marks & (np.arange(n) > 0)


def partition(y: np.ndarray, var: np.ndarray, penalty: float) -> list[int]:
    """Indices where a new segment starts, for one history."""
    starts = partition_many(np.asarray(y)[None, :], np.asarray(var)[None, :], penalty)
    return [int(i) for i in np.flatnonzero(starts[0])]


@dataclass(frozen=True)
class _Sums:
    """Per row and segment (segment k of row r at column k): sizes and weighted sums."""

    size: np.ndarray
    w: np.ndarray
    wy: np.ndarray
    wy2: np.ndarray
    w2: np.ndarray


def _segment_sums(y: np.ndarray, var: np.ndarray, starts: np.ndarray) -> _Sums:
    rows, n = y.shape
    label = np.cumsum(starts, axis=1) + n * np.arange(rows)[:, None]
    w = 1 / var

    def add(values: np.ndarray) -> np.ndarray:
        return np.bincount(label.ravel(), weights=np.broadcast_to(values, y.shape).ravel(), minlength=rows * n).reshape(
            rows, n
        )

    return _Sums(add(np.ones_like(y)), add(w), add(w * y), add(w * y**2), add(w**2))


def between_many(y: np.ndarray, var: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """tau^2 per row: variance between points beyond their own (DerSimonian-Laird over the segments), floored at 0.
    Segments of one point add nothing."""
    s = _segment_sums(y, var, starts)
    two = s.size >= 2
    with np.errstate(invalid="ignore"):  # empty segments (0 / 0) are masked out
        q = np.where(two, s.wy2 - s.wy**2 / s.w, 0.0).sum(axis=1)
        c = np.where(two, s.w - s.w2 / s.w, 0.0).sum(axis=1)
        df = np.where(two, s.size - 1, 0.0).sum(axis=1)
        return np.where(c > 0, np.maximum(0.0, (q - df) / c), 0.0)


def between_variance(y: np.ndarray, var: np.ndarray, segments: list[tuple[int, int]]) -> float:
    """:func:`between_many` of one history, its segments given as (start, end) pairs."""
    y, var = np.asarray(y), np.asarray(var)
    starts = np.zeros((1, len(y)), dtype=bool)
    for start, _ in segments[1:]:
        starts[0, start] = True
    return float(between_many(y[None, :], var[None, :], starts)[0])


def _weighted(y: np.ndarray, var: np.ndarray) -> tuple[float, float]:
    w = 1 / var
    return float(np.sum(w * y) / np.sum(w)), float(math.sqrt(1 / np.sum(w)))


@dataclass(frozen=True)
class Candidates:
    """The candidate steps of each row: statistic |diff| / se at each segment start (0 elsewhere)."""

    starts: np.ndarray
    diff: np.ndarray
    se: np.ndarray
    tau2: np.ndarray

    @property
    def statistic(self) -> np.ndarray:
        return np.where(self.starts, np.abs(self.diff) / np.where(self.se > 0, self.se, 1.0), 0.0)

    @property
    def largest(self) -> np.ndarray:
        """The largest statistic of each row (0 when it has no candidate)."""
        return self.statistic.max(axis=1) if self.statistic.size else np.zeros(len(self.starts))


def candidates(y: np.ndarray, own: np.ndarray) -> Candidates:
    """The procedure of the module docstring, on every row of ``y`` (points' own variances ``own``, one per column)."""
    rows, n = y.shape
    penalty = 2 * math.log(n) + 2
    tau2 = successive_many(y, own)
    starts = partition_many(y, own + tau2[:, None], penalty)
    tau2 = between_many(y, np.broadcast_to(own, y.shape), starts)  # the noise once the steps are taken out
    var = own + tau2[:, None]
    starts = partition_many(y, var, penalty)
    s = _segment_sums(y, var, starts)
    with np.errstate(divide="ignore", invalid="ignore"):  # empty segments: never compared
        mean, se2 = s.wy / s.w, 1 / s.w
    # the segment starting at column j is segment k = (number of starts up to j); it is compared with k - 1
    k = np.cumsum(starts, axis=1)
    before = np.maximum(k - 1, 0)
    pick = functools.partial(np.take_along_axis, axis=-1)  # pragma: no mutate (the last axis: the default)
    diff = pick(mean, k) - pick(mean, before)
    se = np.sqrt(pick(se2, k) + pick(se2, before))
    return Candidates(starts, np.where(starts, diff, 0.0), np.where(starts, se, 0.0), tau2)


def tau2_upper(y: np.ndarray, own: np.ndarray, level: float = 1 - BETA) -> float:
    """Q-profile upper confidence bound of tau^2 under "no step": the tau^2 at which
    ``Q = sum w (y - weighted mean)^2``, ``w = 1 / (own + tau^2)``, falls to the chi-squared(n - 1)
    quantile ``1 - level`` (0 when Q is already below it at tau^2 = 0)."""
    target = float(sps.chi2.ppf(1 - level, len(y) - 1))

    def q(tau2: float) -> float:
        w = 1 / (own + tau2)
        mean = float(np.sum(w * y) / np.sum(w))
        return float(np.sum(w * (y - mean) ** 2)) - target

    if q(0.0) <= 0:  # pragma: no mutate (at 0 exactly, the root below is 0 too)
        return 0.0
    high = 1.0  # pragma: no mutate (any start works: it grows until the root is bracketed)
    while q(high) > 0:  # pragma: no mutate (equality has probability 0; any growth factor > 1 works)
        high *= 4  # pragma: no mutate
    return float(optimize.brentq(q, 0.0, high))


def null_largest(own: np.ndarray, tau2: float, simulations: int = SIMULATIONS, seed: int = 0) -> np.ndarray:
    """The largest candidate statistic of ``simulations`` histories without a step (own + tau^2 each), sorted down."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((simulations, len(own))) * np.sqrt(own + tau2)
    return np.sort(candidates(y, own).largest)[::-1]


def threshold(null: np.ndarray, alpha: float = ALPHA, beta: float = BETA) -> float:
    """The smallest statistic whose Monte Carlo p, ``(1 + #{null >= t}) / (B + 1)``, is at most alpha - beta:
    the (m + 1)-th largest of the null statistics with m + 1 = floor((alpha - beta) (B + 1))."""
    allowed = math.floor((alpha - beta) * (len(null) + 1)) - 1
    return float(null[allowed]) if allowed >= 0 else math.inf


def p_value(null: np.ndarray, statistic: float) -> float:
    """Monte Carlo p of one statistic against one simulated null (``null`` sorted down): never 0."""
    exceed = int(np.sum(null >= statistic))
    return (1 + exceed) / (len(null) + 1)


#: A standard error this many times smaller than the history's typical one is floored there (0 would weigh a
#: point infinitely: a run whose splits all gave the same value).
FLOOR = 1e-3


def own_variances(std_errors: Sequence[float]) -> np.ndarray:
    """Each point's own variance: its squared standard error, floored at FLOOR x the typical (median positive)
    one; an unknown (NaN) one is the typical one (1e-3 when none is known)."""
    se = np.asarray(std_errors, dtype=float)  # pragma: no mutate (floats in, floats used)
    known = se[np.isfinite(se) & (se > 0)]
    typical = float(np.median(known)) if len(known) else 1e-3
    return np.where(np.isfinite(se), np.maximum(se, FLOOR * typical), typical) ** 2


def history_seed(y: np.ndarray, own: np.ndarray) -> int:
    """The simulations' seed, from the history itself: reproducible, and independent across histories, which is
    what makes a Monte Carlo test exact (one fixed seed would give every history the same, perhaps low, threshold)."""
    return int.from_bytes(hashlib.sha256(np.ascontiguousarray([y, own]).tobytes()).digest()[:8], "little")


def detect_steps(log_values: Sequence[float], std_errors: Sequence[float], alpha: float = ALPHA) -> list[Step]:
    """Steps in a history of log-scale estimates with their standard errors (oldest first)."""
    y = np.asarray(log_values, dtype=float)  # pragma: no mutate (floats in, floats used)
    if len(y) < MIN_POINTS:
        return []
    own = own_variances(std_errors)
    found = candidates(y[None, :], own)
    if not found.starts.any():
        return []
    seed = history_seed(y, own)
    nulls = [null_largest(own, t, seed=seed) for t in sorted({float(found.tau2[0]), tau2_upper(y, own)})]
    limit = max(threshold(null, alpha) for null in nulls)
    steps = []
    for j in np.flatnonzero(found.starts[0]):
        diff, se_diff = float(found.diff[0, j]), float(found.se[0, j])
        statistic = abs(diff) / se_diff
        if statistic > limit:
            p = max(p_value(null, statistic) for null in nulls) + BETA  # a kept step's: at most alpha
            steps.append(
                Step(int(j), math.exp(diff), math.exp(diff - limit * se_diff), math.exp(diff + limit * se_diff), p)
            )
    return steps
