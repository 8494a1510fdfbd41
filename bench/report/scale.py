"""``bench scale``: how each framework's cost grows with data size.

Runs the same harness (worker processes, store, records) over synthetic
datasets of growing size, one split each, and stops an adapter's sweep once
one size takes longer than the budget. The analysis is pure: a log-log slope
per adapter (1 means cost grows linearly with n) and the size where the
per-sample work overtakes the fixed overhead, from a fit of
``time = overhead + per_sample * n``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hello_bench.adapters import adapter_class
from hello_bench.data.datasets import DatasetSpec
from hello_bench.errors import UserError
from hello_bench.measure.settings import TimingSettings
from hello_bench.metrics import RATE
from hello_bench.record import metrics, role
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt
from hello_bench.run.config import AdapterSpec, Config, validate
from hello_bench.run.params import freeze_all
from hello_bench.store.safefs import OutputDir, OutputPath

DEFAULT_SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
#: The sweep's test share (80/20 splits).
TEST_SIZE = 0.2
#: No framework's optimiser step takes less than this (a floor, not an estimate): the bound for --epochs.
MIN_STEP_S = 1e-5
#: The longest single fit a sweep may allow (its trial timeout is six times this, within a week).
MAX_BUDGET_S = 86_400.0
DEFAULT_ADAPTERS = ("sklearn-lr", "keras-mlp", "torch-mlp")
SCALE_TIMING = TimingSettings(
    warmup=5, latency_min_calls=50, latency_budget_s=0.05, stock_min_calls=1, stock_budget_s=0.01,
    batch_sizes=(1, 1024), throughput_budget_s=0.05, serving=False, curves=False,
)  # fmt: skip


def scale_config(
    sizes: Any = DEFAULT_SIZES,
    adapters: Any = DEFAULT_ADAPTERS,
    n_features: int = 20,
    n_classes: int = 3,
    epochs: int = 3,
    batch_size: int = 32,
    budget_s: float = 20.0,
    threads: int = 1,
    devices: Any = ("cpu",),
) -> Config:
    """The sweep as a harness config: one synthetic dataset per size, in increasing order.

    Adapters without explicit parameters run with their small ``smoke_params``
    (MLPs: a few epochs at batch size 32), ``epochs`` and ``batch_size`` overriding them.
    """
    if not sizes or any(n < 10 for n in sizes):
        raise UserError(f"bench scale: sizes must be row counts >= 10. Got {list(sizes)!r}.")
    if len(set(sizes)) != len(sizes):
        raise UserError(f"bench scale: sizes repeated: {sorted(n for n in set(sizes) if list(sizes).count(n) > 1)}.")
    if not (isinstance(budget_s, (int, float)) and math.isfinite(budget_s) and 0 < budget_s <= MAX_BUDGET_S):
        raise UserError(
            f"bench scale: --budget must be a number of seconds in (0, {MAX_BUDGET_S:g}]. Got {budget_s!r}."
        )
    datasets = tuple(
        DatasetSpec(f"synthetic:n_samples={n},n_features={n_features},n_classes={n_classes}") for n in sorted(sizes)
    )
    specs = []
    for name in adapters:
        spec = AdapterSpec.parse(name)
        try:
            smoke = dict(adapter_class(spec.name).smoke_params)
        except (KeyError, ImportError):  # validate() below names the unknown adapter
            smoke = {}
        if smoke and not spec.params:
            smoke.update({k: v for k, v in (("epochs", epochs), ("batch_size", batch_size)) if k in smoke})
            spec = AdapterSpec(spec.name, spec.profile, freeze_all(smoke), spec.backend)
        specs.append(spec)
    if any("epochs" in dict(spec.params) for spec in specs):
        check_epochs_fit(epochs, batch_size, min(sizes), budget_s)
    config = Config(
        datasets=datasets, adapters=tuple(specs), devices=tuple(devices), splits=1, test_size=TEST_SIZE,
        preprocessing=("standard",), threads=threads, trial_timeout_s=max(60.0, 6 * budget_s),
        stop_after_fit_s=budget_s, interleave=False, description="bench scale: fit time vs data size", timing=SCALE_TIMING,
    )  # fmt: skip
    return validate(config, "bench scale")


def check_epochs_fit(epochs: int, batch_size: int, smallest: int, budget_s: float) -> None:
    """Refuse a sweep whose first fit cannot end within the budget, before anything runs.

    An MLP fit is at least ``epochs x ceil(train rows / batch size)`` optimiser
    steps, and no framework takes one in less than :data:`MIN_STEP_S`: a count
    of epochs whose least possible time is over the budget would only run into
    its timeout and stop the sweep at its first size.
    """
    steps = epochs * math.ceil(smallest * (1 - TEST_SIZE) / max(1, batch_size))
    if steps * MIN_STEP_S > budget_s:
        most = int(budget_s / (MIN_STEP_S * math.ceil(smallest * (1 - TEST_SIZE) / max(1, batch_size))))
        raise UserError(
            f"bench scale: --epochs {epochs:,} cannot fit the {budget_s:g} s budget: even the smallest size ({smallest:,} "
            f"rows) needs {steps:,} optimiser steps, at least {steps * MIN_STEP_S:,.0f} s. At most {most:,} epochs fit; "
            "or raise --budget."
        )


def loglog_slope(n: Any, t: Any) -> float:
    """Least-squares slope of log(t) on log(n) (NaN with fewer than 2 points)."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    if len(n) < 2:
        return math.nan
    return float(np.polyfit(np.log(n), np.log(t), 1)[0])


