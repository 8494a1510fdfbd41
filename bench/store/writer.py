"""The one writer of a run folder: crash-safe records, one writer at a time, nothing written through a link.

Crash safety: a record is one line, written and fsynced before the next
trial starts, so a killed run (even ``kill -9``) loses at most the trial in
flight. A torn last line (killed mid-write) is set aside into
``records.jsonl.torn`` when the run resumes; a complete last record that only
lacks its newline is kept. Rerunning a run id skips trials that already have
a record. Raw per-call durations go to ``raw.jsonl`` first; the record line
is the commit point.

One writer at a time: the writer holds a ``flock`` on the run *folder*
itself (not on a lock file, which anyone could delete under it), so a second
``bench run`` of the same id exits at once naming the holder's pid, the lock
vanishes with its process (a dead writer's lock is simply free), and no lock
file is left behind. If the folder is removed or replaced while the run
writes, the next append notices and stops.

Every file is written relative to the folder's descriptor with
``O_NOFOLLOW`` (see :mod:`hello_bench.store.safefs`).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from hello_bench import record as rec
from hello_bench.errors import UserError
from hello_bench.store import safefs
from hello_bench.store.reader import RAW, RECORDS, RunFolder, _complete, check_reusable, lock_holder


def dumps(data: Any) -> str:
    """JSON for run files (sorted keys; NaN and numpy values made JSON-safe)."""
    return json.dumps(_clean(data), default=_json_default, sort_keys=True, allow_nan=False)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass
class RunStore:
    """One run's folder, opened for writing (it holds the folder's lock until :meth:`close`)."""

    path: Path
    root: Path = field(default_factory=Path)
    _fd: int | None = None
    _inode: int = 0

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.path)

    @classmethod
    def open(
        cls, results_dir: str | Path, run_id: str, config: dict, environment: dict, kind: str = "matrix",
        info: dict | None = None,
    ) -> RunStore:  # fmt: skip
        """Create the run folder, or reopen it to resume; lock it.

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
        existing = check_reusable(path, run_id, config, kind, root)
        store = cls(path, root)
        store._make_and_lock()
        try:
            if not existing:
                store.write_json("run.json", {"kind": kind, **(info or {})})
                store.write_json("environment.json", environment)
                store.write_json("config.json", config)
            else:
                store.add_environment(environment)
            store.repair_torn_tail()
        except BaseException:
            store.close()
            raise
        return store

    # -- the folder and its lock ---------------------------------------------------------
    def _make_and_lock(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)  # the results folder itself may be a link the user made
        except OSError as err:
            raise safefs.disk_error(err, self.root) from None
        runs = safefs.open_dir(self.root)
        try:
            runs_fd = _subdir(runs, "runs", self.root / "runs")
        finally:
            os.close(runs)
        try:
            self._fd = _subdir(runs_fd, self.run_id, self.path)
        finally:
            os.close(runs_fd)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(self.path)
            self.close()
            who = f"process {holder}" if holder else "another process"
            raise UserError(
                f"Run {self.run_id!r} is being written by {who}; wait for it or use another --run-id."
            ) from None
        self._inode = os.fstat(self._fd).st_ino
        _subdir(self._fd, "logs", self.path / "logs", keep=False)

    def _dir(self) -> int:
        """The folder's descriptor, after checking it is still the folder at :attr:`path`."""
        if self._fd is None:
            raise RuntimeError("the run store is closed")
        try:
            same = os.stat(self.path, follow_symlinks=False).st_ino == self._inode
        except OSError:
            same = False
        if not same:
            raise UserError(
                f"Run folder {self.path} was removed or replaced while this run was writing it; the run stopped."
            )
        return self._fd

    def close(self) -> None:
        """Release the folder's lock (closing its descriptor releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files ------------------------------------------------------------------------
    def write_json(self, name: str, data: Any) -> None:
        safefs.write_at(
            self._dir(),
            name,
            (json.dumps(json.loads(dumps(data)), indent=2, sort_keys=True) + "\n").encode(),
            self.path / name,
        )

    def log(self, name: str) -> BinaryIO:
        """An append handle for a worker's stderr under ``logs/``."""
        logs = _subdir(self._dir(), "logs", self.path / "logs")
        try:
            return safefs.open_log(logs, name, self.path / "logs" / name)
        finally:
            os.close(logs)

    def log_path(self, name: str) -> Path:
        return self.path / "logs" / name

    def repair_torn_tail(self) -> None:
        """Make the records file end with a newline: keep a complete last record, set aside a torn one."""
        path = self.records_path
        try:
            data = safefs.read_bytes(path, "run's records")
        except UserError:
            if not os.path.lexists(path):
                return
            raise
        if not data or data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        fd = self._dir()
        if _complete(tail):
            safefs.append_at(fd, RECORDS, b"\n", path)
            return
        safefs.append_at(fd, RECORDS + ".torn", tail + b"\n", self.path / (RECORDS + ".torn"))
        out = os.open(RECORDS, os.O_WRONLY | os.O_NOFOLLOW, dir_fd=fd)
        try:
            os.ftruncate(out, cut)
            os.fsync(out)
        finally:
            os.close(out)

    def append(self, record: Any, raw: dict | None = None) -> None:
        """Append one record (and its raw durations apart), each one line, fsynced.

        ``record`` is a :func:`hello_bench.record.build` record, or a dict of its fields
        (``schema_version`` and ``run_id`` filled in), validated here either way.
        """
        if isinstance(record, dict):
            inline = {k: record[k] for k in rec.RAW_FIELDS if k in record}  # kept apart, as schema 3 stores them
            if inline:
                record = {k: v for k, v in record.items() if k not in inline}
                raw = {**inline, **(raw or {})}
            try:
                record = rec.build({"schema_version": rec.SCHEMA_VERSION, "run_id": self.run_id, **record})
            except rec.RecordError as err:
                raise UserError(f"Refusing to append to {self.records_path}: {err}.") from None
        fd = self._dir()
        if raw:
            line = dumps({"trial_id": record.trial_id, **raw}) + "\n"
            safefs.append_at(fd, RAW, line.encode(), self.path / RAW)
        safefs.append_at(fd, RECORDS, rec.encode(record) + b"\n", self.records_path)

    def add_environment(self, environment: dict) -> None:
        """Keep one fingerprint per machine that ran trials (``environments/<machine_id>-<hostname>.json``:
        two hosts with the same hardware are two machines)."""
        from hello_bench.names import machine_key

        if machine_key(self.folder.environment()) == machine_key(environment):
            return
        name = safefs.check_run_id(re.sub(r"[^A-Za-z0-9._-]", "_", machine_key(environment)))
        folder = _subdir(self._dir(), "environments", self.path / "environments")
        try:
            if safefs.stat_at(folder, f"{name}.json") is None:
                text = json.dumps(json.loads(dumps(environment)), indent=2, sort_keys=True) + "\n"
                safefs.write_at(folder, f"{name}.json", text.encode(), self.path / "environments" / f"{name}.json")
        finally:
            os.close(folder)

    def record_control(self, when: str, measurement: dict) -> None:
        """Keep a control measurement in control.json: ``before``/``after`` once, ``rounds`` appended."""
        if not measurement:
            return
        data = self.folder.control()
        if when == "round":
            data.setdefault("rounds", []).append(measurement)
        elif not (when == "before" and when in data):
            data[when] = measurement
        self.write_json("control.json", data)

    def finished_ids(self, statuses: tuple[str, ...] = rec.STATUSES) -> set[str]:
        """Trial ids whose latest record has one of ``statuses``."""
        return {r["trial_id"] for r in self.folder.records() if r.get("status") in statuses}


def _subdir(fd: int, name: str, shown: Path, keep: bool = True) -> int:
    """Descriptor of subfolder ``name`` (made if missing), never through a link; closed unless ``keep``."""
    inner = safefs.descend(fd, name, True, shown)
    if keep:
        return inner
    os.close(inner)
    return -1
