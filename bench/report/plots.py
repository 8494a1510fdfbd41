"""Figures (seaborn/matplotlib, PNG). Reads DataFrames, writes files; computes no statistics.

Conventions every figure follows, so they read at a glance:

- one fixed colour per adapter, by name, in every figure and every run
  (:func:`colour`): the hue names the adapter (and Keras backend), the shade
  its profile;
- log axes carry plain numbers (0.2, 0.5, 1, 2, 5), never overlapping
  exponent labels;
- legends sit outside the data;
- error bars are the intervals the tables give (computed by the caller).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Iterable
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import ticker  # noqa: E402

from hello_bench.metrics import DURATION, Metric  # noqa: E402
from hello_bench.store.safefs import OutputPath  # noqa: E402

#: tab20: ten hues, each as a (dark, light) pair.
_TAB20 = sns.color_palette("tab20", 20)
_HUES = {
    "blue": 0,
    "orange": 1,
    "green": 2,
    "red": 3,
    "purple": 4,
    "brown": 5,
    "pink": 6,
    "grey": 7,
    "olive": 8,
    "cyan": 9,
}
_SPARE = ["pink", "olive", "cyan", "grey", "brown", "purple"]
#: The harness's own paths; an adapter's serving paths hash into the other hues (its reference path is grey).
PATH_HUES = {"adapter": "blue", "adapter path": "blue", "stock": "red", "stock API": "red"}
#: Colours decided from record fields (:func:`register_colours`), by adapter label and figure label.
_PALETTE: dict[str, tuple[float, float, float]] = {}
_REFERENCE_PATHS: set[str] = set()


def _hashed(text: str, hues: list[str]) -> str:
    return hues[int(hashlib.sha1(text.encode()).hexdigest(), 16) % len(hues)]


def register_colours(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> None:
    """Each adapter's colour from its record fields: the hue it declares (``colour``) or one derived from its name
    and backend, dark for its stock setting and light for others. ``labels``: figure label of 'adapter / device'."""
    _PALETTE.clear()  # one document's adapters at a time: a label means what this frame says
    cols = [
        c for c in ("adapter", "adapter_name", "backend", "profile", "stock_profile", "colour") if c in frame.columns
    ]
    for row in frame[cols].drop_duplicates("adapter").to_dict("records"):
        hint = row.get("colour")
        hue = (
            hint
            if isinstance(hint, str) and hint in _HUES
            else _hashed(f"{row.get('adapter_name')}[{row.get('backend')}]", list(_HUES))
        )
        profile, stock = row.get("profile"), row.get("stock_profile")
        is_stock = (profile in (None, "") or profile != profile) or profile == stock
        _PALETTE[str(row["adapter"])] = _TAB20[2 * _HUES[hue] + (0 if is_stock else 1)]
    for full, short in (labels or {}).items():
        adapter = full.split(" / ")[0]
        if adapter in _PALETTE:
            _PALETTE[short] = _PALETTE[full] = _PALETTE[adapter]


_PATH_PALETTE: dict[str, str] = {}
_PATH_HUES = ["green", "orange", "purple", "cyan", "brown", "olive", "pink", "blue", "red"]


def register_paths(paths: Iterable[str], reference: Iterable[str] = ()) -> None:
    """One hue per serving path of a document, in name order (no two share one while hues last); the paths that
    records flag as the reference (a floor, not a framework) in grey."""
    _REFERENCE_PATHS.clear()
    _REFERENCE_PATHS.update(reference)
    _PATH_PALETTE.clear()
    taken = set(PATH_HUES.values())
    free = [h for h in _PATH_HUES if h not in taken] + [h for h in _PATH_HUES if h in taken]
    others = sorted(p for p in set(paths) if p not in PATH_HUES and p not in _REFERENCE_PATHS)
    for i, path in enumerate(others):
        _PATH_PALETTE[path] = free[i % len(free)]


def colour(label: str) -> tuple[float, float, float]:
    """A figure label's colour: the one registered from record fields, else one derived from the label itself."""
    found = _PALETTE.get(label) or _PALETTE.get(label.split(" / ")[0])
    return found or _TAB20[2 * _HUES[_hashed(label.split(" / ")[0], list(_HUES))]]


def path_colour(path: str) -> tuple[float, float, float]:
    if path in _REFERENCE_PATHS:
        return _TAB20[2 * _HUES["grey"]]
    hue = PATH_HUES.get(path) or _PATH_PALETTE.get(path) or _hashed(path, _PATH_HUES)
    return _TAB20[2 * _HUES[hue]]


