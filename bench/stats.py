"""Statistics for reports: pure functions over numbers, no I/O, no pandas.

Accuracy over repeated random splits is compared with the Nadeau-Bengio
corrected resampled t-test: the splits overlap (every training set shares
most of its rows with the others), so the plain paired t-test's variance
is far too small and its p-values far too confident. The correction
multiplies the variance of the paired differences by (1/J + n_test/n_train)
instead of 1/J (Nadeau & Bengio, 2003, "Inference for the generalization
error").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

#: pyperf's rule: a measurement whose standard deviation exceeds 10% of its
#: mean is unstable.
NOISY_CV = 0.10


@dataclass(frozen=True)
class MeanCI:
    mean: float
    low: float
    high: float
    n: int


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean with a Student-t confidence interval (NaN bounds for fewer than 2 values)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n < 2:
        return MeanCI(m, math.nan, math.nan, n)
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return MeanCI(m, m - half, m + half, n)


@dataclass(frozen=True)
class PairedTest:
    """Result of a paired comparison of two models over J shared splits."""

    mean_diff: float
    low: float
    high: float
    t: float
    p: float
    n_splits: int
    wins: int
    ties: int
    losses: int

    @property
    def significant(self) -> bool:
        return self.p < 0.05


def win_tie_loss(diffs: Sequence[float] | np.ndarray, tol: float = 1e-12) -> tuple[int, int, int]:
    d = np.asarray(diffs, dtype=float)
    return int((d > tol).sum()), int((np.abs(d) <= tol).sum()), int((d < -tol).sum())


def corrected_resampled_ttest(
    diffs: Sequence[float], n_train: int, n_test: int, confidence: float = 0.95
) -> PairedTest:
    """Nadeau-Bengio corrected resampled t-test on per-split differences.

    Parameters
    ----------
    diffs : sequence of float
        Score of model B minus score of model A on each shared split (J >= 2).
    n_train, n_test : int
        Training and test set sizes of one split.

    Returns
    -------
    PairedTest
        Mean difference, its CI, t statistic and two-sided p-value with J-1
        degrees of freedom, and the splits won, tied and lost by B.
    """
    d = np.asarray(diffs, dtype=float)
    j = d.size
    if j < 2:
        raise ValueError(f"the corrected t-test needs at least 2 paired splits; got {j}")
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    se = math.sqrt(var * (1.0 / j + n_test / n_train))
    w, t_, l_ = win_tie_loss(d)
    if se == 0.0:
        p = 1.0 if mean == 0.0 else 0.0
        t = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        return PairedTest(mean, mean, mean, t, p, j, w, t_, l_)
    t = mean / se
    p = float(2 * sps.t.sf(abs(t), j - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2, j - 1) * se)
    return PairedTest(mean, mean - half, mean + half, t, p, j, w, t_, l_)


def naive_paired_ttest(diffs: Sequence[float]) -> float:
    """Plain paired t-test p-value: over-confident on overlapping splits; for contrast only."""
    d = np.asarray(diffs, dtype=float)
    se = d.std(ddof=1) / math.sqrt(d.size)
    if se == 0:
        return 1.0 if d.mean() == 0 else 0.0
    return float(2 * sps.t.sf(abs(d.mean() / se), d.size - 1))


@dataclass(frozen=True)
class RatioCI:
    """Geometric-mean ratio B/A over paired samples with a bootstrap CI."""

    ratio: float
    low: float
    high: float
    n: int

    def verdict(self, smaller_is: str = "faster", larger_is: str = "slower", tolerance: float = 0.05) -> str:
        """``smaller_is`` / ``larger_is`` when the CI excludes 1, else "no difference".

        A real but small difference (the ratio within ``tolerance`` of 1) is
        called "slightly" so, so a 1% shift does not read like a speed-up.
        """
        if self.n < 2 or math.isnan(self.low):
            return "too few samples"
        if self.high < 1.0:
            return smaller_is if self.ratio < 1 - tolerance else f"slightly {smaller_is} (<{tolerance:.0%})"
        if self.low > 1.0:
            return larger_is if self.ratio > 1 + tolerance else f"slightly {larger_is} (<{tolerance:.0%})"
        return "no difference"


def ratio_ci(
    a: Sequence[float], b: Sequence[float], n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> RatioCI:
    """Ratio of B to A as the geometric mean of paired ratios, with a percentile bootstrap CI.

    Resamples pairs (splits), so the interval reflects split-to-split variation.
    """
    a_ = np.asarray(a, dtype=float)
    b_ = np.asarray(b, dtype=float)
    if a_.shape != b_.shape:
        raise ValueError("a and b must be paired (same length)")
    logs = np.log(b_ / a_)
    n = logs.size
    if n == 0:
        return RatioCI(math.nan, math.nan, math.nan, 0)
    point = float(np.exp(logs.mean()))
    if n < 2:
        return RatioCI(point, math.nan, math.nan, n)
    rng = np.random.default_rng(seed)
    means = logs[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.exp(np.quantile(means, [alpha, 1 - alpha]))
    return RatioCI(point, float(low), float(high), n)


def coefficient_of_variation(values: Sequence[float]) -> float:
    x = np.asarray(values, dtype=float)
    if x.size < 2 or x.mean() == 0:
        return math.nan
    return float(x.std(ddof=1) / x.mean())


def is_noisy(values: Sequence[float], threshold: float = NOISY_CV) -> bool:
    cv = coefficient_of_variation(values)
    return not math.isnan(cv) and cv > threshold


def median_iqr(values: Sequence[float]) -> tuple[float, float, float]:
    x = np.asarray(values, dtype=float)
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return float(med), float(q1), float(q3)


@dataclass(frozen=True)
class FriedmanResult:
    mean_ranks: dict
    statistic: float
    p: float
    n_datasets: int
    note: str


def friedman(scores: dict[str, Sequence[float]]) -> FriedmanResult:
    """Mean ranks (1 = best, higher score better) and Friedman's test across datasets.

    Parameters
    ----------
    scores : dict
        Model name -> one score per dataset (same dataset order for all).
    """
    names = list(scores)
    matrix = np.array([scores[n] for n in names], dtype=float).T  # datasets x models
    ranks = np.apply_along_axis(lambda row: sps.rankdata(-row), 1, matrix)
    mean_ranks = {n: float(r) for n, r in zip(names, ranks.mean(axis=0))}
    n_data = matrix.shape[0]
    note = ""
    if len(names) < 3 or n_data < 2:
        return FriedmanResult(
            mean_ranks, math.nan, math.nan, n_data, "Friedman's test needs >= 3 models and >= 2 datasets."
        )
    stat, p = sps.friedmanchisquare(*matrix.T)
    if n_data < 5:
        note = f"Only {n_data} datasets: too few for Friedman's test to detect any but huge differences; do not conclude from it."
    return FriedmanResult(mean_ranks, float(stat), float(p), n_data, note)
