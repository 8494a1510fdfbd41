"""The CI gate's verdict: PASS, FAIL or INCONCLUSIVE, from one-sided tests against the threshold.

Pure functions over numbers (no I/O, no pandas), tested against hand-computed
values and under mutation. ``bench compare --fail-above PCT`` builds one
:class:`Measured` per gated metric and matched group and asks
:func:`decide` for the verdict.

Every gated metric is turned into a **worsening** per split, positive when B
is worse: ``log(B/A)`` for a time (lower is better), ``log(A/B)`` for a
throughput (higher is better), ``A - B`` for accuracy (a drop, as a
fraction). The threshold is in the same units: ``log(1 + PCT/100)`` for
ratios, ``POINTS/100`` for accuracy. Two one-sided tests of the mean
worsening against the threshold (not against 0) decide:

- **FAIL** when "worsening > threshold" is shown: the one-sided p of
  ``(mean - threshold) / se`` with ``df`` degrees of freedom, Holm-adjusted
  over every test of the comparison (all metrics of all groups), is below
  :data:`ALPHA`. A regression is named only when it is larger than the
  threshold with confidence, whatever the other tests say.
- **PASS** when every gated metric shows "worsening < threshold": each
  one-sided p below :data:`ALPHA` (its one-sided 95% upper bound below the
  threshold). All of them must pass, which is an intersection-union test:
  its error rate is at most ALPHA without a multiplicity correction.
- **INCONCLUSIVE** otherwise, with the reasons, each naming its case: an
  interval across the threshold; an interval beyond the threshold that Holm's
  adjustment did not let through (the raw one-sided p is below alpha, the
  adjusted one is not); too few pairs (fewer than :data:`MIN_PAIRS`); and the
  problems the caller found before testing (nothing matched, B's trials errored
  where A's were ok, a gated metric missing on one side, run-to-run variance
  unknown for two separate runs). Inconclusive never passes.

A **count** (a model's parameters, epochs: deterministic, no noise) is gated
by an exact rule instead: its per-split worsening is B - A in units (A - B when
higher is better); it FAILs when any split is worse by more than the threshold
and PASSes when none is. It takes no part in Holm's family (it has no p-value).

The standard error of the mean worsening is ``sqrt(var * (1/J + correction)
+ extra_var)``: ``correction`` is Nadeau and Bengio's ``n_test/n_train`` for
accuracy over overlapping splits (0 for times), ``extra_var`` the variance
that two separate runs add to a comparison (2 x the run-to-run variance,
from a calibration; 0 inside one run), its degrees of freedom combined with
Welch and Satterthwaite's formula. When every split gives the same
worsening (no variance: the usual case for an unchanged, deterministic
model's accuracy) the t-test has nothing to work with and an exact sign test
against the threshold decides instead (all J splits on one side: p =
2^-J).

Each test also says the smallest worsening it would have detected: the
true worsening at which the one-sided test at Holm's first level (ALPHA/m)
fires with 80% power (exact noncentral t), given the observed spread.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy import optimize
from scipy import stats as sps

from hello_bench.analysis import stats

ALPHA = stats.ALPHA
POWER = stats.POWER
#: Fewer matched pairs than this: no verdict for that metric (as for every ratio in the project).
MIN_PAIRS = stats.MIN_RATIO_PAIRS
#: The accuracy drop gated by default, in percentage points (``--fail-accuracy-drop``).
DEFAULT_ACCURACY_DROP = 2.0

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
#: Exit status of each outcome (``bench compare``; README, "Exit statuses").
EXIT_STATUS = {PASS: 0, FAIL: 4, INCONCLUSIVE: 5}

NOTHING = "nothing matched"
ERRORED = "B's trials errored where A's were ok"
#: The baseline could not be measured: nothing to gate against (not "nothing matched": the trials match).
A_ERRORED = "A's trials errored where B's were ok"
MISSING = "a gated metric missing"
#: The two sides were not made on the same splits (another test size, an adapter name backed by another class).
SPLITS_DIFFER = "the sides differ"
RUN_VARIANCE = "run-to-run variance unknown"
TOO_FEW = "too few pairs"
ACROSS = "interval across the threshold"
#: Beyond the threshold by its own one-sided test, but not after Holm's adjustment over the family.
BEYOND = "beyond the threshold, not shown after Holm"
#: The order reasons are listed in: what stops any test first, then what a test could not decide.
REASONS = (SPLITS_DIFFER, NOTHING, ERRORED, A_ERRORED, MISSING, RUN_VARIANCE, TOO_FEW, BEYOND, ACROSS)

RATIO, DIFFERENCE, EXACT = "ratio", "difference", "exact"


@dataclass(frozen=True)
class Measured:
    """One gated metric of one matched group: its per-split worsening (positive: B worse)."""

    group: str
    metric: str
    worse: tuple[float, ...]
    #: The worsening beyond which B fails, in the same units.
    threshold: float
    #: ``ratio`` (worsening is a log ratio), ``difference`` (accuracy, as a fraction) or ``exact`` (a count, in units).
    kind: str = RATIO
    #: Whether a larger raw value is worse (times) or better (throughput, accuracy); for display.
    lower_is_better: bool = True
    #: The variance term of overlapping splits (Nadeau-Bengio: n_test/n_train); 0 for times.
    correction: float = 0.0
    #: Variance that two separate runs add to the mean worsening (0 inside one run).
    extra_var: float = 0.0
    #: Degrees of freedom of ``extra_var`` (infinite: known).
    extra_df: float = math.inf
    #: Why no test should be made (e.g. run-to-run variance unknown); None: test it.
    blocked: str | None = None
    #: How a difference or count is shown: worsening x ``scale`` in ``unit`` (accuracy: x100, points).
    scale: float = 100.0
    unit: str = "points"


@dataclass(frozen=True)
class Tested:
    """One metric's two one-sided tests against the threshold (NaN where there is no test)."""

    measured: Measured
    n: int
    mean: float
    se: float = math.nan
    df: float = math.nan
    #: One-sided p for "worsening > threshold".
    p_fail: float = math.nan
    #: One-sided p for "worsening < threshold".
    p_pass: float = math.nan
    #: The interval of the mean worsening: the two one-sided bounds at ``alpha`` (90% at the default 5%).
    low: float = math.nan
    high: float = math.nan
    #: "t", "sign" (no variance) or "none".
    method: str = "none"
    #: Why it cannot be decided before looking at p (too few pairs, blocked); None otherwise.
    reason: str | None = None
    #: The one-sided level the bounds were made at (a sequential look tests at less than ALPHA).
    alpha: float = ALPHA

    @property
    def level(self) -> float:
        """The interval's coverage: 1 - 2 alpha (0.9 at the default; wider at a sequential gate's look)."""
        return 1 - 2 * self.alpha


