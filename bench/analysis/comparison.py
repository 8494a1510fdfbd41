"""One typed comparison of two sides, built once: what ``bench compare``, ``bench calibrate``,
``--until-precise``, history, the report and the site render and never recompute.

:func:`build` takes two tidy frames (side A, the baseline; side B), the keys that match trials
(dataset, adapter with its parameters, device), a :class:`~hello_bench.analysis.policy.GatePolicy` and a
:class:`Context` (what the sides are to each other: one run or two, the control ratio, the noise floor,
the run-to-run variance), and returns a :class:`Comparison`: for every matched group and every compared
metric one :class:`Row` (pairs, estimate with its interval, the verdict in the one vocabulary, what it
claims, and, when gated, the gate's test and decision), the problems found before any test, and the
gate's verdict.

Each metric is treated as the registry says it is (:mod:`hello_bench.metrics`):

- **ratios** (durations, rates, memory): B/A, the geometric mean of per-split ratios with a Student-t
  95% interval on the log ratios; "faster"/"slower" (rates: "higher"/"lower"; memory: "smaller"/
  "larger") only from :data:`~hello_bench.analysis.stats.MIN_RATIO_PAIRS` pairs and an interval excluding 1.
  Between separate runs a ratio is also shown normalised by the control ratio (machine-dependent
  durations and rates only) and marked when within the runs' noise floor; a duet has neither (its sides
  share one machine, round by round).
- **differences** (fractions, scores): B - A over the same splits with Nadeau and Bengio's corrected
  interval and test, verdicts from Holm's adjustment over the metric's distinct tests.
- **counts**: compared exactly: identical on every split, or changed by how much.

A row's verdict is the only sentence any page prints about that row, and ``claims`` (B better, B worse,
or nothing) is the only thing a figure may colour: a row whose verdict claims no difference is never
painted as one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from hello_bench.analysis import gate, noise, stats, verdicts
from hello_bench.analysis.family import assess
from hello_bench.analysis.family import comparison_key as family_key
from hello_bench.analysis.pairing import Unpaired, match
from hello_bench.analysis.policy import GatePolicy, worsening_threshold
from hello_bench.metrics import DIFFERENCE, DURATION, EXACT, MEMORY, RATE, RATIO, Metric
from hello_bench.record import cpu_twins, find_metric, metric_for, metrics

DUET, HOSTS, SEPARATE = "duet", "hosts", "separate"
BETTER, WORSE, NONE = "better", "worse", "none"
FAILED = ("error", "timeout")
#: What a ratio verdict calls B below and above 1, by kind and direction.
_WORDS = {(DURATION, "lower"): ("faster", "slower"), (RATE, "higher"): ("lower", "higher"),
          (MEMORY, "lower"): ("smaller", "larger")}  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """A number with its interval at ``level`` (NaN bounds: no interval), as the metric reads it."""

    value: float
    low: float = math.nan
    high: float = math.nan
    level: float = 0.95

    def to_json(self) -> dict:
        interval = [_num(self.low), _num(self.high)] if math.isfinite(self.low) and math.isfinite(self.high) else None
        return {"value": _num(self.value), "interval": interval, "level": self.level if interval else None}


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass
class Gated:
    """A row's gate: its one-sided tests against the threshold and what they decided."""

    threshold: float
    judged: gate.Judged

    @property
    def state(self) -> str:
        return self.judged.state

    @property
    def reason(self) -> str | None:
        return self.judged.reason

    @property
    def by_cpu(self) -> bool:
        """Decided on the process CPU time (the baseline's machine was busy), not on the row's wall time."""
        return self.judged.tested.measured.metric.endswith(BY_CPU)

    def estimate(self) -> Estimate:
        """The worsening's estimate with its interval (the two one-sided bounds at the test's level), in its terms."""
        t = self.judged.tested
        value = gate.in_terms(t, t.mean) if math.isfinite(t.mean) else math.nan
        if t.method not in ("t", "exact"):
            return Estimate(value)
        low, high = sorted((gate.in_terms(t, t.low), gate.in_terms(t, t.high)))
        return Estimate(value, low, high, 1.0 if t.method == "exact" else t.level)

    def to_json(self) -> dict:
        t, j = self.judged.tested, self.judged
        return {"threshold": self.threshold, "fails_when": gate.threshold_text(t.measured), "estimate": self.estimate().to_json(),
                "method": t.method, "p": _num(t.p_fail), "p_holm": _num(j.p_holm), "p_pass": _num(t.p_pass),
                "detectable": _num(_detectable(j)), "decision": j.state, "reason": j.reason,
                "basis": "cpu_time" if self.by_cpu else "as_measured"}  # fmt: skip


