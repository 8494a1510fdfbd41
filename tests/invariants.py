"""What every command must do with any input, as reusable checks: the documented exit statuses,
one line on stderr on error, no traceback, nothing written when the input was refused.

Tests run as root, so a read-only file would not stop a write: "nothing written" is proved by
comparing snapshots of the whole tree (type, size, mtime and content hash of every entry).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from hello_bench.cli.commands import EXIT

#: The documented table (README, ``bench --help``); 5 is reserved for an inconclusive comparison.
DOCUMENTED = set(EXIT.values()) | {5}


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (links not followed): type, size, mtime, and a hash of regular files."""
    out: dict[str, tuple] = {}
    if not os.path.lexists(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = os.lstat(path)
            digest = ""
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(path)
            out[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, digest)
    return out


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """``hello_bench.cli.main(argv)`` in this process: (exit status, stdout, stderr)."""
    from hello_bench.cli import main

    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors and --help
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clean_failure(code: int, err: str, expected: set[int] | None = None) -> None:
    """A refused input: a documented non-zero status, exactly one line on stderr, no traceback."""
    assert code in (expected or DOCUMENTED - {0}), (code, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err


#: Timing settings that make a trial take a fraction of a second (fake adapters, tiny data).
TINY_TIMING = (
    "[timing]\nwarmup = 1\nlatency_min_calls = 5\nlatency_budget_s = 0.01\nstock_min_calls = 2\nstock_budget_s = 0.01\n"
    "batch_sizes = [1]\nthroughput_budget_s = 0.005\nserving = false\ncurves = false\n"
)


def tiny_config(path: Path, adapters: list[str], splits: int = 1, extra: str = "") -> Path:
    """A TOML config for a fast run (top-level keys in ``extra``), written to ``path``."""
    names = ", ".join(f'"{a}"' for a in adapters)
    path.write_text(f'adapters = [{names}]\ndevices = ["cpu"]\nsplits = {splits}\n{extra}\n{TINY_TIMING}')
    return path


def fast_runs(monkeypatch) -> None:
    """Runs without the parts a test of something else does not need: the control measurement
    (two extra processes per run) and the machine fingerprint (py-cpuinfo's helper process)."""
    from hello_bench.measure import machine
    from hello_bench.run import process

    monkeypatch.setattr(process, "control_in_worker", lambda *args, **kwargs: {})
    monkeypatch.setattr(machine, "fingerprint", lambda control=True: {"machine_id": "test", "hostname": "test"})


def tiny_figures(monkeypatch) -> None:
    """Reports stage one small figure instead of drawing every one (the writer is under test, not seaborn)."""
    from hello_bench.report import figures

    monkeypatch.setattr(
        figures,
        "draw",
        lambda ok, acc, extras, fig_dir: {"Accuracy per adapter": (fig_dir / "accuracy.png").stage(b"\x89PNG")},
    )


#: Timing settings of the slow end-to-end tests that compare runs: a few calls each, no curves, no serving.
TINY_TIMING = """[timing]
warmup = 1
latency_min_calls = 20
latency_budget_s = 0.01
stock_min_calls = 2
stock_budget_s = 0.01
batch_sizes = [1]
throughput_budget_s = 0.01
serving = false
curves = false
"""


def committed_runs(root: Path) -> list[str] | None:
    """The run folders under ``root/results/runs`` that git tracks (a user's own runs there are not committed);
    None outside a git checkout (an unpacked sdist), where nothing says which runs were committed."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        return None
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--", "results/runs"], capture_output=True,
                         timeout=60)  # fmt: skip
    if out.returncode != 0:
        return None
    paths = [p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
    return sorted({p.split("/")[2] for p in paths if p.count("/") >= 3})