def satterthwaite(a: float, df_a: float, b: float, df_b: float) -> float:
    """Degrees of freedom of the sum of two variance estimates a (df_a >= 1) and b (Welch-Satterthwaite)."""
    denominator = a * a / df_a + (b * b / df_b if math.isfinite(df_b) else 0.0)  # pragma: no mutate (x / inf is 0)
    return (a + b) ** 2 / denominator if denominator > 0 else math.inf


def sign_p(worse: Sequence[float], threshold: float) -> tuple[float, float]:
    """Exact sign test against the threshold: (p for "above", p for "below"); ties left out, NaN when all tie."""
    above = sum(1 for w in worse if w > threshold)
    below = sum(1 for w in worse if w < threshold)
    n = above + below
    if n == 0:
        return math.nan, math.nan
    return float(sps.binom.sf(above - 1, n, 0.5)), float(sps.binom.sf(below - 1, n, 0.5))


def one_sided(m: Measured, alpha: float = ALPHA) -> Tested:
    """The two one-sided tests of one metric (a t-test; a sign test when every split gives the same worsening)."""
    w = [float(x) for x in m.worse]
    n = len(w)
    if not w:
        return Tested(m, 0, math.nan, reason=NOTHING)
    mean = statistics.fmean(w)
    if m.kind == EXACT:  # deterministic: every split either is worse by more than the threshold or is not
        worst = max(w)
        return Tested(m, n, mean, 0.0, math.nan, math.nan, math.nan, min(w), worst, "exact", m.blocked)
    reason = m.blocked or (TOO_FEW if n < MIN_PAIRS else None)
    if n == 1:
        return Tested(m, 1, mean, reason=reason)
    # Compared exactly: the variance of equal floats can come out as 1e-33 instead of 0.
    within = 0.0 if min(w) == max(w) else statistics.variance(w) * (1.0 / n + m.correction)
    se2 = within + m.extra_var
    if se2 == 0:
        p_fail, p_pass = sign_p(w, m.threshold)
        if math.isnan(p_fail):  # every split exactly at the threshold: none beyond it (FAIL means beyond), as a
            p_fail, p_pass = 1.0, 0.5**n  # sign test counting the ties as "not worse" (identical accuracy at 0)
        return Tested(m, n, mean, 0.0, n - 1, p_fail, p_pass, mean, mean, "sign", reason)
    se = math.sqrt(se2)
    df = satterthwaite(within, n - 1, m.extra_var, m.extra_df)
    t = (mean - m.threshold) / se
    half = float(sps.t.ppf(1 - alpha, df)) * se
    return Tested(m, n, mean, se, df, float(sps.t.sf(t, df)), float(sps.t.cdf(t, df)), mean - half, mean + half,
                  "t", reason, alpha)  # fmt: skip


