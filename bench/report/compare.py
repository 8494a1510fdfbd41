"""``bench compare A B [C ...]``: one baseline run against each other run, rendered from one typed comparison.

Typical uses: two machines, CPU vs GPU, two library versions, a CI gate. Everything said here comes
from :func:`hello_bench.analysis.comparison.build` (pairing, estimates, verdicts, the gate): this module only
lays it out. The page leads with the gate's verdict and the headline numbers (the rows that claim a
difference, worst first: what a team lead reads on the first screen); then, per pair of runs,
what was gated at what threshold, what differs between the sides, the matched trials (one row per
metric and group, its verdict worded once), the raw machine speed where the sides ran apart, whether
the ranking of adapters holds, a heatmap that colours only what a verdict claims, and what could not
be matched. Long trial labels are shortened the same way on the whole page, with a legend
(:mod:`hello_bench.report.labels`); the JSON keeps them whole.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hello_bench.analysis import gate, stats
from hello_bench.analysis.comparison import (
    BETTER,
    BUSY_RATIO,
    DUET,
    NONE,
    SEPARATE,
    WORSE,
    Comparison,
    Estimate,
    Row,
    build,
)
from hello_bench.analysis.load import by_content
from hello_bench.analysis.policy import GatePolicy
from hello_bench.analysis.separate import age, duration
from hello_bench.analysis.sides import (
    Side,
    context_for,
    environment_differences,
    load_side,
    relation,
    same_records,
    unmatched,
)
from hello_bench.errors import UserError
from hello_bench.report import plots
from hello_bench.report.document import Doc
from hello_bench.report.html import render
from hello_bench.report.tables import Cell, fmt
from hello_bench.store.reader import RunFolder
from hello_bench.store.safefs import OutputDir, file_name

HOW = {DUET: "Both sides come from one run, interleaved split by split on one machine (a duet): pairing on the split "
       "is valid; no normalisation and no noise floor apply.",
       "hosts": "Both sides come from one run on two machines: ratios are also shown normalised by the control ratio "
       "(machine-dependent times and rates only).",
       SEPARATE: "Two separate runs: machine-dependent times and rates are also shown normalised by the control ratio, "
       "a ratio within the runs' noise floor is marked, and the gate adds the machine's run-to-run variance."}  # fmt: skip


@dataclass
class Compared:
    """What ``bench compare`` wrote and decided: one comparison per pair (B against the baseline A)."""

    path: Path
    html: Path
    doc: Doc
    pairs: list[tuple[str, Comparison]] = field(default_factory=list)

    @property
    def outcome(self) -> str | None:
        """The gate's outcome over every pair: FAIL if any failed, else INCONCLUSIVE if any was, else PASS."""
        outcomes = {c.outcome for _, c in self.pairs}
        return next((o for o in (gate.FAIL, gate.INCONCLUSIVE, gate.PASS) if o in outcomes), None)

    def lines(self) -> list[str]:
        """The gate's one line per pair, naming the pair when there are several."""
        found = [(name, c.line()) for name, c in self.pairs if c.line() is not None]
        if len(found) == 1:
            return [str(found[0][1])]
        return [f"{name}: {line}" for name, line in found]

    @property
    def regressions(self) -> list[dict]:
        return [{"pair": name, **r} for name, c in self.pairs for r in c.regressions()]

    def to_json(self) -> dict:
        return {"comparisons": [{"pair": name, "a": name.split(" vs ")[0], "b": name.split(" vs ")[-1], **c.to_json()}
                                for name, c in self.pairs]}  # fmt: skip


def policy_from(options: dict) -> GatePolicy:
    """The gate policy of ``bench compare``'s options (by :data:`hello_bench.analysis.policy.OPTIONS` name)."""
    return GatePolicy.from_options(**options)


