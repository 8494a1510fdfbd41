"""The serving-paths section: every way to serve each model, checked against it, side by side."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from hello_bench.analysis import stats, verdicts
from hello_bench.metrics import RATE, Metric
from hello_bench.record import metrics, role, value_of
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt

#: The adapter's own path and the framework's stock API come from the trial's main measurements.
OWN_PATHS = ("adapter", "stock")


def fields() -> tuple[str, ...]:
    """What the section reads of each record (besides the frame): the latency metrics' fields, serving paths."""
    own = {m.path[0] for m in (role("p50"), role("p99"), role("stock-p50"), _rate())}
    return ("trial_id", "dataset", "adapter", "framework", "backend", "split_seed", *sorted(own), "stock_agreement",
            "serving")  # fmt: skip


COLUMNS = ("trial_id", "dataset", "adapter", "device", "framework", "backend", "split_seed", "machine", "path", "status",
           "reason", "install", "p50_us", "p99_us", "rate_1", "rate_max", "max_abs_diff", "label_agreement",
           "artifact_bytes", "export_s", "load_s", "first_call_s", "reference")  # fmt: skip


def _rate() -> Metric:
    return next(m for m in metrics() if m.keyed and m.kind == RATE)


_at = value_of


def _rates(data: dict) -> tuple[Any, Any]:
    """Throughput at batch 1 and at the largest batch measured."""
    rate = _rate()
    by_key = data.get(rate.path[0]) or {}
    return _at(data, rate, "1"), (by_key[max(by_key, key=int)] if by_key else None)


def _path_rows(r: dict) -> Iterator[dict]:
    """The serving rows of one ok record: the adapter's own path, the stock API, then every serving path."""
    p50, p99, stock_p50, stock_p99 = role("p50"), role("p99"), role("stock-p50"), role("stock-p99")
    yield {"path": "adapter", "status": "valid", "p50_us": _at(r, p50), "p99_us": _at(r, p99), "rate_1": _rates(r)[0],
           "max_abs_diff": 0.0, "label_agreement": 1.0, "reference": False}  # fmt: skip
    agree = r.get("stock_agreement") or {}
    if r.get(stock_p50.path[0]):
        valid = (agree.get("max_abs_diff") or 0.0) <= 1e-5 and agree.get("label_agreement", 1.0) == 1.0
        yield {"path": "stock", "status": "valid" if valid else "invalid", "p50_us": _at(r, stock_p50),
               "p99_us": _at(r, stock_p99), "max_abs_diff": agree.get("max_abs_diff"),
               "label_agreement": agree.get("label_agreement"), "reference": False}  # fmt: skip
    for name, p in (r.get("serving") or {}).items():
        one, most = _rates(p)
        yield {"path": name, "status": p.get("status"), "reason": p.get("reason"), "install": p.get("install"),
               "p50_us": _at(p, p50), "p99_us": _at(p, p99), "rate_1": one,
               "rate_max": most, "max_abs_diff": p.get("max_abs_diff"),
               "label_agreement": p.get("label_agreement"), "artifact_bytes": p.get("artifact_bytes"),
               "export_s": p.get("export_s"), "load_s": p.get("load_s"), "first_call_s": p.get("first_call_s"),
               "reference": bool(p.get("reference"))}  # fmt: skip


def serving_frame(records: Iterable[dict]) -> pd.DataFrame:
    """One row per (ok trial, serving path), the adapter's and the stock API's included.

    Built column by column from a stream of records, so 100,000 trials with a dozen paths each fit in memory.
    """
    columns: dict[str, list] = {c: [] for c in COLUMNS}
    for r in records:
        if r.get("status") != "ok":
            continue
        base = {
            k: r.get(k)
            for k in ("trial_id", "dataset", "adapter", "device", "framework", "backend", "split_seed", "machine")
        }
        for row in _path_rows(r):
            for c in COLUMNS:
                columns[c].append(row.get(c, base.get(c)))
    if not columns["path"]:
        return pd.DataFrame()
    return pd.DataFrame(columns)


