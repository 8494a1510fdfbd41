"""Across machines, in ``bench compare``: raw speed (the controls), ratios normalised by it, and whether the
ranking of adapters holds on both sides.

A side's controls are its run's per-round controls (``RUN@host``: that host's, measured on it); older
runs have only ``before``/``after``. Their speed indices (:mod:`hello_bench.analysis.noise`) give the control
ratio B/A with an interval; a time ratio divided by it (a throughput ratio multiplied) is what is left
once the machines' raw speeds are taken out: near 1 when a machine is uniformly slower, and away from 1
when a workload suffers more or less than the control does (memory bandwidth, a GPU, threads).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hello_bench.analysis import noise
from hello_bench.analysis.ranks import rank_agreement
from hello_bench.analysis.sides import Side
from hello_bench.measure.noise import CONTROL_KEYS
from hello_bench.record import headline_durations
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt


def control_section(doc: Doc, a: Side, b: Side, ratio: noise.ControlRatio | None) -> None:
    """The raw-speed table (each control, medians over the side's controls) and the control ratio that normalises."""
    ca, cb = a.controls(), b.controls()
    rows = []
    for key, label in CONTROL_KEYS.items():
        va = [e[key] for e in ca if isinstance(e.get(key), (int, float))]
        vb = [e[key] for e in cb if isinstance(e.get(key), (int, float))]
        if va or vb:
            ma = float(np.median(va)) if va else math.nan
            mb = float(np.median(vb)) if vb else math.nan
            rows.append([label, fmt(ma), len(va), fmt(mb), len(vb), fmt(mb / ma) if va and vb else "-"])
    for key in noise.LEGACY:  # the short control of older runs
        va = [e[key] for e in ca if isinstance(e.get(key), (int, float))]
        vb = [e[key] for e in cb if isinstance(e.get(key), (int, float))]
        if va and vb:
            rows.append([f"{key} (older, short)", fmt(float(np.median(va))), len(va), fmt(float(np.median(vb))), len(vb),
                         fmt(float(np.median(vb)) / float(np.median(va)))])  # fmt: skip
    if not rows or ratio is None:
        doc.para("Not recorded.")
        return
    doc.para("Medians over each side's controls (ms per unit; a side named `RUN@host` uses the controls measured on "
             "that host). The speed index (single-threaded trials: geometric mean of the Python loop and the one-thread "
             "matmul) gives the control ratio B/A that normalises the ratios above (> 1: B's machine is slower).")  # fmt: skip
    doc.table(["control (ms per unit)", "A", "A controls", "B", "B controls", "B/A"], rows, "control")
    doc.para(f"**Control ratio (speed index) B/A: {_ratio_text(ratio.ratio, ratio.low, ratio.high)}** "
             f"from {ratio.n_a} and {ratio.n_b} controls (Welch t-interval on the logs).")  # fmt: skip


def _ratio_text(r: float, low: float, high: float) -> str:
    if not math.isfinite(r):
        return "-"
    return f"{fmt(r)} [{fmt(low)}, {fmt(high)}]" if math.isfinite(low) else fmt(r)


def ranked() -> list[tuple[str, str]]:
    """(column, label) of the metrics adapters are ranked by: the registry's headline durations."""
    return [(m.column, m.label) for m in headline_durations()]


def ranking_section(doc: Doc, a: pd.DataFrame, b: pd.DataFrame, by: list[str]) -> list[Any]:
    """Per dataset and device: the adapters ordered by fit time and by predict p50 on A and on B, with Kendall's tau."""
    a_ok, b_ok = a[a["status"] == "ok"], b[b["status"] == "ok"]
    rows, found = [], []
    for column, label in ranked():
        if column not in a_ok.columns or column not in b_ok.columns:
            continue
        for key, ga in a_ok.groupby(by, sort=True):
            key_t = key if isinstance(key, tuple) else (key,)
            gb = b_ok[(b_ok[by] == pd.Series(key_t, index=by)).all(axis=1)]
            ta = ga.pivot_table(index="adapter", columns="split_seed", values=column, aggfunc="mean")
            tb = gb.pivot_table(index="adapter", columns="split_seed", values=column, aggfunc="mean")
            names = sorted(set(ta.index) & set(tb.index))
            splits = sorted(set(ta.columns) & set(tb.columns))
            if len(names) < 2 or not splits:
                continue
            ta, tb = ta.loc[names, splits], tb.loc[names, splits]
            keep = [
                s
                for s in splits
                if ta[s].notna().all() and tb[s].notna().all() and (ta[s] > 0).all() and (tb[s] > 0).all()
            ]
            if not keep:
                continue
            r = rank_agreement(names, ta[keep].to_numpy().tolist(), tb[keep].to_numpy().tolist())
            found.append((key_t, label, r))
            rows.append(["/".join(map(str, key_t)), label, " < ".join(r.order_a), " < ".join(r.order_b),
                         f"{fmt(r.tau)} [{fmt(r.low)}, {fmt(r.high)}]", f"{r.same_order:.0%}" if math.isfinite(r.same_order) else "-",
                         r.splits, "the ranking holds" if r.holds else "the ranking changes"])  # fmt: skip
    if rows:
        doc.heading("Does the ranking of adapters hold on both sides?", 3)
        doc.para("Adapters ordered by their geometric-mean time over the splits both sides ran (fastest first). Kendall's "
                 "tau compares the two orders (1: the same); its interval and the share of resamples keeping the exact "
                 "order come from resampling the splits (2,000 bootstrap resamples).")  # fmt: skip
        doc.table(["dataset/device", "metric", "order on A", "order on B", "Kendall tau [95% bootstrap]",
                   "same order in resamples", "splits", "verdict"], rows, "ranking")  # fmt: skip
    return found