def compare_runs(
    runs: list[str], results_dir: str | Path = "results", out_dir: str | Path | None = None, ignore_device: bool = False,
    policy: GatePolicy | None = None, **options: Any,
) -> Compared:  # fmt: skip
    """Write ``COMPARE-<A>-vs-<B>.md`` and ``.html`` (and a heatmap per pair); gate when the policy says so.

    ``options``: gate options by name (``fail_above=10``), when no ``policy`` is given.
    """
    if len(runs) < 2:
        raise UserError("bench compare needs at least two runs: a baseline and one to compare with it.")
    policy = policy or policy_from(options)
    base = load_side(runs[0], results_dir)
    others = [load_side(r, results_dir) for r in runs[1:]]
    for other in others:
        if same_records(base, other):
            raise UserError(f"{other.name!r} is the same records as the baseline {base.name!r}: nothing to compare.")
    # Two runs' "data.csv" with different contents are two datasets: never paired.
    for side, frame in zip([base, *others], by_content([base.frame, *(o.frame for o in others)])):
        side.frame = frame
    from hello_bench.report.build import REPORTS

    out = OutputDir.choose(out_dir, Path(results_dir) / REPORTS, results_dir).check_writable()
    keys = ["dataset", "adapter"] + ([] if ignore_device else ["device"])
    result = Compared(
        Path(), Path(), Doc(f"Comparison: `{base.name}` (A) against {', '.join(f'`{o.name}`' for o in others)} (B)")
    )
    for other in others:
        context = context_for(base, other, keys, policy.calibration, results_dir)
        looked = policy.at_look(looks) if (looks := sequential_looks(base, other)) else policy
        result.pairs.append((f"{base.name} vs {other.name}", build(base.frame, other.frame, keys, looked, context)))
    result.doc.shorten(page_labels([base, *others]))
    _lead(result, base, others)
    for (_, comparison), other in zip(result.pairs, others):
        section(result.doc, base, other, comparison, out)
    stem = file_name("COMPARE-" + "-vs-".join([base.name] + [o.name for o in others]))
    result.path = out.stage(f"{stem}.md", result.doc.markdown(out.path))
    result.html = out.stage(f"{stem}.html", render(result.doc))
    out.commit()
    return result


def sequential_looks(base: Side, other: Side) -> int | None:
    """The looks a duet's sequential gate took (``bench run --until-precise``): its data were gathered until a
    decision, so any later test of them must be at the last look's level, not at alpha (optional stopping)."""
    if relation(base, other) != DUET:
        return None
    looks = RunFolder(base.path).info().get("until_precise", {}).get("looks")
    return looks if isinstance(looks, int) and not isinstance(looks, bool) and looks >= 1 else None


# -- the page ---------------------------------------------------------------------------------------------------
#: The headline table's rows per pair of runs at most; every row is in "Matched trials" further down.
HEADLINE_ROWS = 8
_KIND_ORDER = {"difference": 0, "exact": 1, "ratio": 2}
NORMALISED = "normalised by the control [95% CI]"


def page_labels(sides: list[Side]) -> set[str]:
    """The labels a comparison page shows (adapters with their parameters, datasets): the long ones get short forms."""
    return {str(v) for s in sides for k in ("adapter", "dataset") if k in s.frame for v in s.frame[k].dropna().unique()}


def worst_first(rows: list[Row]) -> list[Row]:
    """The rows that claim a difference, worst first: B worse before B better, gate failures first, accuracy and
    other differences before counts and ratios, then the biggest effect (|log ratio|, |difference|)."""
    claimed = [r for r in rows if r.claims != NONE or (r.gated is not None and r.gated.state == "fail")]

    def size(r: Row) -> float:
        v = r.estimate.value
        return abs(math.log(v)) if r.compared_as == "ratio" and v > 0 else abs(v) if math.isfinite(v) else 0.0

    return sorted(claimed, key=lambda r: (r.claims != WORSE, not _gate_word(r).startswith("FAIL"), _KIND_ORDER[r.compared_as],
                                          -size(r), r.group, r.name))  # fmt: skip


def claim_counts(c: Comparison) -> str:
    """How many of the compared rows claim what: ``3 of 24 claim a difference (2 B worse, 1 B better)``."""
    worse, better = (sum(r.claims == k for r in c.rows) for k in (WORSE, BETTER))
    if not worse + better:
        return f"no difference claimed in any of {len(c.rows)} compared metric(s) and group(s)"
    return f"{worse + better} of {len(c.rows)} compared metric(s) and group(s) claim a difference ({worse} B worse, {better} B better)"


