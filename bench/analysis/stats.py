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
significant" comes with the difference that could have been detected
(exact noncentral-t power, at the level the verdict used); a family of
tests is Holm-corrected (:mod:`hello_bench.analysis.family`); a ratio needs at
least :data:`MIN_RATIO_PAIRS` pairs before it is called faster or slower.
Which sentence a number earns is decided in :mod:`hello_bench.analysis.verdicts`,
not here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize
from scipy import stats as sps

#: pyperf's rule: a measurement whose standard deviation exceeds 10% of its
#: mean is unstable.
NOISY_CV = 0.10
#: Fewer matched pairs than this give "too few pairs", never faster/slower.
MIN_RATIO_PAIRS = 5
ALPHA = 0.05
POWER = 0.80


def _floats(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Values as a float array (a pandas column of objects or numbers given as text included)."""
    return np.asarray(values, dtype=float)


@dataclass(frozen=True)
class MeanCI:
    mean: float
    low: float
    high: float
    n: int


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean with a Student-t confidence interval (NaN bounds for fewer than 2 values)."""
    x = _floats(values)
    n = x.size
    if n < 2:
        return MeanCI(float(x[0]) if n else math.nan, math.nan, math.nan, n)
    m = float(x.mean())
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
    x = _floats(values)
    n = x.size
    # One split, or the same value on every split (compared exactly: the variance of equal floats
    # can come out as 1e-33 rather than 0): no interval to give.
    if n < 2 or x.min() == x.max():
        return MeanCI(float(x[0]) if n else math.nan, math.nan, math.nan, n)
    m = float(x.mean())
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(x.var(ddof=1) * correction(n, n_train, n_test)))
    low, high = m - half, m + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return MeanCI(m, low, high, n)


def power(noncentrality: float, df: int, alpha: float) -> float:
    """Exact power of a two-sided t-test at level ``alpha`` with ``df`` degrees of freedom.

    Under a true difference the statistic follows a noncentral t with
    noncentrality delta / se: power = P(T > t_crit) + P(T < -t_crit), the second
    term written as the upper tail at -delta (scipy's lower tail returns NaN
    far from the centre).
    """
    critical = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(critical, df, noncentrality) + sps.nct.sf(critical, df, -noncentrality))


def noncentrality_for_power(df: int, alpha: float, target: float = POWER) -> float:
    """The noncentrality (delta / se) at which the two-sided t-test reaches ``target`` power."""
    high = 1.0  # pragma: no mutate (any start works: it grows until the root is bracketed)
    while power(high, df, alpha) < target:  # pragma: no mutate (equality at a doubling: either way a bracket)
        high *= 2  # pragma: no mutate (any growth factor > 1 works)
    root = optimize.brentq(lambda nc: power(nc, df, alpha) - target, 0.0, high, xtol=1e-10)  # pragma: no mutate (xtol)
    return float(root)


def detectable_difference(
    sd: float, j: int, n_train: int, n_test: int, alpha: float = ALPHA, target: float = POWER
) -> float:
    """Smallest true mean difference the corrected test detects with ``target`` power at level ``alpha``.

    The exact noncentral-t power (not the two-quantile approximation, which
    understates at few splits: it gives power 0.73 at J = 2) on the corrected
    standard error ``sd * sqrt(1/J + n_test/n_train)``. ``sd`` is the *observed*
    standard deviation of the per-split differences: a plug-in, itself
    uncertain. ``alpha`` is the level the verdict needs (under Holm, the most
    demanding step is alpha/m). NaN for fewer than 2 splits.
    """
    if j < 2 or not math.isfinite(sd):
        return math.nan
    return noncentrality_for_power(j - 1, alpha, target) * sd * math.sqrt(correction(j, n_train, n_test))


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
    #: Standard deviation of the per-split differences (ddof=1).
    sd: float
    #: The corrected standard error of the mean difference: sd * sqrt(1/J + n_test/n_train).
    se: float

    @property
    def constant(self) -> bool:
        """Every split gave the same difference: zero variance, so no p-value and no verdict."""
        return math.isnan(self.p)

    def detectable(self, alpha: float) -> float:
        """The difference this test detects with 80% power at level ``alpha`` (observed spread)."""
        if self.constant:
            return math.nan
        return self.se * noncentrality_for_power(self.n_splits - 1, alpha)

    def equivalence_p(self, margin: float) -> float:
        """TOST p-value for |true difference| < ``margin``: the larger of the two one-sided p-values.

        Both one-sided corrected t-tests (difference > -margin, difference <
        margin) must reject; NaN for a constant difference (no variance, no test).
        """
        if self.constant:
            return math.nan
        df = self.n_splits - 1
        above = sps.t.sf((self.mean_diff + margin) / self.se, df)
        below = sps.t.cdf((self.mean_diff - margin) / self.se, df)
        return float(max(above, below))


