"""Figures (seaborn, PNG). Reads DataFrames, writes files; computes no statistics."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402


def iris_pairplot(path: Path) -> Path:
    """The blog post's ``sns.pairplot(iris, hue='species')``, saved as PNG."""
    from .datasets import iris_frame

    path.parent.mkdir(parents=True, exist_ok=True)
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
        grid = sns.pairplot(iris_frame(), hue="species", height=1.8)
        grid.figure.suptitle("Iris measurements (cm) by species", y=1.02)
        grid.figure.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(grid.figure)
    return path


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def _per_dataset(ok, title: str, width: float = 4.8):
    datasets = sorted(ok["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(width * len(datasets), 4.2), squeeze=False)
    fig.suptitle(title)
    return zip(datasets, axes[0]), fig


def _label(ok):
    ok = ok.copy()
    ok["model"] = ok["adapter"] + " / " + ok["device"]
    return ok


def report_figures(df, fig_dir: Path) -> dict:
    """All report figures from the tidy DataFrame; returns {title: path}.

    Deterministic: the same records give the same files (the strip plot's
    jitter draws from a fixed seed).
    """
    import numpy as np

    state = np.random.get_state()
    np.random.seed(0)
    try:
        with sns.axes_style("whitegrid"), sns.plotting_context("notebook"):
            return _report_figures(df, fig_dir)
    finally:
        np.random.set_state(state)


def _report_figures(df, fig_dir: Path) -> dict:
    import numpy as np
    import pandas as pd

    ok = _label(df[df["status"] == "ok"])
    if ok.empty:
        return {}
    order = sorted(ok["model"].unique())
    palette = dict(zip(order, sns.color_palette("colorblind", len(order))))
    out = {}

    pairs, fig = _per_dataset(ok, "Test accuracy over seeded splits (each point: one split)")
    for dataset, ax in pairs:
        d = ok[ok["dataset"] == dataset]
        sns.boxplot(
            data=d, x="model", y="accuracy", order=order, hue="model", palette=palette, ax=ax, fliersize=0, legend=False
        )
        sns.stripplot(data=d, x="model", y="accuracy", order=order, color="black", size=3.5, jitter=0.15, ax=ax)
        ax.set(title=dataset, xlabel="", ylabel="accuracy (fraction correct)")
        plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    out["Accuracy per adapter"] = _save(fig, fig_dir / "accuracy.png")

    pairs, fig = _per_dataset(ok, "Fit time per split (log scale)")
    for dataset, ax in pairs:
        d = ok[ok["dataset"] == dataset]
        sns.boxplot(data=d, x="model", y="fit_wall_s", order=order, hue="model", palette=palette, ax=ax, legend=False)
        ax.set(title=dataset, xlabel="", ylabel="fit wall time (s)", yscale="log")
        plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    out["Fit time"] = _save(fig, fig_dir / "fit-time.png")

    rows = []
    for _, r in ok.iterrows():
        for col, path in (("latency_raw_ns", "adapter path"), ("stock_latency_raw_ns", "stock API")):
            raw = r.get(col)
            if isinstance(raw, list) and raw:
                rows.append(pd.DataFrame({"model": r["model"], "path": path, "latency_us": np.asarray(raw) / 1e3}))
    if rows:
        lat = pd.concat(rows, ignore_index=True)
        fig, ax = plt.subplots(figsize=(max(6, 1.9 * len(order)), 4.5))
        sns.boxplot(data=lat, x="model", y="latency_us", hue="path", order=order, ax=ax, fliersize=1)
        ax.set(
            title="Single-sample predict latency, all calls of all trials (log scale)",
            xlabel="",
            ylabel="latency per call (µs)",
            yscale="log",
        )
        plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
        out["Predict latency: adapter path vs stock API"] = _save(fig, fig_dir / "latency.png")

    tput_cols = [c for c in ok.columns if c.startswith("tput_")]
    if tput_cols:
        long = ok.melt(
            id_vars=["model", "dataset"], value_vars=tput_cols, var_name="batch", value_name="samples_per_s"
        ).dropna()
        long["batch size"] = long["batch"].str.split("_").str[1].astype(int)
        long = long.groupby(["model", "dataset", "batch size"], as_index=False)["samples_per_s"].median()
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        sns.lineplot(
            data=long,
            x="batch size",
            y="samples_per_s",
            hue="model",
            style="dataset",
            marker="o",
            palette=palette,
            ax=ax,
        )
        ax.set(
            title="Predict throughput vs batch size (median over trials)",
            xscale="log",
            yscale="log",
            ylabel="throughput (samples/s)",
            xlabel="batch size (samples)",
        )
        out["Throughput vs batch size"] = _save(fig, fig_dir / "throughput.png")

    agg = ok.groupby(["model", "dataset"]).agg(
        acc=("accuracy", "mean"), acc_sd=("accuracy", "std"), fit=("fit_wall_s", "median"),
        fit_q1=("fit_wall_s", lambda s: s.quantile(0.25)), fit_q3=("fit_wall_s", lambda s: s.quantile(0.75)),
    ).reset_index()  # fmt: skip
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for _, r in agg.iterrows():
        ax.errorbar(r["fit"], r["acc"], yerr=r["acc_sd"], xerr=[[r["fit"] - r["fit_q1"]], [r["fit_q3"] - r["fit"]]],
                    fmt="o", color=palette[r["model"]], label=f"{r['model']} ({r['dataset']})", capsize=3)  # fmt: skip
    ax.set(
        xscale="log",
        xlabel="fit wall time, median and IQR (s)",
        ylabel="accuracy, mean ± sd",
        title="Accuracy vs training cost",
    )
    ax.legend(fontsize=8, loc="best")
    out["Accuracy vs fit time"] = _save(fig, fig_dir / "accuracy-vs-fit-time.png")

    if set(ok["device"]) >= {"cpu", "gpu"}:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        sns.barplot(data=ok, x="adapter", y="fit_wall_s", hue="device", estimator="median", errorbar=("pi", 50), ax=ax)
        ax.set(yscale="log", ylabel="fit wall time, median (s)", xlabel="", title="CPU vs GPU fit time")
        out["CPU vs GPU"] = _save(fig, fig_dir / "cpu-vs-gpu.png")

    out["Iris pairplot (the blog post's figure)"] = iris_pairplot(fig_dir / "iris-pairplot.png")
    return out
