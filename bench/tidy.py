"""Turn stored records into one tidy DataFrame with flat, typed columns.

Tolerates records from older runs or with missing fields: absent columns are
NaN, so a report shows gaps instead of failing.
"""

from __future__ import annotations

import math

import pandas as pd

ID_COLUMNS = ["run_id", "trial_id", "dataset", "adapter", "device", "split_seed", "init_seed", "status"]
NUMERIC = [
    "accuracy", "f1_macro", "log_loss", "fit_wall_s", "fit_cpu_s", "first_epoch_s", "epoch_median_s",
    "cold_predict_s", "stock_cold_predict_s", "import_s", "rss_peak_mb", "rss_fit_delta_mb", "gpu_peak_mb",
    "n_train", "n_test", "n_features", "n_classes", "load_avg_1m",
]  # fmt: skip


def _get(d, key):
    return d.get(key, math.nan) if isinstance(d, dict) else math.nan


def tidy(records: pd.DataFrame) -> pd.DataFrame:
    """Flat columns: ``latency_p50_us``, ``stock_latency_p99_us``, ``tput_<batch>`` ..."""
    df = records.copy()
    for col in (
        ID_COLUMNS
        + NUMERIC
        + ["reason", "hostname", "framework", "backend", "latency", "stock_latency", "throughput_sps"]
    ):
        if col not in df.columns:
            df[col] = math.nan
    for col in NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for prefix in ("latency", "stock_latency"):
        for key in ("p50_us", "p90_us", "p99_us", "n", "mean_us"):
            df[f"{prefix}_{key}"] = df[prefix].map(lambda d, key=key: _get(d, key)).astype(float)
    sizes = sorted({int(b) for d in df["throughput_sps"] if isinstance(d, dict) for b in d})
    for b in sizes:
        df[f"tput_{b}"] = df["throughput_sps"].map(lambda d, b=b: _get(d, str(b))).astype(float)
    df["reason"] = df["reason"].astype(object).where(df["reason"].notna(), "")
    # Runs spread over several machines (Dask): tell them apart wherever devices are.
    machine = df["pinned_host"] if "pinned_host" in df.columns else pd.Series(math.nan, index=df.index)
    machine = machine.where(machine.notna(), df["hostname"])
    df["machine"] = machine
    if machine.dropna().nunique() > 1:
        df["device"] = df["device"].astype(str) + "@" + machine.fillna("?").astype(str)
    df["status"] = df["status"].fillna("unknown")
    return df


def throughput_columns(df: pd.DataFrame) -> list[str]:
    return sorted((c for c in df.columns if c.startswith("tput_")), key=lambda c: int(c.split("_")[1]))
