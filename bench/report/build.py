"""``bench report``: REPORT.md, a self-contained report.html, CSVs and figures, from stored records only.

Nothing is re-run. Every number is computed here (or in :mod:`bench.stats`)
from the records; the report never names a winner where the test says not
significant. This module assembles the document; each section lives in its
own module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.analysis.load import Loaded, load_runs
from bench.errors import UserError
from bench.record import NESTED_FIELDS
from bench.report import accuracy, across, context, figures, learning, noise, serving, summary, timing
from bench.report.document import Doc

DEFAULT_BASELINE = "sklearn-lr"
REPORTS = "reports"


@dataclass
class Written:
    markdown: Path
    html: Path
    doc: Doc


def pick_baseline(adapters: list[str], baseline: str | None) -> str:
    """The baseline label: as given (full label or bare name), else sklearn-lr where it ran, else the first adapter."""
    if baseline is None:
        baseline = DEFAULT_BASELINE if DEFAULT_BASELINE in adapters or not adapters else adapters[0]
    if baseline in adapters:
        return baseline
    matches = [a for a in adapters if a.split(":")[0].split("[")[0].split("(")[0] == baseline]
    if len(matches) != 1:
        raise UserError(f"Baseline {baseline!r} is not in these runs. Adapters: {', '.join(adapters)}.")
    return matches[0]


def build(
    loaded: Loaded,
    baseline: str | None,
    fig_dir: Path,
    target_accuracy: float | None = None,
    equivalence_margin: float | None = None,
) -> Doc:
    df, records = loaded.frame, loaded.records
    ok = df[df["status"] == "ok"]
    baseline = pick_baseline(sorted(df["adapter"].dropna().unique()), baseline)
    doc = Doc("Benchmark report")
    doc.para(
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `bench report` from {len(df)} stored records "
        f"({', '.join(f'`{p.name}`' for p in loaded.paths)}). Nothing here was re-run; every number is computed from the records."
        + (" " + " ".join(loaded.notes) if loaded.notes else "")
    )
    context.quick_banner(doc, context.run_configs(loaded.paths))
    context.environment(doc, loaded.paths)
    context.status(doc, df)
    if ok.empty:
        doc.para("No trial finished ok: nothing to measure.")
        return doc
    doc.heading("Accuracy")
    acc = accuracy.accuracy_table(doc, ok)
    accuracy.variance_components(doc, ok)
    tested = accuracy.comparisons(ok, baseline, equivalence_margin)
    doc.heading(f"Is the difference real? Paired over the same splits, against `{baseline}`", 3)
    accuracy.significance(doc, tested, baseline)
    accuracy.family_table(doc, tested)
    accuracy.effects(doc, tested)
    accuracy.tuned(doc, tested)
    pairs = [(a, b) for _, a, b in accuracy.comparison_pairs(ok, baseline)]
    goals = learning.section(doc, ok, records, target_accuracy, pairs)
    doc.heading("Time")
    noisy = timing.time_table(doc, ok)
    summary.section(doc, ok)
    floors = {p.name: noise.run_floor(p) for p in loaded.paths}
    known = [f.floor for f in floors.values() if f.floor == f.floor]  # NaN: no floor
    timing.ratios(doc, ok, baseline, max(known) if known else float("nan"))
    orders = noise.order_section(doc, ok)
    timing.throughput(doc, ok)
    timing.memory(doc, ok)
    timing.devices(doc, ok)
    summ = serving.section(doc, records)
    significant = across.section(doc, ok)
    timing.trust(doc, ok, records, noisy, floors, orders)
    figs = figures.draw(
        ok, records, acc, {"targets": goals, "serving": summ, "friedman": significant, "raw": loaded.raw()}, fig_dir
    )
    if figs:
        doc.heading("Figures")
        for title, path in figs.items():
            doc.figure(title, path)
    return doc


def summary_csv(df: pd.DataFrame) -> pd.DataFrame:
    return summary.summary_frame(df)


def check_margin(margin: float | None) -> None:
    """An equivalence margin is a difference in accuracy: above 0, below 1."""
    if margin is not None and not 0 < margin < 1:
        raise UserError(f"--equivalence-margin must be an accuracy difference in (0, 1), e.g. 0.01. Got {margin}.")


def default_out(results_dir: str | Path, paths: list[Path]) -> Path:
    """User reports go under ``results/reports/<run ids>/`` (ignored by git), never over the reference."""
    return Path(results_dir) / REPORTS / "+".join(p.name for p in paths)[:200]


def writable_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder.")
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise UserError(f"Cannot write the report to {out}: {err.strerror or err}.") from None
    return out


def write_report(
    runs: list[str],
    results_dir: str | Path = "results",
    baseline: str | None = None,
    out_dir: str | Path | None = None,
    target_accuracy: float | None = None,
    equivalence_margin: float | None = None,
) -> Written:
    """Regenerate REPORT.md, report.html, CSVs and figures under ``out_dir`` (default: results/reports/<runs>)."""
    if target_accuracy is not None and not 0 < target_accuracy <= 1:
        raise UserError(f"--target-accuracy must be in (0, 1]. Got {target_accuracy}.")
    check_margin(equivalence_margin)
    loaded = load_runs(runs, results_dir)
    out = writable_dir(Path(out_dir) if out_dir else default_out(results_dir, loaded.paths))
    doc = build(loaded, baseline, out / "figures", target_accuracy, equivalence_margin)
    summary_csv(loaded.frame).to_csv(out / "summary.csv", index=False, float_format="%.6g")
    flat = loaded.frame.drop(columns=[c for c in NESTED_FIELDS if c in loaded.frame.columns])
    flat.sort_values("trial_id").to_csv(out / "trials.csv", index=False, float_format="%.6g")
    markdown = out / "REPORT.md"
    markdown.write_text(doc.markdown(out))
    html = out / "report.html"
    html.write_text(doc.html())
    return Written(markdown, html, doc)