def one_sided_noncentrality(df: float, alpha: float, target: float = POWER) -> float:
    """The noncentrality (delta / se) at which a one-sided t-test at level ``alpha`` has ``target`` power."""
    critical = float(sps.t.ppf(1 - alpha, df))

    def gap(nc: float) -> float:
        with warnings.catch_warnings():  # scipy's series may not converge at a fraction of one df: NaN, handled below
            warnings.simplefilter("ignore", RuntimeWarning)  # pragma: no mutate (the only warning it gives)
            return float(sps.nct.sf(critical, df, nc)) - target

    low = 0.0  # at nc = 0 the power is alpha: below any useful target
    # pragma-marked below: any start at or above the critical value, any growth factor > 1 and any cut-off far past
    # the range of useful noncentralities bracket the same root
    high = max(critical, 1.0)  # pragma: no mutate
    while gap(high) < 0:  # pragma: no mutate (equality at a doubling: either way a bracket)
        low, high = high, high * 2  # pragma: no mutate
        if high > 1e6:  # pragma: no mutate (on a fraction of one df the power creeps or nct gives NaN: undetectable)
            return math.inf
    if math.isnan(gap(high)):
        return math.inf
    return float(optimize.brentq(gap, low, high, xtol=1e-10))  # pragma: no mutate (xtol: scipy's default is finer)


def detectable(t: Tested, alpha: float) -> float:
    """The smallest true worsening the FAIL test detects with 80% power at ``alpha`` (NaN without a t-test)."""
    if t.method != "t":
        return math.nan
    return t.measured.threshold + one_sided_noncentrality(t.df, alpha) * t.se


# -- showing worsening in the metric's own terms ---------------------------------------------


def as_ratio(worse: float, lower_is_better: bool) -> float:
    """A worsening (log ratio) back to B/A: exp(w) for a time, exp(-w) for a throughput."""
    log_ratio = worse if lower_is_better else -worse
    # a bound on a fraction of one df can pass exp's range (about 709): any cut below it, taken at or above, works
    return math.exp(log_ratio) if log_ratio < 700 else math.inf  # pragma: no mutate


def in_terms(t: Tested, value: float) -> float:
    """A worsening as the metric reads: B/A for a ratio; B - A for a difference (points for accuracy) or a count."""
    m = t.measured
    if m.kind == RATIO:
        return as_ratio(value, m.lower_is_better)
    signed = value if m.lower_is_better else 0.0 - value  # 0.0 - 0.0 is +0.0: no '-0 points'
    return signed * m.scale


def shown(t: Tested, value: float) -> str:
    """A worsening as text: a B/A ratio (``1.31x``), a difference (``-2.5 points``) or a count change (``+12``)."""
    if math.isnan(value):
        return "-"
    if t.measured.kind == RATIO:
        return f"{in_terms(t, value):.3g}x"
    unit = f" {t.measured.unit}" if t.measured.unit else ""
    number = f"{in_terms(t, value):+,.0f}" if t.measured.kind == EXACT else f"{in_terms(t, value):+.2g}"
    return number + unit


