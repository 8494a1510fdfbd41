"""Statistics for reports: pure functions over numbers, no I/O, no pandas.

Accuracy over repeated random splits is compared with the Nadeau-Bengio
corrected resampled t-test: the splits overlap (every training set shares
most of its rows with the others), so the plain paired t-test's variance
is far too small and its p-values far too confident. The correction
multiplies the variance of the paired differences by (1/J + n_test/n_train)
instead of 1/J (Nadeau & Bengio, 2003, "Inference for the generalization
error"). The same correction widens every accuracy interval.

Never over-claim: a difference that is the same on every split has no
p-value (the test's variance is zero, not its uncertainty); "not
significant" comes with the minimum detectable difference (80% power); a
family of tests is Holm-corrected; a ratio needs at least
:data:`MIN_RATIO_PAIRS` pairs before it is called faster or slower.
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
#: Fewer matched pairs than this give "too few pairs", never faster/slower.
MIN_RATIO_PAIRS = 5
ALPHA = 0.05
POWER = 0.80


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


def correction(j: int, n_train: int, n_test: int) -> float:
    """Nadeau-Bengio variance factor for the mean over J overlapping splits: 1/J + n_test/n_train."""
    return 1.0 / j + n_test / n_train


def corrected_mean_ci(
    values: Sequence[float],
    n_train: int,
    n_test: int,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> MeanCI:
    """Mean accuracy over J overlapping splits with the Nadeau-Bengio corrected t-interval.

    The plain interval (variance / J) treats the splits as independent; they
    share most of their training rows, so it is far too narrow. ``bounds``
    clips the interval to the values a metric can take (accuracy: 0 to 1).
    """
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n < 2 or x.var() == 0:  # one split, or the same value on every split: no interval to give
        return MeanCI(m, math.nan, math.nan, n)
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(x.var(ddof=1) * correction(n, n_train, n_test)))
    low, high = m - half, m + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return MeanCI(m, low, high, n)


def minimum_detectable_difference(
    sd: float, j: int, n_train: int, n_test: int, alpha: float = ALPHA, power: float = POWER
) -> float:
    """Smallest true mean difference the corrected test detects with ``power`` at level ``alpha``.

    ``(t_{1-alpha/2, J-1} + t_{power, J-1}) * sd * sqrt(1/J + n_test/n_train)``:
    the approximate power of a two-sided t-test, with the observed standard
    deviation of the per-split differences. NaN for fewer than 2 splits.
    """
    if j < 2 or not math.isfinite(sd):
        return math.nan
    quantiles = sps.t.ppf(1 - alpha / 2, j - 1) + sps.t.ppf(power, j - 1)
    return float(quantiles * sd * math.sqrt(correction(j, n_train, n_test)))


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
    #: Minimum detectable difference (80% power, alpha 0.05) with the corrected variance.
    mdd: float = math.nan

    @property
    def constant(self) -> bool:
        """Every split gave the same difference: zero variance, so no p-value and no verdict."""
        return math.isnan(self.p)

    @property
    def significant(self) -> bool:
        return not self.constant and self.p < ALPHA

    def describe(self, p_adjusted: float | None = None, name: str = "B") -> str:
        """The verdict in words, never more than the numbers support.

        ``p_adjusted``: the family-wise (Holm) p-value to decide with; ``name``: who "B" is.
        """
        if self.constant:
            if self.mean_diff == 0:
                return "identical on every split"
            return f"constant difference {self.mean_diff:+.3g} on every split (no test possible)"
        p = self.p if p_adjusted is None else p_adjusted
        if p < ALPHA:
            held = " after Holm's correction" if p_adjusted is not None else ""
            return f"{name} {'more' if self.mean_diff > 0 else 'less'} accurate (p < 0.05){held}"
        return f"not significant; detectable: {self.mdd:.2g}" if math.isfinite(self.mdd) else "not significant"


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
        # Zero variance is not certainty: J equal differences say nothing about
        # the next split. No statistic, no p-value, no verdict.
        return PairedTest(mean, mean, mean, math.nan, math.nan, j, w, t_, l_, math.nan)
    t = mean / se
    p = float(2 * sps.t.sf(abs(t), j - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2, j - 1) * se)
    mdd = minimum_detectable_difference(math.sqrt(var), j, n_train, n_test)
    return PairedTest(mean, mean - half, mean + half, t, p, j, w, t_, l_, mdd)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order; NaN stays NaN and is not counted)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    running = 0.0
    for rank, idx in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out.tolist()


def naive_paired_ttest(diffs: Sequence[float]) -> float:
    """Plain paired t-test p-value: over-confident on overlapping splits; for contrast only."""
    d = np.asarray(diffs, dtype=float)
    se = d.std(ddof=1) / math.sqrt(d.size)
    if se == 0:
        return 1.0 if d.mean() == 0 else 0.0
    return float(2 * sps.t.sf(abs(d.mean() / se), d.size - 1))


@dataclass(frozen=True)
class RatioCI:
    """Geometric-mean ratio B/A over paired samples with a t-interval on the log ratios."""

    ratio: float
    low: float
    high: float
    n: int

    def verdict(self, smaller_is: str = "faster", larger_is: str = "slower", tolerance: float = 0.05) -> str:
        """``smaller_is`` / ``larger_is`` when the CI excludes 1, else "no difference".

        A real but small difference (the ratio within ``tolerance`` of 1) is
        called "slightly" so, so a 1% shift does not read like a speed-up.
        """
        if self.n < MIN_RATIO_PAIRS or math.isnan(self.low):
            return f"too few pairs ({self.n} < {MIN_RATIO_PAIRS})"
        if self.high < 1.0:
            return smaller_is if self.ratio < 1 - tolerance else f"slightly {smaller_is} (<{tolerance:.0%})"
        if self.low > 1.0:
            return larger_is if self.ratio > 1 + tolerance else f"slightly {larger_is} (<{tolerance:.0%})"
        return "no difference"


def ratio_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> RatioCI:
    """Ratio of B to A: the geometric mean of paired ratios, with a Student-t interval on the logs.

    Pairs are splits (or matched trials), so the interval reflects their
    variation; with few pairs it is honestly wide (two pairs: the t quantile
    is 12.7). NaN bounds for fewer than 2 pairs.
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
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * logs.std(ddof=1) / math.sqrt(n))
    return RatioCI(point, float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half)), n)


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
    #: Nemenyi's critical difference of mean ranks (alpha 0.05).
    critical_difference: float = math.nan

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p) and self.p < ALPHA


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
    cd = nemenyi_critical_difference(len(names), n_data)
    return FriedmanResult(mean_ranks, float(stat), float(p), n_data, note, cd)


