"""The one loader: run ids -> records -> one tidy, flat DataFrame.

``hello_bench.load``, the report, ``bench compare``, ``bench scale`` and the
exports all read runs through here, and here through the one run-folder
reader (:class:`hello_bench.store.reader.RunFolder`). Columns come from the record
schema (:mod:`hello_bench.record`): identity and provenance fields as they are,
every registered metric as a flat column (``latency_p50_us``, ``tput_32``),
nested fields as JSON text, timestamps as datetimes.

**Every run's rows are kept**, with a ``run_id`` column: ``hello_bench.load`` and
the exports never drop a row. Counting each split once is the statistics'
business: :func:`load_runs` with ``dedupe=True`` (the report, compare) keeps
one record per split and says how many it dropped; two records that claim
the same split on different test rows are an error naming both runs.

The read side scales: each run's flat frame is cached as Parquet outside the
repository (``$XDG_CACHE_HOME/hello-bench/frames``, keyed by a hash of the
records file's content and the registry), built once and reused, and range-checked on every read like the
records it came from (:func:`impossible_values`: a value out of range is never served from it); nested records
(curves, serving paths) are decoded only when a section asks for them, and
raw per-call durations only through :meth:`Loaded.raw`.
Two records of one trial that disagree on the split's identity (test rows,
sizes, dataset: :data:`hello_bench.analysis.pairing.IDENTITY`) are an error
naming both runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from hello_bench.analysis import breakdown
from hello_bench.analysis.pairing import IDENTITY, identity_conflict
from hello_bench.errors import UserError
from hello_bench.record import (
    METRICS,
    NESTED_FIELDS,
    RAW_FIELDS,
    SCALAR_FIELDS,
    SCHEMA_VERSION,
    as_dict,
    carrying_fields,
    metric_values,
    metrics,
)
from hello_bench.store.reader import RunFolder, iter_records, read_fields, run_dirs
from hello_bench.store.safefs import write_file

#: The split's and the data's shape: numbers every reader may ask for, present even when no record holds them.
SHAPE = ("n_train", "n_test", "n_features", "n_classes")
ID_COLUMNS = ["run_id", "trial_id", "dataset", "adapter", "device", "split_seed", "init_seed", "status"]
#: What makes two records the same trial: its id (dataset, adapter with parameters, device,
#: split and init seed, environment, pinned host), the device column, which names the
#: machine when the records come from several, and the dataset label, which names the
#: content when one name held several (:func:`by_content`).
SPLIT_KEY = ["trial_id", "device", "dataset"]
TIMESTAMPS = ("started_at", "finished_at")
#: The flat frame's layout version: change it when flat_row changes, so cached frames are rebuilt.
FRAME_VERSION = 3
#: Nested fields the flat frame keeps as JSON text (the metrics inside the others are flattened).
#: Nested fields that are large (per-epoch curves, serving paths): kept out of the frame, read by
#: :meth:`Loaded.fields` for the sections that need them (and added back by the Parquet export).
LARGE_FIELDS = ("curve", "serving")
_JSON_FIELDS = tuple(n for n in NESTED_FIELDS if n not in (*carrying_fields(), "metrics", *LARGE_FIELDS))
#: Rows decoded before they are turned into a frame chunk (bounds the memory of a first read).
CHUNK = 5000


class DuplicateSplitError(UserError):
    """Two records claim the same split but were made on different test rows."""


def flat_row(record: dict) -> dict:
    """One record as a flat row: scalars as they are, metrics flattened, nested fields as JSON."""
    row = {name: record[name] for name in SCALAR_FIELDS if name in record}
    for column, _, value in metric_values(record):
        row[column] = value
    for name in _JSON_FIELDS:
        if name in record and name not in RAW_FIELDS:
            row[name] = json.dumps(record[name], sort_keys=True)
    row["n_warnings"] = len(record.get("warnings") or [])
    return row


def flat_frame(records: list[dict]) -> pd.DataFrame:
    """Records as flat rows, the registry's numeric columns as numbers (cacheable per run)."""
    return _typed(pd.DataFrame([flat_row(r) for r in records]))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    metric_columns = [m.column for m in metrics() if not m.keyed]
    for col in ID_COLUMNS + ["reason", "hostname", "framework", "backend", "host", *SHAPE, *metric_columns]:
        if col not in df.columns:
            df[col] = math.nan
    for col in [*SHAPE, *metric_columns, *keyed_columns(df)]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def tidy(records: list[dict]) -> pd.DataFrame:
    """Records as one flat frame (see the module docstring)."""
    return finish(flat_frame(records))


