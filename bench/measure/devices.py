"""Which devices this machine has, found without importing a framework."""

from __future__ import annotations

import functools
import platform
import shutil
import subprocess
from pathlib import Path


def nvidia_gpus() -> list[dict]:
    """GPUs reported by ``nvidia-smi`` (name, memory MiB, driver); [] if none or no tool."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "memory_mib": int(float(parts[1])), "driver": parts[2]})
    return gpus


@functools.lru_cache(maxsize=1)
def _gpu_here() -> bool:
    """Whether nvidia-smi finds a GPU (asked once per process: the hardware does not change during a run)."""
    return bool(nvidia_gpus())


def resolve_devices(devices: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``auto`` -> cpu, and gpu where nvidia-smi finds a GPU; named devices stay as asked.

    A device named explicitly (``--devices gpu`` on a CPU machine) is kept, so its
    trials are recorded as skipped with the reason; ``auto`` asks only for what is here.
    """
    out: list[str] = []
    for device in devices:
        wanted = (["cpu", "gpu"] if _gpu_here() else ["cpu"]) if device == "auto" else [device]
        out += [d for d in wanted if d not in out]
    return tuple(out)


def describe_devices() -> list[list]:
    """Rows for ``bench list``: device, present, detail."""
    gpus = nvidia_gpus()
    rows = [["cpu", "yes", cpu_model()]]
    if gpus:
        rows.append(["gpu", "yes", "; ".join(f"{g['name']} ({g['memory_mib']} MiB)" for g in gpus)])
    else:
        rows.append(
            [
                "gpu",
                "no",
                "no NVIDIA GPU found (nvidia-smi); devices = auto runs CPU trials only, --devices gpu records them as skipped",
            ]
        )
    return rows


def cpu_model() -> str:
    """The CPU's brand name (py-cpuinfo), the same wherever it is shown."""
    try:
        import cpuinfo

        brand = cpuinfo.get_cpu_info().get("brand_raw")
        if brand:
            return str(brand)
    except Exception:  # py-cpuinfo can fail on exotic platforms: fall back to the OS
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
