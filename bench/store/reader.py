"""The one reader of a run folder: records, raw durations, config, environments, controls, the writer.

Every command reads runs through :class:`RunFolder`; :mod:`hello_bench.store.writer`
only writes. Layout of a run folder::

    results/runs/<run-id>/
        run.json           what kind of run (matrix, seed, scale) and its environments
        config.json        the resolved configuration (a rerun must match it)
        environment.json   fingerprint of the machine that started the run
        environments/      one fingerprint per other machine that ran trials (Dask)
        control.json       raw machine speed measured through the run
        records.jsonl      one trial record per line (schema: hello_bench.record)
        raw.jsonl          per-call durations of each trial, kept apart from the records
        logs/              each worker group's stderr

Reading never blocks and never trusts types: a FIFO, socket or device where a
file should be is refused at once, and every record is validated against the
schema (a wrong type is one line naming the file, line and field). A torn last
line (a run killed mid-write) is skipped with a warning; any other bad line is
an error naming the file and line.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hello_bench import record as rec
from hello_bench.errors import UserError
from hello_bench.store import safefs

RECORDS = "records.jsonl"
RAW = "raw.jsonl"
#: What a run folder may hold (anything else means it is not bench's).
RUN_FILES = frozenset({
    "config.json", "environment.json", "run.json", "control.json", RECORDS, RAW, RECORDS + ".torn",
    "lock", "logs", "environments", "environments.json",
})  # fmt: skip
FIX = "Remove that line (or the run) to go on."


def parse_json(text: str | bytes) -> object:
    """The one JSON parser of store files: any damage, too-deep nesting included, is a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``; a damaged file is one line naming it."""
    text = safefs.read_text(path, what)
    try:
        data = parse_json(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}); the {what} is damaged.") from None
    except ValueError as err:
        raise UserError(f"{path}: not valid JSON ({err}); the {what} is damaged.") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object; the {what} is damaged.")
    return data


def checked_json(path: Path, what: str, name: str) -> dict:
    """A run file (``name``: run.json, config.json, environment.json, control.json) read and validated by
    :mod:`hello_bench.store.runfiles`: a wrong type or an impossible value is one line naming the file and the field."""
    from hello_bench.store.runfiles import problem

    data = read_json(path, what)
    found = problem(name, data)
    if found is not None:
        raise UserError(f"{path}: {found}; the {what} is damaged.")
    return data


def is_run_folder(path: Path) -> bool:
    """A folder bench made (only bench's files: with its config or kind file, or, killed while being set up,
    without records yet), or an empty one."""
    names = {child.name for child in path.iterdir()}
    if not names:
        return True
    ours = {n for n in names if n in RUN_FILES or (n.startswith(".") and n.endswith(".tmp"))}
    if names != ours:
        return False
    # A run killed while its folder was being set up holds only some of bench's files and no records yet.
    return bool(names & {"config.json", "run.json"}) or RECORDS not in names


def _complete(line: bytes) -> bool:
    try:
        data = parse_json(line.decode("utf-8"))
    except ValueError:  # undecodable, not JSON, or nested too deeply
        return False
    return isinstance(data, dict) and "trial_id" in data and data.get("status") in rec.STATUSES


def _lines(path: Path, what: str, wanted: set[int] | None = None) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, is the torn last line) of a JSON-lines file, streamed; nothing when it is absent.

    ``wanted``: only these line numbers (the others are skipped without being parsed).
    """
    if not os.path.lexists(path):
        return
    with safefs.open_regular(path, what) as fh:
        for number, raw in enumerate(fh, start=1):
            if wanted is not None and number not in wanted:
                continue
            torn = not raw.endswith(b"\n")
            raw = raw.rstrip(b"\n")
            if raw.strip():
                yield number, raw, torn


