"""How precise a run's timing ratios are, and how many splits would make them precise enough (pure).

``bench run --until-precise PCT`` adds interleaved splits until every timing ratio's 95% interval is
narrower than PCT percent: its width ``high / low - 1`` (``[0.96, 1.05]`` is 9.4% wide). With
intervals that narrow, a gate at ``--fail-above PCT`` can decide: a ratio near 1 has its upper bound
below ``1 + PCT/100``, a ratio of ``1 + 2 PCT/100`` its lower bound above it.

The splits a width needs: the interval's half-width on the log scale shrinks as ``t(n-1) / sqrt(n)``;
solving ``t(n'-1) / sqrt(n') = (target / width) * t(n-1) / sqrt(n)`` for n' gives the estimate
(the spread observed so far taken as the truth: a plug-in), capped at twice the splits run so far
so one noisy estimate does not run away.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from scipy import stats as sps

from hello_bench.analysis import stats

#: No estimate from fewer splits than this (the spread of two or three is too uncertain to extrapolate).
MIN_SPLITS = 3


def ratio_width(a: Sequence[float], b: Sequence[float]) -> float:
    """Width of the 95% interval of the B/A ratio (``high / low - 1``); infinite under 2 pairs."""
    r = stats.ratio_ci(a, b)
    return r.high / r.low - 1 if r.n >= 2 else math.inf


def mean_width(values: Sequence[float]) -> float:
    """Width of the 95% interval of a geometric mean (``high / low - 1``) of the positive values; infinite under 2."""
    logs = [math.log(v) for v in values if v > 0]
    n = len(logs)
    if n < 2:
        return math.inf
    half = float(sps.t.ppf(0.975, n - 1)) * statistics.stdev(logs) / math.sqrt(n)
    return math.exp(2 * half) - 1


def _scale(n: int) -> float:
    return float(sps.t.ppf(0.975, n - 1)) / math.sqrt(n)


def splits_needed(n: int, width: float, target: float, cap: float = 2.0) -> int:
    """Splits at which an interval now ``width`` wide from ``n`` splits would be ``target`` wide (capped at cap x n)."""
    if width <= target:
        return n
    limit = max(n + 1, math.ceil(cap * n))
    if n < MIN_SPLITS or not math.isfinite(width):
        return limit
    goal = math.log1p(target) / math.log1p(width) * _scale(n)
    return next((m for m in range(n + 1, limit) if _scale(m) <= goal), limit)


def splits_for_decision(t: Any, level: float, limit: int = 10_000) -> int | None:
    """Splits at which a gated metric's one-sided test at ``level`` would decide (PASS or FAIL side), if its mean
    and spread held (a plug-in, as :func:`splits_needed`); None when no number of splits can (its mean sits on
    the threshold, or the variance that does not shrink with splits is already too large).

    ``t`` is a :class:`hello_bench.analysis.gate.Tested`.
    """
    m = t.measured
    gap = abs(t.mean - m.threshold)
    if t.method == "sign":  # every split on one side: the exact sign test needs 2^-n < level
        return max(t.n, math.ceil(math.log2(1 / level)))
    if t.method != "t" or not gap > 0 or not math.isfinite(t.se):
        return None
    within = max(t.se**2 - m.extra_var, 0.0) / (1.0 / t.n + m.correction)  # the per-split variance
    for n in range(max(t.n, stats.MIN_RATIO_PAIRS), limit + 1):
        se = math.sqrt(within * (1.0 / n + m.correction) + m.extra_var)
        if float(sps.t.ppf(1 - level, max(n - 1, 1))) * se <= gap:
            return n
    return None
