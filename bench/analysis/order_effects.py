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
    """The change of a time per position within a round (a ratio), with its interval and p (NaN: no test)."""

    n: int
    df: int
    #: Mean residual (as a ratio, model without position) per position: position -> (ratio, trials).
    by_position: dict[int, tuple[float, int]]
    ratio: float = math.nan
    low: float = math.nan
    high: float = math.nan
    p: float = math.nan

    @property
    def tested(self) -> bool:
        return math.isfinite(self.p)


def _design(groups: Sequence[Hashable], rounds: Sequence[Hashable]) -> np.ndarray:
    """One-hot columns: one per group (no intercept), one per round but the first."""
    g = [str(x) for x in groups]
    r = [str(x) for x in rounds]
    columns = [np.array([x == level for x in g], float) for level in sorted(set(g))]
    columns += [np.array([x == level for x in r], float) for level in sorted(set(r))[1:]]
    return np.column_stack(columns)


def order_effect(
    groups: Sequence[Hashable], rounds: Sequence[Hashable], positions: Sequence[int], values: Sequence[float],
    confidence: float = 0.95,
) -> OrderEffect:  # fmt: skip
    """Fit the model above on trials with a positive, finite value; NaN when position cannot be told apart."""
    keep = [i for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    if not keep:
        return OrderEffect(0, 0, {})
    pos = np.array([float(positions[i]) for i in keep])
    y = np.log([float(values[i]) for i in keep])
    base = _design([groups[i] for i in keep], [rounds[i] for i in keep])
    residual = y - base @ np.linalg.pinv(base) @ y
    by_position = {int(p): (float(np.exp(residual[pos == p].mean())), int((pos == p).sum())) for p in sorted(set(pos))}
    x = np.column_stack([base, pos])
    df = len(keep) - x.shape[1]
    if len(by_position) < 2 or df < 1 or np.linalg.matrix_rank(x) < x.shape[1]:
        return OrderEffect(len(keep), max(df, 0), by_position)  # position is not identifiable apart from the rest
    xtx_inv = np.linalg.inv(x.T @ x)
    coef = xtx_inv @ x.T @ y
    resid = y - x @ coef
    beta = float(coef[-1])
    se = math.sqrt(float(resid @ resid) / df * float(xtx_inv[-1, -1]))
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    p = float(2 * sps.t.sf(abs(beta) / se, df))
    return OrderEffect(len(keep), df, by_position, math.exp(beta), math.exp(beta - half), math.exp(beta + half), p)
