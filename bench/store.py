"""The results store: one folder per run, one JSON line per finished trial.

Layout::

    results/runs/<run-id>/
        config.json        the resolved configuration (a rerun must match it)
        environment.json   fingerprint of the machine that started the run
        records.jsonl      one trial record per line, appended and fsynced at once
        logs/              each worker group's stderr

Crash safety: a record is written as one line and flushed to disk before the
next trial starts, so a killed run (even ``kill -9``) loses at most the trial
in flight. A torn last line (killed mid-write) is set aside into
``records.jsonl.torn`` when the run resumes; nothing else is rewritten.
Rerunning a run id skips trials that already have a record.

Record schema history (``schema_version`` in every line):

1. First version (this one).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

SCHEMA_VERSION = 1
RECORDS = "records.jsonl"
DONE_STATUSES = ("ok", "skipped", "error", "timeout")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value):
    """NaN/inf are not JSON: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def dumps(record: dict) -> str:
    return json.dumps(_clean(record), default=_json_default, sort_keys=True, allow_nan=False)


@dataclass
class RunStore:
    """One run's folder."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS

    @classmethod
    def open(
        cls, results_dir: str | Path, run_id: str, config: dict, environment: dict, kind: str = "matrix"
    ) -> RunStore:
        """Create the run folder, or reopen it to resume.

        Raises
        ------
        UserError
            If the folder is not writable, or the run exists with another config.
        """
        path = Path(results_dir) / "runs" / run_id
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "logs").mkdir(exist_ok=True)
            probe = path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as err:
            raise UserError(f"Cannot write results to {path}: {err.strerror}.") from None
        store = cls(path)
        config = json.loads(dumps(config))  # as stored: NaN-free, JSON types
        kind_path = path / "run.json"
        if not kind_path.exists():
            _write_atomic(kind_path, json.dumps({"kind": kind}))
        config_path = path / "config.json"
        if config_path.exists():
            stored = json.loads(config_path.read_text())
            if stored != json.loads(dumps(config)):
                changed = sorted(
                    k for k in set(stored) | set(config) if stored.get(k) != json.loads(dumps(config)).get(k)
                )
                raise UserError(
                    f"Run {run_id!r} exists with a different config (differs in: {', '.join(changed)}). "
                    "Use another --run-id, or the same settings to resume it."
                )
        else:
            _write_atomic(config_path, json.dumps(config, indent=2, sort_keys=True))
        env_path = path / "environment.json"
        if not env_path.exists():
            _write_atomic(env_path, json.dumps(json.loads(dumps(environment)), indent=2, sort_keys=True))
        else:
            machines = path / "environments.jsonl"  # resumed elsewhere: keep every machine's fingerprint
            stored_env = json.loads(env_path.read_text())
            if stored_env.get("machine_id") != environment.get("machine_id"):
                with machines.open("a") as fh:
                    fh.write(dumps(environment) + "\n")
        store.repair_torn_tail()
        return store

    def repair_torn_tail(self) -> None:
        """Set aside a partial last line (a write cut by a kill) so appends stay valid."""
        path = self.records_path
        if not path.exists() or path.stat().st_size == 0:
            return
        data = path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        with (self.path / (RECORDS + ".torn")).open("ab") as fh:
            fh.write(data[cut:] + b"\n")
        with path.open("r+b") as fh:
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, record: dict) -> None:
        """Append one record as one line, flushed and fsynced before returning."""
        line = dumps({"schema_version": SCHEMA_VERSION, "run_id": self.run_id, **record}) + "\n"
        with self.records_path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def add_environment(self, environment: dict) -> None:
        """Keep one fingerprint per machine that ran trials (``environments/<machine_id>.json``)."""
        folder = self.path / "environments"
        folder.mkdir(exist_ok=True)
        path = folder / f"{environment.get('machine_id', 'unknown')}.json"
        if not path.exists():
            _write_atomic(path, json.dumps(json.loads(dumps(environment)), indent=2, sort_keys=True))

    def finished_ids(self) -> set[str]:
        """Trial ids that already have a record (any final status)."""
        return {r["trial_id"] for r in read_records(self.records_path) if r.get("status") in DONE_STATUSES}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)


def read_records(path: Path) -> list[dict]:
    """Records of one file, the latest per trial id.

    A torn last line is skipped with a warning; a bad line elsewhere is a
    :class:`UserError` naming the file and line.
    """
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    torn_tail = lines[-1] != ""
    by_id: dict[str, dict] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines) and torn_tail:
                warnings.warn(f"{path}:{number}: ignoring a partial last line (a run killed mid-write)", stacklevel=2)
                continue
            raise UserError(f"{path}:{number}: not a valid record ({err.msg}).") from None
        if not isinstance(record, dict) or "trial_id" not in record:
            raise UserError(f"{path}:{number}: not a trial record (no 'trial_id').")
        version = record.get("schema_version")
        if version is None or version > SCHEMA_VERSION:
            raise UserError(
                f"{path}:{number}: schema_version {version!r} is not one this version of bench reads (1..{SCHEMA_VERSION})."
            )
        by_id[record["trial_id"]] = record
    return list(by_id.values())


def run_kind(path: Path) -> str:
    """``matrix`` (bench run) or ``scale`` (bench scale)."""
    try:
        return json.loads((path / "run.json").read_text()).get("kind", "matrix")
    except (OSError, json.JSONDecodeError):
        return "matrix"


def run_dirs(results_dir: str | Path, kind: str | None = None) -> list[Path]:
    """Run folders (of one kind, if given), oldest first (by creation of their config)."""
    root = Path(results_dir) / "runs"
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / "config.json").exists() and (kind is None or run_kind(p) == kind)]
    return sorted(runs, key=lambda p: ((p / "config.json").stat().st_mtime, p.name))


def resolve_run(run: str, results_dir: str | Path) -> Path:
    """A run id or path to its folder; UserError if there is none."""
    for candidate in (Path(run), Path(results_dir) / "runs" / run):
        if (candidate / "config.json").exists() or (candidate / RECORDS).exists():
            return candidate
    known = ", ".join(p.name for p in run_dirs(results_dir)) or "none"
    raise UserError(f"No run {run!r} under {Path(results_dir) / 'runs'}. Runs: {known}.")


def load_records(runs: list[str], results_dir: str | Path = "results"):
    """Records of the given runs (default: all) as one tidy pandas DataFrame."""
    import pandas as pd

    paths = [resolve_run(r, results_dir) for r in runs] if runs else run_dirs(results_dir)
    rows = []
    for path in paths:
        rows.extend(read_records(path / RECORDS))
    return pd.DataFrame(rows)


def load_environment(run_path: Path) -> dict:
    path = run_path / "environment.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err.msg}).") from None
