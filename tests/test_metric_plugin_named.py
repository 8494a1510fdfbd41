"""A BENCH_METRICS target that gives no metric is one line and exit 1, never a run that silently measures nothing."""

from __future__ import annotations

import json

import pytest

from hello_bench.cli.parser import main


@pytest.mark.parametrize(
    "target, why",
    [
        ("nosuch_module_xyz:ALL", "cannot load: ModuleNotFoundError"),
        ("os:path", "holds no Metric (got module)"),
        ("tests.fake_metrics:NOPE", "cannot load"),
        ("tests.fake_metrics", ""),
    ],  # fmt: skip
)
def test_a_named_metric_plugin_that_gives_nothing_is_one_line(monkeypatch, capsys, target, why, tmp_path):
    monkeypatch.setenv("BENCH_METRICS", target)
    assert main(["run", "--dry-run", "--results-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: BENCH_METRICS {target!r} ") and why in err
    assert not (tmp_path / "r").exists()


def test_bench_list_shows_the_problem_instead_of_refusing(monkeypatch, capsys):
    monkeypatch.setenv("BENCH_METRICS", "nosuch_module_xyz:ALL")
    assert main(["list", "--json"]) == 0
    problems = json.loads(capsys.readouterr().out)["metric_plugin_problems"]
    assert len(problems) == 1 and "nosuch_module_xyz" in problems[0]
    assert main(["list"]) == 0 and "give no metric" in capsys.readouterr().out


def test_a_good_one_and_blanks_are_fine(monkeypatch, capsys):
    monkeypatch.setenv("BENCH_METRICS", " , tests.fake_metrics:ALL ,")
    assert main(["list", "--json"]) == 0


def test_a_plugin_in_the_current_folder_says_why_it_is_not_found(monkeypatch, capsys, tmp_path):
    (tmp_path / "cwdplug_xyz.py").write_text("ALL = []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_METRICS", "cwdplug_xyz:ALL")
    assert main(["check", "sklearn-lr"]) == 1
    assert "cwdplug_xyz is in the current folder, which bench never imports from" in capsys.readouterr().err
