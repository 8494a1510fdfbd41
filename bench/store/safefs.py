"""The one way the project touches files: never through a symlink, atomically, only where it may.

Every file bench writes (records, run files, reports, figures, CSVs, HTML,
Parquet, comparisons, exports, the pairplot) goes through :class:`OutputDir`
or :class:`RunDir`'s file descriptor, and every file it reads goes through
:func:`read_bytes`:

- **No symlink is followed** at the target or in any folder between the
  output folder and the target: folders are walked with ``O_NOFOLLOW``
  directory descriptors (``openat``), so a link planted after a check cannot
  redirect a write (no check-then-use race).
- **Atomic**: a file is written to a temporary name in its own folder,
  fsynced, then renamed over the target; a reader sees the old file or the
  new one, never half of one.
- **Only where it may**: under the results folder, bench writes only into
  folders it made itself (they carry :data:`MARKER`, or are run folders) or
  empty ones; a user-chosen ``--out`` folder may hold anything, and bench
  writes only the files the command names.
- **Reads never block and never trust the file type**: FIFOs, sockets and
  devices where a regular file should be are refused at once.
- A full disk is one :class:`~bench.errors.UserError` line.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from bench.errors import UserError

#: Run ids are names, not paths.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RUN_ID_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters"
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: A file bench puts in every output folder it creates under the results folder: "this folder is bench's".
MARKER = ".bench-output"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | _CLOEXEC


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a valid name; otherwise a UserError saying what a run id may be."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id) or run_id.endswith("."):
        raise UserError(f"Bad run id {run_id!r}: a run id is a name made of {RUN_ID_RULE}.")
    return run_id


def disk_error(err: OSError, path: Path | str) -> UserError:
    """An OSError while writing ``path`` as one line (a full disk says how to resume)."""
    if err.errno in DISK_FULL:
        return UserError(
            f"No space left writing {path}: the run stopped. Every record written before it is intact; "
            "free some space and rerun the same command to resume."
        )
    if err.errno == errno.ELOOP:
        return UserError(f"Refusing to write {path}: it is (or passes through) a symbolic link.")
    if err.errno == errno.ENOTDIR:
        return UserError(f"Cannot write {path}: a part of its path is a file, not a folder.")
    return UserError(f"Cannot write {path}: {err.strerror or err}.")


def no_symlink(path: Path) -> Path:
    """UserError if ``path`` exists as a symlink (it would be followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as err:  # e.g. a parent that is a file
        raise UserError(f"Cannot use {path}: {err.strerror or err}.") from None
    if stat.S_ISLNK(mode):
        raise UserError(f"Refusing to use {path}: it is a symbolic link. Remove it or use another name.")
    return path


def check_results_dir(root: Path) -> Path:
    """The results folder must be a writable folder (or not exist yet); checked before anything is written."""
    for parent in [root, *root.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"Cannot write results to {root}: {parent} is not a folder.")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"Cannot write results to {root}: permission denied on {parent}.")
            return root
    return root


def _relative_parts(relative: str | Path) -> tuple[str, ...]:
    parts = PurePosixPath(str(relative)).parts
    if not parts or PurePosixPath(str(relative)).is_absolute() or any(p in ("..", ".", "") for p in parts):
        raise ValueError(f"not a plain relative file name: {relative!r}")
    return parts


def open_dir(path: Path) -> int:
    """A directory descriptor for ``path``; refuses a symlink at ``path`` itself."""
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
            raise UserError(f"Refusing to use {path}: it is a symbolic link.") from None
        raise disk_error(err, path) from None


def descend(fd: int, name: str, create: bool, shown: Path) -> int:
    """The descriptor of subfolder ``name`` of ``fd`` (created if asked), never through a link."""
    if create:
        try:
            os.mkdir(name, 0o755, dir_fd=fd)
        except FileExistsError:
            pass
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as err:
        raise disk_error(err, shown) from None