def level_text(level: float) -> str:
    """An interval's coverage as a reader reads it: 90%, 99.8%."""
    return f"{100 * level:.3g}%"


def estimate_text(t: Tested) -> str:
    """The estimate with its interval (the two one-sided bounds at the test's level), in the metric's terms."""
    if t.method == "none":
        return shown(t, t.mean)
    if t.method == "sign":
        return f"{shown(t, t.mean)} on every split"
    if t.method == "exact":
        return f"{shown(t, t.high)} at worst" if t.low != t.high else f"{shown(t, t.high)} on every split"
    low, high = sorted((t.low, t.high), key=lambda w: in_terms(t, w))
    if not all(0 < abs(in_terms(t, w)) < math.inf for w in (low, high)):  # too few df to bound it
        return f"{shown(t, t.mean)} [{level_text(t.level)}: unbounded on {t.df:.2g} df]"
    return f"{shown(t, t.mean)} [{level_text(t.level)}: {shown(t, low)}, {shown(t, high)}]"


def threshold_text(m: Measured) -> str:
    """The gated limit in the metric's terms: ``B/A > 1.1x``, ``a drop > 2 points`` or ``a rise > 0``."""
    if m.kind == RATIO:
        return f"{'B/A >' if m.lower_is_better else 'B/A <'} {as_ratio(m.threshold, m.lower_is_better):.3g}x"
    change = "a rise" if m.lower_is_better else "a drop"
    unit = f" {m.unit}" if m.unit else ""
    return f"{change} > {m.threshold * m.scale:g}{unit}"


def detectable_text(t: Tested, value: float) -> str:
    """The detectable worsening as a percentage (ratios) or in the difference's unit (points for accuracy)."""
    if math.isnan(value):
        return "-"
    if t.measured.kind == RATIO:
        return f"{math.exp(value) - 1:.0%}"
    unit = f" {t.measured.unit}" if t.measured.unit else ""
    return f"{value * t.measured.scale:.2g}{unit}"


# -- the verdict -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something found before testing that keeps the gate from passing (a reason, with what it concerns)."""

    reason: str
    detail: str
    #: True when it only says why some metrics carry this reason (they are counted, it is not).
    explains: bool = False


@dataclass(frozen=True)
class Judged:
    """One metric after the family is formed: its tests, Holm-adjusted p and what it decided."""

    tested: Tested
    p_holm: float
    #: "fail", "pass" or "undecided".
    state: str
    #: Why it is undecided (None when it failed or passed).
    reason: str | None
    #: The smallest worsening detectable with 80% power at Holm's first level.
    detectable: float


@dataclass
class Verdict:
    outcome: str
    judged: list[Judged]
    problems: list[Problem]
    #: Tests in the Holm family of FAIL tests.
    m: int
    alpha: float = ALPHA
    reasons: Counter = field(default_factory=Counter)

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.outcome]

    @property
    def failures(self) -> list[Judged]:
        return [j for j in self.judged if j.state == "fail"]

    @property
    def undecided(self) -> list[Judged]:
        return [j for j in self.judged if j.state == "undecided"]

    @property
    def passed(self) -> list[Judged]:
        return [j for j in self.judged if j.state == "pass"]


def holm_level(m: int, alpha: float = ALPHA) -> float:
    """Holm's first and most demanding level: alpha/m (alpha for an empty family)."""
    return alpha / max(m, 1)


def _state(t: Tested, p_holm: float, alpha: float) -> tuple[str, str | None]:
    """One metric's decision and, when undecided, which case it is."""
    if t.reason is not None:
        return "undecided", t.reason
    if t.method == "exact":
        return ("fail", None) if t.high > t.measured.threshold else ("pass", None)
    if p_holm < alpha:
        return "fail", None
    if t.p_pass < alpha:
        return "pass", None
    return "undecided", BEYOND if t.p_fail < alpha else ACROSS


