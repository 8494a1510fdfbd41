"""Which sentence a number earns: every verdict the report, ``bench compare`` and the README print.

Pure functions from numbers to words, apart from the report's prose, so each
rule is tested directly and under mutation. The rules:

- accuracy: a difference is called only from the Holm-adjusted p (never the
  raw p) below :data:`~hello_bench.analysis.stats.ALPHA`; "not significant" comes
  with the difference that could have been detected at the level the
  verdict used; a constant difference gets no test and no verdict;
- equivalence (with a user's margin): TOST, Holm-adjusted, within the margin;
- ratios (time, latency): "faster"/"slower" only from at least
  :data:`~hello_bench.analysis.stats.MIN_RATIO_PAIRS` pairs and an interval that
  excludes 1; the sentences the README prints ("made it slower here")
  follow the same rule;
- serving: a path is "the fastest" only when its paired interval against
  every other valid path excludes 1 (with enough pairs); otherwise the
  paths it cannot be told from are named;
- time to accuracy: "A before B" only from a paired sign test with Holm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hello_bench.analysis import stats
from hello_bench.analysis.time_to_accuracy import Ordering


def _g(x: float) -> str:
    """Three significant digits; thousands written out (3,380, not 3.38e+03)."""
    return f"{x:.3g}" if abs(x) < 1e3 else f"{x:,.0f}"


# -- accuracy -----------------------------------------------------------------------------------


def accuracy_verdict(
    test: stats.PairedTest | None, p_holm: float, detectable: float, name: str = "B", higher: str = "more accurate",
    lower: str = "less accurate",
) -> str:  # fmt: skip
    """B against A in words: from the Holm-adjusted p only; "not significant" with what was detectable."""
    if test is None:
        return "too few splits for a test"
    if test.constant:
        if test.mean_diff == 0:
            return "identical on every split"
        return f"constant difference {test.mean_diff:+.3g} on every split (no test possible)"
    if p_holm < stats.ALPHA:
        return f"{name} {higher if test.mean_diff > 0 else lower} (p < {stats.ALPHA:g} after Holm)"
    if math.isfinite(detectable):
        return f"not significant after Holm; detectable: {detectable:.2g}"
    return "not significant after Holm"


def accuracy_changed(test: stats.PairedTest | None, p_holm: float) -> bool:
    """A setting meant to change only speed changed accuracy: the Holm-adjusted test says so."""
    return test is not None and not test.constant and p_holm < stats.ALPHA


def equivalence_verdict(test: stats.PairedTest | None, p_equivalent: float, margin: float) -> str:
    """TOST within +-margin, Holm-adjusted: "equivalent" only when both one-sided tests reject."""
    if test is None or test.constant:
        return "no test possible"
    if p_equivalent < stats.ALPHA:
        return f"equivalent within ±{margin:g} (TOST, p < {stats.ALPHA:g} after Holm)"
    return f"not shown equivalent within ±{margin:g}"


def family_sentence(comparisons: int, m: int, groups: Sequence[str]) -> str:
    """How many comparisons, how many distinct tests, and the level the first Holm step needs."""
    return (
        f"{comparisons} comparisons ({', '.join(groups)}) hold {m} distinct corrected t-tests: a comparison whose "
        "per-split differences equal another's is the same test and is counted once, and a constant difference has "
        f"no test. p (Holm) is Holm's step-down adjustment over those {m}, and every verdict uses it, never the raw p. "
        f"'Detectable' is the difference each test would find 80% of the time at alpha/m = {stats.ALPHA:g}/{max(m, 1)} "
        f"= {stats.ALPHA / max(m, 1):.2g}, Holm's most demanding step (exact noncentral-t power, corrected standard "
        "error, the observed spread of the per-split differences: an estimate, not a known constant)."
    )


# -- ratios -------------------------------------------------------------------------------------


def below_one(r: stats.RatioCI) -> bool:
    """The whole interval is below 1, from enough pairs: B is smaller than A, and not by chance."""
    return r.n >= stats.MIN_RATIO_PAIRS and r.high < 1.0


def ratio_verdict(
    r: stats.RatioCI, smaller_is: str = "faster", larger_is: str = "slower", tolerance: float = 0.05
) -> str:
    """``smaller_is`` / ``larger_is`` when the CI excludes 1 (from enough pairs), else "no difference".

    A real but small difference (the ratio within ``tolerance`` of 1) is
    called "slightly" so, so a 1% shift does not read like a speed-up.
    """
    if r.n < stats.MIN_RATIO_PAIRS or math.isnan(r.low):
        return f"too few pairs ({r.n} < {stats.MIN_RATIO_PAIRS})"
    if below_one(r):
        return smaller_is if r.ratio < 1 - tolerance else f"slightly {smaller_is} (<{tolerance:.0%})"
    if r.low > 1.0:
        return larger_is if r.ratio > 1 + tolerance else f"slightly {larger_is} (<{tolerance:.0%})"
    return "no difference"


def ratio_text(r: stats.RatioCI) -> str:
    return f"{_g(r.ratio)}x [{_g(r.low)}, {_g(r.high)}]" if math.isfinite(r.low) else f"{_g(r.ratio)}x"


def setting_effect(r: stats.RatioCI) -> str:
    """What a setting did to fit time, as the README says it: "made it slower here" only when earned."""
    numbers = f"{ratio_text(r)} the fit time over {r.n} split{'s' if r.n != 1 else ''}"
    verdict = ratio_verdict(r)
    if verdict.startswith("too few"):
        return f"was measured on too few splits to say whether it helps ({numbers}; a verdict needs {stats.MIN_RATIO_PAIRS})"
    if verdict == "no difference":
        return f"made no measurable difference here ({numbers})"
    return f"made it {verdict} here ({numbers})"


# -- serving ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fastest:
    """The serving path with the lowest median p50, and whether it earns "fastest"."""

    candidate: str
    #: Paths whose paired interval against the candidate does not exclude 1 (or that have too few pairs).
    tied: list[str]

    @property
    def fastest(self) -> str | None:
        return None if self.tied else self.candidate


def fastest_path(p50: dict[str, dict[str, float]]) -> Fastest | None:
    """The lowest median p50 among valid paths, "fastest" only if faster than every other one, pair by pair.

    ``p50``: path -> {trial: p50}. Each other path is compared on the trials
    both hold (the candidate's p50 / the other's, t-interval on the logs): it
    must have at least MIN_RATIO_PAIRS pairs and an upper bound below 1.
    """
    if not p50:
        return None
    medians = {path: float(np.median(list(v.values()))) for path, v in p50.items()}
    candidate = min(sorted(medians), key=lambda p: medians[p])
    tied = []
    for other in sorted(p50):
        if other == candidate:
            continue
        shared = sorted(set(p50[candidate]) & set(p50[other]))
        r = stats.ratio_ci([p50[other][t] for t in shared], [p50[candidate][t] for t in shared])
        if not below_one(r):
            tied.append(other)
    return Fastest(candidate, tied)


def fastest_sentence(f: Fastest) -> str:
    if f.fastest is not None:
        return f"`{f.fastest}` (faster than every other valid path, pair by pair)"
    return f"no single fastest path: `{f.candidate}` cannot be told apart from " + ", ".join(f"`{t}`" for t in f.tied)


def reference_sentence(r: stats.RatioCI) -> str:
    """A path's p50 against the numpy reference's on the same trials, with how many trials point each way."""
    verdict = ratio_verdict(r, "faster than the numpy reference", "slower than the numpy reference")
    split = f"; under 1 on {r.below} of {r.n} trials" if r.below and r.above else ""
    return f"{ratio_text(r)} the numpy reference: {verdict}{split}"


# -- time to accuracy ---------------------------------------------------------------------------


def ordering_sentences(found: Sequence[Ordering]) -> list[str]:
    """ "A reached the target before B" for each pair the Holm-adjusted sign test supports, nothing else."""
    out = []
    for o in found:
        if not o.p_holm < stats.ALPHA:
            continue
        first, second = (o.a, o.b) if o.test.a_smaller > o.test.b_smaller else (o.b, o.a)
        wins = max(o.test.a_smaller, o.test.b_smaller)
        out.append(f"`{first}` before `{second}` ({wins} of {o.splits} splits, Holm p = {o.p_holm:.2g})")
    return out


def ordering_summary(found: Sequence[Ordering]) -> str:
    tested = [o for o in found if not math.isnan(o.p_holm)]
    supported = ordering_sentences(found)
    head = (
        f"Orderings from a paired sign test per split (not reached = +inf), Holm over {len(tested)} pairs: "
        if tested
        else "No pair of adapters shares a split to compare times on."
    )
    if not tested:
        return head
    return head + ("; ".join(supported) if supported else "none is supported at this level") + "."


# -- the blog post's claim ----------------------------------------------------------------------


def seed_claim(
    post_label: str, post_gap: str, post_in_run: bool, run_label: str, run_profile: str | None, version: str | None
) -> str:
    """What repeated splits can say about the post's LR vs MLP gap (``post_gap``), naming the LR defaults that ran."""
    if post_in_run:
        return (
            f"The post's logistic-regression settings (`{post_label}`) ran on these splits: its paired tests above "
            "are what repetition says about the post's gap."
        )
    settings = f"profile `{run_profile}`" if run_profile else "no profile"
    made = f"scikit-learn {version}" if version else "the installed scikit-learn"
    return (
        f"The logistic regression repeated here is `{run_label}` ({settings}: {made}'s defaults), not the post's "
        f"`{post_label}`: these splits say nothing about the post's own {post_gap}, which came from the older "
        "defaults (run on the post's one split only, in the seed table)."
    )
