"""A calibration's numbers in words: the lines ``bench calibrate`` prints, its CALIBRATION.md, the README block.

Every sentence is made from the stored summary (``run.json``'s ``calibration``), so the README's
figures are the records' figures; each rate comes with its Clopper-Pearson interval and its count.
"""

from __future__ import annotations

import math
from pathlib import Path

from bench.analysis.calibration import DETECTION
from bench.report.document import Doc
from bench.store.safefs import OutputDir


def _rate(r: dict) -> str:
    if not r.get("n"):
        return "no comparisons"
    return f"{r['k']}/{r['n']} = {r['rate']:.0%} [95% CI {r['low']:.0%}, {r['high']:.0%}]"


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x * 100:g}%"


def lines(summary: dict) -> list[str]:
    """The calibration's findings, one sentence each (see the module docstring)."""
    plan = summary["plan"]
    aa, sep = summary["aa"], summary["aa_separate"]
    pct = plan["fail_above"]
    out = [
        f"Matrix: {plan['repeats']} repeats x {plan['splits']} splits of {', '.join(f'`{a}`' for a in plan['adapters'])} "
        f"(iris, CPU), each repeat a fresh run holding two identical sides and one per injected slowdown "
        f"({', '.join(_pct(s) for s in plan['slowdowns'])}), the adapters of each round in a seeded random order; "
        f"{len(plan['disturbed'])} repeat(s) shared the machine with a second job (a busy loop on each core the trials "
        f"left free) for the middle third of their rounds. Gate: `--fail-above {pct:g}`, accuracy drop "
        f"{plan['accuracy_drop']:g} points; {summary.get('seconds', 0) / 60:.1f} min in all.",
        f"**False alarms, A/A inside one run** (a duet: side A against its identical twin, both directions, a FAIL "
        f"either way counts): {_rate(aa)}; undisturbed repeats {_rate(aa['undisturbed'])}, disturbed "
        f"{_rate(aa['disturbed'])}. Outcomes of the {sum(aa['outcomes'].values())} gated directions: "
        + ", ".join(f"{n} {o}" for o, n in sorted(aa["outcomes"].items()))
        + ".",
        f"**False alarms, A/A between two separate runs** (side A of one repeat against side A of the next, disjoint "
        f"pairs, both directions; run-to-run variance from the other repeats): {_rate(sep)}; pairs with a disturbed "
        f"repeat {_rate(sep['disturbed'])}. Outcomes: "
        + (", ".join(f"{n} {o}" for o, n in sorted(sep["outcomes"].items())) or "none")
        + ".",
    ]
    detections = []
    for d in summary["ab"].values():
        detections.append(f"{_pct(d['slowdown'])} slower: {_rate(d)} (by fit time alone {_rate(d['fit_time'])})")
    out.append("**Detection, A/B inside one run** (every timed call of side B made slower by exactly the fraction "
               "shown, a FAIL counts): " + "; ".join(detections) + ".")  # fmt: skip
    smallest = summary["smallest_detected"]
    found = smallest["observed"]
    out.append(
        f"**Smallest slowdown detected at least {DETECTION:.0%} of the time** among those injected: "
        + (f"{_pct(found)} (observed rate)" if found is not None else "none of them")
        + (
            f"; shown by the interval (its lower bound at least {DETECTION:.0%}): {_pct(smallest['shown'])}"
            if smallest["shown"] is not None
            else f"; no rate is shown to be at least {DETECTION:.0%} by its interval at these counts (with every "
            f"comparison detected that takes {_to_bound(1 - DETECTION)} comparisons)"
        )
        + f". Bounding a false-alarm rate under 5% takes {summary['to_bound_5pct']} comparisons with none at all."
    )
    out.append(targets(summary))
    return out