def palette(labels: Iterable[str]) -> dict:
    return {label: colour(label) for label in labels}


def png(fig: Any) -> bytes:
    """A figure as PNG bytes (deterministic: no timestamp metadata); the figure is closed."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    finally:
        plt.close(fig)
    return buffer.getvalue()


def save_figure(fig: Any, target: OutputPath) -> OutputPath:
    """Stage a figure as PNG in its output folder (written with the folder's other files, never through a link)."""
    return target.stage(png(fig))


def plain_log_axis(axis: Any, subs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
    """Log axis ticked at 1, 2, 5 x 10^k (``subs=(1.0,)``: decades only) with plain numbers; minor ticks unlabelled."""
    axis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.10g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def legend_outside(ax: Any, **kwargs: Any) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False, **kwargs)


def style() -> tuple[Any, Any]:
    """The style every report figure is drawn in (explicit: the same on every machine)."""
    return sns.axes_style("whitegrid"), sns.plotting_context("notebook")


def iris_pairplot(target: OutputPath) -> OutputPath:
    """The blog post's ``sns.pairplot(iris, hue='species')``, staged as PNG."""
    from hello_bench.data.datasets import iris_frame

    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        grid = sns.pairplot(iris_frame(), hue="species", height=1.8)
        grid.figure.suptitle("Iris measurements (cm) by species", y=1.02)
        return save_figure(grid.figure, target)


def _panels(datasets: list[str], title: str, width: float = 4.8, height: float = 4.2) -> tuple[Any, list]:
    fig, axes = plt.subplots(1, len(datasets), figsize=(width * len(datasets), height), squeeze=False)
    fig.suptitle(title)
    return fig, list(zip(datasets, axes[0]))


def _width(order: list[str]) -> float:
    """A panel wide enough for its rotated labels."""
    return max(4.8, 0.8 * len(order))


def _rotate(ax: Any) -> None:
    plt.setp(ax.get_xticklabels(), rotation=25, ha="right")


def metric_boxes(ok: pd.DataFrame, metric: Metric, path: OutputPath, title: str) -> OutputPath:
    """One metric per split, a box per model and a panel per dataset; a duration on a log axis, a fraction with its points."""
    order = sorted(ok["model"].unique())
    log = metric.kind == DURATION
    fig, panels = _panels(sorted(ok["dataset"].unique()), title + (" (log scale)" if log else ""), _width(order))
    for dataset, ax in panels:
        d = ok[ok["dataset"] == dataset]
        sns.boxplot(data=d, x="model", y=metric.column, order=order, hue="model", palette=palette(order), ax=ax,
                    fliersize=0 if not log else 5, legend=False)  # fmt: skip
        if not log:
            sns.stripplot(data=d, x="model", y=metric.column, order=order, color="black", size=3.5, jitter=0.15, ax=ax)
        ax.set(
            title=dataset, xlabel="", ylabel=metric.name(metric.column, unit=True), yscale="log" if log else "linear"
        )
        if log:
            plain_log_axis(ax.yaxis)
        _rotate(ax)
    return save_figure(fig, path)


def latency_boxes(lat: pd.DataFrame, path: OutputPath) -> OutputPath:
    """Every single-sample call of every trial, adapter path vs stock API (log scale)."""
    order = sorted(lat["model"].unique())
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(order)), 4.5))
    sns.boxplot(
        data=lat,
        x="model",
        y="latency_us",
        hue="path",
        order=order,
        ax=ax,
        fliersize=1,
        palette={"adapter path": "#4c72b0", "stock API": "#c44e52"},
    )
    ax.set(
        title="Single-sample predict latency, all calls of all trials",
        xlabel="",
        ylabel="latency per call (us, log)",
        yscale="log",
    )
    plain_log_axis(ax.yaxis)
    legend_outside(ax, title="path")
    _rotate(ax)
    return save_figure(fig, path)


