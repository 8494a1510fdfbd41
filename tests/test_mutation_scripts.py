"""scripts/mutation-score: the whole scope's score, exact when every mutant was checked, estimated from a random
sample when not (``scripts/mutation-run --sample N``), never a score over only the part that ran."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _score(tmp_path: Path, statuses: dict[str, str], drawn: dict | None = None) -> subprocess.CompletedProcess:
    """mutation-score in ``tmp_path`` against a stand-in ``mutmut`` that lists ``statuses``."""
    fake = tmp_path / "bin" / "mutmut"
    fake.parent.mkdir(exist_ok=True)
    listing = "".join(f"    {name}: {s}\n" for name, s in statuses.items())
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({listing!r})\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    if drawn is not None:
        (tmp_path / "sample.json").write_text(json.dumps(drawn))
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "mutation-score"), "--min", "0.9"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_every_mutant_checked_gives_the_exact_score(tmp_path):
    done = _score(tmp_path, {**{f"m.x_f__mutmut_{i}": "killed" for i in range(9)}, "m.x_f__mutmut_9": "timeout"})
    assert done.returncode == 0 and "score: 100.0% detected (killed only: 90.0%)" in done.stdout
    low = _score(tmp_path, {**{f"m.x_f__mutmut_{i}": "killed" for i in range(8)}, "m.x_g__mutmut_1": "survived",
                            "m.x_g__mutmut_2": "no tests"})  # fmt: skip
    assert low.returncode == 1 and "score: 80.0% detected" in low.stdout
    assert "m.x_g__mutmut_1: survived" in low.stdout and "m.x_g__mutmut_2: no tests" in low.stdout


def test_a_part_that_ran_is_no_whole_scope_score_unless_a_random_sample_estimates_the_rest(tmp_path):
    statuses = {**{f"m.x_f__mutmut_{i}": "killed" for i in range(90)}, **{f"m.x_g__mutmut_{i}": "not checked"
                                                                          for i in range(10)}}  # fmt: skip
    partial = _score(tmp_path, statuses)
    assert partial.returncode == 1 and "score: none for the whole scope (10 mutants not checked" in partial.stdout
    pool = [f"m.x_g__mutmut_{i}" for i in range(10)]
    statuses.update({"m.x_g__mutmut_0": "killed", "m.x_g__mutmut_1": "survived"})  # the sample, run: 1 of 2
    estimated = _score(tmp_path, statuses, {"pool": pool, "sample": pool[:2]})
    # 90 detected outside the pool, half of the pool of 10 estimated: 95 of 100, with a wide interval
    assert "score: 95.0% detected, estimated [95% CI 90.1%, 99.9%]" in estimated.stdout
    assert "1/2 of a random sample detected [95% CI 1.3%, 98.7%]" in estimated.stdout
    assert estimated.returncode == 0  # its low end, 90.1%, meets 90%
    statuses["m.x_f__mutmut_0"] = "survived"  # one fewer detected outside the pool: the low end is 89.1%
    assert _score(tmp_path, statuses, {"pool": pool, "sample": pool[:2]}).returncode == 1
