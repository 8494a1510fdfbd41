"""File operations that never follow a symlink nor leave the results directory.

Every file the store writes goes through here: a symlink planted in a run
folder (or a run folder that is a symlink) is refused, never followed, and a
full disk becomes one :class:`~bench.errors.UserError` line.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from bench.errors import UserError

#: Run ids are names, not paths.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RUN_ID_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters"
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a valid name; otherwise a UserError saying what a run id may be."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id) or run_id.endswith("."):
        raise UserError(f"Bad run id {run_id!r}: a run id is a name made of {RUN_ID_RULE}.")
    return run_id


def inside(path: Path, root: Path) -> Path:
    """``path`` if it resolves inside ``root``; UserError otherwise."""
    resolved, base = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    if resolved != base and base not in resolved.parents:
        raise UserError(f"Refusing to write {path}: it resolves to {resolved}, outside {base}.")
    return path


def no_symlink(path: Path) -> Path:
    """UserError if ``path`` exists as a symlink (it would be followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as err:  # e.g. a parent that is a file
        raise UserError(f"Cannot use {path}: {err.strerror or err}.") from None
    if stat.S_ISLNK(mode):
        raise UserError(f"Refusing to use {path}: it is a symbolic link. Remove it or use another run id.")
    return path


def check_results_dir(root: Path) -> Path:
    """The results directory must be a writable folder (or not exist yet); checked before anything is written."""
    for parent in [root, *root.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"Cannot write results to {root}: {parent} is not a folder.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"Cannot write results to {root}: permission denied on {parent}.")
            return root
    return root


def make_dirs(path: Path, root: Path) -> None:
    """Create ``path`` (and parents) under ``root``, refusing symlinks on the way."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise disk_error(err, root) from None
    relative = path.relative_to(root)
    for part in [*reversed(relative.parents), relative]:
        if part == Path("."):
            continue  # the results directory itself may be a link the user made
        current = root / part
        no_symlink(current)
        try:
            current.mkdir(exist_ok=True)
        except OSError as err:
            raise disk_error(err, current) from None
    inside(path, root)


def disk_error(err: OSError, path: Path) -> UserError:
    if err.errno in DISK_FULL:
        return UserError(
            f"No space left writing {path}: the run stopped. Every record written before it is intact; "
            "free some space and rerun the same command to resume."
        )
    return UserError(f"Cannot write {path}: {err.strerror or err}.")


def open_fd(path: Path, flags: int) -> int:
    """``os.open`` that refuses symlinks; errors become one line."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UserError(f"Refusing to write {path}: it is a symbolic link.") from None
        raise disk_error(err, path) from None


def append_line(path: Path, line: bytes) -> None:
    """Append one line in one write, fsynced; on failure, cut back what was written."""
    fd = open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write")
            os.fsync(fd)
        except OSError as err:
            try:
                os.ftruncate(fd, size)  # no torn line left behind when we can help it
            except OSError:
                pass
            raise disk_error(err, path) from None
    finally:
        os.close(fd)


def open_log(path: Path) -> BinaryIO:
    """A binary append handle for a worker's stderr (no symlink followed)."""
    return os.fdopen(open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a fresh temporary file, then rename it over ``path`` (renames never follow links)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_fd(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise disk_error(err, path) from None


def read_text(path: Path, what: str = "file") -> str:
    """Read a UTF-8 text file; every failure is one line naming it."""
    no_symlink(path)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not valid UTF-8 at byte {err.start}; the {what} is damaged.") from None
    except OSError as err:
        raise UserError(f"Cannot read {path}: {err.strerror or err}.") from None
