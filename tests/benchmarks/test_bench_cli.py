"""How long the CLI takes to answer ``--version`` and ``--help`` (a fresh process each round, re-exec included)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = shutil.which("bench") or str(Path(sys.executable).with_name("bench"))


@pytest.mark.parametrize("argv", [["--version"], ["--help"]], ids=["version", "help"])
def test_cli_start_up(benchmark, argv):
    benchmark.pedantic(
        lambda: subprocess.run([BENCH, *argv], capture_output=True, check=True), rounds=10, warmup_rounds=1
    )
