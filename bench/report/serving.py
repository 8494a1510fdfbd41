"""The serving-paths section: every way to serve each model, checked against it, side by side."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from bench.report.document import Doc
from bench.report.tables import fmt

#: The adapter's own path and the framework's stock API come from the trial's main measurements.
OWN_PATHS = ("adapter", "stock")


def serving_frame(records: list[dict]) -> pd.DataFrame:
    """One row per (ok trial, serving path), the adapter's and the stock API's included."""
    rows = []
    for r in records:
        if r.get("status") != "ok":
            continue
        base = {
            k: r.get(k)
            for k in ("trial_id", "dataset", "adapter", "device", "framework", "backend", "split_seed", "machine")
        }
        lat, tput = r.get("latency") or {}, r.get("throughput_sps") or {}
        rows.append({**base, "path": "adapter", "status": "valid", "p50_us": lat.get("p50_us"), "p99_us": lat.get("p99_us"),
                     "tput_1": tput.get("1"), "max_abs_diff": 0.0, "label_agreement": 1.0, "reference": False})  # fmt: skip
        stock, agree = r.get("stock_latency") or {}, r.get("stock_agreement") or {}
        if stock:
            valid = (agree.get("max_abs_diff") or 0.0) <= 1e-5 and agree.get("label_agreement", 1.0) == 1.0
            rows.append({**base, "path": "stock", "status": "valid" if valid else "invalid", "p50_us": stock.get("p50_us"),
                         "p99_us": stock.get("p99_us"), "max_abs_diff": agree.get("max_abs_diff"),
                         "label_agreement": agree.get("label_agreement"), "reference": False})  # fmt: skip
        for name, p in (r.get("serving") or {}).items():
            plat, ptput = p.get("latency") or {}, p.get("throughput_sps") or {}
            rows.append({**base, "path": name, "status": p.get("status"), "reason": p.get("reason"), "install": p.get("install"),
                         "p50_us": plat.get("p50_us"), "p99_us": plat.get("p99_us"), "tput_1": ptput.get("1"),
                         "tput_max": ptput[max(ptput, key=int)] if ptput else None, "max_abs_diff": p.get("max_abs_diff"),
                         "label_agreement": p.get("label_agreement"), "artifact_bytes": p.get("artifact_bytes"),
                         "export_s": p.get("export_s"), "load_s": p.get("load_s"), "first_call_s": p.get("first_call_s"),
                         "reference": bool(p.get("reference"))})  # fmt: skip
    return pd.DataFrame(rows)


def _ratio_to_reference(g: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Median over trials of p50(path) / p50(numpy reference) on the same trial."""
    if ref.empty:
        return math.nan
    joined = g.merge(ref[["trial_id", "p50_us"]], on="trial_id", suffixes=("", "_ref"))
    ratios = pd.to_numeric(joined["p50_us"], errors="coerce") / pd.to_numeric(joined["p50_us_ref"], errors="coerce")
    return float(ratios.median()) if len(ratios.dropna()) else math.nan


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, adapter, device, path): status counts, medians, worst agreement, ratio to the reference."""
    out = []
    for (dataset, adapter, device), g in frame.groupby(["dataset", "adapter", "device"], sort=True):
        ref = g[g["path"] == "numpy-reference"]
        for path, h in g.groupby("path", sort=False):
            statuses = h["status"].value_counts()
            valid = int(statuses.get("valid", 0))
            num = _numbers(h)
            out.append({
                "dataset": dataset, "adapter": adapter, "device": device, "path": path,
                "framework": h["framework"].iloc[0], "reference": bool(h["reference"].any()),
                "trials": len(h), "valid": valid, "status": ", ".join(f"{n} {s}" for s, n in statuses.items()),
                "reason": "; ".join(sorted({str(x) for x in h.get("reason", pd.Series(dtype=object)).dropna() if x})),
                "install": "; ".join(sorted({str(x) for x in h.get("install", pd.Series(dtype=object)).dropna() if x})),
                "p50_us": num("p50_us").median(), "p99_us": num("p99_us").median(), "tput_1": num("tput_1").median(),
                "ratio_ref": _ratio_to_reference(h, ref), "max_abs_diff": num("max_abs_diff").max(),
                "label_agreement": num("label_agreement").min(), "artifact_bytes": num("artifact_bytes").median(),
                "export_s": num("export_s").median(), "load_s": num("load_s").median(),
            })  # fmt: skip
    return pd.DataFrame(out)


def _numbers(frame: pd.DataFrame) -> Callable[[str], pd.Series]:
    def column(name: str) -> pd.Series:
        return pd.to_numeric(frame[name], errors="coerce") if name in frame else pd.Series(dtype=float)

    return column


def fastest_valid(summ: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, adapter, device): the path with the lowest p50 among paths valid on every trial."""
    eligible = summ[(summ["valid"] == summ["trials"]) & ~summ["reference"] & summ["p50_us"].notna()]
    if eligible.empty:
        return eligible
    return eligible.loc[eligible.groupby(["dataset", "adapter", "device"])["p50_us"].idxmin()]


def section(doc: Doc, records: list[dict]) -> pd.DataFrame:
    """The serving table (and the fastest valid path per adapter); returns the summary for the figure."""
    frame = serving_frame(records)
    if frame.empty or set(frame["path"]) <= set(OWN_PATHS):
        return pd.DataFrame()
    summ = summary(frame)
    doc.heading("Serving paths")
    doc.para(
        "Every way to serve each fitted model, measured like the adapter's own path (one sample per call, GC paused; "
        "throughput at batch 1) and checked against it on the whole test set. A path whose probabilities differ by more "
        "than 1e-5 or whose labels differ at all is **invalid** (MLPerf's rule): shown with its numbers, never ranked. "
        "`numpy-reference` is the model's forward pass in numpy with the trained weights: a floor, not a framework. "
        "Ratio: p50 over the numpy reference's p50 on the same trial. Exported artifacts are written to a temporary "
        "folder and removed after measuring."
    )
    rows = []
    for _, r in summ.iterrows():
        status = r["status"] + (f" ({r['reason'][:120]})" if r["reason"] and r["valid"] < r["trials"] else "")
        if r["install"]:
            status += f" [{r['install']}]"
        rows.append([r["dataset"], r["adapter"], r["device"], r["path"], status, fmt(r["p50_us"]), fmt(r["p99_us"]), fmt(r["tput_1"]),
                     fmt(r["ratio_ref"]), fmt(r["max_abs_diff"]), _pct(r["label_agreement"]), _kib(r["artifact_bytes"]),
                     fmt(r["export_s"]), fmt(r["load_s"])])  # fmt: skip
    doc.table(["dataset", "adapter", "device", "path", "status", "p50 us", "p99 us", "batch-1 samples/s", "x numpy ref",
               "max abs dp", "labels same", "artifact KiB", "export s", "load s"], rows, "serving")  # fmt: skip
    best = fastest_valid(summ)
    if len(best):
        doc.para("Fastest valid path per adapter: " + "; ".join(
            f"{r['adapter']} ({r['dataset']}, {r['device']}): `{r['path']}` {fmt(r['p50_us'])} us"
            + (f", {fmt(r['ratio_ref'])}x the numpy reference" if math.isfinite(r["ratio_ref"]) else "")
            for _, r in best.iterrows()) + ".")  # fmt: skip
    return summ


def _pct(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def _kib(x: Any) -> str:
    return "-" if x is None or not np.isfinite(x) else fmt(x / 1024)
