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
  folders it made itself (they carry :data:`MARKER`) or empty ones; a
  user-chosen ``--out`` folder may hold anything, and bench writes only the
  files the command names. **No output ever lands inside a run folder**
  (:func:`refuse_store`): a folder holding a run's marker files is a run
  folder wherever it is (any results folder, a copy, a sealed reference), and
  only :mod:`hello_bench.store.writer` writes there.
- **Reads never block and never trust the file type**: FIFOs, sockets and
  devices where a regular file should be are refused at once.
- A full disk is one :class:`~hello_bench.errors.UserError` line.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from hello_bench.errors import UserError
from hello_bench.names import file_name  # noqa: F401  (re-exported: safefs names what it writes)

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
        # A folder opened without following links answers ENOTDIR when it is a link: say so.
        parts = Path(path).parts
        if any(os.path.islink(Path(*parts[: i + 1])) for i in range(len(parts))):
            return UserError(f"Refusing to write {path}: it is (or passes through) a symbolic link.")
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


#: Files that make a folder a run folder wherever it is (``bench run`` writes run.json first; runs from
#: before run.json existed hold records.jsonl).
RUN_MARKERS = ("run.json", "records.jsonl")


def _holds_run(folder: Path) -> bool:
    return os.path.isdir(folder) and any(os.path.lexists(folder / name) for name in RUN_MARKERS)


def _holds_runs(folder: Path) -> bool:
    """A folder named ``runs`` holding a run folder: a results folder's runs (bench makes no other)."""
    if folder.name != "runs" or not os.path.isdir(folder):
        return False
    try:
        with os.scandir(folder) as children:
            return any(c.is_dir(follow_symlinks=False) and _holds_run(Path(c.path)) for c in children)
    except OSError:
        return False


def store_folder(path: Path | str, results_dir: Path | str | None = None) -> Path | None:
    """The run folder, or a results folder's ``runs`` folder, that ``path`` is or lies inside (links and ``..``
    resolved, so no spelling of the path hides it); None when it is inside neither."""
    real = Path(os.path.realpath(path))
    runs = Path(os.path.realpath(Path(results_dir) / "runs")) if results_dir is not None else None
    for folder in [real, *real.parents]:
        if folder == runs or _holds_run(folder) or _holds_runs(folder):
            return folder
    return None


def refuse_store(path: Path | str, results_dir: Path | str | None = None, what: str = "output") -> None:
    """UserError when ``path`` is, or is inside, a run folder (or a ``runs`` folder): only the run writer writes
    there, so no report, export, site, figure or library store may land there, wherever ``--out`` points."""
    found = store_folder(path, results_dir)
    if found is not None:
        place = "the runs folder" if found.name == "runs" and not _holds_run(found) else "run folder"
        raise UserError(
            f"Refusing to write {path}: it is inside {place} {found}, which only `bench run` writes "
            f"(a run's records are never overwritten). Write the {what} somewhere else."
        )


def check_library_target(path: Path | str, kind: str, results_dir: Path | str | None = None, what: str = "it") -> Path:
    """What :class:`OutputDir` refuses, for a path a *library* will write itself (MLflow's database file, the folder
    tree of its file store or artifacts), checked before the library is called: inside a run folder; a symbolic
    link at it, beside it (a database's journal) or anywhere in the tree it fills; a non-file where a file goes.
    ``kind``: ``file`` or ``folder``."""
    path = Path(path)
    refuse_store(path, results_dir, what)
    if kind == "file":
        entries = [path, *(path.with_name(path.name + side) for side in ("-journal", "-wal", "-shm"))]
    else:
        entries = [path, *_tree(path)]
    for entry in entries:
        try:
            mode = os.lstat(entry).st_mode
        except FileNotFoundError:
            continue
        except OSError as err:
            raise UserError(f"Cannot use {entry}: {err.strerror or err}.") from None
        if stat.S_ISLNK(mode):
            raise UserError(f"Refusing to let {what} write {entry}: it is a symbolic link, which it would follow.")
        if entry == path and not (stat.S_ISDIR(mode) if kind == "folder" else stat.S_ISREG(mode)):
            raise UserError(
                f"Refusing to let {what} write {entry}: it is not a {'folder' if kind == 'folder' else 'file'}."
            )
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a FIFO would hang it, a device would take its bytes
            raise UserError(f"Refusing to let {what} write {entry}: it is a FIFO, socket or device.")
    _check_creatable(path if kind == "folder" and path.is_dir() else path.parent, what, path)
    return path


