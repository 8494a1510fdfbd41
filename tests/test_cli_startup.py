"""``bench --version`` and ``bench --help`` start at once: they import no numerical or framework module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "scipy", "sklearn", "matplotlib", "seaborn", "torch", "tensorflow", "keras", "jax",
         "adapters", "msgspec", "pyarrow", "rich", "distributed")  # fmt: skip
PROBE = (
    "import sys, json\n"
    "from hello_bench.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["run", "--help"], ["compare", "--help"]])
def test_version_and_help_import_nothing_heavy(argv):
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + PROBE, *argv],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    modules = json.loads(out.stderr.strip().splitlines()[-1])
    loaded = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert loaded == [], f"bench {' '.join(argv)} imported {loaded}"
