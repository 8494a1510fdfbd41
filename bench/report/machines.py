"""Across machines, in ``bench compare``: raw speed (the controls), ratios normalised by it, and whether the
ranking of adapters holds on both sides.

A side's controls are its run's per-round controls (``RUN@host``: that host's, measured on it); older
runs have only ``before``/``after``. Their speed indices (:mod:`bench.analysis.noise`) give the control
ratio B/A with an interval; a time ratio divided by it (a throughput ratio multiplied) is what is left
once the machines' raw speeds are taken out: near 1 when a machine is uniformly slower, and away from 1
when a workload suffers more or less than the control does (memory bandwidth, a GPU, threads).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis import noise
from bench.analysis.ranks import rank_agreement
from bench.measure.noise import CONTROL_KEYS
from bench.report.document import Doc
from bench.report.tables import fmt
from bench.store.reader import RunFolder

RANKED = (("fit_wall_s", "fit time"), ("latency_p50_us", "predict p50"))


def side_host(name: str) -> str | None:
    """The host a side names (``RUN@host``), or None."""
    return name.partition("@")[2] or None


def side_controls(path: Path, name: str) -> list[dict]:
    """Every control of a side: its host's rounds, else the run's rounds, else before/after, else the fingerprint's."""
    folder = RunFolder(path)
    stored = folder.control()
    host = side_host(name)
    rounds = [r for r in stored.get("rounds", []) if isinstance(r, dict) and r.get("host") == host]
    if rounds or host is not None:
        return rounds
    entries = [stored[w] for w in ("before", "after") if isinstance(stored.get(w), dict)]
    if not entries and isinstance(folder.environment().get("control"), dict):
        entries = [folder.environment()["control"]]
    return entries


def _threads(path: Path) -> int:
    threads = RunFolder(path).config().get("threads", 1)
    return threads if isinstance(threads, int) and not isinstance(threads, bool) else 1


def control_ratio(a_path: Path, a_name: str, b_path: Path, b_name: str) -> noise.ControlRatio:
    a = [noise.speed_index(e, _threads(a_path)) for e in side_controls(a_path, a_name)]
    b = [noise.speed_index(e, _threads(b_path)) for e in side_controls(b_path, b_name)]
    return noise.control_ratio(a, b)


def control_section(doc: Doc, a_path: Path, a_name: str, b_path: Path, b_name: str) -> noise.ControlRatio:
    """The raw-speed table (each control, medians over the side's controls) and the control ratio used to normalise."""
    a, b = side_controls(a_path, a_name), side_controls(b_path, b_name)
    rows = []
    for key, label in CONTROL_KEYS.items():
        va = [e[key] for e in a if isinstance(e.get(key), (int, float))]
        vb = [e[key] for e in b if isinstance(e.get(key), (int, float))]
        if va or vb:
            ma = float(np.median(va)) if va else math.nan
            mb = float(np.median(vb)) if vb else math.nan
            rows.append([label, fmt(ma), len(va), fmt(mb), len(vb), fmt(mb / ma) if va and vb else "-"])
    for key in ("numpy_matmul_256_ms", "python_loop_200k_ms"):  # the short control of older runs
        va = [e[key] for e in a if isinstance(e.get(key), (int, float))]
        vb = [e[key] for e in b if isinstance(e.get(key), (int, float))]
        if va and vb:
            rows.append([f"{key} (older, short)", fmt(float(np.median(va))), len(va), fmt(float(np.median(vb))), len(vb),
                         fmt(float(np.median(vb)) / float(np.median(va)))])  # fmt: skip
    ratio = control_ratio(a_path, a_name, b_path, b_name)
    if not rows:
        doc.para("Not recorded.")
        return ratio
    doc.para("Medians over each side's controls (ms per unit; a side named `RUN@host` uses the controls measured on "
             "that host). The speed index (single-threaded trials: geometric mean of the Python loop and the one-thread "
             "matmul) gives the control ratio B/A that normalises the ratios below (> 1: B's machine is slower).")  # fmt: skip
    doc.table(["control (ms per unit)", "A", "A controls", "B", "B controls", "B/A"], rows, "control")
    doc.para(f"**Control ratio (speed index) B/A: {_ratio_text(ratio.ratio, ratio.low, ratio.high)}** "
             f"from {ratio.n_a} and {ratio.n_b} controls (Welch t-interval on the logs).")  # fmt: skip
    return ratio


def noise_floor(doc: Doc, a_path: Path, a_name: str, b_path: Path, b_name: str) -> float:
    """The comparison's noise floor: one run's (both sides in it), else the two runs' combined; said in a sentence."""
    from bench.report.noise import run_floor

    fa, fb = run_floor(a_path, side_host(a_name)), run_floor(b_path, side_host(b_name))
    same = a_path.resolve() == b_path.resolve() and side_host(a_name) == side_host(b_name)
    floor = fa.floor if same else noise.combined(fa, fb)
    if math.isfinite(floor):
        where = "the run's own (both sides ran in it)" if same else "both runs' floors combined"
        doc.para(f"Noise floor: {floor:.1%}, {where}, from the spread of the per-round controls: a ratio closer to 1 "
                 "than that is marked as within it.")  # fmt: skip
    return floor


def _ratio_text(r: float, low: float, high: float) -> str:
    if not math.isfinite(r):
        return "-"
    return f"{fmt(r)} [{fmt(low)}, {fmt(high)}]" if math.isfinite(low) else fmt(r)


def normalised_text(logs: np.ndarray, lower_is_better: bool, control: noise.ControlRatio | None) -> str:
    """A ratio's per-split logs normalised by the control ratio, as ``r [low, high]`` (``-`` without a control)."""
    if control is None or not math.isfinite(control.ratio) or logs.size == 0:
        return "-"
    worse = logs if lower_is_better else -logs  # a throughput is a time per sample turned over
    n = worse.size
    var = float(worse.var(ddof=1)) / n if n > 1 else math.nan
    result = noise.normalise(float(worse.mean()), var, n - 1, control)
    if lower_is_better:
        return _ratio_text(result.ratio, result.low, result.high)
    flip = lambda x: 1 / x if math.isfinite(x) and x > 0 else math.nan  # noqa: E731
    return _ratio_text(flip(result.ratio), flip(result.high), flip(result.low))


def ranking_section(doc: Doc, a: pd.DataFrame, b: pd.DataFrame, by: list[str]) -> list[Any]:
    """Per dataset and device: the adapters ordered by fit time and by predict p50 on A and on B, with Kendall's tau."""
    a_ok, b_ok = a[a["status"] == "ok"], b[b["status"] == "ok"]
    rows, found = [], []
    for column, label in RANKED:
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