#: File systems that hold no files a program may make (the kernel's views): a library told to write there fails.
PSEUDO_FS = frozenset({"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs",
                       "pstore", "bpf", "configfs", "fusectl", "mqueue", "efivarfs", "binfmt_misc"})  # fmt: skip


def _check_creatable(folder: Path, what: str, target: Path) -> None:
    """Whether files can be made in ``folder`` (or, where it does not exist yet, its nearest existing parent, where
    its tree would be made): a library told to write where nothing can be (/proc, a read-only mount, a folder not
    ours to write) retries for minutes and prints pages before it fails; here it is one line. Writes nothing."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    why = None
    if not folder.is_dir():
        why = "it is not a folder"
    elif _fs_type(folder) in PSEUDO_FS:
        why = f"it is on the kernel's {_fs_type(folder)} file system"
    elif os.statvfs(folder).f_flag & os.ST_RDONLY:
        why = "it is on a read-only file system"
    elif not os.access(folder, os.W_OK | os.X_OK):
        why = "this user may not write there"
    if why:
        raise UserError(f"Cannot let {what} write {target}: nothing can be made in {folder} ({why}).")


def _fs_type(folder: Path) -> str:
    """The type of the file system ``folder`` is on (Linux's mount table; '' where it cannot be read)."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return ""
    real = str(folder.resolve())
    best = max((m for m in mounts if len(m) == 2 and (real == m[0] or real.startswith(m[0].rstrip("/") + "/"))),
               key=lambda m: len(m[0]), default=None)  # fmt: skip
    return best[1] if best else ""


def _tree(root: Path) -> list[Path]:
    """Every entry under folder ``root``, links listed but never followed (empty when it is absent)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        out += [Path(dirpath, name) for name in dirnames + filenames]
    return out


def check_results_dir(root: Path) -> Path:
    """The results folder must be a writable folder (or not exist yet), and not inside a run folder;
    checked before anything is written."""
    found = store_folder(root)
    if found is not None:
        raise UserError(f"Cannot use {root} as the results folder: it is (inside) {found}, a run's or runs folder.")
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


#: Names bench writes in its output folders: a folder holding only these (and folders that are
#: themselves bench's) was made by a version of bench from before the marker.
OUTPUT_NAMES = ("REPORT.md", "report.html", "summary.csv", "trials.csv", "SCALE.md", "figures", "*.png",
                "COMPARE-*.md", "COMPARE-*.html", "*.parquet", "seed", ".write-test", ".*.tmp")  # fmt: skip


def is_bench_output(path: Path, depth: int = 2) -> bool:
    """Whether folder ``path`` is bench's to write into: marked, empty, or holding only bench's outputs."""
    import fnmatch

    try:
        children = list(os.scandir(path))
    except OSError:
        return False
    names = {c.name for c in children}
    if not names or MARKER in names:
        return True
    for child in children:
        if not any(fnmatch.fnmatchcase(child.name, pattern) for pattern in OUTPUT_NAMES):
            if not (depth > 1 and child.is_dir(follow_symlinks=False) and is_bench_output(Path(child.path), depth - 1)):
                return False
        if child.is_symlink():
            return False
    return True


class OutputDir:
    """A folder that bench writes named files into (reports, figures, CSVs, exports).

    Use :meth:`owned` for folders under the results folder (bench's own, or
    new) and :meth:`user` for a folder the user named with ``--out``.
    Files are *staged* in memory (:meth:`stage`, or ``out / "name"``) and
    written together by :meth:`commit`, which first checks every target: a
    symlink, a non-file or a non-folder anywhere refuses the whole output
    before one byte is written. :meth:`write` is stage-and-commit of one file.
    Nothing is created until the first commit.
    """

    def __init__(self, path: Path, marker: bool, results_dir: Path | None = None, store: Path | None = None) -> None:
        self.path = path
        self._marker = marker
        self._results_dir = results_dir
        #: The command's results folder: its ``runs`` folder is refused even while it holds no run yet.
        self._store = store if store is not None else results_dir
        self._staged: dict[tuple[str, ...], bytes] = {}
        refuse_store(path, self._store)

    @classmethod
    def owned(cls, path: Path, results_dir: Path) -> OutputDir:
        """A folder under ``results_dir`` that bench made (or will make); refuses any other folder."""
        path, results_dir = Path(path), Path(results_dir)
        if results_dir not in path.parents:
            raise ValueError(f"{path} is not under {results_dir}")
        for folder in [path, *path.parents]:
            if folder == results_dir:
                break
            no_symlink(folder)
        if path.exists():
            if not path.is_dir():
                raise UserError(f"{path} is a file, not a report folder; remove it or use --out.")
            if not is_bench_output(path):
                raise UserError(
                    f"{path} exists and was not made by bench (it has no {MARKER}); "
                    "bench does not write into it. Remove it or use --out."
                )
        return cls(path, marker=True, results_dir=results_dir)

    @classmethod
    def user(cls, path: Path, results_dir: str | Path | None = None) -> OutputDir:
        """A folder the user chose (``--out``): may hold anything; only the named files are written (never
        inside a run folder, nor in ``results_dir``'s runs folder)."""
        path = Path(path)
        no_symlink(path)
        if path.exists() and not path.is_dir():
            raise UserError(f"--out {path} is a file, not a folder.")
        return cls(path, marker=False, store=None if results_dir is None else Path(results_dir))

    @classmethod
    def choose(cls, out: str | Path | None, default: Path, results_dir: str | Path) -> OutputDir:
        """The user's ``--out`` folder when given, else bench's own ``default`` under the results folder."""
        return cls.user(Path(out), results_dir) if out else cls.owned(default, Path(results_dir))

    def __truediv__(self, relative: str) -> OutputPath:
        return OutputPath(self, relative)

    # -- staging and committing --------------------------------------------------------
    def stage(self, relative: str, data: bytes | str) -> Path:
        """Keep ``data`` for ``relative`` (e.g. ``figures/accuracy.png``) until :meth:`commit`; return its path."""
        parts = _relative_parts(relative)
        self._staged[parts] = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return self.path.joinpath(*parts)

    def staged(self, relative: str) -> bytes:
        return self._staged[_relative_parts(relative)]

    def commit(self) -> list[Path]:
        """Check every staged target, then write each atomically; return their paths."""
        for parts in self._staged:
            self._preflight(parts)
        written = []
        fd = self._root_fd()
        try:
            for parts, blob in self._staged.items():
                written.append(self._write_at(fd, parts, blob))
        finally:
            os.close(fd)
        self._staged.clear()
        return written

    def write(self, relative: str, data: bytes | str) -> Path:
        """Write ``data`` to ``relative`` now (stage and commit one file); return its path."""
        self.stage(relative, data)
        return self.commit()[-1]

    def _preflight(self, parts: tuple[str, ...]) -> None:
        """Read-only: refuse a target that is, or passes through, a link or a non-folder, or lies inside a run
        folder (nothing written yet)."""
        no_symlink(self.path)
        refuse_store(self.path.joinpath(*parts), self._store)
        current = self.path
        for index, part in enumerate(parts):
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                return
            except OSError as err:
                raise disk_error(err, current) from None
            last = index == len(parts) - 1
            if stat.S_ISLNK(mode):
                raise UserError(f"Refusing to write {current}: it is a symbolic link. Remove it or use another --out.")
            if last and not stat.S_ISREG(mode):
                raise UserError(f"Refusing to write {current}: it is not a regular file.")
            if not last and not stat.S_ISDIR(mode):
                raise UserError(f"Cannot write {self.path.joinpath(*parts)}: {current} is not a folder.")

    def _write_at(self, fd: int, parts: tuple[str, ...], blob: bytes) -> Path:
        shown, inner = self.path, os.dup(fd)
        try:
            for part in parts[:-1]:
                shown = shown / part
                deeper = descend(inner, part, True, shown)
                os.close(inner)
                inner = deeper
            write_at(inner, parts[-1], blob, self.path.joinpath(*parts))
        finally:
            os.close(inner)
        return self.path.joinpath(*parts)

    def _root_fd(self) -> int:
        """The output folder's descriptor, creating it (and, under the results folder, marking each new folder)."""
        if self._results_dir is None:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise UserError(f"Cannot write to {self.path}: it is not a folder.") from None
            except OSError as err:
                raise disk_error(err, self.path) from None
            return open_dir(self.path)
        try:
            self._results_dir.mkdir(parents=True, exist_ok=True)  # the results folder itself may be a user's link
        except OSError as err:
            raise disk_error(err, self._results_dir) from None
        fd, shown = open_dir(self._results_dir), self._results_dir
        for part in self.path.relative_to(self._results_dir).parts:
            shown = shown / part
            created = stat_at(fd, part) is None
            inner = descend(fd, part, True, shown)
            os.close(fd)
            fd = inner
            if created or shown == self.path:
                _mark(fd, shown)
        return fd

    def check_writable(self) -> OutputDir:
        """Fail now (one line) if nothing could be written here, before any work is done (creates nothing)."""
        refuse_store(self.path, self._store)
        existing = next((p for p in [self.path, *self.path.parents] if os.path.lexists(p)), None)
        if existing is not None and existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
            raise UserError(f"Cannot write to {self.path}: permission denied on {existing}.")
        if existing is not None and not existing.is_dir():
            raise UserError(f"Cannot write to {self.path}: {existing} is not a folder.")
        return self


def _mark(fd: int, shown: Path) -> None:
    if stat_at(fd, MARKER) is None:
        write_at(fd, MARKER, b"made by bench: it writes only into folders that carry this file\n", shown / MARKER)


class OutputPath:
    """A file inside an :class:`OutputDir`, named relative to it (``out / "figures" / "accuracy.png"``)."""

    def __init__(self, root: OutputDir, relative: str) -> None:
        self.root = root
        self.relative = relative

    def __truediv__(self, name: str) -> OutputPath:
        return OutputPath(self.root, f"{self.relative}/{name}")

    @property
    def path(self) -> Path:
        return self.root.path / self.relative

    @property
    def name(self) -> str:
        return PurePosixPath(self.relative).name

    def stage(self, data: bytes | str) -> OutputPath:
        """Keep ``data`` for this file until the folder's commit."""
        self.root.stage(self.relative, data)
        return self

    def data(self) -> bytes:
        return self.root.staged(self.relative)


def write_file(path: Path, data: bytes | str, results_dir: str | Path | None = None) -> Path:
    """One file the user named (``--out report.parquet``): atomic, never through a symlink, never in a run."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise UserError(f"{path} is a folder; give a file name.")
    return OutputDir.user(path.parent if str(path.parent) else Path("."), results_dir).write(path.name, data)


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


def read_bytes(path: Path, what: str = "file", follow_links: bool = False, limit: int | None = None) -> bytes:
    """The bytes of a regular file; a FIFO, socket or device is refused at once (never blocks).

    A link is refused too, unless ``follow_links`` (a user's own input file may be one; a run's files
    may not). ``limit``: a larger file is refused before it is read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_links:
            raise UserError(f"Refusing to read {path}: it is a symbolic link; the {what} must be a file.") from None
        if err.errno == errno.ENXIO:
            raise UserError(f"Refusing to read {path}: it is a socket, not a file; the {what} is damaged.") from None
        raise UserError(f"Cannot read {path}: {err.strerror or err}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO, socket or device"
            blame = f"the {what} must be a file" if follow_links else f"the {what} is damaged"
            raise UserError(f"Refusing to read {path}: it is {kind}, not a file; {blame}.")
        if limit is not None and st.st_size > limit:
            raise UserError(f"Refusing to read {path}: {st.st_size:,} bytes, more than a {what} can be ({limit:,}).")
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
