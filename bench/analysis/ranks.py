"""Does the ranking of adapters hold on both machines? Kendall's tau between the two orders, with its uncertainty.

Each adapter's typical time on a side is the geometric mean over the splits both sides ran; the
adapters are ranked on A and on B, and Kendall's tau-b compares the two rankings (1: the same order,
-1: reversed). Its uncertainty comes from the splits: a bootstrap that resamples split seeds (the
same resample on both sides, since a split is the same split on both) and recomputes tau and whether
the whole order is unchanged. Pure: arrays in, numbers out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

#: Bootstrap resamples of the splits.
RESAMPLES = 2000


@dataclass(frozen=True)
class RankAgreement:
    """The two orders (fastest first), tau with its 95% bootstrap interval, and how often the order held."""

    order_a: tuple[str, ...]
    order_b: tuple[str, ...]
    tau: float
    low: float
    high: float
    #: Share of resamples in which the order on B was exactly the order on A.
    same_order: float
    splits: int

    @property
    def holds(self) -> bool:
        return self.order_a == self.order_b


def _order(names: Sequence[str], logs: np.ndarray) -> tuple[str, ...]:
    means = logs.mean(axis=1)
    return tuple(names[i] for i in np.lexsort((np.arange(len(names)), means)))


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of two rankings (NaN when either is all ties)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input and returns NaN, which is the answer
        return float(sps.kendalltau(x, y).statistic)


def rank_agreement(
    names: Sequence[str], a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], resamples: int = RESAMPLES,
    seed: int = 0,
) -> RankAgreement:  # fmt: skip
    """``a[i][j]``, ``b[i][j]``: adapter i's time on split j (the same splits, in the same order, on both sides)."""
    la, lb = np.log(a), np.log(b)
    if la.shape != lb.shape or la.ndim != 2 or la.shape[0] < 2 or la.shape[1] < 1:
        raise ValueError("need at least two adapters and one split, the same shape on both sides")
    order_a, order_b = _order(names, la), _order(names, lb)
    tau = _tau(la.mean(axis=1), lb.mean(axis=1))
    splits = la.shape[1]
    if splits == 1:
        return RankAgreement(order_a, order_b, tau, math.nan, math.nan, math.nan, 1)
    rng = np.random.default_rng(seed)
    taus, same = [], 0
    for _ in range(resamples):
        pick = rng.integers(0, splits, splits)
        xa, xb = la[:, pick], lb[:, pick]
        taus.append(_tau(xa.mean(axis=1), xb.mean(axis=1)))
        same += _order(names, xa) == _order(names, xb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every resample tied on a side: no interval (NaN), said by the NaN
        low, high = np.nanpercentile(taus, [2.5, 97.5])
    return RankAgreement(order_a, order_b, tau, float(low), float(high), same / resamples, splits)
