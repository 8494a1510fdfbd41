"""A calibration's numbers in words: the lines ``bench calibrate`` prints, its CALIBRATION.md, the README block.

Every sentence is made from the stored summary (``run.json``'s ``calibration``), so the README's
figures are the records' figures; each rate comes with its Clopper-Pearson interval and its count.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from hello_bench.analysis import calibration as calib
from hello_bench.analysis import run_variance as rv
from hello_bench.analysis.calibration import DETECTION
from hello_bench.report.document import Doc
from hello_bench.store.safefs import OutputDir

#: Comparisons that show a rate under 5% (one-sided 95%) when none is a false alarm.
BOUND = calib.comparisons_to_bound(0.05)


def _rate(r: dict, bound: str = "") -> str:
    """k/n with its two-sided 95% interval, and the one-sided bound a claim rests on (``upper`` or ``lower``),
    all recomputed from k and n (a summary stored by an older version reads the same)."""
    if not r.get("n"):
        return "no comparisons"
    k, n = int(r["k"]), int(r["n"])
    two = calib.clopper_pearson(k, n)
    text = f"{k}/{n} = {two.rate:.0%} [95% CI {two.low:.0%}, {two.high:.0%}]"
    if bound == "upper":
        text += f", one-sided 95% upper bound {calib.upper_bound(k, n):.1%}"
    elif bound == "lower":
        text += f", one-sided 95% lower bound {calib.lower_bound(k, n):.1%}"
    return text


def _pct(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x * 100:g}%"


def _when(seconds: object) -> str:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(seconds)) + " UTC"


def _span(summary: dict) -> str:
    span, machine = summary.get("span") or {}, summary.get("machine") or {}
    where = f"Made on `{machine['hostname']}` (machine {machine.get('machine_id')})" if machine.get("hostname") else (
        "Made on a machine it did not record")  # fmt: skip
    if not span.get("runs"):
        return f"{where}; the span of time its repeats covered was not recorded."
    return (f"{where}; its {span['runs']} repeats covered {rv.duration_text(span['seconds'])}, from "
            f"{_when(span['first'])} to {_when(span['last'])}: its run-to-run variance says how the machine moves "
            "within such a span, not beyond it.")  # fmt: skip


def _separate(summary: dict) -> str:
    sep = summary["aa_separate"]
    if not sep.get("n"):
        return (f"**False alarms, A/A between two separate runs**: no pair could be gated (each pair's run-to-run "
                f"variance comes from the other repeats, and a variance needs {rv.MIN_RUNS} of them: "
                f"{rv.MIN_RUNS + 2} repeats or more).")  # fmt: skip
    return (f"**False alarms, A/A between two separate runs** (side A of one repeat against side A of the next, "
            f"disjoint pairs, both directions; run-to-run variance from the other repeats): {_rate(sep, 'upper')}; "
            f"pairs with a disturbed repeat {_rate(sep['disturbed'])}. Outcomes: "
            + (", ".join(f"{n} {o}" for o, n in sorted(sep["outcomes"].items())) or "none") + ".")  # fmt: skip


def _sides(plan: dict) -> str:
    slowdowns = ", ".join(_pct(s) for s in plan["slowdowns"])
    if plan.get("kind") == "separate":
        return "side A only" + (f" and one side per injected slowdown ({slowdowns})" if slowdowns else "")
    return f"two identical sides and one per injected slowdown ({slowdowns})"


def lines(summary: dict) -> list[str]:
    """The calibration's findings, one sentence each (see the module docstring)."""
    plan = summary["plan"]
    aa = summary["aa"]
    pct = plan["fail_above"]
    out = [
        f"Matrix: {plan['repeats']} repeats x {plan['splits']} splits of {', '.join(f'`{a}`' for a in plan['adapters'])} "
        f"(iris, CPU), each repeat a fresh run holding {_sides(plan)}, the adapters of each round in a seeded "
        "random order; "
        f"{len(plan['disturbed'])} repeat(s) shared the machine with a second job (a busy loop on each core the trials "
        f"left free) for the middle third of their rounds. Gate: `--fail-above {pct:g}`, accuracy drop "
        f"{plan['accuracy_drop']:g} points; {summary.get('seconds', 0) / 60:.1f} min in all. " + _span(summary),
        f"**False alarms, A/A inside one run** (a duet: side A against its identical twin, both directions, a FAIL "
        f"either way counts): {_rate(aa, 'upper')}; undisturbed repeats {_rate(aa['undisturbed'])}, disturbed "
        f"{_rate(aa['disturbed'])}. Outcomes of the {sum(aa['outcomes'].values())} gated directions: "
        + ", ".join(f"{n} {o}" for o, n in sorted(aa["outcomes"].items()))
        + ".",
        _separate(summary),
    ]
    detections = []
    for d in summary["ab"].values():
        detections.append(
            f"{_pct(d['slowdown'])} slower: {_rate(d, 'lower')} (by fit time alone {_rate(d['fit_time'])})"
        )
    out.append("**Detection, A/B inside one run** (every timed call of side B made slower by exactly the fraction "
               "shown, a FAIL counts): " + "; ".join(detections) + ".")  # fmt: skip
    rates = {d["slowdown"]: calib.clopper_pearson(int(d["k"]), int(d["n"])) for d in summary["ab"].values()}
    smallest = calib.smallest_detected(rates)
    out.append(
        f"**Smallest injected slowdown detected in at least {DETECTION:.0%} of the comparisons**: "
        + (f"{_pct(smallest.observed)} (the observed rate, not a claim about the true one)" if smallest.observed is not None else "none of them")
        + (
            f"; shown (its one-sided 95% lower bound at least {DETECTION:.0%}): {_pct(smallest.shown)}"
            if smallest.shown is not None
            else f"; none is shown to be detected at least {DETECTION:.0%} of the time (that takes {BOUND} comparisons, "
            "every one detected)"
        )
        + f". Showing a false-alarm rate under 5% takes {BOUND} comparisons without a false alarm (one-sided 95%): "
        f"{BOUND} repeats for duets (`--thorough`), {2 * BOUND} repeats, {BOUND} disjoint pairs, for separate runs "
        "(`--thorough-separate`)."
    )  # fmt: skip
    out.append(targets(summary))
    return out


