"""Where pytest-benchmark saves and looks: one folder per machine's hardware, decided before it looks.

pytest-benchmark names its storage folder when its session starts
(``BenchmarkSession.__init__`` calls ``get_machine_id()``) and loads the run to
compare with right away. The folder must be this machine's from that moment,
or ``--benchmark-compare`` looks in one folder while ``--benchmark-save`` wrote
to another ("Can't compare. No benchmark files"). :func:`use_machine_folder`
runs from ``tests/conftest.py`` (loaded before any plugin configures) and hands
pytest-benchmark the folder name as its machine id.

Exit statuses, as in ``bench``: 4 when ``--benchmark-compare-fail`` finds a
regression (``bench compare --fail-above``), 2 when pytest-benchmark refuses
its options (no saved run to compare with); pytest's own stay pytest's
(1 tests failed, 5 no tests collected).
"""

from __future__ import annotations

import re
from typing import Any

#: The same numbers as bench's exit statuses (hello_bench.cli.commands.EXIT).
EXIT_REGRESSION = 4
EXIT_USAGE = 2


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40]


def storage_folder(env: dict) -> str:
    """``Linux-AMD_EPYC-2c-nogpu-772706da67``: readable, and unique per hardware."""
    gpus = "+".join(slug(g["name"]) for g in env["gpus"]) or "nogpu"
    return (
        f"{env['os']['system']}-{slug(env['cpu']['model'])}-{env['cpu']['logical_cores']}c-{gpus}-{env['machine_id']}"
    )


def this_machine_folder() -> str:
    """The folder of this machine (its hardware only: no control measurement, no package scan)."""
    from hello_bench.measure.machine import hardware, machine_id

    env = hardware()
    return storage_folder({**env, "machine_id": machine_id(env)})


def benchmarks_active(config: Any) -> bool:
    """Whether this pytest run measures, saves or compares benchmarks (the plain test suite skips them)."""
    get = config.getoption
    try:
        return bool(get("benchmark_only") or not get("benchmark_skip") or get("benchmark_save") or get("benchmark_autosave")
                    or get("benchmark_compare"))  # fmt: skip
    except ValueError:  # pytest-benchmark is not installed or disabled
        return False


def use_machine_folder(config: Any) -> None:
    """Make pytest-benchmark's machine id this machine's folder before its session starts."""
    if not benchmarks_active(config):
        return
    import pytest_benchmark.session

    folder = this_machine_folder()
    pytest_benchmark.session.get_machine_id = lambda: folder
    config.pluginmanager.register(MachineInfo(folder), "bench-machine-info")


class MachineInfo:
    """``machine_info`` gets this machine's folder and id, also when pytest-benchmark loads the run to compare with
    (before tests/benchmarks/conftest.py is loaded): both runs then carry the same keys, and no "machine_info is
    different" warning appears between two runs of one machine."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def pytest_benchmark_update_machine_info(self, config: Any, machine_info: dict) -> None:
        machine_info["bench_machine_folder"] = self.folder
        machine_info["bench_machine_id"] = self.folder.rsplit("-", 1)[-1]
