"""Time, throughput and memory sections, with the flags that say when a timing is not to be trusted."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from hello_bench.analysis import stats, verdicts
from hello_bench.analysis.pairing import pair
from hello_bench.metrics import TAIL_CALLS, Metric
from hello_bench.record import calls_of, headline_durations, metrics
from hello_bench.report.document import Doc
from hello_bench.report.tables import Cell, fmt, fmt_range

KEYS = ["dataset", "adapter", "device"]

TIME_NOTE = (
    "One column per time metric of the registry (medians over splits; the headline fit time with its interquartile "
    "range), learning-curve evaluation excluded from fit. First predict: the first call on one sample after fit "
    "(includes tracing/compilation). Predict p50/p99: one sample per call, after warm-up, garbage collector paused (as "
    "`timeit`), through the adapter's path; stock: the framework's plain API (Keras `model.predict`, a torch module "
    f"call with autograd on). A tail percentile over fewer than {TAIL_CALLS} calls is marked (n<{TAIL_CALLS}): too "
    "few calls for a tail estimate."
)


def _median(g: pd.DataFrame, col: str) -> float:
    return float(g[col].median()) if col in g.columns else math.nan


def table_metrics(ok: pd.DataFrame, table: str) -> list[tuple[Metric, str]]:
    """(metric, column) of every registry metric of ``table`` present in ``ok``, in registry order."""
    return [(m, c) for m in metrics() if m.table == table for c in m.expand(ok.columns) if ok[c].notna().any()]


def _time_cell(g: pd.DataFrame, metric: Metric, column: str, spread: bool) -> Cell:
    if spread:
        values = g[column].dropna()
        med, q1, q3 = stats.median_iqr(values) if len(values) else (math.nan,) * 3
        return fmt_range(metric.shown(med), metric.shown(q1), metric.shown(q3))
    cell = fmt(metric.shown(_median(g, column)))
    calls = calls_of(metric) if metric.tail else None
    if calls is not None and _median(g, calls.column_for("")) < TAIL_CALLS:
        return cell.note(f" (n<{TAIL_CALLS})")
    return cell


def time_table(doc: Doc, ok: pd.DataFrame) -> list[tuple[str, str, float]]:
    """The timing table; returns the noisy-measurement flags: (what varies, dataset/adapter/device, dispersion)."""
    doc.para(TIME_NOTE)
    shown = table_metrics(ok, "time")
    headline = headline_durations()
    spread = headline[0] if headline else None
    rows, noisy = [], []
    for key, g in ok.groupby(KEYS, sort=True):
        for m in headline:
            if m.column in g.columns and stats.is_noisy(g[m.column].dropna()):
                noisy.append((f"{m.label} varies", "/".join(key), stats.coefficient_of_variation(g[m.column].dropna())))
        rows.append([*key, *(_time_cell(g, m, c, m is spread) for m, c in shown)])
    headers = [f"{m.name(c)} {m.shown_unit}".strip() + (" median [IQR]" if m is spread else "") for m, c in shown]
    doc.table(["dataset", "adapter", "device", *headers], rows, "time")
    return noisy


def ratios(doc: Doc, ok: pd.DataFrame, baseline: str) -> None:
    """Each adapter's headline times against the baseline adapter's, from one comparison per adapter.

    The adapters of a run take turns split by split on one machine, as a duet's environments do: a ratio between
    them is paired on the split, so neither the run's noise floor nor a normalisation applies to it.
    """
    from hello_bench.analysis.comparison import DUET, Context, build
    from hello_bench.analysis.policy import GatePolicy

    doc.heading(f"Ratios to `{baseline}`", 3)
    doc.para(f"Geometric mean of per-split ratios with a Student-t 95% interval on the log ratios; fewer than "
             f"{stats.MIN_RATIO_PAIRS} pairs give no verdict. The adapters took turns split by split, so each ratio is "
             "paired on its split: the run's noise floor (between rounds) says nothing about it.")  # fmt: skip
    order = [m.column for m in headline_durations()]
    base = ok[ok["adapter"] == baseline]
    found = []
    for adapter in sorted(set(ok["adapter"]) - {baseline}):
        c = build(base, ok[ok["adapter"] == adapter], ["dataset", "device"], GatePolicy(), Context(DUET))
        found += [(order.index(r.column), r.group, adapter, r) for r in c.rows if r.column in order]
    rows = []
    for _, group, adapter, r in sorted(found, key=lambda f: f[:3]):
        dataset, _, device = group.partition("/")
        e = r.estimate
        rows.append([dataset, device, adapter, r.metric.label, f"{fmt(e.value)} [{fmt(e.low)}, {fmt(e.high)}]",
                     r.pairs, r.verdict])  # fmt: skip
    doc.table(
        ["dataset", "device", "adapter", "metric", f"ratio to {baseline} [95% CI]", "splits", "verdict"], rows, "ratios"
    )


def throughput(doc: Doc, ok: pd.DataFrame) -> None:
    shown = table_metrics(ok, "throughput")
    doc.heading("Throughput (median over trials)", 3)
    whole = whole_test_sizes(ok)
    if whole:
        doc.para(
            "Samples per second at each batch size; the whole test set is measured too, and a batch size larger than "
            "the test set is measured at the whole test set."
        )
    rows = [[*key, *(fmt(g[c].median()) for _, c in shown)] for key, g in ok.groupby(KEYS, sort=True)]
    headers = [f"{m.name(c)}{' (whole test set)' if (m.key_of(c) or '0').isdigit() and int(m.key_of(c) or 0) in whole else ''}"
               f" ({m.shown_unit})" for m, c in shown]  # fmt: skip
    doc.table(["dataset", "adapter", "device", *headers], rows, "throughput")


def whole_test_sizes(ok: pd.DataFrame) -> set[int]:
    """Test-set sizes of these trials: throughput at that batch size is the whole test set at once."""
    sizes = pd.to_numeric(ok["n_test"], errors="coerce").dropna() if "n_test" in ok.columns else pd.Series(dtype=float)
    return {int(n) for n in sizes.unique()}


def memory(doc: Doc, ok: pd.DataFrame) -> None:
    doc.heading("Memory", 3)
    shown = table_metrics(ok, "memory")
    if not shown:
        doc.para("Not recorded.")
        return
    # A peak is read at its largest over the trials, a growth at its median.
    peak = [m.short for m, _ in shown if m.valid and m.valid[0] >= 0]
    rows = [[*key, *(fmt(g[c].max() if m.short in peak else g[c].median()) for m, c in shown)]
            for key, g in ok.groupby(KEYS, sort=True)]  # fmt: skip
    headers = [f"{m.name(c)} {m.shown_unit}" + (" (trial, max)" if m.short in peak else " (median)") for m, c in shown]
    doc.table(["dataset", "adapter", "device", *headers], rows, "memory")


def devices(doc: Doc, ok: pd.DataFrame) -> None:
    if not {"cpu", "gpu"} <= set(ok["device"]):
        return
    rows = []
    for metric in headline_durations():
        joined = pair(ok[ok["device"] == "cpu"], ok[ok["device"] == "gpu"], ["dataset", "adapter"], metric.column)
        for (dataset, adapter), g in joined.groupby(["dataset", "adapter"], sort=True):
            r = stats.ratio_ci(g["a"].to_numpy(float), g["b"].to_numpy(float))
            rows.append([dataset, adapter, metric.label, f"{fmt(r.ratio)} [{fmt(r.low)}, {fmt(r.high)}]", r.n,
                         verdicts.ratio_verdict(r, "GPU faster", "GPU slower")])  # fmt: skip
    doc.heading("GPU vs CPU", 3)
    doc.table(["dataset", "adapter", "metric", "GPU / CPU [95% CI]", "splits", "verdict"], rows, "gpu-vs-cpu")


def trust(doc: Doc, ok: pd.DataFrame, noisy: list[tuple[str, str, float]], floors: dict | None = None,
          orders: Any = None) -> None:  # fmt: skip
    """Everything that says a timing may be off (grouped, counted, ranked), then warnings and shared hosts."""
    from hello_bench.report import noise

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
