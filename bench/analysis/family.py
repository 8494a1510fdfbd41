"""Holm over an honest family: which tests a verdict is corrected for, each counted once.

A report makes many comparisons, and some are the same test twice: the
model-effect comparison (logistic regression vs the scikit-learn MLP) repeats
a row of the comparisons against the baseline, and a tuned setting whose
per-split accuracies equal its seed setting's gives, against any third
model, exactly the seed setting's test. Two comparisons are one test when
their data are the same: the same per-split differences (up to sign) on the
same splits, with the same n_train/n_test (so the same correction). Such
tests are perfectly dependent (both reject or neither does), so counting
them once keeps Holm's family-wise error control; counting them twice
would make the family look larger than it is and every verdict needlessly
timid, and counting different-looking duplicates (equal p-values by chance,
different splits) once would not be allowed, so only identical data merge.

Comparisons with no test (a single split, or the same difference on every
split) have no p-value and are not members of the family.

Verdicts use the Holm-adjusted p only (:func:`assess`). The difference a
test could have detected is given at alpha/m, Holm's first and most
demanding step: the level a test must beat to be rejected whatever the
others' p-values are.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from hello_bench.analysis import stats

#: Decimals kept when per-split differences are compared: equal accuracies differ by float noise only.
KEY_DECIMALS = 12


def comparison_key(splits: Sequence[Hashable], diffs: Sequence[float], n_train: int, n_test: int) -> tuple:
    """What makes two comparisons the same test: their per-split differences, up to sign, on the same splits."""
    rounded = [round(float(d), KEY_DECIMALS) for d in diffs]
    # One of the two signs, always the same one (-0.0 == 0.0 and they hash alike, so zeros need no care).
    canonical = min(rounded, [-d for d in rounded])
    return (int(n_train), int(n_test), tuple(zip(splits, canonical)))


def holm_distinct(keys: Sequence[Hashable], pvalues: Sequence[float]) -> tuple[list[float], int]:
    """Holm-adjusted p per comparison, each distinct test (key) counted once; NaN p: not a member.

    Returns the adjusted p-values (in the input order) and m, the number of
    distinct tests the family holds.
    """
    first: dict[Hashable, float] = {}
    for key, p in zip(keys, pvalues):
        if not math.isnan(p):
            first.setdefault(key, p)
    adjusted = dict(zip(first, stats.holm(list(first.values()))))
    return [adjusted[k] if not math.isnan(p) else math.nan for k, p in zip(keys, pvalues)], len(first)


@dataclass(frozen=True)
class Assessed:
    """One comparison's numbers after the family is formed."""

    p_holm: float
    #: Difference detectable with 80% power at the family's level (alpha/m), with the test's observed spread.
    detectable: float
    #: Holm-adjusted TOST p-value for equivalence within the margin (NaN without a margin or a test).
    p_equivalent: float


@dataclass(frozen=True)
class Family:
    assessed: list[Assessed]
    #: Distinct tests in the family.
    m: int
    #: alpha/m: the level Holm's first step needs.
    level: float


def level(m: int, alpha: float = stats.ALPHA) -> float:
    """Holm's most demanding level: alpha/m (alpha itself for an empty family)."""
    return alpha / max(m, 1)


def assess(tests: Sequence[stats.PairedTest | None], keys: Sequence[Hashable], margin: float | None = None) -> Family:
    """Holm over the distinct tests; detectable differences at alpha/m; TOST equivalence (Holm) with a margin."""
    raw = [t.p if t is not None else math.nan for t in tests]
    p_holm, m = holm_distinct(keys, raw)
    alpha_m = level(m)
    if margin is None:
        equivalent = [math.nan] * len(tests)
    else:
        tost = [t.equivalence_p(margin) if t is not None else math.nan for t in tests]
        equivalent, _ = holm_distinct(keys, tost)
    assessed = [
        Assessed(p, t.detectable(alpha_m) if t is not None else math.nan, e)
        for t, p, e in zip(tests, p_holm, equivalent)
    ]
    return Family(assessed, m, alpha_m)
