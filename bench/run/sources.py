"""Requirements from URLs in environment matrices: a git ref of your own project as a baseline.

``--env base="mypkg @ git+file:///path/to/repo@main" --env head="mypkg @ file:///path/to/repo"``
builds one environment from the project's ``main`` and one from its working tree, so a duet compares
them split by split. Allowed: ``git+file://`` (a local repository, with ``@ref``), ``file://`` (a
folder, a wheel or an sdist on this machine), ``https://`` and ``git+https://`` (fetched by the
installer). Anything else, a missing path, or a ref the repository does not have is one line naming
the environment, before anything is written.

An environment is cached by its specification (:mod:`hello_bench.run.environments`), so a URL's *content*
must be part of it, or a changed working tree would reuse yesterday's build: :func:`fingerprint` gives
``git+file`` the commit its ref resolves to, a ``file://`` folder the hash of its files (a git
repository: its commit, ``git diff HEAD`` and its untracked files), a file its content hash. An
``https://`` URL is taken as naming immutable content (a release archive, a pinned commit).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from hello_bench import lifeline
from hello_bench.errors import UserError

SCHEMES = ("git+file", "file", "https", "git+https")
#: Folders never part of a project's content hash.
SKIP_DIRS = {
    ".git",
    "__pycache__",
    ".tox",
    ".venv",
    "venv",
    "build",
    "dist",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}
MAX_FILES = 20_000


def _split_git(url: str) -> tuple[Path, str | None]:
    """``git+file:///repo@ref`` -> (/repo, ref); a ``#fragment`` is dropped."""
    path = unquote(urlparse(url[len("git+") :]).path)
    ref = None
    if "@" in path:
        path, ref = path.rsplit("@", 1)
    return Path(path), ref or None


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return lifeline.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60)


def check_url(url: str, where: str, text: str) -> None:
    """One line naming the environment when a URL requirement cannot be installed from here."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise UserError(f"{where}: {text!r}: URL requirements must be {', '.join(s + '://' for s in SCHEMES)}; "
                        f"got {scheme + '://' if scheme else 'no scheme'}.")  # fmt: skip
    if scheme == "file":
        path = Path(unquote(urlparse(url).path))
        if not path.exists():
            raise UserError(f"{where}: {text!r}: {path} does not exist.")
    elif scheme == "git+file":
        repo, ref = _split_git(url)
        if unquote(urlparse(url[len("git+") :]).path).rstrip().endswith("@"):  # `$(git rev-parse X)` that failed
            raise UserError(f"{where}: {text!r}: nothing after '@': name a commit, branch or tag (did the command "
                            "giving it fail, e.g. git rev-parse of a ref this clone lacks?).")  # fmt: skip
        try:
            top = _git(repo, "rev-parse", "--git-dir")
        except (OSError, subprocess.SubprocessError) as err:
            raise UserError(f"{where}: {text!r}: cannot run git ({err}).") from None
        if top.returncode != 0:
            raise UserError(f"{where}: {text!r}: {repo} is not a git repository.")
        if ref is not None and _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
            raise UserError(f"{where}: {text!r}: {repo} has no commit, branch or tag {ref!r}.")


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha1()
    count = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(root) / name
            count += 1
            if count > MAX_FILES:
                digest.update(b"...too many files: mtimes only")
                break
            digest.update(str(path.relative_to(folder)).encode())
            try:
                digest.update(
                    path.read_bytes() if path.stat().st_size < 2**22 else str(path.stat().st_mtime_ns).encode()
                )
            except OSError:
                continue
    return digest.hexdigest()[:16]


def fingerprint(url: str) -> str:
    """What a URL requirement installs, as a short string that changes when its content does."""
    if url.startswith("git+file://"):
        repo, ref = _split_git(url)
        found = _git(repo, "rev-parse", f"{ref or 'HEAD'}^{{commit}}")
        return f"commit {found.stdout.strip()}" if found.returncode == 0 else "unresolved"
    if url.startswith("file://"):
        path = Path(unquote(urlparse(url).path))
        if path.is_file():
            return "sha1 " + hashlib.sha1(path.read_bytes()).hexdigest()[:16]
        head = _git(path, "rev-parse", "HEAD") if (path / ".git").exists() else None
        if head is not None and head.returncode == 0:
            diff = _git(path, "diff", "HEAD", "--binary").stdout
            untracked = _git(path, "ls-files", "--others", "--exclude-standard").stdout.split()
            digest = hashlib.sha1(diff.encode())
            for name in sorted(untracked):
                file = path / name
                if file.is_file() and file.stat().st_size < 2**22:
                    digest.update(name.encode() + file.read_bytes())
                elif file.is_dir():  # git lists a nested repository (a subpackage of its own) as one folder
                    digest.update(name.encode() + _tree_hash(file).encode())
            return f"commit {head.stdout.strip()} + changes {digest.hexdigest()[:16]}"
        return "tree " + _tree_hash(path)
    return "url"


def in_copies(requirements: list[str], into: Path) -> list[str]:
    """``requirements`` with each ``file://`` folder replaced by a copy under ``into``: a build backend writes
    into the folder it builds (setuptools' ``build/``, ``*.egg-info``), and the user's working tree must stay
    as it was. The copy leaves out what the content hash leaves out, except ``.git`` (versions may come from it)."""
    from packaging.requirements import Requirement

    out = []
    for i, text in enumerate(requirements):
        url = Requirement(text).url if "://" in text else None
        path = Path(unquote(urlparse(url).path)) if url and url.startswith("file://") else None
        if path is None or not path.is_dir():
            out.append(text)
            continue
        copy = into / f"{i}-{path.name}"
        shutil.copytree(path, copy, symlinks=True, ignore=_not_copied(path))
        out.append(text.replace(url or "", copy.as_uri()))
    return out


def _not_copied(root: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in SKIP_DIRS - {".git"} or n.endswith(".egg-info")}
        if Path(folder) == root and (root / "results" / "runs").is_dir():
            skipped.add("results")  # bench's own results of the CI recipe, run in the project's folder
        return skipped

    return ignore
