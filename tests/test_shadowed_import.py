"""A package shadowed on PYTHONPATH that cannot import is one line naming where it was raised, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_shadowed_sklearn_is_one_line(tmp_path):
    (tmp_path / "shadow" / "sklearn").mkdir(parents=True)
    (tmp_path / "shadow" / "sklearn" / "__init__.py").write_text("raise ImportError('a broken copy')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shadow")}
    out = subprocess.run([sys.executable, "-m", "hello_bench", "run", "--quick", "--adapters", "sklearn-lr", "--results-dir",
                          str(tmp_path / "results")], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "a broken copy" in out.stderr and str(tmp_path / "shadow" / "sklearn") in out.stderr
    assert not (tmp_path / "results").exists()