def _lead(result: Compared, base: Side, others: list[Side]) -> None:
    """The verdict first: the gate's line per pair, then the headline numbers a team lead reads, worst first."""
    doc = result.doc
    doc.para(f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `bench compare` from stored records. "
             + " ".join([*base.notes, *(n for o in others for n in o.notes)]))  # fmt: skip
    findings = [f"**{line}**" for line in result.lines()]
    several = len(result.pairs) > 1
    apart = any(c.relation != DUET for _, c in result.pairs)  # the normalised ratio, as the matched trials show it
    rows = []
    for (name, c), other in zip(result.pairs, others):
        claimed = worst_first(c.rows)
        shown = claimed[:HEADLINE_ROWS]
        more = f"; the {len(shown)} worst below, every one under Matched trials" if len(claimed) > len(shown) else ""
        findings.append((f"{name}: " if several else "") + claim_counts(c) + more + ".")
        rows += [[*([other.name] if several else []), r.group, r.what(), _value_cell(r),
                  *([_cell(r.normalised)] if apart else []), r.pairs, r.verdict, _gate_word(r)] for r in shown]  # fmt: skip
    doc.findings(findings)
    if rows:
        doc.lead_table([*(["B"] if several else []), "trials", "metric", "value [95% CI]",
                        *([NORMALISED] if apart else []), "pairs", "verdict", "gate"], rows, "headline")  # fmt: skip


def section(doc: Doc, base: Side, other: Side, c: Comparison, out: OutputDir) -> None:
    """One pair of runs: settings, differences, the matched trials, machines, ranking, heatmap, unmatched, gate."""
    doc.heading(f"`{base.name}` (A) vs `{other.name}` (B)")
    doc.para(HOW[c.relation] + " " + _method_text())
    if c.verdict is not None:
        gate_section(doc, c, base, other)
    differences(doc, base, other, c)
    doc.heading(f"Matched trials ({len({r.group for r in c.rows})} groups)", 3)
    doc.table(*rows_table(c), "ratios")
    if c.relation != DUET:
        from hello_bench.report import machines

        doc.heading("Raw machine speed (control measurements; B/A > 1 means B's machine is slower)", 3)
        machines.control_section(doc, base, other, c.context.control)
        if c.relation == SEPARATE and math.isfinite(c.context.floor):
            doc.para(f"Noise floor: {c.context.floor:.1%}, both runs' floors combined, from the spread of the per-round "
                     "controls: a ratio closer to 1 than that is marked as within it.")  # fmt: skip
    from hello_bench.report import machines

    machines.ranking_section(doc, base.frame, other.frame, [k for k in c.keys if k != "adapter"])
    fig = plots.ratio_heatmap(heat_frame(c, doc.labels.short), out / "figures" / file_name(f"compare-{base.path.name}-vs-{other.path.name}.png"),
                              f"B/A: {other.name} vs {base.name}")  # fmt: skip
    if fig:
        doc.figure("ratios", fig.path, data=fig.data())
    unmatched_section(doc, base, other, c)


def _method_text() -> str:
    return (f"Ratios are B/A (geometric mean of per-split ratios, Student-t 95% interval on the log ratios; no verdict "
            f"from fewer than {stats.MIN_RATIO_PAIRS} pairs); 'no difference' when the interval contains 1. Differences "
            "(accuracy) are B - A with the Nadeau-Bengio corrected interval, on splits with the same identity, verdicts "
            "from Holm's adjustment over each metric's distinct tests, never the raw p. Counts are compared exactly.")  # fmt: skip


def differences(doc: Doc, base: Side, other: Side, c: Comparison) -> None:
    diffs = environment_differences(base.env, other.env)
    doc.heading("What differs between A and B", 3)
    if c.context.design:
        doc.bullets(c.context.design)
    if diffs:
        doc.table(["field", "A", "B"], [list(d) for d in diffs], "environment")
    elif not c.context.design:
        doc.para("No recorded difference in the machines' fingerprints or packages.")


