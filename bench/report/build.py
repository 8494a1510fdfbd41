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

from hello_bench.analysis.load import Loaded, load_runs
from hello_bench.errors import UserError
from hello_bench.record import NESTED_FIELDS
from hello_bench.report import (
    accuracy,
    across,
    breakdown,
    context,
    cpu,
    data,
    figdata,
    figures,
    findings,
    interactive,
    learning,
    noise,
    serving,
    summary,
    timing,
)
from hello_bench.report.document import Doc
from hello_bench.report.html import render
from hello_bench.store.safefs import OutputDir, OutputPath, file_name

REPORTS = "reports"


@dataclass
class Written:
    markdown: Path
    html: Path
    doc: Doc


def config_order(loaded: Loaded) -> list[str]:
    """Adapter labels in the order the runs' configs list them (the first one is the default baseline)."""
    from hello_bench.run.config import AdapterSpec

    labels: list[str] = []
    for folder in loaded.folders:
        for entry in folder.config().get("adapters", []):
            try:
                label = AdapterSpec.from_dict(entry).label
            except (KeyError, TypeError, AttributeError):  # a config written by hand: no order to take from it
                continue
            if label not in labels:
                labels.append(label)
    return labels


def pick_baseline(frame: pd.DataFrame, baseline: str | None, order: list[str] | None = None) -> str:
    """The baseline label: as given (full label or adapter name), else the first adapter the run's config lists."""
    adapters = sorted(frame["adapter"].dropna().astype(str).unique())
    if baseline is None:
        listed = [a for a in (order or []) if a in adapters]
        baseline = listed[0] if listed else adapters[0] if adapters else ""
    if baseline in adapters:
        return baseline
    names = dict(zip(frame["adapter"].astype(str), frame.get("adapter_name", frame["adapter"]).astype(str)))
    matches = [a for a in adapters if names.get(a) == baseline]
    if len(matches) != 1:
        raise UserError(f"Baseline {baseline!r} is not in these runs. Adapters: {', '.join(adapters)}.")
    return matches[0]


def build(
    loaded: Loaded,
    baseline: str | None,
    fig_dir: OutputPath,
    target_accuracy: float | None = None,
    equivalence_margin: float | None = None,
) -> Doc:
    df = loaded.frame
    ok = df[df["status"] == "ok"]
    baseline = pick_baseline(df, baseline, config_order(loaded))
    doc = Doc("Benchmark report")
    doc.para(
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `bench report` from {len(df)} stored records "
        f"({', '.join(f'`{n}`' for n in loaded.names)}). Nothing here was re-run; every number is computed from the records."
        + (" " + " ".join(loaded.notes) if loaded.notes else "")
    )
    context.quick_banner(doc, context.run_configs(loaded.paths))
    context.environment(doc, loaded.paths, loaded.selected)
    context.status(doc, df)
    unscaled = data.section(doc, loaded.paths, df)
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
    curved = list(loaded.views(learning.fields(), ok))  # per-epoch curves as arrays: only what the section reads
    goals = learning.section(doc, ok, curved, target_accuracy, pairs, unscaled)
    doc.heading("Time")
    noisy = timing.time_table(doc, ok)
    summary.section(doc, ok)
    floors = {p.name: noise.run_floor(p) for p in loaded.paths}
    timing.ratios(doc, ok, baseline)
    parts = breakdown.section(doc, ok)
    orders = noise.order_section(doc, ok)
    timing.throughput(doc, ok)
    cpu.section(doc, ok)
    timing.memory(doc, ok)
    timing.devices(doc, ok)
    summ = serving.section(doc, loaded.views(serving.fields(), ok))
    significant = across.section(doc, ok)
    timing.trust(doc, ok, noisy, floors, orders)
    sampled = figdata.sample_trials(ok)
    extras = {"targets": goals, "serving": summ, "friedman": significant,
              "latency-calls": figdata.latency_long(sampled, loaded.raw(sampled)),
              "curves": learning.curve_summary(curved), "breakdown": parts}  # fmt: skip
    del curved
    figs = figures.draw(ok, acc, extras, fig_dir)
    figures.attach(doc, figs, interactive.specs(ok, acc, extras))
    findings.add(doc, baseline)
    return doc


def summary_csv(df: pd.DataFrame) -> pd.DataFrame:
    return summary.summary_frame(df)


def check_margin(margin: float | None) -> None:
    """An equivalence margin is a difference in accuracy: above 0, below 1."""
    if margin is not None and not 0 < margin < 1:
        raise UserError(f"--equivalence-margin must be an accuracy difference in (0, 1), e.g. 0.01. Got {margin}.")


def default_out(results_dir: str | Path, loaded: Loaded) -> Path:
    """User reports go under ``results/reports/<run ids>/`` (ignored by git), never over the reference;
    one environment of a run gets its own folder (``d1=a``), never the whole run's."""
    return Path(results_dir) / REPORTS / file_name(loaded.file_stem())


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
    # Everything is rendered in memory first; the folder's commit checks every target, then writes.
    out = OutputDir.choose(out_dir, default_out(results_dir, loaded), results_dir).check_writable()
    doc = build(loaded, baseline, out / "figures", target_accuracy, equivalence_margin)
    out.stage("summary.csv", summary_csv(loaded.frame).to_csv(index=False, float_format="%.6g"))
    flat = loaded.frame.drop(columns=[c for c in NESTED_FIELDS if c in loaded.frame.columns])
    out.stage("trials.csv", flat.sort_values("trial_id").to_csv(index=False, float_format="%.6g"))
    markdown = out.stage("REPORT.md", doc.markdown(out.path))
    html = out.stage("report.html", render(doc))
    out.commit()
    return Written(markdown, html, doc)
