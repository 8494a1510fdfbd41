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


def _entry_points(monkeypatch, *values: str) -> None:
    from importlib.metadata import EntryPoint

    from hello_bench import record

    points = [EntryPoint(f"ep{i}", v, "bench.metrics") for i, v in enumerate(values)]
    monkeypatch.setattr(record, "entry_points", lambda group: points if group == "bench.metrics" else [])
    record._plugin_metrics.cache_clear()


@pytest.mark.parametrize("value", ["tests.fake_metrics:ALL_METRICS", "tests.fake_metricz:ALL", "os:path"])
def test_a_broken_metric_entry_point_is_listed_and_refused(monkeypatch, capsys, tmp_path, value):
    """An installed package's entry point fails as BENCH_METRICS does: listed by bench list, refused elsewhere."""
    _entry_points(monkeypatch, value)
    try:
        assert main(["list", "--json"]) == 0
        (problem,) = json.loads(capsys.readouterr().out)["metric_plugin_problems"]
        assert problem.startswith(f"entry point bench.metrics 'ep0' ({value})")
        assert main(["run", "--dry-run", "--results-dir", str(tmp_path / "r")]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "uninstall the package declaring the entry point" in err
        assert not (tmp_path / "r").exists()
    finally:
        from hello_bench import record

        record._plugin_metrics.cache_clear()


@pytest.mark.parametrize("clash", ["accuracy", "fit"])  # a built-in's column, a built-in's short name
def test_a_plugin_metric_named_like_another_is_refused_not_dropped(monkeypatch, capsys, tmp_path, clash):
    module = tmp_path / f"clashing_{clash}_xyz.py"
    module.write_text("from hello_bench.metrics import Metric\n"
                      f"ALL = [Metric.measured({clash!r}, lambda clf, split: 1, label='x', unit='', kind='count')]\n")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCH_METRICS", f"clashing_{clash}_xyz:ALL")
    assert main(["run", "--dry-run", "--results-dir", str(tmp_path / "r")]) == 1
    assert f"names a metric already taken ('{clash}' is a built-in metric's name)" in capsys.readouterr().err


def test_two_plugins_naming_one_metric_are_refused(monkeypatch, capsys, tmp_path):
    _entry_points(monkeypatch, "tests.fake_metrics:ALL")
    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:ALL")
    try:
        assert main(["run", "--dry-run", "--results-dir", str(tmp_path / "r")]) == 1
        assert "is entry point bench.metrics 'ep0' (tests.fake_metrics:ALL)'s name" in capsys.readouterr().err
    finally:
        from hello_bench import record

        record._plugin_metrics.cache_clear()
