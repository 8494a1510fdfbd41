"""The registry's plain table: the median of every summary metric, per dataset x adapter x device.

Driven by :func:`hello_bench.record.metrics` alone: a metric registered with
``summary=True`` (built in, or from a plugin) appears here, in
``summary.csv`` and in ``--json`` without any change to this module.
"""

from __future__ import annotations

import pandas as pd

from hello_bench.analysis.load import keyed_columns
from hello_bench.metrics import Metric
from hello_bench.record import label_of, metric_for, metrics
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt

KEYS = ["dataset", "adapter", "device"]


def summary_columns(ok: pd.DataFrame, keyed: bool = False) -> list[str]:
    """Columns of every summary metric present in ``ok`` (keyed ones, e.g. throughput per batch, if asked)."""
    cols = [m.column for m in metrics() if m.summary and not m.keyed and m.column in ok.columns]
    cols = [c for c in cols if ok[c].notna().any()]
    return cols + (keyed_columns(ok) if keyed else [])


def summary_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Medians over ok trials, per dataset x adapter x device (``summary.csv``)."""
    ok = df[df["status"] == "ok"]
    return ok.groupby(KEYS, sort=True)[summary_columns(ok, keyed=True)].median().reset_index()


def section(doc: Doc, ok: pd.DataFrame) -> None:
    cols = summary_columns(ok)
    if not cols:
        return
    doc.heading("Summary: every registered metric", 3)
    doc.para("Medians over ok trials. One column per metric registered with `summary=True` (hello_bench.record), "
             "so a metric added by a plugin appears here without a change to the report.")  # fmt: skip
    medians = ok.groupby(KEYS, sort=True)[cols].median().reset_index()
    shown = {c: metric_for(c) for c in cols}  # each in the unit its header names (seconds shown as ms)
    rows = [[*r[KEYS], *(fmt(_shown(shown[c], float(r[c]))) for c in cols)] for _, r in medians.iterrows()]
    doc.table([*KEYS, *(label_of(c) for c in cols)], rows, "summary", keys=[*KEYS, *cols])  # keys: the columns


def _shown(metric: Metric | None, value: float) -> float:
    return metric.shown(value) if metric is not None else value
