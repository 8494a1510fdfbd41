"""The report's figures: data prepared here from the tidy frame and records, drawn by :mod:`bench.plots`."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from bench.analysis.load import throughput_columns
from bench.report import interactive, plots
from bench.report.document import Doc
from bench.report.timing import whole_test_sizes
from bench.store.safefs import OutputPath, file_name


def short_labels(ok: pd.DataFrame) -> dict[str, str]:
    """'adapter / device' -> the label figures show: parameter overrides dropped where the labels stay unique
    (the tables carry them), the device dropped when there is only one. Quick runs' labels such as
    ``torch-mlp:seed(batch_size=16,epochs=30,learning_rate=0.01) / cpu`` took most of a figure's area."""
    pairs = ok[["adapter", "device"]].drop_duplicates().astype(str)
    stripped = {a: re.sub(r"\([^)]*\)", "", a) for a in pairs["adapter"]}
    unique = len(set(stripped.values())) == len(stripped)
    one_device = pairs["device"].nunique() == 1
    out = {}
    for adapter, device in pairs.itertuples(index=False):
        name = stripped[adapter] if unique else adapter
        out[f"{adapter} / {device}"] = name if one_device else f"{name} / {device}"
    return out


def relabel(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    return frame.assign(model=frame["model"].map(lambda m: labels.get(m, m))) if not frame.empty else frame


#: Trials per adapter and device whose every call is drawn in the latency figure (spread over the splits).
LATENCY_TRIALS = 12


def sample_trials(ok: pd.DataFrame, per_group: int = LATENCY_TRIALS) -> pd.DataFrame:
    """Up to ``per_group`` trials per adapter and device, evenly spread over their splits (deterministic)."""
    picked = []
    for _, g in ok.sort_values(["split_seed", "trial_id"]).groupby(["adapter", "device"], sort=True):
        step = max(1, -(-len(g) // per_group))
        picked.append(g.iloc[::step])
    return pd.concat(picked) if picked else ok.iloc[:0]


def latency_long(trials: pd.DataFrame, raw: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """Every single-sample call's duration of the given trials (the raw durations kept apart from the records)."""
    rows = []
    for run_id, trial_id, adapter, device in trials[["run_id", "trial_id", "adapter", "device"]].itertuples(
        index=False
    ):
        arrays = raw.get((str(run_id), str(trial_id)), {})
        for col, path in (("latency_raw_ns", "adapter path"), ("stock_latency_raw_ns", "stock API")):
            raw_ns = arrays.get(col)
            if isinstance(raw_ns, list) and raw_ns:
                rows.append(pd.DataFrame({"model": f"{adapter} / {device}", "path": path,
                                          "latency_us": np.asarray(raw_ns, dtype=np.float64) / 1e3}))  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def throughput_long(ok: pd.DataFrame) -> pd.DataFrame:
    """Median samples/s per model, dataset and batch size (a size above the test set is measured at the whole set)."""
    cols = throughput_columns(ok)
    if not cols:
        return pd.DataFrame()
    long = ok.melt(id_vars=["model", "dataset"], value_vars=cols, var_name="batch", value_name="samples_per_s").dropna()
    long["batch size"] = long["batch"].str.split("_").str[1].astype(int)
    long = long.groupby(["model", "dataset", "batch size"], as_index=False)["samples_per_s"].median()
    long["whole"] = long["batch size"].isin(whole_test_sizes(ok))  # the whole test set at once
    return long


def fit_agg(ok: pd.DataFrame, accuracy: pd.DataFrame) -> pd.DataFrame:
    """Median fit time with its quartiles beside the accuracy interval, per model and dataset."""
    fits = ok.groupby(["model", "dataset", "adapter", "device"]).agg(
        fit=("fit_wall_s", "median"), fit_q1=("fit_wall_s", lambda s: s.quantile(0.25)), fit_q3=("fit_wall_s", lambda s: s.quantile(0.75))
    ).reset_index()  # fmt: skip
    acc = accuracy.rename(columns={"mean": "acc", "low": "acc_low", "high": "acc_high"})
    return fits.merge(acc, on=["dataset", "adapter", "device"])


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
    out = {"Accuracy per adapter": plots.accuracy_boxes(ok, fig_dir / "accuracy.png"),
           "Fit time": plots.fit_time_boxes(ok, fig_dir / "fit-time.png")}  # fmt: skip
    lat = relabel(extras.get("latency", pd.DataFrame()), labels)
    if not lat.empty:
        out["Predict latency: adapter path vs stock API"] = plots.latency_boxes(lat, fig_dir / "latency.png")
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
        from bench.report import breakdown

        out["Where the time goes"] = breakdown.figure(parts, labels, fig_dir / "time-breakdown.png")
    if {"cpu", "gpu"} <= set(ok["device"]):
        out["CPU vs GPU"] = plots.cpu_vs_gpu(ok, fig_dir / "cpu-vs-gpu.png")
    for device, res in extras.get("friedman", []):
        out[f"Critical difference ({device})"] = plots.critical_difference(
            res.mean_ranks, res.critical_difference, fig_dir / file_name(f"critical-difference-{device}.png")
        )
    return out
