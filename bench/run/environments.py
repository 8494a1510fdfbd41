"""Environment matrices: one isolated virtual environment per ``[[environments]]`` entry, built once, reused.

Each environment holds what its workers need: the project's core
dependencies that a worker imports (:data:`WORKER_PACKAGES`; not the
reporting ones, nor the optional extras), the frameworks of the adapters in
the matrix (through the project's extras), and the environment's own
requirements; the project itself comes from its folder, first on the
workers' path. It is built with uv (``uv venv`` + ``uv pip install``), or with
``venv`` + pip where uv is missing; uv reads no pip configuration, so the
machine's local wheel folders, extra indexes and constraint files (``pip
config``) are passed to it explicitly, and a package that the machine has as
a local wheel (PyTorch's CPU build here) is pinned to that wheel unless the
environment asks for it by name: a CUDA build of several GB is never pulled
by accident.

Environments live outside the repository (``$XDG_CACHE_HOME/hello-bench/envs/
<hash of the specification>``), are built under a lock, count as built only
once their completion marker (with the exact version of every package) is
written, and are reused by every run that asks for the same specification.
A failed build leaves nothing behind and is one line naming the environment
and the cause.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hello_bench import lifeline
from hello_bench.errors import UserError
from hello_bench.isolation import PACKAGE_ROOT
from hello_bench.run.sources import in_copies

if TYPE_CHECKING:
    from hello_bench.run.config import Config, EnvironmentSpec

COMPLETE = "bench-environment.json"
#: The project's core dependencies a worker imports (the rest serve reports and the CLI, never a worker);
#: msgspec for ``bench check --env``, whose record check builds a record in the environment.
WORKER_PACKAGES = {"numpy", "pandas", "scikit-learn", "scipy", "threadpoolctl", "psutil", "py-cpuinfo", "tomli",
                   "msgspec"}  # fmt: skip
BUILD_TIMEOUT_S = 1800
#: Printed by a fresh interpreter: the exact version of every distribution it sees.
VERSIONS = "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"


@dataclass(frozen=True)
class BuiltEnvironment:
    """A ready environment: its name in the run, its interpreter and what is installed in it."""

    name: str
    python: str
    spec_hash: str
    requirements: tuple[str, ...]
    installer: str
    packages: dict

    def to_dict(self) -> dict:
        return asdict(self)


def cache_root() -> Path:
    """Where environments are kept (``BENCH_ENV_CACHE``, else the user's cache); a path that is no folder is one line."""
    base = os.environ.get("BENCH_ENV_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "hello-bench", "envs"
    )
    root = Path(base)
    for folder in [root, *root.parents]:
        if os.path.lexists(folder):
            if not folder.is_dir():
                raise UserError(f"Cannot keep environments in {root} (BENCH_ENV_CACHE or the user's cache): "
                                f"{folder} is not a folder.")  # fmt: skip
            break
    return root


def _project_requirements() -> tuple[list[str], dict[str, list[str]]]:
    """The project's core dependencies and its extras, from its pyproject.toml."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    data = tomllib.loads((Path(PACKAGE_ROOT) / "pyproject.toml").read_text())["project"]
    return list(data["dependencies"]), dict(data.get("optional-dependencies", {}))


def _expand_extra(name: str, extras: dict[str, list[str]], seen: set[str]) -> list[str]:
    """An extra's requirements, with the project's own extras it names (``hello-bench[torch]``) expanded."""
    if name in seen or name not in extras:
        return []
    seen.add(name)
    out = []
    for req in extras[name]:
        nested = re.fullmatch(r"hello-bench\[([^\]]+)\]", req.replace(" ", ""))
        if nested:
            for inner in nested.group(1).split(","):
                out += _expand_extra(inner, extras, seen)
        else:
            out.append(req)
    return out


def worker_requirements(config: Config) -> list[str]:
    """What the workers of ``config``'s matrix need: core dependencies plus the adapters' framework extras."""
    from packaging.requirements import Requirement

    from hello_bench.adapters import adapter_class

    core, extras = _project_requirements()
    core = [r for r in core if Requirement(r).name in WORKER_PACKAGES]
    needed: list[str] = _expand_extra("serving", extras, set()) if config.timing.serving else []
    for spec in config.adapters:
        if config.in_environments(spec):  # the user's own class: its package brings what it needs
            continue
        cls = adapter_class(spec.name)
        backend = spec.backend or cls.supported_backends[0]
        for extra in (cls.install_extra, "" if backend == "default" else backend):
            if extra == "tensorflow":
                extra = "tensorflow-cpu"
            needed += _expand_extra(extra, extras, set())
    return sorted(set(core + needed))


def pip_settings() -> dict[str, list[str]]:
    """The machine's pip configuration that uv would not read: find-links, extra indexes, constraints."""
    try:
        out = lifeline.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {}
    found: dict[str, list[str]] = {"find-links": [], "extra-index-url": [], "constraint": []}
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in found:
            found[option] += [v for v in value.strip().strip("'\"").split() if v not in found[option]]
    return found


def local_pins(requirements: list[str], find_links: list[str]) -> list[str]:
    """``name==version`` for packages this machine has as local wheels, unless the environment names them."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename

    named = {canonicalize_name(Requirement(r).name) for r in requirements}
    versions: dict[str, set[str]] = {}
    for folder in find_links:
        path = Path(folder.removeprefix("file://"))
        for wheel in path.glob("*.whl") if path.is_dir() else []:
            try:
                name, version, _, _ = parse_wheel_filename(wheel.name)
            except ValueError:
                continue
            versions.setdefault(name, set()).add(str(version))
    return [f"{name}=={next(iter(v))}" for name, v in sorted(versions.items()) if len(v) == 1 and name not in named]


def url_sources(requirements: tuple[str, ...] | list[str]) -> dict[str, str]:
    """What each URL requirement's content is now (a commit, a hash): a changed working tree is a new environment."""
    from packaging.requirements import Requirement

    from hello_bench.run.sources import fingerprint

    return {r: fingerprint(Requirement(r).url or "") for r in requirements if Requirement(r).url}


def specification(spec: EnvironmentSpec, config: Config) -> dict:
    """Everything that decides what an environment holds; its hash names the cached environment."""
    settings = pip_settings()
    base = worker_requirements(config)
    sources = url_sources(spec.requirements)
    return {
        **({"sources": sources} if sources else {}),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}",
        "base_python": _base_python(),
        "requirements": sorted(base) + list(spec.requirements),
        "own": list(spec.requirements),
        "pins": local_pins([*spec.requirements], settings.get("find-links", [])),
        "pip": settings,
        "installer": "uv" if shutil.which("uv") else "pip",
    }


