"""Interactive versions of the report's figures: plotly figure specs (plain dicts) for the HTML page.

The PNGs (:mod:`hello_bench.report.figures`) stay the Markdown report's figures;
these specs are drawn from the same frames, in the same colours, by the
plotly.js the HTML page inlines. Each spec is keyed by its PNG's file stem,
and :data:`BESIDE` names the table each figure illustrates, so the page puts
it beside that table. Hover shows every value; clicking a legend entry hides
or shows that series. Nothing here computes a statistic.
"""

from __future__ import annotations

import pandas as pd

from hello_bench.record import role
from hello_bench.report.chart import layout as _layout
from hello_bench.report.chart import numbers as _num
from hello_bench.report.chart import rgb as _rgb
from hello_bench.report.plots import colour, path_colour

#: PNG stem -> the table the figure illustrates (bench/report sections name their tables).
BESIDE = {
    "accuracy-per-split": "quality",
    "accuracy-vs-fit-time": "significance",
    "learning-curves": "time-to-accuracy",
    "fit-time": "time",
    "latency-distribution": "time",
    "throughput": "throughput",
    "serving": "serving",
    "cpu-vs-gpu": "gpu-vs-cpu",
    "time-breakdown": "time-breakdown",
}


def beside(stem: str) -> str:
    if stem.startswith("critical-difference-"):
        return "ranks-" + stem.removeprefix("critical-difference-")
    return BESIDE.get(stem, "")


def boxes(ok: pd.DataFrame, column: str, title: str, y: str, log: bool = False) -> dict:
    """One box per model (and dataset), every split a point; hover names the split."""
    data = []
    for model, g in ok.groupby("model", sort=True):
        g = g.dropna(subset=[column])
        data.append({
            "type": "box", "name": model, "x": list(g["dataset"].astype(str)), "y": _num(g[column]),
            "boxpoints": "all", "jitter": 0.3, "pointpos": 0, "marker": {"color": _rgb(colour(model)), "size": 5},
            "text": [f"split {s}" for s in g["split_seed"]], "hovertemplate": "%{text}<br>%{y:.4g}<extra>%{fullData.name}</extra>",
        })  # fmt: skip
    return {"data": data, "layout": _layout(title, "dataset", y, log_y=log, boxmode="group")}


def latency(lat: pd.DataFrame) -> dict:
    """Single-call latency per model and path: quartiles, whiskers at the 1st and 99th percentile (precomputed)."""
    data = []
    for path, g in lat.groupby("path", sort=True):
        stats = g.groupby("model")["latency_us"].quantile([0.01, 0.25, 0.5, 0.75, 0.99]).unstack()
        data.append({
            "type": "box", "name": path, "x": list(stats.index), "q1": _num(stats[0.25]), "median": _num(stats[0.5]),
            "q3": _num(stats[0.75]), "lowerfence": _num(stats[0.01]), "upperfence": _num(stats[0.99]),
            "marker": {"color": _rgb(path_colour("adapter" if path == "adapter path" else "stock"))},
        })  # fmt: skip
    layout = _layout(
        "Predict latency, one sample per call (whiskers: 1st-99th percentile)", "", "microseconds", log_y=True
    )
    return {"data": data, "layout": {**layout, "boxmode": "group"}}


def throughput(long: pd.DataFrame) -> dict:
    data = []
    for (model, dataset), g in long.groupby(["model", "dataset"], sort=True):
        g = g.sort_values("batch size")
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": model if long["dataset"].nunique() == 1 else f"{model} ({dataset})",
            "x": [int(b) for b in g["batch size"]], "y": _num(g["samples_per_s"]), "line": {"color": _rgb(colour(model))},
            "customdata": [" (whole test set)" if w else "" for w in g["whole"]],
            "hovertemplate": "batch %{x}%{customdata}: %{y:,.4g} samples/s<extra>%{fullData.name}</extra>",
        })  # fmt: skip
    return {"data": data, "layout": _layout("Throughput (median over trials)", "batch size", "samples/s", True, True)}