def _target(r: dict, limit: float, below: bool) -> str:
    """A target against a rate: shown by its one-sided bound, shown missed, or not shown (never "met" by a point)."""
    if not r.get("n"):
        return "not measured"
    k, n = int(r["k"]), int(r["n"])
    upper, lower = calib.upper_bound(k, n), calib.lower_bound(k, n)
    if below:
        if upper <= limit:
            return f"shown ({_rate(r, 'upper')})"
        if lower > limit:
            return f"**missed**, shown above it ({_rate(r, 'lower')})"
        return f"not shown by these {n} comparisons ({_rate(r, 'upper')})"
    if lower >= limit:
        return f"shown ({_rate(r, 'lower')})"
    if upper < limit:
        return f"**missed**, shown below it ({_rate(r, 'upper')})"
    return f"not shown by these {n} comparisons ({_rate(r, 'lower')})"


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
        parts.append(f"a quick calibration under 10 minutes: it took {minutes:.1f} min")
    return f"**Targets at `--fail-above {plan['fail_above']:g}`**: " + "; ".join(parts) + "."


def with_provenance(summary: dict, folder: Any) -> dict:
    """A stored summary with its machine and span, taken from the run folder (its environment and records) where
    a calibration stored before bench kept them lacks them."""
    out = dict(summary)
    if not (out.get("machine") or {}).get("hostname"):
        env = folder.environment()
        out["machine"] = {"machine_id": env.get("machine_id"), "hostname": env.get("hostname")}
    if not (out.get("span") or {}).get("runs"):
        import pandas as pd

        rows = [{"repeat": (r.get("params") or {}).get("repeat"), "started_at": r.get("started_at"),
                 "finished_at": r.get("finished_at")} for r in folder.records() if r.get("started_at") is not None]  # fmt: skip
        out["span"] = rv.span(pd.DataFrame(rows), "repeat").to_dict() if rows else {}
    return out


def readme_block(loaded: object) -> str:
    """The README's calibration block: every line, the targets and where they come from (a stored calibration run)."""
    folder = loaded.folders[0]  # type: ignore[attr-defined]
    summary = folder.info().get("calibration")
    if not isinstance(summary, dict):
        raise ValueError(f"run {folder.run_id} holds no calibration results")
    summary = with_provenance(summary, folder)
    return "\n".join(f"- {line}" for line in lines(summary)) + (
        f"\n\nFrom run `{folder.run_id}`, made by `{summary.get('command', 'bench calibrate')}`."
    )


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
                 "pooled over the adapters) with Satterthwaite's degrees of freedom: what `bench compare` adds to two "
                 f"separate runs' timing comparisons, once it is known (positive, from {rv.MIN_RUNS} repeats or more). "
                 + _span(summary))  # fmt: skip
        doc.table(["metric column", "sd of a run's offset", "df", "repeats", "usable"],
                  [_variance_row(k, v) for k, v in sorted(variance.items())], "run-variance")  # fmt: skip
    return doc


def _variance_row(column: str, entry: dict) -> list[str]:
    from hello_bench.analysis.separate import run_variance_from

    usable = bool(run_variance_from({"run_variance": {column: entry}}, "").by_column)
    var = entry.get("var")
    shown = f"{math.sqrt(var):.1%}" if isinstance(var, (int, float)) and math.isfinite(var) and var > 0 else "-"
    why = ("yes" if usable else "no: df = repeats - 1, stored before Satterthwaite's" if "df_method" not in entry
           else "no: truncated to 0 (the runs' spread did not stand out from the splits')" if entry.get("truncated")
           else f"no: fewer than {rv.MIN_RUNS} repeats" if int(entry.get("runs") or 0) < rv.MIN_RUNS
           else f"no: under {rv.MIN_DF:g} df" if float(entry.get("df") or 0) < rv.MIN_DF else "no")  # fmt: skip
    df = entry.get("df")
    return [column, shown, f"{df:.2g}" if isinstance(df, (int, float)) and math.isfinite(df) else "-",
            str(entry.get("runs", "?")), why]  # fmt: skip


def write(summary: dict, run_id: str, out: OutputDir) -> Path:
    """CALIBRATION.md through the one safe writer."""
    doc = document(summary, run_id)
    path = out.stage("CALIBRATION.md", doc.markdown(out.path))
    out.commit()
    return path
