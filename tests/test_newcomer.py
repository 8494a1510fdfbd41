"""What a newcomer hits first: the live progress line, help and README that agree with the configs, a quiet console,
GPU trials only where a GPU is, PyTorch's CPU wheel documented apart from the one-command quick start."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hello_bench.cli.parser import build_parser
from hello_bench.run.config_files import builtin_config_path, load_config, read_toml
from tests.test_report import record, write_run

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_progress_line_shows_backends_in_brackets():
    from rich.console import Console

    from hello_bench.run.progress import Progress

    live = Progress(4, stream=io.StringIO(), live=True)
    live.started("iris/keras-mlp:seed[tensorflow]/cpu/split-01")
    screen = io.StringIO()
    Console(file=screen, width=160, color_system=None).print(live)
    assert "keras-mlp:seed[tensorflow]/cpu" in screen.getvalue()  # not eaten as rich markup


def _help(command: str) -> str:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return " ".join(sub.choices[command].format_help().split())


def test_help_and_readme_agree_with_the_configs():
    default, quick, full = (read_toml(builtin_config_path(n)) for n in ("default", "quick", "full"))
    text = _help("run")
    assert f"default config: {default['splits']}, quick: {quick['splits']}" in text
    assert f"{quick['splits']} splits, faster MLP settings" in text
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|([^|]+)\|", README, re.M)}
    for name, config in (("default", default), ("quick", quick), ("full", full)):
        assert f"{config['splits']} splits" in rows[name], (name, rows[name])
    assert "a `lock`" not in README and "lock left by a dead process" not in README  # no lock file any more


def test_devices_auto_runs_gpu_trials_only_where_a_gpu_is(monkeypatch):
    from hello_bench.measure import devices
    from hello_bench.run.matrix import expand

    config = load_config(builtin_config_path("quick"))
    assert config.devices == ("auto",)
    monkeypatch.setattr(devices, "_gpu_here", lambda: False)
    assert {t.device for t in expand(config)} == {"cpu"} and config.n_trials() == len(list(expand(config)))
    monkeypatch.setattr(devices, "_gpu_here", lambda: True)
    assert {t.device for t in expand(config)} == {"cpu", "gpu"}
    monkeypatch.setattr(devices, "_gpu_here", lambda: False)
    from dataclasses import replace

    asked = [t for t in expand(replace(config, devices=("gpu",))) if t.device == "gpu"]
    assert asked  # --devices gpu on a CPU machine: the trials are there, recorded as skipped with the reason


def test_report_prints_nothing_but_its_summary(tmp_path):
    """No numpy RuntimeWarning (or any other) on the console: censored times and empty groups are expected."""
    rng = np.random.default_rng(5)
    recs = []
    for s in range(4):
        acc = 0.9 + 0.01 * rng.standard_normal()
        never = {
            "train_time_s": [0.5, 1.0],
            "loss": [1.0, 0.9],
            "test_accuracy": [0.3, 0.4],
        }  # never reaches the target
        recs.append(record("sklearn-lr", s, acc, fit=0.2))
        recs.append(record("torch-mlp:seed", s, acc, fit=1.0, curve=never))
    write_run(tmp_path, "r", recs)
    code = (
        f"from hello_bench.cli import main; raise SystemExit(main(['report', 'r', '--results-dir', {str(tmp_path)!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == "" and out.stdout.startswith("Report written to")


def test_quick_start_stays_one_command_and_the_cpu_wheel_has_its_own():
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert 'pip install -e ".[cpu]" && bench seed && bench run && bench report' in quick_start
    assert "--index-url https://download.pytorch.org/whl/cpu" in README  # the separate, documented command


@pytest.mark.parametrize(
    "command", ["run", "seed", "report", "compare", "scale", "export", "env", "list", "publish", "history", "check"]
)
def test_every_command_takes_json(command):
    assert "--json" in _help(command)
