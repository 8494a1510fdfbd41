"""The results store: one folder per run, one JSON line per finished trial.

Layout::

    results/runs/<run-id>/
        config.json        the resolved configuration (a rerun must match it)
        environment.json   fingerprint of the machine that started the run
        run.json           what kind of run (matrix, seed, scale)
        records.jsonl      one trial record per line, appended and fsynced at once
        lock               held (flock) by the one process writing the run
        environments/      one fingerprint per machine that ran trials (Dask)
        logs/              each worker group's stderr

Crash safety: a record is written as one line and flushed to disk before the
next trial starts, so a killed run (even ``kill -9``) loses at most the trial
in flight. A torn last line (killed mid-write) is set aside into
``records.jsonl.torn`` when the run resumes; a complete last record that only
lacks its newline is kept. Rerunning a run id skips trials that already have
a record. One writer at a time: a second ``bench run`` of the same id exits at
once naming the holder; a lock left by a dead process is taken over.

Safety: run ids are names (see :mod:`bench.safefs`), nothing is written
through a symlink or outside the results directory, and a folder that is not
a bench run is never touched.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.record import READABLE_VERSIONS, SCHEMA_VERSION, STATUSES
from bench.store import safefs

RECORDS = "records.jsonl"
RUN_FILES = {
    "config.json",
    "environment.json",
    "run.json",
    "control.json",
    RECORDS,
    RECORDS + ".torn",
    "lock",
    "logs",
    "environments",
}


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value: Any) -> Any:
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


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``; a damaged file is one line naming it."""
    text = safefs.read_text(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}); the {what} is damaged.") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object; the {what} is damaged.")
    return data


def _is_run_folder(path: Path) -> bool:
    """A folder bench made (or an empty one): only bench's own files inside."""
    return all(child.name in RUN_FILES or child.name.startswith(".") for child in path.iterdir())