def _detectable(j: gate.Judged) -> float:
    """The detectable worsening in the metric's terms (a fraction of A for ratios, points or units otherwise)."""
    if not math.isfinite(j.detectable):
        return math.nan
    m = j.tested.measured
    return math.exp(j.detectable) - 1 if m.kind == gate.RATIO else j.detectable * m.scale


@dataclass
class Row:
    """One metric of one matched group: estimate, verdict, what it claims, and the gate's decision if gated."""

    group: str
    metric: Metric
    column: str
    pairs: int
    estimate: Estimate
    verdict: str
    claims: str = NONE
    normalised: Estimate | None = None
    #: Differences: the raw and Holm-adjusted p of the corrected test, and what was detectable.
    p: float = math.nan
    p_holm: float = math.nan
    detectable: float = math.nan
    gated: Gated | None = None

    @property
    def name(self) -> str:
        return self.metric.name(self.column)

    @property
    def compared_as(self) -> str:
        return self.metric.compared_as

    def what(self) -> str:
        """The metric as a table shows it: ``fit time (B/A)``, ``accuracy (B - A)``, ``parameters (B - A, exact)``."""
        how = {RATIO: "B/A", DIFFERENCE: "B - A", EXACT: "B - A, exact"}[self.compared_as]
        return f"{self.name} ({how})"

    def to_json(self) -> dict:
        return {"trials": self.group, "metric": self.metric.short_name(self.column), "column": self.column,
                "label": self.name, "compared_as": self.compared_as, "pairs": self.pairs,
                "estimate": self.estimate.to_json(), "normalised": None if self.normalised is None else self.normalised.to_json(),
                "verdict": self.verdict, "claims": self.claims, "p": _num(self.p), "p_holm": _num(self.p_holm),
                "gate": None if self.gated is None else self.gated.to_json()}  # fmt: skip


@dataclass
class Context:
    """What the two sides are to each other (see :mod:`hello_bench.analysis.sides`), and what that brings."""

    relation: str = DUET
    #: B's raw speed over A's (separate runs and hosts), from their controls.
    control: noise.ControlRatio | None = None
    #: The noise floor of two separate runs (NaN otherwise: it says nothing about a ratio paired inside one run).
    floor: float = math.nan
    #: The machine's run-to-run variance for separate runs, or why it cannot be used.
    variance: Any = None
    #: Differences of design found by the caller (test sizes, an adapter's class), shown and kept as problems.
    design: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    """Everything one comparison says (see the module docstring)."""

    keys: list[str]
    policy: GatePolicy
    context: Context
    rows: list[Row]
    unpaired: list[Unpaired]
    problems: list[gate.Problem]
    verdict: gate.Verdict | None
    #: Distinct tests in each difference metric's Holm family, by column.
    families: dict[str, int] = field(default_factory=dict)

    @property
    def relation(self) -> str:
        return self.context.relation

    @property
    def outcome(self) -> str | None:
        return None if self.verdict is None else self.verdict.outcome

    def line(self) -> str | None:
        return None if self.verdict is None else gate.line(self.verdict)

    def gated_rows(self) -> list[Row]:
        return [r for r in self.rows if r.gated is not None]

    def regressions(self) -> list[dict]:
        """Each failed metric as an object: trials, metric, estimate with its interval, threshold, p, Holm p."""
        return [{"trials": r.group, "metric": r.metric.short_name(r.column), "label": r.name, **r.gated.to_json()}
                for r in self.gated_rows() if r.gated is not None and r.gated.state == "fail"]  # fmt: skip

    def to_json(self) -> dict:
        v = self.verdict
        gate_json = None if v is None else {
            "outcome": v.outcome, "line": gate.line(v), "alpha": v.alpha, "holm_tests": v.m,
            "reasons": [{"reason": r, "count": n} for r, n in v.reasons.items()],
            "problems": [{"reason": p.reason, "detail": p.detail} for p in v.problems],
            "gated": sorted({f"{r.metric.short_name(r.column)}" for r in self.gated_rows()}),
            "regressions": self.regressions()}  # fmt: skip
        control = self.context.control
        return {"relation": self.relation, "keys": list(self.keys), "rows": [r.to_json() for r in self.rows],
                "control_ratio": None if control is None else Estimate(control.ratio, control.low, control.high).to_json(),
                "noise_floor": _num(self.context.floor), "design_differences": list(self.context.design),
                "unpaired": [u.describe() for u in self.unpaired], "gate": gate_json}  # fmt: skip


