"""The data behind the report's figures, prepared from the tidy frame and the records: shared by the PNGs
(:mod:`hello_bench.report.figures`) and the interactive specs (:mod:`hello_bench.report.interactive`), which import it and
never each other."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from hello_bench.analysis.load import keyed_columns
from hello_bench.metrics import RATE
from hello_bench.record import metrics, role
from hello_bench.report.timing import whole_test_sizes


def short_labels(ok: pd.DataFrame) -> dict[str, str]:
    """'adapter / device' -> the label figures show: parameter overrides dropped where the labels stay unique
    (the tables carry them), the device dropped when there is only one. Quick runs' labels such as
    ``torch-mlp:seed(batch_size=16,epochs=30,learning_rate=0.01) / cpu`` took most of a figure's area."""
    pairs = ok[["adapter", "device"]].drop_duplicates().astype(str)
    stripped = {a: re.sub(r"\([^)]*\)", "", a) for a in pairs["adapter"]}
    unique = len(set(stripped.values())) == len(stripped)
    one_device = pairs["device"].nunique() == 1
    out = {}
    for adapter, device in pairs.itertuples(index=False):
        name = stripped[adapter] if unique else adapter
        out[f"{adapter} / {device}"] = name if one_device else f"{name} / {device}"
    return out


def relabel(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    return frame.assign(model=frame["model"].map(lambda m: labels.get(m, m))) if not frame.empty else frame


#: Trials per adapter and device whose every call is drawn in the latency figure (spread over the splits).
LATENCY_TRIALS = 12


def sample_trials(ok: pd.DataFrame, per_group: int = LATENCY_TRIALS) -> pd.DataFrame:
    """Up to ``per_group`` trials per adapter and device, evenly spread over their splits (deterministic)."""
    picked = []
    for _, g in ok.sort_values(["split_seed", "trial_id"]).groupby(["adapter", "device"], sort=True):
        step = max(1, -(-len(g) // per_group))
        picked.append(g.iloc[::step])
    return pd.concat(picked) if picked else ok.iloc[:0]


def latency_long(trials: pd.DataFrame, raw: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """Every single-sample call's duration of the given trials (the raw durations kept apart from the records)."""
    rows = []
    for run_id, trial_id, adapter, device in trials[["run_id", "trial_id", "adapter", "device"]].itertuples(
        index=False
    ):
        arrays = raw.get((str(run_id), str(trial_id)), {})
        for col, path in (("latency_raw_ns", "adapter path"), ("stock_latency_raw_ns", "stock API")):
            raw_ns = arrays.get(col)
            if isinstance(raw_ns, list) and raw_ns:
                rows.append(pd.DataFrame({"model": f"{adapter} / {device}", "path": path,
                                          "latency_us": np.asarray(raw_ns, dtype=np.float64) / 1e3}))  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def throughput_long(ok: pd.DataFrame) -> pd.DataFrame:
    """Median samples/s per model, dataset and batch size (a size above the test set is measured at the whole set)."""
    cols = keyed_columns(ok)
    if not cols:
        return pd.DataFrame()
    long = ok.melt(id_vars=["model", "dataset"], value_vars=cols, var_name="batch", value_name="samples_per_s").dropna()
    rate = next(m for m in metrics() if m.keyed and m.kind == RATE)
    long["batch size"] = long["batch"].map(lambda c: int(rate.key_of(c) or 0))
    long = long.groupby(["model", "dataset", "batch size"], as_index=False)["samples_per_s"].median()
    long["whole"] = long["batch size"].isin(whole_test_sizes(ok))  # the whole test set at once
    return long


def fit_agg(ok: pd.DataFrame, accuracy: pd.DataFrame) -> pd.DataFrame:
    """Median fit time with its quartiles beside the accuracy interval, per model and dataset."""
    column = role("fit").column
    fits = ok.groupby(["model", "dataset", "adapter", "device"]).agg(
        fit=(column, "median"), fit_q1=(column, lambda s: s.quantile(0.25)), fit_q3=(column, lambda s: s.quantile(0.75))
    ).reset_index()  # fmt: skip
    acc = accuracy.rename(columns={"mean": "acc", "low": "acc_low", "high": "acc_high"})
    return fits.merge(acc, on=["dataset", "adapter", "device"])