#: What adapters declare as data, filled in for records stored before the fields existed.
DECLARED = ("stock_profile", "colour")


def declared_fields(df: pd.DataFrame) -> pd.DataFrame:
    """``stock_profile`` and ``colour`` from the adapter class where older records lack them (never guessed)."""
    from hello_bench.adapters import adapter_class

    missing = [c for c in DECLARED if c not in df.columns or df[c].isna().any()]
    if not missing or "adapter_name" not in df.columns:
        return df
    for col in DECLARED:
        if col not in df.columns:
            df[col] = None
    for (name, backend), rows in df.groupby(["adapter_name", "backend"], dropna=False).groups.items():
        try:
            cls = adapter_class(str(name))
        except Exception:  # an adapter this process cannot load: its fields stay unknown
            continue
        declared = {"stock_profile": cls.stock_profile, "colour": cls.colour_for(str(backend))}
        for col, value in declared.items():
            df.loc[rows, col] = df.loc[rows, col].where(df.loc[rows, col].notna(), value)
    return df


def by_content(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """A dataset is its content, not its name: a label that names two contents in these frames becomes two.

    Records carry ``dataset_sha``. Where one ``dataset`` label goes with more
    than one hash (a user's ``data.csv`` edited between runs, two files of one
    name), each content gets its own label, ``name #<hash>``, so no table,
    pairing or comparison ever puts them together. Records without a hash
    (older runs) keep the plain name.
    """
    hashes: dict[str, set[str]] = {}
    for frame in frames:
        if "dataset_sha" in frame.columns:
            for name, sha in frame[["dataset", "dataset_sha"]].dropna().itertuples(index=False):
                hashes.setdefault(str(name), set()).add(str(sha))
    clashing = {name for name, found in hashes.items() if len(found) > 1}
    if not clashing:
        return frames
    out = []
    for frame in frames:
        frame = frame.copy()
        if "dataset_sha" in frame.columns:
            rows = frame["dataset"].isin(clashing) & frame["dataset_sha"].notna()
            frame.loc[rows, "dataset"] = (
                frame.loc[rows, "dataset"].astype(str) + " #" + frame.loc[rows, "dataset_sha"].astype(str).str[:8]
            )
        out.append(frame)
    return out


def finish(df: pd.DataFrame) -> pd.DataFrame:
    """The combined frame of one or more runs: datasets by content, reasons, machines, timestamps, statuses, declared fields."""
    df = declared_fields(by_content([df.reset_index(drop=True)])[0])
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


def keyed_columns(df: pd.DataFrame) -> list[str]:
    """Every column of a keyed metric (throughput per batch size), per metric in key order."""
    return [c for m in metrics() if m.keyed for c in m.expand(df.columns)]


# -- the per-run cache ----------------------------------------------------------------------
def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hello-bench" / "frames"


def _cache_key(folder: RunFolder) -> str:
    """The cache's name for the run's frame: a hash of the records' *content* (an edit that keeps the file's size
    and time is still a new frame), the schema, the frame's layout and the registry."""
    registry = ",".join(m.column for m in metrics())
    ident = f"{folder.content_hash()}|{SCHEMA_VERSION}|{FRAME_VERSION}|{registry}"
    return hashlib.sha1(ident.encode()).hexdigest()[:24]


def run_frame(folder: RunFolder) -> pd.DataFrame:
    """One run's flat frame, from the Parquet cache when the records have not changed since it was built."""
    path = cache_dir() / f"{_cache_key(folder)}.parquet"
    if path.is_file() and not path.is_symlink():
        try:
            cached = pd.read_parquet(path)
        except Exception:  # a damaged cache is rebuilt, never trusted
            cached = None
        # Every read checks every metric's valid range, the cached one too (in one vectorised pass): a value out
        # of range sends the read back to the records, whose line-by-line check names the damaged line, or, when
        # the records are sound, rebuilds the cache (it was the cache that was damaged).
        if cached is not None and not impossible_values(cached):
            folder.torn_tail()  # what reading the lines would have said
            return cached
    frame = _stream_frame(folder)
    try:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, buffer.getvalue())
    except Exception:  # no cache (read-only home, mixed types pyarrow refuses): read the records next time
        pass
    return frame