def throughput_lines(long: pd.DataFrame, path: OutputPath) -> OutputPath:
    """Throughput vs batch size (median over trials), ticks at the measured batch sizes."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    models = sorted(long["model"].unique())
    sns.lineplot(
        data=long,
        x="batch size",
        y="samples_per_s",
        hue="model",
        hue_order=models,
        style="dataset" if long["dataset"].nunique() > 1 else None,  # no one-entry "dataset" legend
        marker="o",
        palette=palette(models),
        ax=ax,
    )
    ax.set(
        title="Predict throughput vs batch size (median over trials)",
        xscale="log",
        yscale="log",
        ylabel="throughput (samples/s)",
        xlabel="batch size (samples)",
    )
    sizes = sorted(long["batch size"].unique())
    whole = set(long.loc[long.get("whole", pd.Series(False, index=long.index)).astype(bool), "batch size"])
    ax.xaxis.set_major_locator(ticker.FixedLocator(sizes))
    ax.xaxis.set_major_formatter(
        ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" + ("\n(test set)" if v in whole else ""))
    )
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    plain_log_axis(ax.yaxis)
    legend_outside(ax, fontsize=8)
    return save_figure(fig, path)


def accuracy_vs_cost(agg: pd.DataFrame, path: OutputPath) -> OutputPath:
    """Mean accuracy with its corrected 95% interval vs median fit time with its IQR.

    ``agg`` columns: model, dataset, acc, acc_low, acc_high, fit, fit_q1, fit_q3.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    markers = dict(zip(sorted(agg["dataset"].unique()), "osD^v<>"))
    for _, r in agg.sort_values(["model", "dataset"]).iterrows():
        low = r["acc"] - r["acc_low"] if math.isfinite(r["acc_low"]) else 0.0
        high = r["acc_high"] - r["acc"] if math.isfinite(r["acc_high"]) else 0.0
        ax.errorbar(r["fit"], r["acc"], yerr=[[low], [high]], xerr=[[r["fit"] - r["fit_q1"]], [r["fit_q3"] - r["fit"]]],
                    fmt=markers[r["dataset"]], color=colour(r["model"]), label=f"{r['model']} ({r['dataset']})", capsize=3)  # fmt: skip
    ax.set(
        xscale="log",
        xlabel="fit wall time: median and IQR over splits (s)",
        ylabel="accuracy: mean, corrected 95% CI",
        title="Accuracy vs training cost",
    )
    plain_log_axis(ax.xaxis)
    legend_outside(ax, fontsize=8)
    return save_figure(fig, path)


def cpu_vs_gpu(ok: pd.DataFrame, metric: Metric, path: OutputPath) -> OutputPath:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sns.barplot(data=ok, x="adapter", y=metric.column, hue="device", estimator="median", errorbar=("pi", 50), ax=ax)
    ax.set(
        yscale="log",
        ylabel=f"{metric.label}, median and IQR ({metric.unit})",
        xlabel="",
        title=f"CPU vs GPU {metric.label}",
    )
    plain_log_axis(ax.yaxis)
    legend_outside(ax, title="device")
    _rotate(ax)
    return save_figure(fig, path)


def learning_curves(curves: pd.DataFrame, points: pd.DataFrame, targets: dict, path: OutputPath) -> OutputPath:
    """Held-out accuracy vs cumulative training time: median over splits, IQR band; one panel per dataset.

    ``curves``: model, dataset, epoch, t_median, acc_median, acc_q1, acc_q3.
    ``points``: non-iterative adapters as single points (model, dataset, fit, acc).
    """
    datasets = sorted(set(curves["dataset"]) | set(points["dataset"]))
    fig, panels = _panels(
        datasets, "Learning curves: held-out accuracy vs training time (median over splits, IQR band)", 6.5, 4.6
    )
    for dataset, ax in panels:
        for model, g in curves[curves["dataset"] == dataset].groupby("model", sort=True):
            g = g.sort_values("epoch")
            ax.plot(g["t_median"], g["acc_median"], color=colour(model), label=model, lw=1.6)
            ax.fill_between(g["t_median"], g["acc_q1"], g["acc_q3"], color=colour(model), alpha=0.2, lw=0)
        for _, r in points[points["dataset"] == dataset].iterrows():
            ax.plot(r["fit"], r["acc"], "o", color=colour(r["model"]), label=r["model"], ms=7)
        if dataset in targets and math.isfinite(targets[dataset]):
            ax.axhline(targets[dataset], color="grey", ls="--", lw=1, label=f"target {targets[dataset]:.3f}")
        ax.set(xscale="log", title=dataset, xlabel="cumulative training time (s, log)", ylabel="test accuracy")
        plain_log_axis(ax.xaxis)
    legend_outside(panels[-1][1], fontsize=8)
    return save_figure(fig, path)