def _estimate_text(r: Row) -> str:
    e = r.estimate
    if r.compared_as == "ratio":
        return f"{fmt(e.value)}x [{fmt(e.low)}, {fmt(e.high)}]" if math.isfinite(e.low) else f"{fmt(e.value)}x"
    if r.compared_as == "exact":
        return f"{e.value:+,g}" if e.low == e.high else f"{e.low:+,g} to {e.high:+,g}"
    return f"{e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}]" if math.isfinite(e.low) else f"{e.value:+.3f}"


def _value_cell(r: Row) -> Cell:
    """A row's estimate as its table cell: an interval, or an exact count's change."""
    if r.compared_as == "exact":
        return Cell(_estimate_text(r), r.estimate.value)
    return _cell(r.estimate, signed=r.compared_as == "difference")


def _cell(e: Estimate | None, signed: bool = False) -> Cell:
    if e is None:
        return Cell("-")
    if not math.isfinite(e.low):
        return Cell(f"{e.value:+.3f}" if signed else str(fmt(e.value)), e.value)
    text = (
        f"{e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}]" if signed else f"{fmt(e.value)} [{fmt(e.low)}, {fmt(e.high)}]"
    )
    return Cell(text, e.value, e.low, e.high, e.level)


def rows_table(c: Comparison) -> tuple[list[str], list[list]]:
    """The matched-trials table: one row per group and metric; a normalised column only where the sides ran apart."""
    headers = ["trials", "metric", "value [95% CI]"]
    normalised = c.relation != DUET
    if normalised:
        headers.append(NORMALISED)
    headers += ["pairs", "verdict", "gate"]
    out = []
    for r in sorted(c.rows, key=lambda r: (_KIND_ORDER[r.compared_as], r.name, r.group)):
        what = r.what() + (f", Holm over {c.families[r.column]}" if c.families.get(r.column) else "")
        row: list = [r.group, what, _value_cell(r)]
        if normalised:
            row.append(_cell(r.normalised))
        row += [r.pairs, r.verdict, _gate_word(r)]
        out.append(row)
    return headers, out


def _gate_word(r: Row) -> str:
    if r.gated is None:
        return "-"
    word = {"fail": "FAIL", "pass": "pass"}.get(r.gated.state, f"undecided: {r.gated.reason}")
    if r.gated.by_cpu:  # the row shows wall time; the gate decided on CPU time: say so, with its estimate
        return f"{word} by CPU time {gate.estimate_text(r.gated.judged.tested)}"
    return word


def heat_frame(c: Comparison, short: Callable[[str], str] = str) -> pd.DataFrame:
    """The ratios a heatmap shows, coloured only where the row's verdict claims a difference (green: B better);
    ``short``: the page's short form of a trial's label (the figure names trials as the tables do)."""
    rows = []
    for r in c.rows:
        if r.compared_as != "ratio":
            continue
        goodness = -math.log2(r.estimate.value) if r.metric.lower_is_better else math.log2(r.estimate.value)
        claimed = r.claims in (BETTER, WORSE)
        rows.append({"trials": short(r.group), "metric": r.name, "ratio": r.estimate.value, "pairs": r.pairs,
                     "goodness": goodness if claimed else math.nan, "verdict": r.verdict})  # fmt: skip
    return pd.DataFrame(rows)


def unmatched_section(doc: Doc, base: Side, other: Side, c: Comparison) -> None:
    doc.heading("Not matched (listed, not dropped silently)", 3)
    only = [["A only", *r] for r in unmatched(base.frame, other.frame, c.keys)]
    only += [["B only", *r] for r in unmatched(other.frame, base.frame, c.keys)]
    doc.table(["side", "trials", "count", "statuses"], only, "unmatched") if only else doc.para(
        "Every trial was matched."
    )
    if c.unpaired:
        doc.para(
            "Never paired: the same split seed on both sides, but not the same split (left out of every comparison):"
        )
        doc.bullets([u.describe() for u in c.unpaired])