def decide(measured: Sequence[Measured], problems: Sequence[Problem] = (), alpha: float = ALPHA) -> Verdict:
    """PASS, FAIL or INCONCLUSIVE over every gated metric of a comparison (see the module docstring)."""
    tested = [one_sided(m, alpha) for m in measured]
    members = [i for i, t in enumerate(tested) if t.reason is None and t.method != "exact" and not math.isnan(t.p_fail)]
    adjusted = stats.holm([tested[i].p_fail for i in members])
    p_holm = [math.nan] * len(tested)
    for i, p in zip(members, adjusted):
        p_holm[i] = p
    level = holm_level(len(members), alpha)
    judged = []
    for t, p in zip(tested, p_holm):
        state, reason = _state(t, p, alpha)
        judged.append(Judged(t, p, state, reason, detectable(t, level)))
    reasons: Counter = Counter(p.reason for p in problems if not p.explains)
    reasons.update(j.reason for j in judged if j.reason is not None)
    if not measured and not problems:
        reasons[NOTHING] = 1
    if any(j.state == "fail" for j in judged):
        outcome = FAIL
    elif reasons:
        outcome = INCONCLUSIVE
    else:
        outcome = PASS
    return Verdict(outcome, judged, list(problems), len(members), alpha, reasons)


def _name(j: Judged) -> str:
    return f"{j.tested.measured.group} {j.tested.measured.metric}"


def _surest(j: Judged) -> tuple:
    """Exact failures first, then by Holm p, a tie (Holm's step-up makes many) by the raw p."""
    return (math.isfinite(j.p_holm), j.p_holm, j.tested.p_fail)


def line(v: Verdict, limit: int = 3) -> str:
    """The one line every gated comparison ends with: PASS, FAIL (with the metrics) or INCONCLUSIVE (with why)."""
    groups = len({j.tested.measured.group for j in v.judged})
    if v.outcome == FAIL:
        items = [f"{_name(j)} {estimate_text(j.tested)}, {threshold_text(j.tested.measured)}"
                 + (f" (Holm p = {j.p_holm:.2g})" if math.isfinite(j.p_holm) else " (exact: no p-value)")
                 for j in sorted(v.failures, key=_surest)]  # fmt: skip
        more = f"; and {len(items) - limit} more" if len(items) > limit else ""
        return (f"FAIL (exit {EXIT_STATUS[FAIL]}): {len(items)} metric(s) worse than the threshold with confidence "
                f"(one-sided tests, Holm over {v.m}): " + "; ".join(items[:limit]) + more)  # fmt: skip
    gated = "; ".join(dict.fromkeys(f"{j.tested.measured.metric} {threshold_text(j.tested.measured)}"
                                    for j in v.judged))  # fmt: skip
    if v.outcome == PASS:
        return (f"PASS (exit {EXIT_STATUS[PASS]}): all {len(v.judged)} gated metric(s) in {groups} group(s) exclude a "
                f"regression beyond the threshold (each one-sided {(1 - v.alpha) * 100:.4g}% bound; no FAIL test after "
                f"Holm over {v.m}); gated: {gated}")  # fmt: skip
    parts = []
    for reason in REASONS:
        if not v.reasons.get(reason):
            continue
        examples = [p.detail for p in v.problems if p.reason == reason]
        examples += [f"{_name(j)} {estimate_text(j.tested)}" for j in v.judged if j.reason == reason]
        shown_ = "; ".join(examples[:limit]) + (f"; and {len(examples) - limit} more" if len(examples) > limit else "")
        parts.append(f"{reason}: {v.reasons[reason]} ({shown_})" if shown_ else f"{reason}: {v.reasons[reason]}")
    return (
        f"INCONCLUSIVE (exit {EXIT_STATUS[INCONCLUSIVE]}): " + "; ".join(parts) + (f"; gated: {gated}" if gated else "")
    )


def detectable_range(v: Verdict) -> dict[str, tuple[float, float]]:
    """Per metric, the smallest and largest detectable worsening over its groups (metrics with a t-test only)."""
    out: dict[str, tuple[float, float]] = {}
    for j in v.judged:
        if math.isfinite(j.detectable):
            name = j.tested.measured.metric
            low, high = out.get(name, (j.detectable, j.detectable))
            out[name] = (min(low, j.detectable), max(high, j.detectable))
    return out