def serving_latency(rows: pd.DataFrame, path: OutputPath) -> OutputPath:
    """Single-sample latency p50 per serving path (log scale), one colour per path across adapters.

    ``rows``: model, path, p50_us, valid (bool).
    """
    paths = sorted(rows["path"].unique())
    colours = {p: path_colour(p) for p in paths}
    models = sorted(rows["model"].unique())
    fig, ax = plt.subplots(figsize=(max(7, 1.5 * len(models)), 4.8))
    sns.barplot(
        data=rows,
        x="model",
        y="p50_us",
        hue="path",
        hue_order=paths,
        order=models,
        palette=colours,
        ax=ax,
        errorbar=None,
    )
    for bar, (_, r) in zip(
        ax.patches,
        rows.set_index(["path", "model"]).reindex(pd.MultiIndex.from_product([paths, models])).reset_index().iterrows(),
    ):
        if r.get("valid") is False:
            bar.set_hatch("//")
    ax.set(
        yscale="log",
        ylabel="single-sample latency p50 (us, log)",
        xlabel="",
        title="Serving paths (hatched: invalid, predictions differ)",
    )
    plain_log_axis(ax.yaxis)
    legend_outside(ax, title="path", fontsize=8)
    _rotate(ax)
    return save_figure(fig, path)


def critical_difference(mean_ranks: dict, cd: float, path: OutputPath) -> OutputPath:
    """Demsar's critical-difference diagram: mean ranks on a line, the CD as a bar."""
    items = sorted(mean_ranks.items(), key=lambda kv: kv[1])
    k = len(items)
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.3 * k))
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-k - 1, 1.5)
    ax.axhline(0, color="black", lw=1)
    ax.set_xticks(range(1, k + 1))
    ax.xaxis.tick_top()
    ax.set_yticks([])
    for spine in ("left", "right", "bottom"):
        ax.spines[spine].set_visible(False)
    for i, (name, rank) in enumerate(items):
        y = -(i + 1)
        ax.plot([rank, rank], [0, y], color=colour(name), lw=1)
        ax.text(k + 0.45, y, f"{name} ({rank:.2f})", va="center", ha="right", fontsize=8, color=colour(name))
    ax.plot([1, 1 + cd], [1.0, 1.0], color="black", lw=3)
    ax.text(1 + cd / 2, 1.25, f"CD = {cd:.2f}", ha="center", fontsize=8)
    ax.set_title(
        "Mean accuracy rank across datasets (1 = best); closer than CD: not different (Nemenyi)", fontsize=9, pad=24
    )
    return save_figure(fig, path)


def ratio_heatmap(heat: pd.DataFrame, path: OutputPath, title: str) -> OutputPath | None:
    """B/A ratios per metric; green always means B is better, whatever the metric's direction.

    ``heat``: trials, metric, ratio, goodness (log2 of the improvement: > 0 better).
    """
    if heat.empty:
        return None
    from hello_bench.analysis.stats import MIN_RATIO_PAIRS

    if "pairs" not in heat.columns:
        heat = heat.assign(pairs=MIN_RATIO_PAIRS)
    few = heat["pairs"] < MIN_RATIO_PAIRS  # no verdict from so few pairs: no colour either
    heat = heat.assign(goodness=heat["goodness"].where(~few), text=[
        f"{r:.2f}x" + (f"\n{n} pairs" if f else "") for r, n, f in zip(heat["ratio"], heat["pairs"], few)
    ])  # fmt: skip
    grid = heat.pivot(index="trials", columns="metric", values="goodness")
    labels = heat.pivot(index="trials", columns="metric", values="text").fillna("")
    fig, ax = plt.subplots(figsize=(1.8 + 1.5 * grid.shape[1], 1.2 + 0.6 * grid.shape[0]))
    ax.set_facecolor("#e6e6e6")  # grey: too few pairs for a verdict
    finite = np.abs(grid.to_numpy(dtype=float))
    limit = float(np.nanmax(finite)) if np.isfinite(finite).any() else 1.0
    sns.heatmap(grid, annot=labels, fmt="", center=0, cmap="RdYlGn", vmin=-limit, vmax=limit, ax=ax,
                cbar_kws={"label": "log2 improvement of B over A (green: B better)"})  # fmt: skip
    for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isnan(value) and labels.iat[i, j]:  # seaborn leaves grey cells unlabelled
            ax.text(j + 0.5, i + 0.5, labels.iat[i, j], ha="center", va="center", fontsize=9, color="#444444")
    ax.set(
        title=title + (f"\n(grey: fewer than {MIN_RATIO_PAIRS} pairs, no verdict)" if few.any() else ""),
        xlabel="",
        ylabel="",
    )
    return save_figure(fig, path)
