"""Time, throughput and memory sections, with the flags that say when a timing is not to be trusted."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from bench.analysis import stats, verdicts
from bench.analysis.load import throughput_columns
from bench.analysis.pairing import against, pair
from bench.report.document import Doc
from bench.report.tables import fmt, fmt_range

KEYS = ["dataset", "adapter", "device"]

TIME_NOTE = (
    "Fit: wall time of `fit` (median and interquartile range over splits), learning-curve evaluation excluded. "
    "First predict: the first call on one sample after fit (includes tracing/compilation). Predict p50/p99: one "
    "sample per call, after warm-up, garbage collector paused (as `timeit`), through the adapter's path; stock: the "
    "framework's plain API (Keras `model.predict`, a torch module call with autograd on). p99 over fewer than 100 "
    "calls is marked (n<100): too few calls for a tail estimate."
)


def _median(g: pd.DataFrame, col: str) -> float:
    return float(g[col].median()) if col in g.columns else math.nan


def time_table(doc: Doc, ok: pd.DataFrame) -> list[tuple[str, str, float]]:
    """The timing table; returns the noisy-measurement flags: (what varies, dataset/adapter/device, dispersion)."""
    doc.para(TIME_NOTE)
    rows, noisy = [], []
    for key, g in ok.groupby(KEYS, sort=True):
        fit = g["fit_wall_s"].dropna()
        med, q1, q3 = stats.median_iqr(fit) if len(fit) else (math.nan,) * 3
        for col, what in (("fit_wall_s", "fit time varies"), ("latency_p50_us", "predict p50 varies")):
            if col in g.columns and stats.is_noisy(g[col].dropna()):
                noisy.append((what, "/".join(key), stats.coefficient_of_variation(g[col].dropna())))
        stock_n = _median(g, "stock_latency_n")
        rows.append([
            *key, fmt_range(med, q1, q3), fmt(_median(g, "first_epoch_s")), fmt(_median(g, "cold_predict_s") * 1e3),
            fmt(_median(g, "latency_p50_us")), fmt(_median(g, "latency_p99_us")), fmt(_median(g, "latency_n")),
            fmt(_median(g, "stock_latency_p50_us")), fmt(_median(g, "stock_latency_p99_us")) + (" (n<100)" if stock_n < 100 else ""),
            fmt(_median(g, "import_s")),
        ])  # fmt: skip
    doc.table(["dataset", "adapter", "device", "fit s median [IQR]", "first epoch s", "first predict ms", "predict p50 us",
               "predict p99 us", "calls", "stock p50 us", "stock p99 us", "import s"], rows, "time")  # fmt: skip
    return noisy


def ratios(doc: Doc, ok: pd.DataFrame, baseline: str, floor: float = math.nan) -> None:
    from bench.analysis.noise import within_floor

    doc.heading(f"Ratios to `{baseline}`", 3)
    doc.para(f"Geometric mean of per-split ratios with a Student-t 95% interval on the log ratios; fewer than "
             f"{stats.MIN_RATIO_PAIRS} pairs give no verdict."
             + (f" A ratio closer to 1 than the run's noise floor ({floor:.1%}) is marked: the machine itself moved "
                "that much between rounds." if math.isfinite(floor) else ""))  # fmt: skip
    rows = []
    for metric, label in (("fit_wall_s", "fit time"), ("latency_p50_us", "predict p50")):
        for (dataset, device), adapter, g in against(ok, baseline, metric):
            g = g[(g["a"] > 0) & (g["b"] > 0)]
            r = stats.ratio_ci(g["a"].to_numpy(), g["b"].to_numpy())
            rows.append(
                [
                    dataset,
                    device,
                    adapter,
                    label,
                    f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]",
                    r.n,
                    verdicts.ratio_verdict(r) + ("; within the noise floor" if within_floor(r.ratio, floor) else ""),
                ]
            )
    doc.table(
        ["dataset", "device", "adapter", "metric", f"ratio to {baseline} [95% CI]", "splits", "verdict"], rows, "ratios"
    )


def throughput(doc: Doc, ok: pd.DataFrame) -> None:
    cols = throughput_columns(ok)
    doc.heading("Throughput (median over trials)", 3)
    whole = whole_test_sizes(ok)
    if whole:
        doc.para(
            "Samples per second at each batch size; the whole test set is measured too, and a batch size larger than "
            "the test set is measured at the whole test set."
        )
    rows = [[*key, *(fmt(g[c].median()) for c in cols)] for key, g in ok.groupby(KEYS, sort=True)]
    headers = [
        f"batch {n}{' (whole test set)' if int(n) in whole else ''} (samples/s)"
        for n in (c.split("_")[1] for c in cols)
    ]
    doc.table(["dataset", "adapter", "device", *headers], rows, "throughput")


def whole_test_sizes(ok: pd.DataFrame) -> set[int]:
    """Test-set sizes of these trials: throughput at that batch size is the whole test set at once."""
    sizes = pd.to_numeric(ok["n_test"], errors="coerce").dropna() if "n_test" in ok.columns else pd.Series(dtype=float)
    return {int(n) for n in sizes.unique()}


def memory(doc: Doc, ok: pd.DataFrame) -> None:
    doc.heading("Memory", 3)
    rows = [[*key, fmt(g["rss_peak_mb"].max()), fmt(g["rss_fit_delta_mb"].median()), fmt(g["gpu_peak_mb"].max() if "gpu_peak_mb" in g else math.nan)]
            for key, g in ok.groupby(KEYS, sort=True)]  # fmt: skip
    doc.table(
        ["dataset", "adapter", "device", "peak RSS MiB (trial, max)", "RSS growth in fit MiB", "peak GPU MiB"],
        rows,
        "memory",
    )


def devices(doc: Doc, ok: pd.DataFrame) -> None:
    if not {"cpu", "gpu"} <= set(ok["device"]):
        return
    rows = []
    for metric, label in (("fit_wall_s", "fit time"), ("latency_p50_us", "predict p50")):
        joined = pair(ok[ok["device"] == "cpu"], ok[ok["device"] == "gpu"], ["dataset", "adapter"], metric)
        for (dataset, adapter), g in joined.groupby(["dataset", "adapter"], sort=True):
            r = stats.ratio_ci(g["a"].to_numpy(float), g["b"].to_numpy(float))
            rows.append(
                [
                    dataset,
                    adapter,
                    label,
                    f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]",
                    r.n,
                    verdicts.ratio_verdict(r, "GPU faster", "GPU slower"),
                ]
            )
    doc.heading("GPU vs CPU", 3)
    doc.table(["dataset", "adapter", "metric", "GPU / CPU [95% CI]", "splits", "verdict"], rows, "gpu-vs-cpu")


def trust(doc: Doc, ok: pd.DataFrame, noisy: list[tuple[str, str, float]], floors: dict | None = None,
          orders: Any = None) -> None:  # fmt: skip
    """Everything that says a timing may be off (grouped, counted, ranked), then warnings and shared hosts."""
    from bench.report import noise

    noise.read_with_care(doc, noise.cautions(ok, noisy, floors or {}, orders or noise.Orders()))
    warned = ok[ok["n_warnings"] > 0] if "n_warnings" in ok.columns else ok.iloc[:0]
    if len(warned):
        by_adapter: dict[str, dict[str, int]] = {}
        for adapter, text in zip(warned["adapter"], warned.get("warnings", pd.Series([], dtype=object))):
            for w in json.loads(text) if isinstance(text, str) else []:
                kind = w.split(":")[0]
                by_adapter.setdefault(str(adapter), {}).setdefault(kind, 0)
                by_adapter[str(adapter)][kind] += 1
        doc.heading("Warnings raised during fit", 3)
        doc.para(
            "Caught into each record (not printed); e.g. a ConvergenceWarning means the solver stopped at its iteration limit."
        )
        doc.table(
            ["adapter", "warning", "trials"],
            [[a, k, n] for a, kinds in sorted(by_adapter.items()) for k, n in sorted(kinds.items())],
            "warnings",
        )
    if "workers_on_host" in ok.columns:
        shared = ok[pd.to_numeric(ok["workers_on_host"], errors="coerce").fillna(1) > 1]
        if len(shared):
            counts = shared.groupby("machine")["workers_on_host"].agg(["count", "max"]).reset_index()
            doc.heading("Shared machines", 3)
            doc.para("These records ran while other Dask workers shared their host, so their timings may include "
                     "contention (accuracy is unaffected). For timing runs, start one single-threaded worker per machine.")  # fmt: skip
            doc.table(
                ["machine", "records", "workers on host"],
                [[m, int(c), int(mx)] for m, c, mx in counts.to_numpy()],
                "shared",
            )
