"""The numbers a reader takes in at a glance on the site's index (``bench publish``): per run, each adapter's
accuracy with its corrected interval and its headline times; per comparison page, its gate and what differs.

Every number comes from the code the pages themselves use: the accuracy from the report's own table
(:func:`hello_bench.report.accuracy.accuracy_table`, Nadeau-Bengio corrected interval over the splits), the times as
the report's time table takes them (the median over trials of each headline duration of the registry), the
comparison's words from its typed :class:`~hello_bench.analysis.comparison.Comparison` (the gate's line, each row's
claim). Nothing here names an adapter or spells a metric field.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from hello_bench.analysis.load import load_runs
from hello_bench.errors import UserError
from hello_bench.metrics import Metric
from hello_bench.record import headline_durations, role
from hello_bench.report import accuracy
from hello_bench.report.compare import Compared, claim_counts
from hello_bench.report.document import Doc
from hello_bench.report.tables import Cell, fmt, fmt_ci

#: Run kinds whose trials measure accuracy and time (a scale or calibration run measures something else).
MEASURED = ("matrix", "seed")


def number_headers() -> list[str]:
    """The headline table's columns: accuracy with its interval, then each headline duration's median."""
    quality = role("accuracy")
    times = [f"{m.name(m.column, unit=True)}, median" for m in headline_durations()]
    return ["run", "dataset", "adapter", "device", "splits", f"{quality.label} [corrected 95% CI]", *times]


def run_numbers(run: str, results_dir: str | Path) -> list[list]:
    """One row per dataset x adapter x device of a run, its cells as :func:`number_headers` names them
    (the run's first cell left to the caller's link); none where no trial finished ok."""
    try:
        frame = load_runs([run], results_dir, kind=None).frame  # as the run's report reads it
    except UserError:
        return []
    ok = frame[frame["status"] == "ok"]
    if ok.empty or role("accuracy").column not in ok.columns:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = accuracy.accuracy_table(Doc("scratch"), ok)
    keys = list(accuracy.KEYS)
    rows = []
    for _, a in acc.iterrows():
        trials = ok[(ok[keys] == a[keys].to_numpy()).all(axis=1)]
        times = [_median(trials, m) for m in headline_durations()]
        splits = int(trials["split_seed"].nunique())
        rows.append([a["dataset"], a["adapter"], a["device"], splits, _accuracy(a, splits), *times])
    return rows


def _accuracy(a: pd.Series, splits: int) -> Cell:
    """The mean with its interval; where there is none, why (as the report says it)."""
    mean, low, high = (float(a[k]) for k in ("mean", "low", "high"))
    if math.isfinite(low):
        return fmt_ci(mean, low, high)
    return fmt(mean).note(" (1 split: no interval)" if splits < 2 else " (same on every split)")


def _median(trials: pd.DataFrame, metric: Metric) -> Cell:
    if metric.column not in trials.columns or trials[metric.column].isna().all():
        return Cell("-")
    return fmt(metric.shown(float(trials[metric.column].median())))


#: The comparison table's columns after its link (which names A and B).
COMPARISON_HEADERS = ["sides", "gate", "what differs", "the gate's line"]


def comparison_cells(compared: Compared | None, why: str = "") -> list:
    """A comparison page's verdict for the index: its gate outcome and line, and what its rows claim (or, where
    there was nothing to compare, why)."""
    if compared is None:
        return ["-", "not compared", "-", why or "-"]
    c = compared.pairs[0][1]
    return [c.relation, f"**{c.outcome}**" if c.outcome else "not gated", claim_counts(c), c.line() or "-"]