def accuracy_vs_cost(agg: pd.DataFrame) -> dict:
    """Median fit time (interquartile bars) against mean accuracy (its corrected interval)."""
    data = []
    for _, r in agg.sort_values("model").iterrows():
        data.append({
            "type": "scatter", "mode": "markers", "name": r["model"], "x": _num([r["fit"]]), "y": _num([r["acc"]]),
            "marker": {"color": _rgb(colour(r["model"])), "size": 10},
            "error_x": {"type": "data", "symmetric": False, "array": _num([r["fit_q3"] - r["fit"]]), "arrayminus": _num([r["fit"] - r["fit_q1"]])},
            "error_y": {"type": "data", "symmetric": False, "array": _num([r["acc_high"] - r["acc"]]), "arrayminus": _num([r["acc"] - r["acc_low"]])},
            "hovertemplate": f"{r['dataset']}<br>fit %{{x:.3g}} s<br>accuracy %{{y:.3f}}<extra>%{{fullData.name}}</extra>",
        })  # fmt: skip
    return {
        "data": data,
        "layout": _layout("Accuracy vs fit time", "fit time, s (median, IQR)", "accuracy (95% CI)", log_x=True),
    }


def learning_curves(curves: pd.DataFrame) -> dict:
    data = []
    for (model, dataset), g in curves.groupby(["model", "dataset"], sort=True):
        name = model if curves["dataset"].nunique() == 1 else f"{model} ({dataset})"
        data.append({
            "type": "scatter", "mode": "lines", "name": name, "x": _num(g["t_median"]), "y": _num(g["acc_median"]),
            "line": {"color": _rgb(colour(model))}, "customdata": [int(e) for e in g["epoch"]],
            "hovertemplate": "epoch %{customdata}: %{x:.3g} s, accuracy %{y:.3f}<extra>%{fullData.name}</extra>",
        })  # fmt: skip
    title = "Held-out accuracy vs training time (median over splits)"
    return {"data": data, "layout": _layout(title, "training time, s", role("accuracy").label, log_x=True)}


def serving(rows: pd.DataFrame) -> dict:
    """p50 of every serving path per model; invalid paths as open markers."""
    data = []
    for model, g in rows.groupby("model", sort=True):
        data.append({
            "type": "scatter", "mode": "markers", "name": model, "x": list(g["path"]), "y": _num(g["p50_us"]),
            "marker": {"color": _rgb(colour(model)), "size": 9, "symbol": ["circle" if v else "circle-open" for v in g["valid"]]},
            "text": ["valid" if v else "not valid on every trial" for v in g["valid"]],
            "hovertemplate": "%{x}: %{y:.3g} us (%{text})<extra>%{fullData.name}</extra>",
        })  # fmt: skip
    return {
        "data": data,
        "layout": _layout("Serving paths: p50 latency, one sample", "path", "microseconds", log_y=True),
    }


def specs(ok: pd.DataFrame, accuracy: pd.DataFrame, extras: dict) -> dict[str, dict]:
    """Every interactive figure the data allows, keyed by the PNG stem it stands for."""
    from hello_bench.report.figdata import fit_agg, relabel, short_labels, throughput_long

    quality, fit = role("accuracy"), role("fit")
    labels = short_labels(ok)  # the figures' labels: no parameter overrides, no device when there is one
    ok = relabel(ok.assign(model=ok["adapter"].astype(str) + " / " + ok["device"].astype(str)), labels)
    out = {
        "accuracy-per-split": boxes(
            ok, quality.column, "Test accuracy over seeded splits (each point: one split)", quality.label
        ),
        "fit-time": boxes(ok, fit.column, "Fit time per split", f"{fit.unit} (log)", log=True),
    }
    lat = relabel(extras.get("latency-calls", pd.DataFrame()), labels)
    if not lat.empty:
        out["latency-distribution"] = latency(lat)
    long = throughput_long(ok)
    if not long.empty:
        out["throughput"] = throughput(long)
    out["accuracy-vs-fit-time"] = accuracy_vs_cost(fit_agg(ok, accuracy))
    curves = relabel(extras.get("curves", pd.DataFrame()), labels)
    if not curves.empty:
        out["learning-curves"] = learning_curves(curves)
    summ = extras.get("serving")
    if summ is not None and not summ.empty:
        rows = relabel(
            summ.assign(model=summ["adapter"] + " / " + summ["device"], valid=summ["valid"] == summ["trials"]), labels
        )
        if summ["dataset"].nunique() > 1:
            rows = rows.assign(model=rows["model"] + " (" + rows["dataset"] + ")")
        out["serving"] = serving(rows[rows["p50_us"].notna()])
    parts = extras.get("breakdown")
    if parts is not None and not parts.empty:
        from hello_bench.report import breakdown

        out["time-breakdown"] = breakdown.spec(parts, labels)
    return out


__all__ = ["BESIDE", "beside", "specs"]