def overhead_crossover(n: Any, t: Any) -> tuple[float, float, float]:
    """Fit ``t = overhead + per_sample * n`` (both >= 0); return (overhead, per_sample, n*).

    ``n* = overhead / per_sample`` is where per-sample work equals the fixed
    overhead: below it, fixed costs (start-up, tracing, per-call overhead) dominate.
    """
    from scipy.optimize import nnls

    n, t = np.asarray(n, float), np.asarray(t, float)
    if len(n) < 2:
        return math.nan, math.nan, math.nan
    # Relative weights: every size counts, not only the largest.
    A = np.column_stack([np.ones_like(n), n]) / t[:, None]
    (overhead, per_sample), _ = nnls(A, np.ones_like(t))
    crossover = overhead / per_sample if per_sample > 0 else math.inf
    return float(overhead), float(per_sample), float(crossover)


def scale_table(df: pd.DataFrame) -> tuple[list[list], list[list]]:
    """Rows per (adapter, size) and one summary row per adapter."""

    rows, summary = [], []
    df = df.copy()
    df["n_samples"] = df["n_train"] + df["n_test"]
    fit, epochs_m, epoch_m, memory = role("fit").column, role("epochs").column, role("epoch").column, role("rss").column
    rate = next(m for m in metrics() if m.keyed and m.kind == RATE)
    for adapter, g in df.groupby("adapter", sort=True):
        ok = g[g["status"] == "ok"].sort_values("n_train")
        for _, r in g.sort_values("dataset_n").iterrows():
            if r["status"] == "ok":
                epochs = r.get(epochs_m)
                train_tput = (
                    r["n_train"] * (epochs if isinstance(epochs, (int, float)) and epochs == epochs else 1) / r[fit]
                )
                big = [c for c in rate.expand(r.index) if r[c] == r[c]]
                pred = r[big[-1]] if big else math.nan
                rows.append([adapter, f"{int(r['dataset_n']):,}", fmt(r[fit]), fmt(r.get(epoch_m)), fmt(train_tput),
                             fmt(pred), fmt(r.get(memory)), "ok"])  # fmt: skip
            else:
                rows.append(
                    [adapter, f"{int(r['dataset_n']):,}", "-", "-", "-", "-", "-", f"{r['status']}: {r['reason']}"]
                )
        slope = loglog_slope(ok["n_train"], ok[fit])
        overhead, per_sample, cross = overhead_crossover(ok["n_train"], ok[fit])
        summary.append(
            [
                adapter,
                len(ok),
                fmt(slope),
                fmt(overhead),
                fmt(per_sample * 1e6),
                f"{cross:,.0f}" if math.isfinite(cross) else "-",
            ]
        )
    return rows, summary


