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
    assert f"names a metric it cannot have ('{clash}' is a built-in metric's name)" in capsys.readouterr().err


def test_two_plugins_naming_one_metric_are_refused(monkeypatch, capsys, tmp_path):
    _entry_points(monkeypatch, "tests.fake_metrics:ALL")
    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:N_PARAMS")  # one of ALL's again, by another target
    try:
        assert main(["run", "--dry-run", "--results-dir", str(tmp_path / "r")]) == 1
        assert "is entry point bench.metrics 'ep0' (tests.fake_metrics:ALL)'s name" in capsys.readouterr().err
    finally:
        from hello_bench import record

        record._plugin_metrics.cache_clear()


def test_a_plugin_metric_the_workers_python_cannot_load_is_named_in_the_warnings(monkeypatch):
    """An environment without the plugin gives records without its metric: each trial says so, never a silent gap."""
    from types import SimpleNamespace

    from hello_bench import record
    from hello_bench.run.runner import _name_unmeasured_plugins

    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:ALL")
    plugins = [m.column for m in record.measured_metrics()]
    assert plugins
    fields = {"status": "ok", "metrics": None, "warnings": ["UserWarning: x"]}
    _name_unmeasured_plugins(fields, SimpleNamespace(environment="base"))
    assert fields["warnings"] == sorted(["UserWarning: x", *(f"metric {c} not measured: its plugin does not load in "
                                                              "environment 'base' (install it there)" for c in plugins)])  # fmt: skip
    measured = {"status": "ok", "metrics": dict.fromkeys(plugins), "warnings": []}
    _name_unmeasured_plugins(measured, SimpleNamespace(environment=None))
    assert measured["warnings"] == []  # known to the worker (None has its own reason when the metric failed)


def test_bench_list_shows_the_names_the_gate_takes(monkeypatch, capsys):
    """The short names --gate-metrics takes come from bench list (README), plugin metrics with them."""
    monkeypatch.setenv("BENCH_METRICS", "tests.fake_metrics:ALL")
    assert main(["list", "--json"]) == 0
    listed = {m["short"]: m for m in json.loads(capsys.readouterr().out)["metrics"]}
    assert {"accuracy", "fit", "p50", "tput", "cold", "p99"} <= set(listed)
    assert listed["fit"]["gated"] and not listed["cold"]["gated"] and listed["tput"]["keyed"]
    assert listed["n_params"]["kind"] == "count" and listed["n_params"]["threshold_text"].startswith("changed by")
    assert main(["list"]) == 0 and "| n_params " in capsys.readouterr().out


@pytest.mark.parametrize(
    "column, short, why",
    [
        ("split_seed", "", "'split_seed' is a record field's name"),  # a record field: the frame would lose it
        ("dataset", "", "'dataset' is a record field's name"),
        ("record_line", "", "'record_line' is a column of bench's frame's name"),
        ("Accuracy", "", "'accuracy' is a built-in metric's name"),  # names compare without case
        ("my_x", "tput:32", "its short name 'tput:32' is not a name"),  # the gate's own NAME:KEY syntax
        ("my_y", "accuracy ", "its short name 'accuracy ' is not a name"),
    ],
)
def test_a_plugin_metric_name_that_would_break_a_reader_is_refused(monkeypatch, capsys, tmp_path, column, short, why):
    """A stranger named a metric 'split_seed': bench check and run accepted it, then every report was a traceback."""
    module = tmp_path / f"named_{abs(hash((column, short)))}.py"
    module.write_text("from hello_bench.metrics import Metric\n"
                      f"ALL = [Metric.measured({column!r}, lambda clf, split: 1, label='x', kind='count', short={short!r})]\n")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCH_METRICS", f"{module.stem}:ALL")
    assert main(["report", "--results-dir", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err


def test_one_target_given_twice_and_one_metric_listed_twice_are_one(monkeypatch, capsys, tmp_path):
    (tmp_path / "twice_xyz.py").write_text("from tests.fake_metrics import N_PARAMS\nALL = [N_PARAMS, N_PARAMS]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCH_METRICS", "twice_xyz:ALL, twice_xyz:ALL")
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metric_plugin_problems"] == []