def _ratio_to_reference(g: pd.DataFrame, ref: pd.DataFrame) -> stats.RatioCI:
    """p50(path) / p50(numpy reference) on the same trials: geometric mean with its t-interval on the logs.

    The median of per-trial ratios was used before; with ratios split between
    two modes it read 0.956x where the path's median p50 was 1.6x the
    reference's. The project's one ratio rule (:func:`hello_bench.analysis.stats.ratio_ci`) applies here too.
    """
    joined = g.merge(ref[["trial_id", "p50_us"]], on="trial_id", suffixes=("", "_ref"))
    path = pd.to_numeric(joined["p50_us"], errors="coerce")
    reference = pd.to_numeric(joined["p50_us_ref"], errors="coerce")
    usable = (path > 0) & (reference > 0)
    return stats.ratio_ci(reference[usable].to_numpy(), path[usable].to_numpy())


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, adapter, device, path): status counts, medians, worst agreement, ratio to the reference."""
    out = []
    for (dataset, adapter, device), g in frame.groupby(["dataset", "adapter", "device"], sort=True):
        ref = g[g["reference"].astype(bool)]  # the path the adapter flags as its reference (a floor, not a framework)
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
                "p50_us": num("p50_us").median(), "p99_us": num("p99_us").median(), "rate_1": num("rate_1").median(),
                "ratio_ref": (r := _ratio_to_reference(h, ref)).ratio, "ref_ratio": r, "max_abs_diff": num("max_abs_diff").max(),
                "label_agreement": num("label_agreement").min(), "artifact_bytes": num("artifact_bytes").median(),
                "export_s": num("export_s").median(), "load_s": num("load_s").median(),
            })  # fmt: skip
    return pd.DataFrame(out)


def _numbers(frame: pd.DataFrame) -> Callable[[str], pd.Series]:
    def column(name: str) -> pd.Series:
        return pd.to_numeric(frame[name], errors="coerce") if name in frame else pd.Series(dtype=float)

    return column


def _eligible(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of paths that may be ranked: valid on every trial of their group, not the reference, with a p50."""
    valid_all = frame.groupby(["dataset", "adapter", "device", "path"])["status"].transform(
        lambda s: (s == "valid").all()
    )
    p50 = pd.to_numeric(frame["p50_us"], errors="coerce")
    return frame[valid_all & ~frame["reference"].astype(bool) & p50.notna()].assign(p50_us=p50)


def fastest_valid(frame: pd.DataFrame, summ: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, adapter, device): the lowest-median valid path, and whether it earns "fastest" (pair by pair).

    Columns: the group, ``path`` (the candidate), ``fastest`` (bool), ``tied``
    (paths it cannot be told apart from), ``p50_us``, ``ref_ratio`` and ``sentence``.
    """
    out = []
    for key, g in _eligible(frame).groupby(["dataset", "adapter", "device"], sort=True):
        p50 = {str(path): dict(zip(h["trial_id"], h["p50_us"])) for path, h in g.groupby("path")}
        found = verdicts.fastest_path(p50)
        if found is None:
            continue
        row = summ[(summ["dataset"] == key[0]) & (summ["adapter"] == key[1]) & (summ["device"] == key[2])
                   & (summ["path"] == found.candidate)].iloc[0]  # fmt: skip
        out.append({"dataset": key[0], "adapter": key[1], "device": key[2], "path": found.candidate,
                    "fastest": found.fastest is not None, "tied": found.tied, "p50_us": row["p50_us"],
                    "ref_ratio": row["ref_ratio"], "sentence": verdicts.fastest_sentence(found)})  # fmt: skip
    return pd.DataFrame(out)


def best_sentence(r: Any) -> str:
    """One adapter's fastest path (or why there is none) and its ratio to the numpy reference, in words."""
    ref = r["ref_ratio"]
    against = f"; {verdicts.reference_sentence(ref)}" if ref.n else ""
    return f"{r['adapter']} ({r['dataset']}, {r['device']}): {r['sentence']}, p50 {fmt(r['p50_us'])} us{against}"


def ratio_cell(r: stats.RatioCI) -> str:
    return "-" if not r.n else verdicts.ratio_text(r).replace("x [", " [")


def section(doc: Doc, records: Iterable[dict]) -> pd.DataFrame:
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
        "The reference path (the adapter flags it; the built-in adapters' is `numpy-reference`, the model's forward pass "
        "in numpy with the trained weights) is a floor, not a framework. "
        "x numpy ref: the path's p50 over the numpy reference's p50 on the same trial, geometric mean over trials [95% "
        "interval]. Exported artifacts are written to a temporary "
        "folder and removed after measuring."
    )
    rows = []
    for _, r in summ.iterrows():
        status = r["status"] + (f" ({r['reason'][:120]})" if r["reason"] and r["valid"] < r["trials"] else "")
        if r["install"]:
            status += f" [{r['install']}]"
        rows.append([r["dataset"], r["adapter"], r["device"], r["path"], status, fmt(r["p50_us"]), fmt(r["p99_us"]), fmt(r["rate_1"]),
                     ratio_cell(r["ref_ratio"]), fmt(r["max_abs_diff"]), _pct(r["label_agreement"]), _kib(r["artifact_bytes"]),
                     fmt(r["export_s"]), fmt(r["load_s"])])  # fmt: skip
    doc.table(["dataset", "adapter", "device", "path", "status", "p50 us", "p99 us", "batch-1 samples/s", "x numpy ref",
               "max abs dp", "labels same", "artifact KiB", "export s", "load s"], rows, "serving")  # fmt: skip
    best = fastest_valid(frame, summ)
    if len(best):
        doc.para("Fastest valid path per adapter: a path is called the fastest only when its p50 is lower than every "
                 "other valid path's on the same trials, pair by pair (at least "
                 f"{stats.MIN_RATIO_PAIRS} trials, a 95% interval on the ratio below 1); its ratio to the numpy "
                 "reference is the geometric mean over trials with its interval.")  # fmt: skip
        doc.bullets([best_sentence(r) for _, r in best.iterrows()])
    return summ


def _pct(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def _kib(x: Any) -> str:
    return "-" if x is None or not np.isfinite(x) else fmt(x / 1024)