# -- building -------------------------------------------------------------------------------------------
def label(key: Any) -> str:
    return "/".join(map(str, key if isinstance(key, tuple) else (key,)))


def compared(a: pd.DataFrame, b: pd.DataFrame, policy: GatePolicy) -> Iterator[tuple[Metric, str]]:
    """(metric, column) of every compared or gated metric present on either side (keyed metrics expanded)."""
    columns = list(dict.fromkeys([*a.columns, *b.columns]))
    for metric in metrics():
        for column in metric.expand(columns):
            if metric.compare or policy.threshold(metric, column) is not None:
                yield metric, column


def build(
    a: pd.DataFrame, b: pd.DataFrame, keys: list[str], policy: GatePolicy, context: Context | None = None
) -> Comparison:
    """The comparison of B against A (see the module docstring)."""
    context = context or Context()
    a_ok, b_ok = a[a["status"] == "ok"], b[b["status"] == "ok"]
    out = Comparison(keys, policy, context, [], [], status_problems(a, b, keys), None)
    out.problems += [gate.Problem(gate.SPLITS_DIFFER, d) for d in context.design]
    measured: list[gate.Measured] = []
    for metric, column in compared(a_ok, b_ok, policy):
        measured += _compare_metric(out, a_ok, b_ok, metric, column)
    if policy.on:
        out.problems += named_but_absent(a_ok, b_ok, policy)
        blocked = [m.metric for m in measured if m.blocked == gate.RUN_VARIANCE]
        if blocked:
            why = _no_variance_why(context.variance, blocked)
            out.problems.append(gate.Problem(gate.RUN_VARIANCE, why, explains=True))
        out.verdict = gate.decide(measured, out.problems, policy.level)
        judged = {
            (j.tested.measured.group, j.tested.measured.metric.removesuffix(BY_CPU)): j for j in out.verdict.judged
        }
        for row in out.rows:
            j = judged.get((row.group, row.name))
            if j is not None:
                row.gated = Gated(policy.threshold(row.metric, row.column) or 0.0, j)
    return out


def _names(metric: Metric, column: str, names: list[str]) -> bool:
    """Whether ``column`` of ``metric`` (or, for a keyed metric's pooled entry, any of its keys) is in ``names``."""
    if metric.name(column) in names:
        return True
    return metric.keyed and column == metric.prefix.rstrip("_") and _any_key_named(metric, names)


def _any_key_named(metric: Metric, names: list[str]) -> bool:
    """Whether ``names`` holds this metric or any key of it (labels: ``throughput batch 1`` for ``tput``)."""
    stem = metric.label.split("{")[0]
    return any(n.startswith(stem) for n in names)


def _no_variance_why(variance: Any, blocked: list[str]) -> str:
    """Why the run-to-run variance of the ``blocked`` metrics is unknown (no source, an unusable one, or one without
    them) and what would decide: a calibration that has them, or gating the metrics it has."""
    if variance is None:
        return "no calibration of this machine (run `bench calibrate`)"
    if variance.why:
        return variance.why
    names = ", ".join(dict.fromkeys(blocked))
    unusable = getattr(variance, "unusable", {}) or {}
    weak = sorted({f"{m.short} {why}" for c, why in unusable.items() if (m := metric_for(c)) and _names(m, c, blocked)})
    has = sorted(
        {
            m.short
            for c in variance.by_column
            if (m := metric_for(c)) is not None and m.compare and not _any_key_named(m, blocked)
        }
    )  # never advise a blocked one
    steady = [m.short for m in metrics() if m.gated and not m.machine]  # gated by default, needing no variance
    return (f"{variance.source} gives no usable variance for {names}" + (f" (in it: {'; '.join(weak)})" if weak else
            " (it holds no usable entry for them)") + "; to decide, calibrate with more repeats, or gate what it has: "
            f"--gate-metrics {','.join(dict.fromkeys([*steady, *has]))}")  # fmt: skip