@dataclass
class RunStore:
    """One run's folder, opened for writing (holds the run's lock)."""

    path: Path
    root: Path = field(default_factory=Path)
    _lock_fd: int | None = None

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
        """Create the run folder, or reopen it to resume; take its lock.

        Raises
        ------
        UserError
            A bad run id; a folder that is not a bench run; the run exists with
            another config or kind; another process is writing it; the folder
            is not writable.
        """
        safefs.check_run_id(run_id)
        root = Path(results_dir)
        path = root / "runs" / run_id
        config = json.loads(dumps(config))  # as stored: NaN-free, JSON types
        existing = check_reusable(path, run_id, config, kind)
        safefs.make_dirs(path / "logs", root)
        store = cls(path, root)
        store._lock()
        try:
            if not existing:
                safefs.write_atomic(path / "run.json", json.dumps({"kind": kind}))
                safefs.write_atomic(
                    path / "environment.json", json.dumps(json.loads(dumps(environment)), indent=2, sort_keys=True)
                )
                safefs.write_atomic(path / "config.json", json.dumps(config, indent=2, sort_keys=True))
            else:
                store.add_environment(environment)
            store.repair_torn_tail()
        except BaseException:
            store.close()
            raise
        return store

    # -- the lock -------------------------------------------------------------------
    def _lock(self) -> None:
        import fcntl

        lock = self.path / "lock"
        safefs.no_symlink(lock)
        fd = safefs.open_fd(lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UserError(
                f"Run {self.run_id!r} is being written by {holder}; wait for it or use another --run-id."
            ) from None
        # The kernel releases a flock when its process dies: a stale lock is simply free.
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0
        )
        self._lock_fd = fd

    def close(self) -> None:
        """Release the run's lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records ---------------------------------------------------------------------
    def repair_torn_tail(self) -> None:
        """Make the file end with a newline: keep a complete last record, set aside a torn one."""
        path = self.records_path
        safefs.no_symlink(path)
        if not path.exists() or path.stat().st_size == 0:
            return
        data = path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if _complete_record(tail):
            safefs.append_line(path, b"\n")
            return
        safefs.append_line(self.path / (RECORDS + ".torn"), tail + b"\n")
        fd = safefs.open_fd(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, cut)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, record: dict) -> None:
        """Append one record as one line, flushed and fsynced before returning."""
        line = dumps({"schema_version": SCHEMA_VERSION, "run_id": self.run_id, **record}) + "\n"
        safefs.append_line(self.records_path, line.encode("utf-8"))

    def add_environment(self, environment: dict) -> None:
        """Keep one fingerprint per machine that ran trials (``environments/<machine_id>.json``)."""
        stored = (
            read_json(self.path / "environment.json", "run's environment")
            if (self.path / "environment.json").exists()
            else {}
        )
        if stored.get("machine_id") == environment.get("machine_id"):
            return
        folder = self.path / "environments"
        safefs.make_dirs(folder, self.root)
        name = safefs.check_run_id(str(environment.get("machine_id") or "unknown"))
        target = folder / f"{name}.json"
        if not target.exists():
            safefs.write_atomic(target, json.dumps(json.loads(dumps(environment)), indent=2, sort_keys=True))

    def record_control(self, when: str, measurement: dict) -> None:
        """Keep a control measurement (``before`` the first trial, ``after`` the last) in control.json."""
        path = self.path / "control.json"
        data = read_json(path, "control measurement") if path.exists() else {}
        if measurement and not (when == "before" and when in data):
            data[when] = measurement
            safefs.write_atomic(path, json.dumps(json.loads(dumps(data)), indent=2, sort_keys=True))

    def finished_ids(self) -> set[str]:
        """Trial ids that already have a record (any final status)."""
        return {r["trial_id"] for r in read_records(self.records_path)}


def _complete_record(line: bytes) -> bool:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(record, dict) and "trial_id" in record and record.get("status") in STATUSES


def check_reusable(path: Path, run_id: str, config: dict, kind: str) -> bool:
    """Whether ``path`` is an existing run to resume; UserError if it cannot be used at all.

    Reads only: a failing command changes nothing.
    """
    safefs.check_results_dir(path.parent.parent)
    safefs.no_symlink(path.parent)
    safefs.no_symlink(path)
    if not path.exists():
        return False
    if not path.is_dir():
        raise UserError(f"{path} exists and is not a run folder; use another --run-id.")
    if not _is_run_folder(path):
        raise UserError(f"{path} exists and is not a bench run (it holds other files); use another --run-id.")
    config_path = path / "config.json"
    if not config_path.exists():
        return False
    stored_kind = run_kind(path)
    if stored_kind != kind:
        raise UserError(f"Run {run_id!r} is a {stored_kind} run, not a {kind} run; use another --run-id.")
    stored = read_json(config_path, "run's config")
    read_json(path / "environment.json", "run's environment") if (path / "environment.json").exists() else None
    read_records(path / RECORDS)  # a damaged record is reported now, before anything is written
    if stored != config:
        changed = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
        raise UserError(
            f"Run {run_id!r} exists with a different config (differs in: {', '.join(changed)}). "
            "Use another --run-id, or the same settings to resume it."
        )
    return True


def _decode(path: Path, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(
            f"{path}:{number}: not valid UTF-8; the record is damaged. Remove that line (or the run) to go on."
        ) from None


def read_records(path: Path) -> list[dict]:
    """Records of one file, the latest per trial id.

    A torn last line is skipped with a warning; a bad line elsewhere is a
    :class:`UserError` naming the file and line and what to do.
    """
    safefs.no_symlink(path)
    if not path.exists():
        return []
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as err:
        raise UserError(f"Cannot read {path}: {err.strerror or err}.") from None
    torn_tail = lines[-1] != b""
    by_id: dict[str, dict] = {}
    fix = "Remove that line (or the run) to go on."
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        last = number == len(lines) and torn_tail
        try:
            record = json.loads(_decode(path, number, raw))
        except (json.JSONDecodeError, UserError) as err:
            if last and not _complete_record(raw):
                warnings.warn(f"{path}:{number}: ignoring a partial last line (a run killed mid-write)", stacklevel=2)
                continue
            if isinstance(err, UserError):
                raise
            raise UserError(f"{path}:{number}: not a valid record ({err.msg}). {fix}") from None
        if not isinstance(record, dict) or "trial_id" not in record:
            raise UserError(f"{path}:{number}: not a trial record (no 'trial_id'). {fix}")
        version = record.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise UserError(
                f"{path}:{number}: schema_version {version!r} is not one this version of bench reads "
                f"({READABLE_VERSIONS[0]}..{READABLE_VERSIONS[-1]}). Upgrade bench to read it."
            )
        if record.get("status") not in STATUSES:
            raise UserError(
                f"{path}:{number}: record {record['trial_id']!r} has no valid status ({record.get('status')!r}). {fix}"
            )
        by_id[record["trial_id"]] = record
    return list(by_id.values())


def run_kind(path: Path) -> str:
    """``matrix`` (bench run), ``seed`` (bench seed) or ``scale`` (bench scale)."""
    if not (path / "run.json").exists():
        return "matrix"
    return str(read_json(path / "run.json", "run's kind file").get("kind", "matrix"))


def run_dirs(results_dir: str | Path, kind: str | None = None) -> list[Path]:
    """Run folders (of one kind, if given), oldest first (by creation of their config)."""
    root = Path(results_dir) / "runs"
    if not root.is_dir():
        return []
    runs = [
        p
        for p in root.iterdir()
        if not p.is_symlink() and (p / "config.json").is_file() and (kind is None or run_kind(p) == kind)
    ]
    return sorted(runs, key=lambda p: ((p / "config.json").stat().st_mtime, p.name))


def resolve_run(run: str, results_dir: str | Path) -> Path:
    """A run id or path to its folder; UserError if there is none."""
    for candidate in (Path(run), Path(results_dir) / "runs" / run):
        if candidate.is_dir() and ((candidate / "config.json").exists() or (candidate / RECORDS).exists()):
            return candidate
    known = ", ".join(p.name for p in run_dirs(results_dir)) or "none"
    raise UserError(f"No run {run!r} under {Path(results_dir) / 'runs'}. Runs: {known}.")


def load_environment(run_path: Path) -> dict:
    path = run_path / "environment.json"
    return read_json(path, "run's environment") if path.exists() else {}


def load_config(run_path: Path) -> dict:
    path = run_path / "config.json"
    return read_json(path, "run's config") if path.exists() else {}
