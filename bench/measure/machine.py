"""The machine and software a run ran on: one fingerprint, recorded with every run.

Reads versions from package metadata (no framework is imported here; the
adapters name their own packages) and the hardware from the OS and
py-cpuinfo. Also times control workloads (:mod:`hello_bench.measure.noise`) so that
ratios between machines can be read against their raw speed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from hello_bench.measure.devices import cpu_model, nvidia_gpus

#: The harness's own packages; the adapters add theirs (``BenchClassifier.packages``).
CORE_PACKAGES = ("numpy", "scipy", "scikit-learn", "pandas", "threadpoolctl", "onnxruntime", "dask", "distributed")


def package_versions() -> dict:
    """Installed versions of the packages that shape results (None if absent)."""
    from hello_bench.adapters.registry import all_packages

    out: dict[str, str | None] = {}
    for name in sorted({*CORE_PACKAGES, *all_packages()}):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The project's git commit, with ``-dirty`` when the tree has changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10)
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def project_commit(folder: Path) -> dict | None:
    """The git commit (and whether the tree has changes) of the user's working folder, where it is a repository."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=folder, capture_output=True,
                             text=True, timeout=10)  # fmt: skip
        if top.returncode != 0:
            return None
        root, commit = top.stdout.split()[:2]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=10)  # fmt: skip
        return {"path": root, "commit": commit, "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def blas_info() -> list[dict]:
    import numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    return [
        {k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
        for info in threadpool_info()
    ]


def control_measurement(threads: int = 1, span_s: float | None = None) -> dict:
    """Raw machine speed over spans long enough to see throttling (:mod:`hello_bench.measure.noise`)."""
    from hello_bench.measure.noise import SPAN_S
    from hello_bench.measure.noise import control_measurement as measure

    return measure(threads, SPAN_S if span_s is None else span_s)


def machine_id(env: dict | None = None) -> str:
    """Short stable id of this machine's hardware (or of ``env``'s)."""
    env = env or hardware()
    key = "|".join(
        [
            env["cpu"]["model"],
            str(env["cpu"]["logical_cores"]),
            ",".join(g["name"] for g in env["gpus"]),
            env["os"]["machine"],
        ]
    )
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def hardware() -> dict:
    import psutil

    return {
        "cpu": {
            "model": cpu_model(),
            "logical_cores": os.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False),
        },
        "gpus": nvidia_gpus(),
        "os": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
    }


def fingerprint(control: bool = True) -> dict:
    """Everything that shapes a timing, as a JSON-ready dict."""
    import psutil

    env = {
        "hostname": socket.gethostname(),
        **hardware(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": package_versions(),
        "blas": blas_info(),
        "git_commit": git_commit(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "CUDA_VISIBLE_DEVICES")},
    }
    env["machine_id"] = machine_id(env)
    if control:
        env["control"] = control_measurement()
    return env