def spec_hash(specification: dict) -> str:
    return hashlib.sha1(json.dumps(specification, sort_keys=True).encode()).hexdigest()[:16]


def _base_python() -> str:
    """The interpreter a new environment is made from (not this venv's, which may itself be a venv)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return str(Path(base).resolve())


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise UserError(f"Cannot keep environments in {path.parent}: {err.strerror or err} ({path.name}).") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run building the same environment: wait for it
        yield
    finally:
        os.close(fd)


def _run(command: list[str], what: str, requirements: tuple[str, ...] = ()) -> None:
    env = {
        **os.environ,
        "UV_HTTP_TIMEOUT": os.environ.get("UV_HTTP_TIMEOUT", "30"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    try:  # the build's process tree ends with bench, or at its timeout (hello_bench.lifeline)
        out = lifeline.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise UserError(f"{what}: the build ran past {BUILD_TIMEOUT_S} s.") from None
    except OSError as err:
        raise UserError(f"{what}: cannot run {command[0]}: {err.strerror or err}.") from None
    if out.returncode != 0:
        raise UserError(f"{what}: {_cause(out.stderr or out.stdout, requirements)}")


#: Installer lines that never say what went wrong (pip lists every version it skipped, at length).
NOISE = ("hint", "help", "using python", "warning", "error: ignored the following", "ignored the following",
         "note:")  # fmt: skip


def _cause(text: str, requirements: tuple[str, ...] = ()) -> str:
    """The informative part of an installer's error, as one line that names the environment's own requirements
    the installer blamed (whatever else it printed, and however long)."""
    lines = [re.sub(r"^[\s×╰─▶│|:]+", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.lower().startswith(NOISE)]
    cause = (" ".join(lines[-4:]) or "the installer failed without saying why")[:400]
    blamed = [r for r in requirements if _mentioned(r, text)]
    return f"cannot install {', '.join(blamed)}: {cause}" if blamed else cause


def _mentioned(requirement: str, text: str) -> bool:
    """Whether the installer's output names ``requirement``'s package (as written or normalised)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        name = Requirement(requirement).name
    except InvalidRequirement:
        return requirement in text
    spellings = {name.lower(), canonicalize_name(name), canonicalize_name(name).replace("-", "_")}
    return any(re.search(rf"(?<![\w.-]){re.escape(s)}(?![\w-])", text.lower()) for s in spellings)


