"""The machine and software a run ran on: one fingerprint, recorded with every run.

Reads versions from package metadata (no framework is imported here) and the
hardware from the OS. Also times a small control workload so that ratios
between machines can be read against their raw speed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .devices import nvidia_gpus

PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "keras",
    "tensorflow",
    "tensorflow-cpu",
    "torch",
    "jax",
    "jaxlib",
    "threadpoolctl",
    "dask",
    "distributed",
)


def package_versions() -> dict:
    """Installed versions of the packages that shape results (None if absent)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The project's git commit, with ``-dirty`` when the tree has changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10)
        return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def blas_info() -> list[dict]:
    import numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    return [
        {k: info.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "filepath")}
        for info in threadpool_info()
    ]


def control_measurement(repeats: int = 5) -> dict:
    """Raw machine speed: a numpy matrix product and a pure-Python loop (median ms)."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((256, 256))

    def matmul():
        a @ a

    def loop():
        total = 0
        for i in range(200_000):
            total += i
        return total

    out = {}
    for name, fn in (("numpy_matmul_256_ms", matmul), ("python_loop_200k_ms", loop)):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter_ns()
            fn()
            times.append(time.perf_counter_ns() - start)
        out[name] = sorted(times)[len(times) // 2] / 1e6
    return out


def machine_id(env: dict) -> str:
    """Short stable id of the hardware (CPU model, cores, GPUs): names storage folders."""
    key = "|".join(
        [
            env["cpu"]["model"],
            str(env["cpu"]["logical_cores"]),
            ",".join(g["name"] for g in env["gpus"]),
            env["os"]["machine"],
        ]
    )
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def fingerprint(control: bool = True) -> dict:
    """Everything that shapes a timing, as a JSON-ready dict."""
    import psutil

    env = {
        "hostname": socket.gethostname(),
        "cpu": {
            "model": cpu_model(),
            "logical_cores": os.cpu_count(),
            "physical_cores": psutil.cpu_count(logical=False),
        },
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": nvidia_gpus(),
        "os": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": package_versions(),
        "blas": blas_info(),
        "git_commit": git_commit(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "env": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "CUDA_VISIBLE_DEVICES", "KERAS_BACKEND")
        },
    }
    env["machine_id"] = machine_id(env)
    if control:
        env["control"] = control_measurement()
    return env