def nemenyi_critical_difference(k: int, n_datasets: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks (Demsar 2006): q_alpha * sqrt(k(k+1) / (6N)).

    ``q_alpha`` is the studentized range quantile for k groups over sqrt(2).
    """
    if k < 2 or n_datasets < 1:
        return math.nan
    q = float(sps.studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6.0 * n_datasets))


def nemenyi_pairs(mean_ranks: dict[str, float], cd: float) -> list[tuple[str, str, float, bool]]:
    """Every pair of models: (a, b, |rank difference|, differs by more than the critical difference)."""
    names = sorted(mean_ranks, key=lambda n: mean_ranks[n])
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diff = abs(mean_ranks[a] - mean_ranks[b])
            out.append((a, b, diff, bool(diff > cd)))
    return out


@dataclass(frozen=True)
class VarianceComponents:
    """How much of the variation comes from the split and how much from initialisation."""

    split_sd: float
    init_sd: float
    n_splits: int
    n_inits: int

    @property
    def init_share(self) -> float:
        total = self.split_sd**2 + self.init_sd**2
        return self.init_sd**2 / total if total > 0 else math.nan


def variance_components(by_split: dict[int, Sequence[float]]) -> VarianceComponents:
    """One-way random-effects estimate (Bouthillier et al., 2021): splits as groups, init seeds within.

    sigma^2_init = mean within-split variance; sigma^2_split = (variance of
    split means - sigma^2_init / k), floored at 0. Needs >= 2 splits with >= 2
    init seeds each; NaN otherwise.
    """
    groups = [np.asarray(v, dtype=float) for v in by_split.values() if len(v) >= 2]
    if len(groups) < 2:
        return VarianceComponents(math.nan, math.nan, len(groups), 0)
    k = min(len(g) for g in groups)
    within = float(np.mean([g.var(ddof=1) for g in groups]))
    between = float(np.var([g.mean() for g in groups], ddof=1))
    split_var = max(0.0, between - within / k)
    return VarianceComponents(math.sqrt(split_var), math.sqrt(within), len(groups), k)