def _compare_metric(
    out: Comparison, a_ok: pd.DataFrame, b_ok: pd.DataFrame, metric: Metric, column: str
) -> list[gate.Measured]:
    """One metric's rows added to ``out`` (and what it found missing); returns its gate inputs when it is gated."""
    threshold = out.policy.threshold(metric, column)
    if threshold is not None:
        out.problems += missing(a_ok, b_ok, out.keys, metric, column, out.policy.named(metric, column))
    if not (_has(a_ok, column) and _has(b_ok, column)):
        return []
    pairing = match(a_ok, b_ok, out.keys, column)
    out.unpaired += [u for u in pairing.unpaired if u not in out.unpaired]
    groups = _groups(pairing.pairs, out.keys)
    rows, family = _rows(metric, column, groups, out.context, out.policy.equivalence_margin)
    if metric.compared_as == DIFFERENCE:
        out.families[column] = family
    out.rows += rows
    if threshold is None:
        return []
    made = gate_inputs(metric, column, groups, threshold, out.context)
    if not out.policy.wall_only:
        made = _by_cpu_where_busy(made, a_ok, b_ok, out.keys, metric, column, threshold, out.context)
    tested = {m.group for m in made}
    out.problems += [gate.Problem(gate.MISSING, f"{name} {metric.name(column)}: no usable pairs (values not positive)")
                     for name, _ in groups if name not in tested]  # fmt: skip
    return made


#: The baseline's wall time this many times its CPU time (median over its trials): the machine was busy.
BUSY_RATIO = 1.5
#: How a gated wall-clock metric decided on its CPU time is named in the gate's tests and line.
BY_CPU = ", by CPU time"


def busy_ratio(frame: pd.DataFrame, wall: str, cpu: str) -> float:
    """Median wall / CPU time of one timed call over a side's trials (NaN where it cannot be told)."""
    if wall not in frame.columns or cpu not in frame.columns:
        return math.nan
    w, c = frame[wall].to_numpy(float), frame[cpu].to_numpy(float)
    keep = np.isfinite(w) & np.isfinite(c) & (w > 0) & (c > 0)
    return float(np.median(w[keep] / c[keep])) if keep.any() else math.nan


def _by_cpu_where_busy(made: list[gate.Measured], a_ok: pd.DataFrame, b_ok: pd.DataFrame, keys: list[str],
                       metric: Metric, column: str, threshold: float, context: Context) -> list[gate.Measured]:  # fmt: skip
    """A gated wall-clock time decided on its process CPU time in the groups where the machine was busy.

    The rule looks at the baseline side only (A's median wall/CPU at least :data:`BUSY_RATIO`), never at the
    effect: a candidate that waits longer itself (a sleep, I/O) keeps its wall time gated, since the baseline's
    ratio does not move with it. Only single-process waiting is seen through: CPU time counts every thread.
    """
    twin = next((cpu for wall, cpu in cpu_twins() if wall is metric), None)
    if twin is None or not made:
        return made
    cpu_column = twin.column_for(metric.key_of(column) or "")
    if not (_has(a_ok, cpu_column) and _has(b_ok, cpu_column)):
        return made
    ratios = {label(k): busy_ratio(g, column, cpu_column) for k, g in a_ok.groupby(keys, sort=True)}
    busy = {name for name, r in ratios.items() if r >= BUSY_RATIO}
    if not busy:
        return made
    cpu_groups = [(name, g) for name, g in _groups(match(a_ok, b_ok, keys, cpu_column).pairs, keys) if name in busy]
    by_cpu = {m.group: m for m in gate_inputs(twin, cpu_column, cpu_groups, threshold, context)}
    return [replace(by_cpu[m.group], metric=m.metric + BY_CPU) if m.group in by_cpu else m for m in made]


