"""The report's figures: data prepared here from the tidy frame and records, drawn by :mod:`bench.plots`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.analysis.load import throughput_columns
from bench.report import learning, plots
from bench.store.safefs import OutputPath, file_name


def _models(ok: pd.DataFrame) -> pd.DataFrame:
    ok = ok.copy()
    ok["model"] = ok["adapter"] + " / " + ok["device"]
    return ok


def latency_long(records: list[dict], raw: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """Every single-sample call's duration (from the raw durations kept apart from the records)."""
    rows = []
    for r in records:
        if r.get("status") != "ok":
            continue
        arrays = raw.get((str(r.get("run_id")), r["trial_id"]), r)
        for col, path in (("latency_raw_ns", "adapter path"), ("stock_latency_raw_ns", "stock API")):
            raw_ns = arrays.get(col)
            if isinstance(raw_ns, list) and raw_ns:
                rows.append(
                    pd.DataFrame(
                        {
                            "model": f"{r['adapter']} / {r['device']}",
                            "path": path,
                            "latency_us": np.asarray(raw_ns) / 1e3,
                        }
                    )
                )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def draw(
    ok: pd.DataFrame, records: list[dict], accuracy: pd.DataFrame, extras: dict, fig_dir: OutputPath
) -> dict[str, OutputPath]:
    """Every figure, staged in the report's folder; returns {title: file}. Deterministic: the same records give the same files."""
    state = np.random.get_state()
    np.random.seed(0)  # the strip plot's jitter
    axes_style, context = plots.style()
    try:
        with axes_style, context:
            return _draw(_models(ok), records, accuracy, extras, fig_dir)
    finally:
        np.random.set_state(state)


def _draw(
    ok: pd.DataFrame, records: list[dict], accuracy: pd.DataFrame, extras: dict, fig_dir: OutputPath
) -> dict[str, OutputPath]:
    out = {"Accuracy per adapter": plots.accuracy_boxes(ok, fig_dir / "accuracy.png"),
           "Fit time": plots.fit_time_boxes(ok, fig_dir / "fit-time.png")}  # fmt: skip
    lat = latency_long(records, extras.get("raw", {}))
    if not lat.empty:
        out["Predict latency: adapter path vs stock API"] = plots.latency_boxes(lat, fig_dir / "latency.png")
    cols = throughput_columns(ok)
    if cols:
        long = ok.melt(
            id_vars=["model", "dataset"], value_vars=cols, var_name="batch", value_name="samples_per_s"
        ).dropna()
        long["batch size"] = long["batch"].str.split("_").str[1].astype(int)
        long = long.groupby(["model", "dataset", "batch size"], as_index=False)["samples_per_s"].median()
        out["Throughput vs batch size"] = plots.throughput_lines(long, fig_dir / "throughput.png")
    fits = ok.groupby(["model", "dataset", "adapter", "device"]).agg(
        fit=("fit_wall_s", "median"), fit_q1=("fit_wall_s", lambda s: s.quantile(0.25)), fit_q3=("fit_wall_s", lambda s: s.quantile(0.75))
    ).reset_index()  # fmt: skip
    agg = fits.merge(
        accuracy.rename(columns={"mean": "acc", "low": "acc_low", "high": "acc_high"}),
        on=["dataset", "adapter", "device"],
    )
    out["Accuracy vs fit time"] = plots.accuracy_vs_cost(agg, fig_dir / "accuracy-vs-fit-time.png")
    curves = learning.curve_summary(learning.curve_frame(records))
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
        rows = rows[rows["p50_us"].notna()]
        out["Serving paths"] = plots.serving_latency(rows, fig_dir / "serving.png")
    if {"cpu", "gpu"} <= set(ok["device"]):
        out["CPU vs GPU"] = plots.cpu_vs_gpu(ok, fig_dir / "cpu-vs-gpu.png")
    for device, res in extras.get("friedman", []):
        out[f"Critical difference ({device})"] = plots.critical_difference(
            res.mean_ranks, res.critical_difference, fig_dir / file_name(f"critical-difference-{device}.png")
        )
    return out
