"""The report's figures: data prepared here from the tidy frame and records, drawn by :mod:`bench.plots`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hello_bench.record import role
from hello_bench.report import interactive, plots
from hello_bench.report.document import Doc
from hello_bench.report.figdata import fit_agg, relabel, short_labels, throughput_long
from hello_bench.store.safefs import OutputPath, file_name


def attach(doc: Doc, figs: dict[str, OutputPath], specs: dict[str, dict]) -> None:
    """Each figure beside the table it illustrates (with its interactive spec); the rest under 'Figures'.
    The PNGs are staged, not on disk yet: the document carries their bytes."""
    loose = {title: fig for title, fig in figs.items() if not interactive.beside(fig.path.stem)}
    for title, fig in figs.items():
        if title not in loose:
            stem = fig.path.stem
            doc.figure(title, fig.path, beside=interactive.beside(stem), spec=specs.get(stem), data=fig.data())
    if loose:
        doc.heading("Figures")
        for title, fig in loose.items():
            doc.figure(title, fig.path, spec=specs.get(fig.path.stem), data=fig.data())


def draw(ok: pd.DataFrame, accuracy: pd.DataFrame, extras: dict, fig_dir: OutputPath) -> dict[str, OutputPath]:
    """Every figure, staged in the report's folder; returns {title: file}. Deterministic: the same records give the same files."""
    state = np.random.get_state()
    np.random.seed(0)  # the strip plot's jitter
    axes_style, context = plots.style()
    try:
        with axes_style, context:
            return _draw(ok, accuracy, extras, fig_dir)
    finally:
        np.random.set_state(state)


def _draw(ok: pd.DataFrame, accuracy: pd.DataFrame, extras: dict, fig_dir: OutputPath) -> dict[str, OutputPath]:
    labels = short_labels(ok)
    plots.register_colours(ok, labels)
    ok = relabel(ok.assign(model=ok["adapter"].astype(str) + " / " + ok["device"].astype(str)), labels)
    quality, fit = role("accuracy"), role("fit")
    out = {"Accuracy per adapter": plots.metric_boxes(ok, quality, fig_dir / "accuracy-per-split.png",
                                                      "Test accuracy over seeded splits (each point: one split)"),
           "Fit time": plots.metric_boxes(ok, fit, fig_dir / "fit-time.png", "Fit time per split")}  # fmt: skip
    lat = relabel(extras.get("latency-calls", pd.DataFrame()), labels)
    if not lat.empty:
        out["Predict latency: adapter path vs stock API"] = plots.latency_boxes(
            lat, fig_dir / "latency-distribution.png"
        )
    long = throughput_long(ok)
    if not long.empty:
        out["Throughput vs batch size"] = plots.throughput_lines(long, fig_dir / "throughput.png")
    agg = fit_agg(ok, accuracy)
    out["Accuracy vs fit time"] = plots.accuracy_vs_cost(agg, fig_dir / "accuracy-vs-fit-time.png")
    curves = relabel(extras.get("curves", pd.DataFrame()), labels)
    if not curves.empty:
        iterative = set(curves["model"])
        points = agg[~agg["model"].isin(iterative)][["model", "dataset", "fit", "acc"]]
        out["Learning curves"] = plots.learning_curves(
            curves, points, extras.get("targets", {}), fig_dir / "learning-curves.png"
        )
    serving = extras.get("serving")
    if serving is not None and not serving.empty:
        rows = serving.assign(
            model=serving["adapter"] + " / " + serving["device"], valid=serving["valid"] == serving["trials"]
        )
        rows = relabel(rows, labels)
        rows = rows[rows["p50_us"].notna()]
        plots.register_paths(serving["path"], serving.loc[serving["reference"].astype(bool), "path"])
        if rows["dataset"].nunique() > 1:  # one bar per model and dataset (serving runs on several datasets)
            rows = rows.assign(model=rows["model"] + " (" + rows["dataset"] + ")")
        out["Serving paths"] = plots.serving_latency(rows, fig_dir / "serving.png")
    parts = extras.get("breakdown")
    if parts is not None and not parts.empty:
        from hello_bench.report import breakdown

        out["Where the time goes"] = breakdown.figure(parts, labels, fig_dir / "time-breakdown.png")
    if {"cpu", "gpu"} <= set(ok["device"]):
        out["CPU vs GPU"] = plots.cpu_vs_gpu(ok, fit, fig_dir / "cpu-vs-gpu.png")
    for device, res in extras.get("friedman", []):
        out[f"Critical difference ({device})"] = plots.critical_difference(
            res.mean_ranks, res.critical_difference, fig_dir / file_name(f"critical-difference-{device}.png")
        )
    return out