def impossible_values(frame: pd.DataFrame) -> bool:
    """Whether any registered metric's column holds a value outside its valid range (NaN: no value, valid)."""
    for m in metrics():
        low, high = m.valid or (-math.inf, math.inf)
        for column in m.expand(frame.columns):
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            if bool(((values < low) | (values > high)).any()):
                return True
    return False


def _stream_frame(folder: RunFolder) -> pd.DataFrame:
    """The run's flat frame from its records, decoded and validated line by line, in chunks (memory stays
    bounded for 100,000 trials); the last line of a trial wins; ``record_line`` says which line a row is."""
    chunks, rows = [], []
    for line, record in iter_records(folder.records_path):
        rows.append({**flat_row(as_dict(record)), "record_line": line, "run_id": record.run_id or folder.run_id})
        if len(rows) >= CHUNK:
            chunks.append(pd.DataFrame(rows))
            rows = []
    if rows or not chunks:
        chunks.append(pd.DataFrame(rows))
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if "trial_id" in frame.columns:
        frame = frame.drop_duplicates("trial_id", keep="last").reset_index(drop=True)
    return _typed(frame)


# -- loading ----------------------------------------------------------------------------------
@dataclass
class Loaded:
    """Runs read from the store: the tidy frame, where it came from, and the nested records on demand."""

    frame: pd.DataFrame
    folders: list[RunFolder]
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    #: The environment each run was restricted to (``RUN%NAME``), by run id; absent: the whole run.
    selected: dict[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.folders]

    @property
    def names(self) -> list[str]:
        """The runs as they were named: ``RUN``, or ``RUN%NAME`` for one environment of it."""
        return [
            f"{f.run_id}%{self.selected[f.run_id]}" if f.run_id in self.selected else f.run_id for f in self.folders
        ]

    def file_stem(self) -> str:
        """A file or folder name for these runs (``d1=a`` for ``d1%a``: never the same as the whole run's)."""
        return "+".join(n.replace("%", "=") for n in self.names)

    @cached_property
    def records(self) -> list[dict]:
        """The records behind :attr:`frame` (nested fields as stored, no raw durations), in frame order.

        Every field of every record in memory: for small runs (the README's blocks, exports to MLflow).
        Reports read the few nested fields they need with :meth:`fields`.
        """
        by_key = {(r["run_id"], r["trial_id"]): r for folder in self.folders for r in folder.records()}
        keys = zip(self.frame["run_id"].astype(str), self.frame["trial_id"].astype(str))
        return [by_key[k] for k in keys if k in by_key]

    def views(self, names: tuple[str, ...], rows: pd.DataFrame | None = None) -> Iterator[dict]:
        """Some fields of the records behind ``rows`` (default: the whole frame), streamed from the records files
        in file order, only these fields decoded; ``device`` and ``machine`` as the frame has them (runs on
        several machines); learning curves as float arrays. For the report's sections that read nested fields."""
        rows = self.frame if rows is None else rows
        if "record_line" not in rows.columns:  # a frame cached before lines were kept: whole records
            by_id = {(r["run_id"], r["trial_id"]): r for r in self.records}
            for key in zip(rows["run_id"], rows["trial_id"]):
                yield _arrays({n: by_id[key][n] for n in ("run_id", "trial_id", *names) if n in by_id[key]})
            return
        wanted = tuple(dict.fromkeys(("trial_id", "status", *names)))
        for folder in self.folders:
            mine = rows[rows["run_id"] == folder.run_id]
            if mine.empty:  # none of this run's lines wanted: its file is not read
                continue
            where = dict(zip(mine["record_line"].astype(int), zip(mine["device"], mine["machine"])))
            for line, data in read_fields(folder.records_path, set(where), wanted):
                data["device"], data["machine"] = where[line]
                data["run_id"] = folder.run_id
                yield _arrays(data)

    def raw(self, rows: pd.DataFrame | None = None) -> dict[tuple[str, str], dict]:
        """Raw per-call durations by (run id, trial id), for ``rows`` (default: the whole frame)."""
        rows = self.frame if rows is None else rows
        wanted = set(zip(rows["run_id"].astype(str), rows["trial_id"].astype(str)))
        out = {}
        for folder in self.folders:
            ids = {t for r, t in wanted if r == folder.run_id}
            for trial_id, arrays in folder.raw(ids).items():
                out[(folder.run_id, trial_id)] = arrays
        return out


