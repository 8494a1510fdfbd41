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

from bench.analysis.load import Loaded, load_runs, throughput_columns
from bench.errors import UserError
from bench.record import METRICS, NESTED_FIELDS
from bench.report import accuracy, across, context, figures, learning, serving, timing
from bench.report.document import Doc
from bench.store.safefs import OutputDir, OutputPath, file_name

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


def build(loaded: Loaded, baseline: str | None, fig_dir: OutputPath, target_accuracy: float | None = None) -> Doc:
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
    comps = accuracy.comparisons(ok, baseline)
    doc.heading(f"Is the difference real? Paired over the same splits, against `{baseline}`", 3)
    doc.para(accuracy.family_note(comps))
    accuracy.significance(doc, comps, baseline)
    accuracy.effects(doc, comps)
    accuracy.tuned(doc, comps)
    goals = learning.section(doc, ok, records, target_accuracy)
    doc.heading("Time")
    noisy = timing.time_table(doc, ok)
    timing.ratios(doc, ok, baseline)
    timing.throughput(doc, ok)
    timing.memory(doc, ok)
    timing.devices(doc, ok)
    summ = serving.section(doc, records)
    significant = across.section(doc, ok)
    timing.trust(doc, ok, records, noisy)
    figs = figures.draw(
        ok, records, acc, {"targets": goals, "serving": summ, "friedman": significant, "raw": loaded.raw()}, fig_dir
    )
    if figs:
        doc.heading("Figures")
        for title, fig in figs.items():
            doc.figure(title, fig.path, fig.data())
    return doc


def summary_csv(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[df["status"] == "ok"]
    cols = [m.column for m in METRICS if m.summary and "{key}" not in m.column and m.column in ok.columns]
    return ok.groupby(context.KEYS, sort=True)[cols + throughput_columns(ok)].median().reset_index()


def default_out(results_dir: str | Path, paths: list[Path]) -> Path:
    """User reports go under ``results/reports/<run ids>/`` (ignored by git), never over the reference."""
    return Path(results_dir) / REPORTS / file_name("+".join(p.name for p in paths))


def write_report(
    runs: list[str],
    results_dir: str | Path = "results",
    baseline: str | None = None,
    out_dir: str | Path | None = None,
    target_accuracy: float | None = None,
) -> Written:
    """Regenerate REPORT.md, report.html, CSVs and figures under ``out_dir`` (default: results/reports/<runs>)."""
    if target_accuracy is not None and not 0 < target_accuracy <= 1:
        raise UserError(f"--target-accuracy must be in (0, 1]. Got {target_accuracy}.")
    loaded = load_runs(runs, results_dir)
    # Everything is rendered in memory first; the folder's commit checks every target, then writes.
    out = OutputDir.choose(out_dir, default_out(results_dir, loaded.paths), results_dir).check_writable()
    doc = build(loaded, baseline, out / "figures", target_accuracy)
    out.stage("summary.csv", summary_csv(loaded.frame).to_csv(index=False, float_format="%.6g"))
    flat = loaded.frame.drop(columns=[c for c in NESTED_FIELDS if c in loaded.frame.columns])
    out.stage("trials.csv", flat.sort_values("trial_id").to_csv(index=False, float_format="%.6g"))
    markdown = out.stage("REPORT.md", doc.markdown(out.path))
    html = out.stage("report.html", doc.html())
    out.commit()
    return Written(markdown, html, doc)