def stat_at(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def write_at(fd: int, name: str, data: bytes, shown: Path) -> None:
    """Write ``data`` as file ``name`` in the folder ``fd``: temporary file, fsync, rename."""
    existing = stat_at(fd, name)
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(existing.st_mode) else "not a regular file"
        raise UserError(f"Refusing to write {shown}: it is {kind}.")
    tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC, 0o644, dir_fd=fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except OSError as err:
        try:
            os.unlink(tmp, dir_fd=fd)
        except OSError:
            pass
        raise disk_error(err, shown) from None


class OutputDir:
    """A folder that bench writes named files into (reports, figures, CSVs, exports).

    Use :meth:`owned` for folders under the results folder (bench's own, or
    new) and :meth:`user` for a folder the user named with ``--out``.
    Nothing is created until the first :meth:`write`.
    """

    def __init__(self, path: Path, marker: bool) -> None:
        self.path = path
        self._marker = marker

    @classmethod
    def owned(cls, path: Path, results_dir: Path) -> OutputDir:
        """A folder under ``results_dir`` that bench made (or will make); refuses any other folder."""
        no_symlink(path)
        for parent in path.parents:
            if parent == results_dir or results_dir in parent.parents:
                no_symlink(parent)
        if path.exists():
            if not path.is_dir():
                raise UserError(f"{path} is a file, not a report folder; remove it or use --out.")
            children = {c.name for c in path.iterdir()}
            if children and MARKER not in children:
                raise UserError(
                    f"{path} exists and was not made by bench (it has no {MARKER}); "
                    "bench does not write into it. Remove it or use --out."
                )
        return cls(path, marker=True)

    @classmethod
    def user(cls, path: Path) -> OutputDir:
        """A folder the user chose (``--out``): may hold anything; only the named files are written."""
        no_symlink(path)
        if path.exists() and not path.is_dir():
            raise UserError(f"--out {path} is a file, not a folder.")
        return cls(path, marker=False)

    def _root_fd(self) -> int:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise UserError(f"Cannot write to {self.path}: it is not a folder.") from None
        except OSError as err:
            raise disk_error(err, self.path) from None
        fd = open_dir(self.path)
        if self._marker and stat_at(fd, MARKER) is None:
            write_at(fd, MARKER, b"made by bench: it writes only into folders that carry this file\n", self.path)
        return fd

    def write(self, relative: str, data: bytes | str) -> Path:
        """Write ``data`` to ``relative`` (e.g. ``REPORT.md``, ``figures/accuracy.png``); return its path."""
        parts = _relative_parts(relative)
        blob = data.encode("utf-8") if isinstance(data, str) else data
        fd = self._root_fd()
        shown = self.path
        try:
            for part in parts[:-1]:
                shown = shown / part
                inner = descend(fd, part, True, shown)
                os.close(fd)
                fd = inner
            write_at(fd, parts[-1], blob, self.path.joinpath(*parts))
        finally:
            os.close(fd)
        return self.path.joinpath(*parts)

    def check_writable(self) -> OutputDir:
        """Fail now (one line) if nothing could be written here, before any work is done."""
        fd = self._root_fd()
        try:
            if not os.access(self.path, os.W_OK | os.X_OK):
                raise UserError(f"Cannot write to {self.path}: permission denied.")
        finally:
            os.close(fd)
        return self


def write_file(path: Path, data: bytes | str) -> Path:
    """One file the user named (``--out report.parquet``): atomic, never through a symlink."""
    if path.exists() and path.is_dir():
        raise UserError(f"{path} is a folder; give a file name.")
    return OutputDir.user(path.parent if str(path.parent) else Path(".")).write(path.name, data)


def append_at(fd: int, name: str, line: bytes, shown: Path) -> None:
    """Append one line in one write to file ``name`` of folder ``fd``, fsynced; on failure cut it back."""
    try:
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | _CLOEXEC, 0o644, dir_fd=fd)
    except OSError as err:
        raise disk_error(err, shown) from None
    try:
        if not stat.S_ISREG(os.fstat(out).st_mode):
            raise UserError(f"Refusing to write {shown}: it is not a regular file.")
        size = os.fstat(out).st_size
        try:
            written = os.write(out, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, "short write")
            os.fsync(out)
        except OSError as err:
            try:
                os.ftruncate(out, size)  # no torn line left behind when we can help it
            except OSError:
                pass
            raise disk_error(err, shown) from None
    finally:
        os.close(out)


def open_log(fd: int, name: str, shown: Path) -> BinaryIO:
    """A binary append handle for a worker's stderr in folder ``fd`` (no symlink followed)."""
    try:
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | _CLOEXEC, 0o644, dir_fd=fd)
    except OSError as err:
        raise disk_error(err, shown) from None
    return os.fdopen(out, "ab")


def open_regular(path: Path, what: str = "file") -> BinaryIO:
    """A regular file opened for reading (buffered); a link, FIFO, socket or device is refused at once."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UserError(f"Refusing to read {path}: it is a symbolic link; the {what} must be a file.") from None
        if err.errno == errno.ENXIO:
            raise UserError(f"Refusing to read {path}: it is a socket, not a file; the {what} is damaged.") from None
        raise UserError(f"Cannot read {path}: {err.strerror or err}.") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO, socket or device"
        raise UserError(f"Refusing to read {path}: it is {kind}, not a file; the {what} is damaged.")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb", buffering=1 << 20)


def read_bytes(path: Path, what: str = "file") -> bytes:
    """The bytes of a regular file; a link, FIFO, socket or device is refused at once (never blocks)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UserError(f"Refusing to read {path}: it is a symbolic link; the {what} must be a file.") from None
        if err.errno == errno.ENXIO:
            raise UserError(f"Refusing to read {path}: it is a socket, not a file; the {what} is damaged.") from None
        raise UserError(f"Cannot read {path}: {err.strerror or err}.") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO, socket or device"
            raise UserError(f"Refusing to read {path}: it is {kind}, not a file; the {what} is damaged.")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as err:
        raise UserError(f"Cannot read {path}: {err.strerror or err}.") from None
    finally:
        os.close(fd)


def read_text(path: Path, what: str = "file") -> str:
    """A UTF-8 text file read with :func:`read_bytes`; every failure is one line naming it."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not valid UTF-8 at byte {err.start}; the {what} is damaged.") from None