def _target(r: dict, limit: float, below: bool) -> str:
    """Whether a rate meets a target: shown by its interval, consistent with it (the point only), or missed."""
    if not r.get("n"):
        return "not measured"
    point_ok = r["rate"] <= limit if below else r["rate"] >= limit
    bound_ok = r["high"] <= limit if below else r["low"] >= limit
    if bound_ok:
        return f"met and shown ({_rate(r)})"
    if point_ok:
        return f"met by the observed rate, not shown by its interval ({_rate(r)})"
    return f"**missed** ({_rate(r)})"


def targets(summary: dict) -> str:
    """The issue's targets against this calibration's numbers, in one sentence each."""
    plan = summary["plan"]
    parts = [
        f"false alarms at most 5% of A/A comparisons in one run (both directions, disturbed repeats included): "
        f"{_target(summary['aa'], 0.05, True)}",
        f"between two separate runs: {_target(summary['aa_separate'], 0.05, True)}",
    ]
    quarter = next((d for d in summary["ab"].values() if abs(d["slowdown"] - 0.25) < 1e-9), None)
    if quarter is not None:
        parts.append(f"a 25% slowdown detected at least 95% of the time: {_target(quarter, DETECTION, False)}")
    if plan.get("mode") == "quick":
        minutes = summary.get("seconds", math.nan) / 60
        parts.append(
            f"a quick calibration under 10 minutes: {'met' if minutes < 10 else '**missed**'} ({minutes:.1f} min)"
        )
    return f"**Targets at `--fail-above {plan['fail_above']:g}`**: " + "; ".join(parts) + "."


def readme_block(loaded: object) -> str:
    """The README's calibration block: every line, the targets and where they come from (a stored calibration run)."""
    folder = loaded.folders[0]  # type: ignore[attr-defined]
    summary = folder.info().get("calibration")
    if not isinstance(summary, dict):
        raise ValueError(f"run {folder.run_id} holds no calibration results")
    return "\n".join(f"- {line}" for line in lines(summary)) + (
        f"\n\nFrom run `{folder.run_id}`, made by `{summary.get('command', 'bench calibrate')}`."
    )


def _to_bound(rate: float) -> int:
    from bench.analysis.calibration import comparisons_to_bound

    return comparisons_to_bound(rate)


def document(summary: dict, run_id: str) -> Doc:
    doc = Doc(f"Calibration of the gate on this machine: `{run_id}`")
    doc.para(f"Made by `{summary.get('command', 'bench calibrate')}`. Each rate is k/n with its exact (Clopper-Pearson) "
             "95% interval: n, the number of independent comparisons, decides how precise it can be.")  # fmt: skip
    doc.bullets(lines(summary))
    rows = [[c["kind"], ", ".join(str(r + 1) for r in c["repeats"]), "yes" if c["disturbed"] else "",
             _pct(c["slowdown"]) if c["kind"] == "ab" else "-", " / ".join(c["outcomes"]), c["lines"][0][:160]]
            for c in summary["comparisons"]]  # fmt: skip
    doc.heading("Every comparison", 3)
    doc.table(["kind", "repeat(s)", "disturbed", "slowdown", "gate outcome(s)", "first line"], rows, "comparisons")
    variance = summary.get("run_variance") or {}
    if variance:
        doc.heading("Run-to-run variance of this machine", 3)
        doc.para("Variance of a run's own offset (log scale, two-way random effects over repeats x splits, side A, "
                 "pooled over the adapters): what `bench compare` adds to two separate runs' timing comparisons.")  # fmt: skip
        doc.table(["metric column", "sd of a run's offset", "df"],
                  [[k, f"{math.sqrt(v['var']):.1%}", f"{v['df']:g}"] for k, v in sorted(variance.items())], "run-variance")  # fmt: skip
    return doc


def write(summary: dict, run_id: str, out: OutputDir) -> Path:
    """CALIBRATION.md through the one safe writer."""
    doc = document(summary, run_id)
    path = out.stage("CALIBRATION.md", doc.markdown(out.path))
    out.commit()
    return path
