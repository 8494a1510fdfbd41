"""Order effects: does running earlier or later within a round change a trial's time?

The adapters of each round run in a seeded random order (:mod:`bench.run.order`), so an order effect
cannot favour one adapter on average; it still adds noise, and a large one says something about the
machine (a warm-up the worker's own warm-up did not cover, a cache another group evicts). The test is
a linear model of the log time on the trial's position within its round (0 = first), with one level
per group (adapter, device, environment) and one per round (the machine's state when the round ran):

    log(y) = group + round + beta * position + error

fitted by least squares; beta is the change per position (as a ratio, ``exp(beta)``), with its
t-interval and two-sided p on ``n - parameters`` degrees of freedom. The mean residual per position
(the model without the position term) shows its shape. Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class OrderEffect:
    """The change of a time per position within a round (a ratio), with its interval and p."""

    ratio: float
    low: float
    high: float
    p: float
    n: int
    df: int
    #: Mean residual (as a ratio, model without position) per position: position -> (ratio, trials).
    by_position: dict[int, tuple[float, int]]

    @property
    def tested(self) -> bool:
        return math.isfinite(self.p)


def _design(groups: Sequence[Hashable], rounds: Sequence[Hashable]) -> np.ndarray:
    """One-hot columns: an intercept, every group but the first, every round but the first."""
    g_levels = sorted(set(groups), key=str)
    r_levels = sorted(set(rounds), key=str)
    n = len(groups)
    columns = [np.ones(n)]
    columns += [np.array([g == level for g in groups], dtype=float) for level in g_levels[1:]]
    columns += [np.array([r == level for r in rounds], dtype=float) for level in r_levels[1:]]
    return np.column_stack(columns)


def order_effect(
    groups: Sequence[Hashable], rounds: Sequence[Hashable], positions: Sequence[int], values: Sequence[float],
    confidence: float = 0.95,
) -> OrderEffect:  # fmt: skip
    """Fit the model above on trials with a positive, finite value; NaN when position cannot be told apart."""
    keep = [i for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    g = [groups[i] for i in keep]
    r = [rounds[i] for i in keep]
    pos = np.array([positions[i] for i in keep], dtype=float)
    y = np.log(np.array([values[i] for i in keep], dtype=float))
    base = _design(g, r) if keep else np.zeros((0, 1))
    residual = y - base @ np.linalg.lstsq(base, y, rcond=None)[0] if keep else y
    by_position = {
        int(p): (float(np.exp(residual[pos == p].mean())), int((pos == p).sum())) for p in sorted(set(pos.tolist()))
    }
    nan = OrderEffect(math.nan, math.nan, math.nan, math.nan, len(keep), 0, by_position)
    if len(keep) == 0 or len(set(pos.tolist())) < 2:
        return nan
    x = np.column_stack([base, pos])
    rank = np.linalg.matrix_rank(x)
    df = len(keep) - rank
    if rank < x.shape[1] or df < 1:
        return nan  # position is a combination of groups and rounds: not identifiable
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    sigma2 = float(resid @ resid) / df
    cov = sigma2 * np.linalg.inv(x.T @ x)
    beta, se = float(coef[-1]), math.sqrt(max(float(cov[-1, -1]), 0.0))
    if se == 0:
        return OrderEffect(math.exp(beta), math.nan, math.nan, math.nan, len(keep), df, by_position)
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    p = float(2 * sps.t.sf(abs(beta / se), df))
    return OrderEffect(math.exp(beta), math.exp(beta - half), math.exp(beta + half), p, len(keep), df, by_position)