def _has(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _groups(pairs: pd.DataFrame, keys: list[str]) -> list[tuple[str, pd.DataFrame]]:
    """Matched pairs per group, values as floats, rows with a missing value left out."""
    out = []
    for key, g in pairs.groupby(keys, sort=True):
        g = g[g["a"].notna() & g["b"].notna()]
        if len(g):
            out.append((label(key), g))
    return out


def _rows(metric: Metric, column: str, groups: list[tuple[str, pd.DataFrame]], context: Context,
          margin: float | None) -> tuple[list[Row], int]:  # fmt: skip
    if metric.compared_as == RATIO:
        return [r for name, g in groups if (r := ratio_row(metric, column, name, g, context)) is not None], 0
    if metric.compared_as == EXACT:
        return [exact_row(metric, column, name, g) for name, g in groups], 0
    return difference_rows(metric, column, groups, margin)


def _positive(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    x, y = g["a"].to_numpy(float), g["b"].to_numpy(float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    return x[keep], y[keep]


def ratio_row(metric: Metric, column: str, name: str, g: pd.DataFrame, context: Context) -> Row | None:
    x, y = _positive(g)
    if not x.size:
        return None
    r = stats.ratio_ci(x.tolist(), y.tolist())
    smaller, larger = _WORDS.get((metric.kind, metric.better or ""), ("lower", "higher"))
    verdict = verdicts.ratio_verdict(r, smaller, larger)
    claims = NONE
    if verdict.endswith((smaller, larger)) or verdict.startswith("slightly"):
        b_smaller = r.ratio < 1
        claims = NONE if metric.better is None else BETTER if b_smaller == metric.lower_is_better else WORSE
    # the floor is the controls' run-to-run spread: it speaks for machine-dependent times and rates only
    if context.relation == SEPARATE and metric.normalisable and noise.within_floor(r.ratio, context.floor):
        verdict += f"; within the noise floor (±{context.floor:.0%})"
        claims = NONE  # two runs' machines moved that much: a ratio inside it claims nothing
    normalised = None
    if context.relation != DUET and metric.normalisable and context.control is not None:
        normalised = normalised_ratio(np.log(y / x), metric, context.control)
        if claims != NONE and normalised is not None and normalised.low <= 1 <= normalised.high:
            verdict += "; not after normalising by the control (its interval includes 1)"
            claims = NONE  # the raw ratio's difference is the machine's, as far as the control can tell
    return Row(name, metric, column, r.n, Estimate(r.ratio, r.low, r.high), verdict, claims, normalised)


def normalised_ratio(logs: np.ndarray, metric: Metric, control: noise.ControlRatio) -> Estimate | None:
    """A ratio's per-split logs divided by the control ratio (a rate's multiplied), with the combined interval."""
    if not math.isfinite(control.ratio) or logs.size == 0:
        return None
    worse = logs if metric.lower_is_better else -logs  # a rate is a time per sample turned over
    n = worse.size
    var = float(worse.var(ddof=1)) / n if n > 1 else math.nan
    result = noise.normalise(float(worse.mean()), var, n - 1, control)
    if metric.lower_is_better:
        return Estimate(result.ratio, result.low, result.high)
    flip = lambda v: 1 / v if math.isfinite(v) and v > 0 else math.nan  # noqa: E731
    return Estimate(flip(result.ratio), flip(result.high), flip(result.low))


def exact_row(metric: Metric, column: str, name: str, g: pd.DataFrame) -> Row:
    """A count compared exactly: identical on every split, or changed by how much (B - A)."""
    diffs = (g["b"] - g["a"]).to_numpy(float)
    low, high = float(diffs.min()), float(diffs.max())
    base = float(np.median(g["a"].to_numpy(float)))
    if low == high == 0:
        return Row(name, metric, column, len(diffs), Estimate(0.0, 0.0, 0.0, level=1.0), "identical on every split")
    changed = int((diffs != 0).sum())
    share = f" ({high / base:+.0%})" if low == high and base else ""
    how = f"changed by {high:+,g}{share} on every split" if low == high else (
        f"changed on {changed} of {len(diffs)} splits (B - A from {low:+,g} to {high:+,g})")  # fmt: skip
    worse = (low > 0 or high > 0) if metric.lower_is_better else (low < 0 or high < 0)
    better = (low < 0 or high < 0) if metric.lower_is_better else (low > 0 or high > 0)
    claims = NONE if metric.better is None or (worse and better) else WORSE if worse else BETTER
    return Row(name, metric, column, len(diffs), Estimate(float(diffs.mean()), low, high, level=1.0), how, claims)


def difference_rows(metric: Metric, column: str, groups: list[tuple[str, pd.DataFrame]],
                    margin: float | None) -> tuple[list[Row], int]:  # fmt: skip
    """B - A per group, paired on split identity, with the corrected test; verdicts from Holm over the metric's tests."""
    made = [_difference(metric, name, g) for name, g in groups]
    fam = assess([t for *_, t, _ in made], [k for *_, k in made], margin if metric.kind == "fraction" else None)
    rows = []
    for (name, diffs, test, _), judged in zip(made, fam.assessed):
        verdict = _difference_verdict(metric, test, judged.p_holm, judged.detectable)
        if margin is not None and metric.kind == "fraction":
            verdict += "; " + verdicts.equivalence_verdict(test, judged.p_equivalent, margin)
        if test is not None and not test.constant:
            estimate = Estimate(test.mean_diff, test.low, test.high)
        else:
            estimate = Estimate(float(diffs.mean()))
        claims = NONE
        if test is not None and not test.constant and judged.p_holm < stats.ALPHA and metric.directed:
            claims = BETTER if (test.mean_diff > 0) == (metric.better == "higher") else WORSE
        rows.append(Row(name, metric, column, len(diffs), estimate, verdict, claims, None,
                        test.p if test is not None else math.nan, judged.p_holm, judged.detectable))  # fmt: skip
    return rows, fam.m


def _difference(metric: Metric, name: str, g: pd.DataFrame) -> tuple[str, np.ndarray, stats.PairedTest | None, tuple]:
    diffs = (g["b"] - g["a"]).to_numpy(float)
    n_train, n_test = _sizes(g)
    test = stats.corrected_resampled_ttest(diffs, n_train, n_test) if len(diffs) >= 2 else None
    splits = list(zip(g["split_seed"], g["test_rows_sha"].astype(str)))
    return name, diffs, test, family_key(splits, diffs, n_train, n_test)


def _sizes(g: pd.DataFrame) -> tuple[int, int]:
    n_train = g["n_train"].iloc[0] if "n_train" in g.columns else math.nan
    n_test = g["n_test"].iloc[0] if "n_test" in g.columns else math.nan
    if pd.isna(n_train) or pd.isna(n_test):
        return 1, 0  # unknown sizes: no overlap correction can be made (the plain variance)
    return int(n_train), int(n_test)


def _difference_verdict(metric: Metric, test: stats.PairedTest | None, p_holm: float, detectable: float) -> str:
    return verdicts.accuracy_verdict(
        test, p_holm, detectable, higher=f"higher {metric.label}", lower=f"lower {metric.label}"
    )


# -- the gate's inputs -------------------------------------------------------------------------------------
def gate_inputs(metric: Metric, column: str, groups: list[tuple[str, pd.DataFrame]], threshold: float,
                context: Context) -> list[gate.Measured]:  # fmt: skip
    """One :class:`~hello_bench.analysis.gate.Measured` per group: the per-split worsening (positive: B worse)."""
    limit = worsening_threshold(metric, threshold)
    out = []
    for name, g in groups:
        if metric.compared_as == RATIO:
            x, y = _positive(g)
            if not x.size:
                continue
            logs = np.log(y / x)
            worse = logs if metric.lower_is_better else -logs
            var, df, blocked, shift = _between_runs(metric, column, context)
            out.append(gate.Measured(name, metric.name(column), tuple((worse - shift).tolist()), limit, gate.RATIO,
                                     metric.lower_is_better, 0.0, var, df, blocked))  # fmt: skip
            continue
        diffs = (g["b"] - g["a"]).to_numpy(float)
        worse = diffs if metric.lower_is_better else -diffs
        if metric.compared_as == EXACT:
            out.append(gate.Measured(name, metric.name(column), tuple(worse.tolist()), limit, gate.EXACT, metric.lower_is_better,
                                     scale=1.0, unit=""))  # fmt: skip
            continue
        n_train, n_test = _sizes(g)
        points = metric.kind == "fraction"
        out.append(gate.Measured(name, metric.name(column), tuple(worse.tolist()), limit, gate.DIFFERENCE, metric.lower_is_better,
                                 n_test / n_train, scale=100.0 if points else 1.0, unit="points" if points else ""))  # fmt: skip
    return out


def _between_runs(metric: Metric, column: str, context: Context) -> tuple[float, float, str | None, float]:
    """(extra variance, its df, why it is blocked, the log shift) two separate runs add to a ratio's worsening.

    Inside one run nothing is added. Between separate runs a machine-dependent metric carries two run offsets
    (twice the machine's run-to-run variance); a normalisable one is also divided by the control ratio (the
    shift), whose own variance is added. Without a usable run-to-run variance it is blocked.
    """
    if context.relation != SEPARATE or not metric.machine:
        return 0.0, math.inf, None, 0.0
    variance = context.variance
    found = variance.extra(column) if variance is not None and hasattr(variance, "extra") else None
    if found is None:
        return 0.0, math.inf, gate.RUN_VARIANCE, 0.0
    var, df = found
    control = context.control
    if not metric.normalisable or control is None or not math.isfinite(control.ratio):
        return var, df, None, 0.0
    # the worsening is already oriented as a time (a rate's is minus its log ratio: a time per sample), so a
    # machine that became slower by the control ratio shifts every metric's worsening by the same +log(ratio)
    shift = math.log(control.ratio)
    if not math.isfinite(control.var_log):
        return var, df, None, shift
    total = var + control.var_log
    denominator = var**2 / df + (control.var_log**2 / control.df if math.isfinite(control.df) else 0.0)
    return total, (total**2 / denominator if denominator > 0 else math.inf), None, shift


# -- problems found before testing ----------------------------------------------------------------------------
def _keyed(frame: pd.DataFrame, keys: list[str]) -> set[tuple]:
    return set(map(tuple, frame[keys].astype(str).to_numpy().tolist()))


def status_problems(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> list[gate.Problem]:
    """Groups of A with nothing ok in B, splits where A was ok and B errored, groups only B could measure."""
    problems = []
    a_ok, b_ok = a[a["status"] == "ok"], b[b["status"] == "ok"]
    ok_groups = _keyed(b_ok, keys)
    failed_splits = _keyed(b[b["status"].isin(FAILED)], [*keys, "split_seed"])
    for key, g in a_ok.groupby(keys, sort=True):
        key_t = tuple(map(str, key if isinstance(key, tuple) else (key,)))
        errored = sum(1 for s in g["split_seed"].astype(str) if (*key_t, s) in failed_splits)
        if errored:
            problems.append(gate.Problem(gate.ERRORED, f"{label(key)}: {errored} split(s)"))
        elif key_t not in ok_groups:
            problems.append(gate.Problem(gate.NOTHING, f"{label(key)}: not in B"))
    a_groups = _keyed(a_ok, keys)
    for key, g in a[a["status"].isin(FAILED)].groupby(keys, sort=True):
        key_t = tuple(map(str, key if isinstance(key, tuple) else (key,)))
        if key_t in ok_groups and key_t not in a_groups:
            problems.append(gate.Problem(gate.A_ERRORED, f"{label(key)}: {len(g)} split(s)"))
    return problems


def missing(
    a_ok: pd.DataFrame, b_ok: pd.DataFrame, keys: list[str], metric: Metric, column: str, named: bool = False
) -> list[gate.Problem]:
    """A gated metric that one side's records of a group carry and the other side's do not (either way); one
    the user named (``--gate-metrics``) that neither side measured in a matched group is missing there too."""
    problems = []
    sides = {side: {tuple(map(str, k if isinstance(k, tuple) else (k,))): g for k, g in frame.groupby(keys, sort=True)}
             for side, frame in (("A", a_ok), ("B", b_ok))}  # fmt: skip
    for key in sorted(set(sides["A"]) & set(sides["B"])):
        has = {s: column in sides[s][key].columns and bool(sides[s][key][column].notna().any()) for s in "AB"}
        if has["A"] != has["B"]:
            where, lacks = ("A", "B") if has["A"] else ("B", "A")
            problems.append(
                gate.Problem(gate.MISSING, f"{'/'.join(key)} {metric.name(column)}: in {where}, not in {lacks}")
            )
        elif named and not has["A"]:
            problems.append(
                gate.Problem(gate.MISSING, f"{'/'.join(key)} {metric.name(column)}: measured on neither side")
            )
    return problems


def named_but_absent(a_ok: pd.DataFrame, b_ok: pd.DataFrame, policy: GatePolicy) -> list[gate.Problem]:
    """A metric the policy names that neither side measured: gated, so never silently skipped."""
    columns = list(dict.fromkeys([*a_ok.columns, *b_ok.columns]))
    out = []
    for name, metric in policy.resolve().items():
        found = find_metric(name)
        column = found[1] if found else None
        mine = [column] if column else metric.expand(columns)  # ``tput:999``: that one key
        asked = name in (policy.metrics or ()) or name in policy.thresholds  # a threshold asks for the metric too
        if asked and not any(_has(f, c) for c in mine for f in (a_ok, b_ok)):
            label = metric.name(column) if column else metric.label
            out.append(gate.Problem(gate.MISSING, f"{name} ({label}): measured on neither side"))
    return out