def iter_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, validated record) for every line, in order (a trial may appear again: the last line wins)."""
    for number, raw, last in _lines(path, "run's records"):
        try:
            record = rec.decode(raw)
        except rec.RecordError as err:
            if last and not _complete(raw):
                warnings.warn(f"{path}:{number}: ignoring a partial last line (a run killed mid-write)", stacklevel=2)
                continue
            if err.newer:  # not damage: upgrading bench reads it
                raise UserError(f"{path}:{number}: {err}.") from None
            raise UserError(f"{path}:{number}: not a valid record: {err}. {FIX}") from None
        yield number, record


def read_records(path: Path) -> list[dict]:
    """Validated records of one records file, the latest per trial id, as plain dicts."""
    by_id: dict[str, Any] = {}
    for _, record in iter_records(path):
        by_id[record.trial_id] = record
    return [rec.as_dict(r) for r in by_id.values()]


def read_fields(path: Path, lines: set[int], fields: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """(line number, the named fields) of the given lines, decoded without the others (the report's nested reads)."""
    struct = rec.subset_type(fields)
    for number, raw, _ in _lines(path, "run's records", lines):
        yield number, rec.as_dict(rec.decode_subset(raw, struct))


def read_values(path: Path, field: str) -> Iterator[Any]:
    """One field of every line, decoded without the rest (a torn last line, a run killed mid-write, skipped)."""
    struct = rec.subset_type((field,))
    for number, raw, torn in _lines(path, "run's records"):
        try:
            yield rec.as_dict(rec.decode_subset(raw, struct)).get(field)
        except rec.RecordError as err:
            if not torn:
                raise UserError(f"{path}:{number}: not a valid record: {err}. {FIX}") from None


@functools.cache
def _trial_id_type() -> Any:
    """A struct of the trial id alone: decoding a raw line into it skips the arrays without building them."""
    import msgspec

    return msgspec.defstruct("TrialId", [("trial_id", str)])


def read_raw(path: Path, trial_ids: set[str] | None = None) -> dict[str, dict]:
    """Per-call durations by trial id from a raw file (the latest line per trial)."""
    import msgspec

    out: dict[str, dict] = {}
    for number, raw, last in _lines(path, "run's raw durations"):
        if trial_ids is not None:  # most lines are not wanted: read their trial id alone (fast), skip the arrays
            try:
                if msgspec.json.decode(raw, type=_trial_id_type()).trial_id not in trial_ids:
                    continue
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass  # reported below
        try:
            data = parse_json(raw)
            if not isinstance(data, dict) or not isinstance(data.get("trial_id"), str):
                raise ValueError("no trial_id")
        except ValueError as err:
            if last:
                continue
            raise UserError(f"{path}:{number}: not a valid raw line ({err}). {FIX}") from None
        if trial_ids is None or data["trial_id"] in trial_ids:
            out[data.pop("trial_id")] = data
    return out


class RunFolder:
    """A run folder, read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def records_path(self) -> Path:
        return self.path / RECORDS

    @classmethod
    def resolve(cls, run: str, results_dir: str | Path) -> RunFolder:
        """A run id or a path to its folder; UserError if there is none."""
        for candidate in (Path(run), Path(results_dir) / "runs" / run):
            if os.path.islink(candidate):
                raise UserError(f"Refusing to read {candidate}: a run folder must not be a symbolic link.")
            if candidate.is_dir() and ((candidate / "config.json").exists() or (candidate / RECORDS).exists()):
                return cls(candidate)
        known = ", ".join(p.name for p in run_dirs(results_dir)) or "none"
        raise UserError(f"No run {run!r} under {Path(results_dir) / 'runs'}. Runs: {known}.")

    def _json(self, name: str, what: str) -> dict:
        path = self.path / name
        return checked_json(path, what, name) if os.path.lexists(path) else {}

    def kind(self) -> str:
        """``matrix`` (bench run), ``seed`` (bench seed) or ``scale`` (bench scale)."""
        return str(self._json("run.json", "run's kind file").get("kind", "matrix"))

    def info(self) -> dict:
        return self._json("run.json", "run's kind file")

    def config(self) -> dict:
        return self._json("config.json", "run's config")

    def environment(self) -> dict:
        return self._json("environment.json", "run's environment")

    def environments(self) -> dict[str, dict]:
        """Fingerprints by machine (``<machine_id>-<hostname>``): the starting machine's and every other that ran trials."""
        from hello_bench.names import machine_key

        out = {}
        first = self.environment()
        if first:
            out[machine_key(first)] = first
        folder = self.path / "environments"
        if folder.is_dir() and not folder.is_symlink():
            for path in sorted(folder.glob("*.json")):
                out.setdefault(path.stem, checked_json(path, "machine's environment", "environment.json"))
        return out

    def control(self) -> dict:
        return self._json("control.json", "control measurement")

    def records(self) -> list[dict]:
        """Validated records, the latest per trial id, each with its ``run_id``."""
        out = read_records(self.records_path)
        for record in out:
            record.setdefault("run_id", self.run_id)
        return out

    def raw(self, trial_ids: set[str] | None = None) -> dict[str, dict]:
        """Raw per-call durations by trial id (``raw.jsonl``; older runs kept them in the records)."""
        found = read_raw(self.path / RAW, trial_ids)
        if found or not self.records_path.exists():
            return found
        for record in self.records():
            if trial_ids is None or record["trial_id"] in trial_ids:
                arrays = {k: record[k] for k in rec.RAW_FIELDS if isinstance(record.get(k), list)}
                if arrays:
                    found[record["trial_id"]] = arrays
        return found

    def check(self) -> RunFolder:
        """Read every run file once: a damaged one is one line now, before any output is written."""
        self.config(), self.environment(), self.info(), self.control()
        return self

    def writer_pid(self) -> int | None:
        """The pid of the process writing this run (it holds a lock on the folder), if any."""
        return lock_holder(self.path)

    def torn_tail(self) -> None:
        """Warn, as reading the records does, when their last line is a partial record (a run killed mid-write):
        for readers served from a cache, which do not read the lines again."""
        try:
            size = os.path.getsize(self.records_path)
        except OSError:
            return
        if size == 0:
            return
        with safefs.open_regular(self.records_path, "run's records") as fh:
            fh.seek(max(0, size - 1))
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            lines = fh.read().split(b"\n")
        if not _complete(lines[-1]):
            warnings.warn(f"{self.records_path}:{len(lines)}: ignoring a partial last line (a run killed mid-write)",
                          stacklevel=2)  # fmt: skip

    def content_hash(self) -> str:
        """A hash of the records file's bytes (empty when there is none): what the records say, not when."""
        import hashlib

        digest = hashlib.blake2b(digest_size=16)
        if os.path.lexists(self.records_path):
            with safefs.open_regular(self.records_path, "run's records") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()


def lock_holder(path: Path) -> int | None:
    """The pid holding a flock on folder ``path`` (Linux ``/proc/locks``), or None."""
    try:
        inode = os.stat(path).st_ino
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            try:
                return int(parts[4])
            except ValueError:
                return None
    return None


def run_dirs(results_dir: str | Path, kind: str | None = None) -> list[Path]:
    """Run folders (of one kind, if given), oldest first by when each last wrote a record (:func:`last_written`):
    the last is the run that last wrote records, whatever the dates of its files (a checkout, a copy)."""
    root = Path(results_dir) / "runs"
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if not p.is_symlink() and (p / "config.json").is_file() and _of_kind(p, kind)]
    return sorted(runs, key=lambda p: (last_written(p), p.name))


