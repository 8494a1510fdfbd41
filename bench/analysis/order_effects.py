"""Order effects: does running earlier or later within a round change a trial's time?

The adapters of each round run in a seeded random order (:mod:`hello_bench.run.order`), so an order effect
cannot favour one adapter on average; it still adds noise, and a large one says something about the
machine (a warm-up the worker's own warm-up did not cover, a cache another group evicts). The test is
a linear model of the log time on the trial's position within its round (0 = first), with one level
per group (adapter, device, environment) and one per round (the machine's state when the round ran):

    log(y) = group + round + beta * position + error

fitted by least squares (the round levels absorbed by demeaning: no dense design matrix); beta is the change per position (as a ratio, ``exp(beta)``), with its
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


def _codes(labels: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    """Each label's level as an integer (levels by first appearance), and the number of levels."""
    levels: dict[str, int] = {}
    labelled = (levels.setdefault(str(x), len(levels)) for x in labels)
    codes = np.fromiter(labelled, dtype=np.intp, count=len(labels))  # pragma: no mutate (count only preallocates)
    return codes, len(levels)


def _within(codes: np.ndarray, levels: int, columns: np.ndarray) -> np.ndarray:
    """``columns`` (n x k) less their mean within each level of ``codes``."""
    # pragma-marked: codes come from _codes, so every level occurs and minlength changes nothing; float is
    # numpy's default dtype
    counts = np.bincount(codes, minlength=levels).astype(float)  # pragma: no mutate
    means = np.stack([np.bincount(codes, weights=c, minlength=levels) for c in columns.T], axis=1)  # pragma: no mutate
    means = means / counts[:, None]
    return columns - means[codes]


def _absorbed(groups: np.ndarray, rounds: np.ndarray, n_groups: int, n_rounds: int, columns: np.ndarray) -> tuple:
    """``columns`` with the group and round levels taken out by least squares, and the design's own check.

    The same least squares as one dummy column per group and per round, without building that n x (groups +
    rounds) matrix (at 100,000 trials it would not fit in memory): the round dummies are absorbed exactly by
    demeaning within rounds (Frisch-Waugh-Lovell), leaving a regression on the few demeaned group dummies.
    Also returns the demeaned group dummies, whose rank with a demeaned column tells whether that column is
    identifiable apart from the levels.
    """
    dummies = np.zeros((len(groups), n_groups))
    dummies[np.arange(len(groups)), groups] = 1.0  # pragma: no mutate (any nonzero value spans the same columns)
    dummies = _within(rounds, n_rounds, dummies)
    inside = _within(rounds, n_rounds, columns)
    coef = np.linalg.lstsq(dummies, inside, rcond=None)[0]  # pragma: no mutate (rcond=None: numpy's default)
    return inside - dummies @ coef, dummies, inside


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
    g, n_groups = _codes([groups[i] for i in keep])
    r, n_rounds = _codes([rounds[i] for i in keep])
    resid, dummies, inside = _absorbed(g, r, n_groups, n_rounds, np.column_stack([y, pos]))
    residual, pos_left = resid[:, 0], resid[:, 1]
    by_position = {int(p): (float(np.exp(residual[pos == p].mean())), int((pos == p).sum())) for p in sorted(set(pos))}
    # Parameters: one per group, one per round but the first, the position's slope.
    df = len(keep) - (n_groups + n_rounds)
    # The full design has full column rank exactly when the demeaned group dummies and position do.
    if len(by_position) < 2 or df < 1 or np.linalg.matrix_rank(np.column_stack([dummies, inside[:, 1]])) < n_groups:
        return OrderEffect(len(keep), max(df, 0), by_position)  # position is not identifiable apart from the rest
    spread = float(pos_left @ pos_left)
    beta = float(pos_left @ residual) / spread
    left = residual - beta * pos_left
    se = math.sqrt(float(left @ left) / df / spread)
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    p = float(2 * sps.t.sf(abs(beta) / se, df))
    return OrderEffect(len(keep), df, by_position, math.exp(beta), math.exp(beta - half), math.exp(beta + half), p)