def gate_section(doc: Doc, c: Comparison, base: Side, other: Side) -> None:
    """The CI gate for B against A: what was gated at what threshold, every gated test, and the verdict line."""
    v = c.verdict
    assert v is not None
    doc.heading("CI gate", 3)
    doc.para(f"**{gate.line(v)}**")
    doc.para(gate_settings_text(c))
    rows = []
    for r in c.gated_rows():
        assert r.gated is not None
        t, j = r.gated.judged.tested, r.gated.judged
        e = r.gated.estimate()
        rows.append([r.group, t.measured.metric, Cell(gate.estimate_text(t), e.value, e.low, e.high, e.level),
                     gate.threshold_text(t.measured), t.n, _p(t.p_fail), _p(j.p_holm), _p(t.p_pass),
                     gate.detectable_text(t, j.detectable), _gate_word(r)])  # fmt: skip
    if rows:
        doc.table(["trials", "metric", f"B vs A [{gate.level_text(1 - 2 * v.alpha)}]", "fails when", "pairs", "p (worse than that)", "p (Holm)",
                   "p (better than that)", "detectable (80%)", "decision"], rows, "gate")  # fmt: skip
    if c.problems:
        doc.para("Found before any test (each keeps the gate from passing):")
        doc.bullets([f"{p.reason}: {p.detail}" for p in c.problems])


def gate_settings_text(c: Comparison) -> str:
    """Which metrics were gated, at what threshold, how the sides relate, and the rules."""
    v = c.verdict
    assert v is not None
    thresholds: dict[str, str] = {}
    for r in c.gated_rows():
        assert r.gated is not None
        thresholds.setdefault(r.metric.short, gate.threshold_text(r.gated.judged.tested.measured))
    gated = "; ".join(f"{name} ({text})" for name, text in thresholds.items()) or "nothing measured to gate"
    how = {DUET: "Both sides come from one run, interleaved split by split: pairing on the split is valid. ",
           "hosts": "Both sides come from one run, on two machines. "}.get(c.relation, _separate_text(c))  # fmt: skip
    level = f"alpha {v.alpha:.3g}" + (f" (look {c.policy.look} of a sequential gate)" if c.policy.look else "")
    return (f"Gated: {gated}. " + how + f"FAIL: a one-sided test of 'worse than the threshold', Holm-adjusted over all "
            f"{v.m} such tests, below {level}. PASS: every gated metric's one-sided bound inside its threshold (an "
            f"intersection-union test). Anything else is INCONCLUSIVE with its reason; fewer than {gate.MIN_PAIRS} pairs "
            f"decide nothing; a count is gated exactly. Intervals here are {gate.level_text(1 - 2 * v.alpha)} (the two "
            f"one-sided {gate.level_text(1 - v.alpha)} bounds)."
            + (f" Where the baseline's wall time was {BUSY_RATIO:g}x its CPU time or more (a busy machine), a timed call "
               "is decided on its process CPU time and named so ('by CPU time'); --wall-only turns that off."
               if not c.policy.wall_only else " Wall-clock times only (--wall-only)."))  # fmt: skip


def _separate_text(c: Comparison) -> str:
    variance = c.context.variance
    if variance is not None and getattr(variance, "why", None) is None:
        return (f"Two separate runs: the run-to-run variance of this machine from calibration `{variance.source}` "
                f"(made {age(variance)} ago, covering {duration(variance.span_s) if math.isfinite(variance.span_s) else 'an unknown span'}) "
                "is added to every machine-dependent metric (two run offsets), and times and rates are divided by the "
                "control ratio. ")  # fmt: skip
    why = getattr(variance, "why", None) or "no calibration"
    return (f"Two separate runs, and no usable run-to-run variance ({why}): every split of a run shares that run's "
            "machine state, so machine-dependent metrics are not tested (run both sides in one run: `bench run --env "
            "base=... --env head=...`); accuracy and other machine-independent metrics are. ")  # fmt: skip


def _p(p: float) -> str:
    return "-" if math.isnan(p) else f"{p:.2g}"


__all__ = ["Compared", "compare_runs", "relation"]