def win_tie_loss(diffs: Sequence[float] | np.ndarray, tol: float = 1e-12) -> tuple[int, int, int]:
    d = _floats(diffs)
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
    d = _floats(diffs)
    j = d.size
    if j < 2:
        raise ValueError(f"the corrected t-test needs at least 2 paired splits; got {j}")
    w, t_, l_ = win_tie_loss(d)
    if d.min() == d.max():
        # Zero variance is not certainty: J equal differences say nothing about the next split. No
        # statistic, no p-value, no verdict. (Compared exactly: np.var of ten equal 1/75s is 3e-36,
        # not 0, which would make t = 1e16 and "significant".)
        same = float(d[0])  # pragma: no mutate (every d is the same here)
        return PairedTest(same, same, same, math.nan, math.nan, j, w, t_, l_, 0.0, 0.0)
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    se = math.sqrt(var * (1.0 / j + n_test / n_train))
    t = mean / se
    p = float(2 * sps.t.sf(abs(t), j - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2, j - 1) * se)
    return PairedTest(mean, mean - half, mean + half, t, p, j, w, t_, l_, math.sqrt(var), se)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order; NaN stays NaN and is not counted)."""
    p = _floats(pvalues)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    running = 0.0
    # Tied p-values get the same adjusted value whatever their order, so any sort will do.
    for rank, idx in enumerate(valid[np.argsort(p[valid])]):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out.tolist()


def naive_paired_ttest(diffs: Sequence[float]) -> float:
    """Plain paired t-test p-value: over-confident on overlapping splits; for contrast only."""
    d = _floats(diffs)
    se = d.std(ddof=1) / math.sqrt(d.size)
    if se == 0:
        return 1.0 if d.mean() == 0 else 0.0
    return float(2 * sps.t.sf(abs(d.mean() / se), d.size - 1))


@dataclass(frozen=True)
class RatioCI:
    """Geometric-mean ratio B/A over paired samples with a t-interval on the log ratios.

    ``below``/``above``: pairs whose own ratio is under/over 1, so a reader
    sees when the pairs disagree (a bimodal spread) behind a mean.
    """

    ratio: float
    low: float
    high: float
    n: int
    below: int = 0
    above: int = 0


def _paired(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Two paired samples as float arrays; they must have the same length."""
    x, y = _floats(a), _floats(b)
    if x.shape != y.shape:
        raise ValueError("a and b must be paired (same length)")
    return x, y


def ratio_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> RatioCI:
    """Ratio of B to A: the geometric mean of paired ratios, with a Student-t interval on the logs.

    Pairs are splits (or matched trials), so the interval reflects their
    variation; with few pairs it is honestly wide (two pairs: the t quantile
    is 12.7). NaN bounds for fewer than 2 pairs.
    """
    a_, b_ = _paired(a, b)
    logs = np.log(b_ / a_)
    n = logs.size
    below, above = int((logs < 0).sum()), int((logs > 0).sum())
    if n < 2:
        return RatioCI(float(np.exp(logs[0])) if n else math.nan, math.nan, math.nan, n, below, above)
    point = float(np.exp(logs.mean()))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * logs.std(ddof=1) / math.sqrt(n))
    return RatioCI(point, float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half)), n, below, above)


def median_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Median with a distribution-free interval from order statistics; +inf (censored) values allowed.

    The interval is [x_(k), x_(n-k+1)] for the largest k whose binomial
    coverage ``1 - 2 * P(Binomial(n, 1/2) < k)`` is still at least
    ``confidence``; it needs no assumption about the times' distribution and
    only the order of the values, so a split that never reached a target
    (+inf) is placed last, not dropped. NaN bounds when n is too small for
    any such interval (n < 6 at 95%).
    """
    x = np.sort(_floats(values))
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    med = float(np.median(x))  # +inf once the middle split never got there
    k = 0
    while 2 * (k + 1) <= n and 1 - 2 * sps.binom.cdf(k, n, 0.5) >= confidence:
        k += 1
    if k == 0:
        return med, math.nan, math.nan
    return med, float(x[k - 1]), float(x[n - k])


@dataclass(frozen=True)
class SignTest:
    """Paired sign test: on how many pairs A is smaller, B is smaller, and the exact two-sided p."""

    a_smaller: int
    b_smaller: int
    ties: int
    p: float


def sign_test(a: Sequence[float], b: Sequence[float]) -> SignTest:
    """Exact two-sided sign test on paired values; +inf (censored: never reached) compares as larger.

    Only the order within each pair is used, so a censored value needs no
    number: finite beats +inf, two +inf tie. Ties are left out (the usual
    convention); no untied pair: NaN p.
    """
    a_, b_ = _paired(a, b)
    a_smaller, b_smaller = int((a_ < b_).sum()), int((b_ < a_).sum())
    n = a_smaller + b_smaller
    p = min(1.0, 2 * float(sps.binom.cdf(min(a_smaller, b_smaller), n, 0.5))) if n else math.nan
    return SignTest(a_smaller, b_smaller, a_.size - n, p)


def coefficient_of_variation(values: Sequence[float]) -> float:
    x = _floats(values)
    if x.size < 2 or x.mean() == 0:
        return math.nan
    return float(x.std(ddof=1) / x.mean())


def is_noisy(values: Sequence[float], threshold: float = NOISY_CV) -> bool:
    cv = coefficient_of_variation(values)
    return not math.isnan(cv) and cv > threshold


def median_iqr(values: Sequence[float]) -> tuple[float, float, float]:
    x = _floats(values)
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
    matrix = _floats([scores[n] for n in names]).T  # datasets x models
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
    groups = [_floats(v) for v in by_split.values() if len(v) >= 2]
    if len(groups) < 2:
        return VarianceComponents(math.nan, math.nan, len(groups), 0)
    k = min(len(g) for g in groups)
    within = float(np.mean([g.var(ddof=1) for g in groups]))
    between = float(np.var([g.mean() for g in groups], ddof=1))
    split_var = max(0.0, between - within / k)
    return VarianceComponents(math.sqrt(split_var), math.sqrt(within), len(groups), k)