def _arrays(data: dict) -> dict:
    """Per-epoch curves as float arrays (a list of Python floats per epoch would not fit 100,000 trials)."""
    curve = data.get("curve")
    if isinstance(curve, dict):
        data["curve"] = {
            k: np.asarray([math.nan if v is None else v for v in vs], dtype=np.float64) for k, vs in curve.items()
        }
    return data


def dedupe(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep the first record of each trial; error on a trial claimed with another split (rows, sizes, dataset)."""
    if df.empty:
        return df, 0
    keys = df[SPLIT_KEY].astype(str)
    repeated = keys.duplicated(keep=False)
    if repeated.any():
        _check_duplicates(df[repeated.to_numpy()], keys[repeated])
    keep = ~keys.duplicated(keep="first")
    return df[keep.to_numpy()].reset_index(drop=True), int((~keep).sum())


def _check_duplicates(dups: pd.DataFrame, keys: pd.DataFrame) -> None:
    """The records of one trial held by several runs must be of one split: otherwise an error naming both runs."""
    present = [c for c in IDENTITY if c in dups.columns]
    seen: dict[tuple, tuple[dict, str]] = {}
    for i, key in enumerate(map(tuple, keys.to_numpy().tolist())):  # duplicates only: few
        ident = {c: dups[c].iloc[i] for c in present}
        run = str(dups["run_id"].iloc[i])
        if key in seen:
            first, first_run = seen[key]
            conflict = identity_conflict(first, ident)
            if conflict is not None:
                raise DuplicateSplitError(
                    f"Runs {first_run!r} and {run!r} both hold {'/'.join(key)} but on different test rows "
                    f"({conflict}: another dataset version or split setting); report them separately."
                )
        else:
            seen[key] = (ident, run)


def split_ref(ref: str) -> tuple[str, str | None]:
    """``RUN%NAME`` -> (RUN, NAME): one environment of a run (``bench run --env``); plain ``RUN`` -> (RUN, None)."""
    run, sep, environment = ref.partition("%")
    if sep and not environment:
        raise UserError(f"{ref!r}: name the environment after '%' (RUN%NAME).")
    return run, (environment or None)


def select_environment(frame: pd.DataFrame, folder: RunFolder, environment: str | None) -> pd.DataFrame:
    """The rows of one environment of a run (all rows when none is named)."""
    if environment is None:
        return frame
    names = sorted(map(str, frame["environment"].dropna().unique())) if "environment" in frame.columns else []
    if environment not in names:
        raise UserError(
            f"Run {folder.run_id!r} has no environment {environment!r}. Its environments: {', '.join(names) or 'none'}."
        )
    return frame[frame["environment"] == environment]


def resolve_folders(runs: list[str], results_dir: str | Path, kind: str | None = "matrix") -> list[RunFolder]:
    """The named runs (each once; ``RUN%NAME`` names the run), or the latest of ``kind``; damaged files: one line now."""
    if runs:
        folders: list[RunFolder] = []
        for run in runs:
            folder = RunFolder.resolve(split_ref(run)[0], results_dir)
            if folder.path not in [f.path for f in folders]:
                folders.append(folder)
    else:
        found = run_dirs(results_dir, kind=kind)
        if not found:
            raise UserError(f"No runs under {Path(results_dir) / 'runs'}. Run `bench run` first.")
        folders = [RunFolder(found[-1])]
    for folder in folders:
        folder.check()
    return folders


def by_environment(frame: pd.DataFrame) -> pd.DataFrame:
    """A run read whole that holds several environments (a duet): each adapter's rows labelled by their
    environment (``sklearn-lr%a``), so no table, interval or pairing ever mixes two versions."""
    if "environment" not in frame.columns or frame["environment"].dropna().nunique() < 2:
        return frame
    env = frame["environment"]
    labelled = frame["adapter"].astype(str) + "%" + env.astype(str)
    return frame.assign(adapter=labelled.where(env.notna(), frame["adapter"]))


def _environments_wanted(runs: list[str], folders: list[RunFolder]) -> dict[str, str | None]:
    """The environment each named run is restricted to (a run named with two environments keeps both)."""
    wanted: dict[str, set[str | None]] = {}
    for ref in runs:
        run, environment = split_ref(ref)
        wanted.setdefault(Path(run).name, set()).add(environment)
    return {name: next(iter(envs)) for name, envs in wanted.items() if len(envs) == 1}


def load_runs(
    runs: list[str], results_dir: str | Path, kind: str | None = "matrix", dedupe_splits: bool = True,
    split_environments: bool = True, skip_empty: bool = False,
) -> Loaded:  # fmt: skip
    """Records of the named runs (default: the latest of ``kind``) as one tidy frame.

    ``dedupe_splits`` (the statistics' view): each split once, with a note of
    how many duplicates were dropped. Without it every run's rows are kept.
    ``split_environments``: a run read whole that holds several environments has
    its adapters labelled by environment (:func:`by_environment`).
    ``skip_empty``: a run without records is left out (for callers that list the runs themselves); by default a
    run the user named that holds no records is refused by name, as one named alone is.
    """
    folders = resolve_folders(runs, results_dir, kind)
    wanted = _environments_wanted(runs, folders)
    frames = [select_environment(run_frame(f).assign(run_id=f.run_id), f, wanted.get(f.run_id)) for f in folders]
    if split_environments:  # history keeps the adapters' labels: its points are the environments
        frames = [by_environment(f) for f in frames]
    empty = [folder for folder, f in zip(folders, frames) if f.empty]
    if skip_empty and len(empty) < len(folders):  # left out: never counted as a run read
        folders = [folder for folder, f in zip(folders, frames) if not f.empty]
    frames = [f for f in frames if not f.empty]
    if not frames or (empty and not skip_empty):
        raise UserError(f"No records in {', '.join(str(f.path) for f in empty)}"
                        + (": leave it out (nothing to read from it)." if frames else "."))  # fmt: skip
    frame = finish(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
    notes, dropped = [], 0
    if dedupe_splits:
        frame, dropped = dedupe(frame)
        repeated = max(0, len(runs) - len(folders)) if runs else 0  # none named: the latest run, named by nobody
        if dropped or repeated:
            notes.append(
                f"{dropped} duplicate record(s) (the same split in several runs"
                + (f"; {repeated} run(s) named twice" if repeated else "")
                + ") were counted once."
            )
    selected = {run: env for run, env in wanted.items() if env is not None}
    # Where the time goes (floor, dispatch, rest): derived columns every reader and export sees.
    frame = breakdown.with_parts(frame)
    return Loaded(frame, folders, dropped, notes, selected)


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
        One row per record of every named run, with its ``run_id`` (a split
        stored in two runs appears twice: counting it once is for statistics);
        every metric a column (``latency_p50_us``, ``tput_32``, ``fit_wall_s``),
        units in :func:`hello_bench.record.metrics`, ``started_at``/``finished_at``
        as datetimes.

    Raises
    ------
    hello_bench.UserError
        A missing run, a damaged store file (naming the file and line).
    """
    names = list(runs) or [p.name for p in run_dirs(results_dir)]
    if not names:
        raise UserError(f"No runs under {Path(results_dir) / 'runs'}.")
    loaded = load_runs(names, results_dir, kind=None, dedupe_splits=False, skip_empty=not runs)
    if not raw:
        return loaded.frame
    arrays = loaded.raw()
    return pd.DataFrame([{**r, **arrays.get((r["run_id"], r["trial_id"]), {})} for r in loaded.records])


__all__ = ["METRICS", "DuplicateSplitError", "Loaded", "load", "load_runs", "tidy"]