def _of_kind(path: Path, kind: str | None) -> bool:
    """Whether the run is of ``kind`` (any, for None). One whose kind file is damaged (a run killed while writing
    it) is left out of a listing by kind with a warning naming it: a run nobody named never stops a command."""
    if kind is None:
        return True
    try:
        return RunFolder(path).kind() == kind
    except UserError as err:
        warnings.warn(f"{err} Left out of the {kind} runs listed.", stacklevel=3)
        return False


#: How much of a records file's end is read to find its last record (a record line is a few KB).
TAIL = 1 << 20


def last_written(path: Path) -> float:
    """When run folder ``path`` last wrote a record: the last complete record's ``finished_at`` (what the records
    say, not a file's date, which a checkout or a copy resets); else the records file's time; else the config's."""
    records = path / RECORDS
    try:
        with safefs.open_regular(records, "run's records") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - TAIL))
            tail = fh.read()
    except (UserError, OSError):
        tail = b""
    for line in reversed(tail.split(b"\n")):
        if not _complete(line):
            continue
        finished = json.loads(line).get("finished_at")
        if isinstance(finished, (int, float)) and not isinstance(finished, bool) and finished == finished:
            return float(finished)
        break
    for name in (RECORDS, "config.json"):
        try:
            return os.stat(path / name, follow_symlinks=False).st_mtime
        except OSError:
            continue
    return 0.0


def resolve_run(run: str, results_dir: str | Path) -> Path:
    return RunFolder.resolve(run, results_dir).path


#: Settings a resume may change: limits, not what is measured (every record keeps the limits it ran
#: under), so a run whose trials timed out can be retried with a longer timeout.
LIMITS = ("trial_timeout_s", "startup_timeout_s")


def check_reusable(path: Path, run_id: str, config: dict, kind: str, results_dir: Path | None = None) -> bool:
    """Whether ``path`` is an existing run to resume; UserError if it cannot be used at all. Reads only."""
    safefs.check_results_dir(results_dir or path.parent.parent)
    safefs.no_symlink(path.parent)
    safefs.no_symlink(path)
    if not path.exists():
        return False
    if not path.is_dir():
        raise UserError(f"{path} exists and is not a run folder; use another --run-id.")
    if not is_run_folder(path):
        raise UserError(f"{path} exists and is not a bench run (it holds other files); use another --run-id.")
    folder = RunFolder(path)
    if folder.info().get("sealed"):
        raise UserError(
            f"Run {run_id!r} is sealed (committed reference results): bench never resumes or rewrites it. "
            "Use another --run-id to run the same configuration again."
        )
    if not (path / "config.json").exists():
        if folder.records_path.exists() and folder.records_path.stat().st_size > 0:
            raise UserError(f"Run {run_id!r} holds records but no config.json (damaged): its settings are unknown, "
                            "so it cannot be resumed. Use another --run-id.")  # fmt: skip
        return False
    if folder.kind() != kind:
        raise UserError(f"Run {run_id!r} is a {folder.kind()} run, not a {kind} run; use another --run-id.")
    stored = folder.config()
    folder.environment()
    folder.records()  # a damaged record is reported now, before anything is written
    changed = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k) and k not in LIMITS)
    if changed:
        raise UserError(
            f"Run {run_id!r} exists with a different config (differs in: {', '.join(changed)}). "
            "Use another --run-id, or the same settings to resume it."
        )
    return True
