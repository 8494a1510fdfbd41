"""The one loader: run ids -> records -> one tidy, flat DataFrame, each split counted once.

``bench.load``, the report, ``bench compare``, ``bench scale`` and the
exports all read runs through here. Columns come from the record schema
(:mod:`bench.schema`): identity and provenance fields as they are, every
registered metric as a flat column (``latency_p50_us``, ``tput_32``), nested
fields as JSON text, timestamps as datetimes.

Several runs can hold the same trial (``bench report R R``, or a run and its
copy): a record is counted once per (dataset, adapter with its parameters,
device, machine, split seed, init seed). Two records of one trial that disagree
on the split's identity (test rows, sizes, dataset: :data:`bench.analysis.pairing.IDENTITY`)
are an error naming both runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.analysis.pairing import IDENTITY, identity_conflict
from bench.errors import UserError
from bench.record import FIELDS, METRICS, NESTED_FIELDS, RAW_FIELDS, metric_values
from bench.store.runstore import load_config, load_environment, read_records, resolve_run, run_dirs

ID_COLUMNS = ["run_id", "trial_id", "dataset", "adapter", "device", "split_seed", "init_seed", "status"]
#: What makes two records the same trial: its id (dataset, adapter with parameters, device,
#: split and init seed, pinned host) and the device column, which names the machine when
#: the records come from several.
SPLIT_KEY = ["trial_id", "device"]
_SCALAR_FIELDS = [f.name for f in FIELDS if f.kind != "raw" and f.name not in NESTED_FIELDS]
TIMESTAMPS = ("started_at", "finished_at")


class DuplicateSplitError(UserError):
    """Two records claim the same split but were made on different test rows."""


@dataclass
class Loaded:
    """Runs read from the store: the tidy frame, the raw records behind it, where they came from."""

    frame: pd.DataFrame
    records: list[dict]
    paths: list[Path]
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)


def flat_row(record: dict) -> dict:
    """One record as a flat row: scalars as they are, metrics flattened, nested fields as JSON."""
    row = {name: record.get(name) for name in _SCALAR_FIELDS if name in record}
    for column, _, value in metric_values(record):
        row[column] = value
    for name in NESTED_FIELDS:
        if name in record and name not in RAW_FIELDS and name not in ("latency", "stock_latency", "throughput_sps"):
            row[name] = json.dumps(record[name], sort_keys=True)
    for name in IDENTITY:  # the split's identity, for pairing: kept even before the schema declares a field
        if name in record and name not in row:
            row[name] = record[name]
    row["n_warnings"] = len(record.get("warnings") or [])
    if "pinned_host" in record and not record.get("host"):
        row["host"] = record["pinned_host"]  # version-1 spelling
    return row


def tidy(records: list[dict]) -> pd.DataFrame:
    """Records as one flat frame (see the module docstring)."""
    df = pd.DataFrame([flat_row(r) for r in records])
    # Older or partial records: absent columns are NaN, so a report shows gaps instead of failing.
    metric_columns = [m.column for m in METRICS if "{key}" not in m.column]
    for col in ID_COLUMNS + ["reason", "hostname", "framework", "backend", "host"] + metric_columns:
        if col not in df.columns:
            df[col] = math.nan
    for col in metric_columns:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["reason"] = df["reason"].astype(object).where(df["reason"].notna(), "")
    # Runs spread over several machines (Dask): tell them apart wherever devices are.
    machine = df["host"].where(df["host"].notna(), df["hostname"])
    df["machine"] = machine
    if machine.dropna().nunique() > 1:
        df["device"] = df["device"].astype(str) + "@" + machine.fillna("?").astype(str)
    for col in TIMESTAMPS:
        if col in df.columns:
            df[col] = pd.to_datetime(df[col], unit="s", utc=True)
    df["status"] = df["status"].fillna("unknown")
    return df


def throughput_columns(df: pd.DataFrame) -> list[str]:
    return sorted((c for c in df.columns if c.startswith("tput_")), key=lambda c: int(c.split("_")[1]))


def dedupe(df: pd.DataFrame, records: list[dict]) -> tuple[pd.DataFrame, list[dict], int]:
    """Keep the first record of each trial; error on a trial claimed with another split (rows, sizes, dataset)."""
    if df.empty:
        return df, records, 0
    present = [c for c in IDENTITY if c in df.columns]
    seen: dict[tuple, tuple[dict, str]] = {}
    keep = []
    for i, key in enumerate(map(tuple, df[SPLIT_KEY].astype(str).to_numpy().tolist())):
        ident = {c: df[c].iloc[i] for c in present}
        run = str(df["run_id"].iloc[i])
        if key in seen:
            first, first_run = seen[key]
            conflict = identity_conflict(first, ident)
            if conflict is not None:
                raise DuplicateSplitError(
                    f"Runs {first_run!r} and {run!r} both hold {'/'.join(key)} but on different test rows "
                    f"({conflict}: another dataset version or split setting); report them separately."
                )
            keep.append(False)
            continue
        seen[key] = (ident, run)
        keep.append(True)
    mask = pd.Series(keep, index=df.index)
    kept_records = [r for r, k in zip(records, keep) if k]
    return df[mask].reset_index(drop=True), kept_records, int((~mask).sum())


def load_runs(runs: list[str], results_dir: str | Path, kind: str | None = "matrix") -> Loaded:
    """Records of the named runs (default: the latest of ``kind``), tidy and deduplicated."""
    if runs:
        paths = []
        for run in runs:
            path = resolve_run(run, results_dir)
            if path not in paths:
                paths.append(path)
    else:
        found = run_dirs(results_dir, kind=kind)
        if not found:
            raise UserError(f"No runs under {Path(results_dir) / 'runs'}. Run `bench run` first.")
        paths = [found[-1]]
    records: list[dict] = []
    for path in paths:
        load_environment(path), load_config(path)  # damaged run files: one line now, before any output
        for record in read_records(path / "records.jsonl"):
            record.setdefault("run_id", path.name)
            records.append(record)
    if not records:
        raise UserError(f"No records in {', '.join(str(p) for p in paths)}.")
    frame, records, dropped = dedupe(tidy(records), records)
    notes = []
    if dropped or len(paths) < len(runs):
        repeated = len(runs) - len(paths)
        notes.append(
            f"{dropped} duplicate record(s) (the same split in several runs"
            + (f"; {repeated} run(s) named twice" if repeated else "")
            + ") were counted once."
        )
    return Loaded(frame, records, paths, dropped, notes)


def load(*runs: str, results_dir: str | Path = "results", raw: bool = False) -> pd.DataFrame:
    """Stored records as a pandas DataFrame: flat and tidy (default), or nested as stored.

    Parameters
    ----------
    *runs : str
        Run ids or run folders; none means every run under ``results_dir``.
    results_dir : str or Path, default="results"
    raw : bool, default=False
        True: one row per record with its nested fields (latency dicts, raw
        call durations) as stored, timestamps as Unix seconds.

    Returns
    -------
    pandas.DataFrame
        Flat: one row per trial, counted once across runs; every metric a
        column (``latency_p50_us``, ``tput_32``, ``fit_wall_s``), units in
        :data:`bench.schema.METRICS`, ``started_at``/``finished_at`` as datetimes.

    Raises
    ------
    bench.UserError
        A missing run, a damaged store file (naming the file and line).
    """
    names = list(runs) or [p.name for p in run_dirs(results_dir)]
    if not names:
        raise UserError(f"No runs under {Path(results_dir) / 'runs'}.")
    loaded = load_runs(names, results_dir, kind=None)
    return pd.DataFrame(loaded.records) if raw else loaded.frame