def scale_figure(df: pd.DataFrame, path: OutputPath) -> OutputPath:
    from hello_bench.report import plots

    ok = df[df["status"] == "ok"]
    axes_style, context = plots.style()
    with axes_style, context:
        fig, ax = plots.plt.subplots(figsize=(7, 4.8))
        for adapter, g in ok.groupby("adapter", sort=True):
            color = plots.colour(adapter)
            g = g.sort_values("n_train")
            fit = role("fit").column
            slope = loglog_slope(g["n_train"], g[fit])
            _, _, cross = overhead_crossover(g["n_train"], g[fit])
            ax.plot(g["n_train"], g[fit], "o-", color=color, label=f"{adapter} (slope {slope:.2f})")
            if math.isfinite(cross) and g["n_train"].min() <= cross <= g["n_train"].max():
                ax.axvline(cross, color=color, ls=":", lw=1)
        ax.set(xscale="log", yscale="log", xlabel="training rows (n)", ylabel="fit wall time (s)",
               title="Fit time vs data size (dotted: fixed overhead = per-row work)")  # fmt: skip
        wide = ok["n_train"].max() / max(ok["n_train"].min(), 1) > 100 if len(ok) else False
        plots.plain_log_axis(ax.xaxis, (1.0,) if wide else (1.0, 2.0, 5.0))  # 500 and 1,000 would overlap
        plots.plain_log_axis(ax.yaxis)
        plots.legend_outside(ax, fontsize=8)
        return plots.save_figure(fig, path)


def scale_doc(run_path: Path, out: OutputDir) -> Doc:
    """The sweep's tables and figure as a document (Markdown, JSON); the figure staged in ``out``."""
    from hello_bench.analysis.load import load_runs
    from hello_bench.store.reader import RunFolder

    kind = RunFolder(run_path).kind()
    if kind != "scale":
        raise UserError(
            f"Run {run_path.name!r} is a {kind} run, not a scale sweep: use `bench report {run_path.name}`."
        )
    df = load_runs([str(run_path)], run_path.parent.parent, kind=None).frame
    df["dataset_n"] = df["dataset_source"].map(lambda s: int(s.split("n_samples=")[1].split(",")[0]))
    rows, summary = scale_table(df)
    from hello_bench.report import plots

    plots.register_colours(df)
    fig = scale_figure(df, out / "figures" / "scale.png")
    doc = Doc("How cost grows with data size (`bench scale`)", meta={"run_id": run_path.name})
    doc.para(f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} from run `{run_path.name}` (synthetic data, "
             "make_classification, standard-scaled, 80/20 split). An adapter's sweep stops once a fit exceeds the budget.")  # fmt: skip
    doc.table(["adapter", "rows", "fit s", "s per epoch", "train rows/s", "predict rows/s (largest batch)", "peak RSS MiB", "status"],
              rows, "sizes")  # fmt: skip
    doc.para("Slope: d log(fit time) / d log(n); 1 = linear, < 1 = fixed overhead still matters. Overhead and per-row cost "
             "from a non-negative fit of time = overhead + per_row x n; n* = overhead / per_row, the size where the "
             "framework's fixed cost stops dominating.")  # fmt: skip
    doc.table(["adapter", "sizes fitted", "log-log slope", "overhead s", "per-row us", "n* (rows)"], summary, "growth")
    doc.figure("fit time vs size", fig.path, data=fig.data())
    return doc


def write_scale_report(run_path: Path, out_dir: OutputDir | Path) -> Path:
    """SCALE.md (and its figure) under ``out_dir``."""
    return write_scale_doc(run_path, out_dir)[0]


def write_scale_doc(run_path: Path, out_dir: OutputDir | Path) -> tuple[Path, Doc]:
    """Write SCALE.md and its figure (a Path ``out_dir`` is a user's folder: only those files are written)."""
    out = out_dir if isinstance(out_dir, OutputDir) else OutputDir.user(out_dir)
    doc = scale_doc(run_path, out)
    path = out.stage("SCALE.md", doc.markdown(out.path))
    out.commit()
    return path, doc