def _install_commands(path: Path, spec: dict) -> list[list[str]]:
    """Make the venv, then install into it (the pins go to a constraints file beside the environment)."""
    python = str(path / "bin" / "python")
    constraints = path.with_name(path.name + ".constraints.txt")
    constraints.write_text("\n".join(spec["pins"]) + "\n")
    pip = spec["pip"]
    if spec["installer"] == "uv":
        options = [f"--find-links={f}" for f in pip.get("find-links", [])]
        options += [f"--extra-index-url={u}" for u in pip.get("extra-index-url", [])]
        options += [f"--constraint={c}" for c in [*pip.get("constraint", []), str(constraints)] if Path(c).is_file()]
        if pip.get("extra-index-url"):
            options.append("--index-strategy=unsafe-best-match")  # local mirrors hold only some versions
        # A local folder or repository is built afresh, and so is every local package it pulls in (a path
        # dependency in a subfolder): uv's build cache keys on pyproject.toml, not on the code.
        options += ["--refresh"] if spec.get("sources") else []
        return [["uv", "venv", "--quiet", "--python", spec["base_python"], str(path)],
                ["uv", "pip", "install", "--quiet", "--python", python, *options, *spec["requirements"]]]  # fmt: skip
    requirements = [pip_spelling(r) for r in spec["requirements"]]
    return [[spec["base_python"], "-m", "venv", str(path)],
            [python, "-m", "pip", "install", "--quiet", "--constraint", str(constraints), *requirements]]  # fmt: skip


def pip_spelling(requirement: str) -> str:
    """``requirement`` as every pip reads it: pip before 24 (its packaging) refuses a ``git+file:///path`` URL
    (no host), the README's recipe; ``git+file://localhost/path`` is the same repository to git and to pip."""
    return requirement.replace("git+file:///", "git+file://localhost/")


def ensure(spec: EnvironmentSpec, config: Config, say: object = print) -> BuiltEnvironment:
    """The environment for ``spec``: reused when built before, built now otherwise (under a lock)."""
    what = f"Environment {spec.name!r}"
    specs = specification(spec, config)
    key = spec_hash(specs)
    path = cache_root() / key
    with _locked(cache_root() / f"{key}.lock"):
        marker = path / COMPLETE
        if not marker.is_file():
            if path.exists():
                shutil.rmtree(path)  # a build that was interrupted: never used half-built
            copies = Path(tempfile.mkdtemp(prefix="bench-build-"))
            try:
                make, install = _install_commands(
                    path, {**specs, "requirements": in_copies(specs["requirements"], copies)}
                )
                _run(make, what)
                # Resolved first, quietly: a requirement that cannot be had is the one line, before any news
                # of a build (a resolution is seconds; the build it announces can be minutes).
                _run([*install, "--dry-run"], what, spec.requirements)
                if callable(say):
                    say(f"{what}: building ({specs['installer']}; "
                        f"{', '.join(spec.requirements) or 'no extra requirements'}) in {path}")  # fmt: skip
                _run(install, what, spec.requirements)
                packages = _versions(path / "bin" / "python", what)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            finally:
                shutil.rmtree(copies, ignore_errors=True)
            marker.write_text(json.dumps({"spec": specs, "packages": packages}, indent=2, sort_keys=True))
        data = json.loads(marker.read_text())
    return BuiltEnvironment(spec.name, str(path / "bin" / "python"), key, spec.requirements, specs["installer"],
                            data["packages"])  # fmt: skip


def _versions(python: Path, what: str) -> dict:
    try:
        out = lifeline.run([str(python), "-I", "-c", VERSIONS], capture_output=True, text=True, timeout=120, check=True)
        return dict(sorted(json.loads(out.stdout).items()))
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        raise UserError(f"{what}: the new environment's Python does not run ({err}).") from None


def ensure_all(config: Config, say: object = print) -> dict[str, BuiltEnvironment]:
    """Every environment of ``config``, by name (none: an empty dict)."""
    return {spec.name: ensure(spec, config, say) for spec in config.environments}
