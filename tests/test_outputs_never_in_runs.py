"""Issue 29, items 1 and 2: no command's output lands inside a run folder, wherever ``--out`` points, and
every path a library writes (MLflow's database, its file store, its artifacts) is checked by the same rules
before the library is called; every refusal comes before the first byte.

A run folder is a folder holding a run's marker files, wherever it is: under the command's results folder,
under another one, a copy, a sealed reference. Targets are drawn: a command that writes, and a spelling of a
place inside a run (the folder itself, a file in it, ``..`` detours, absolute paths, a symlinked parent, a
new folder in a runs folder).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hello_bench.errors import UserError
from hello_bench.store import safefs
from tests.invariants import assert_clean_failure, run_cli, snapshot, tiny_figures
from tests.test_report import record, write_run

RECORDS = [record(a, s, 0.9 + 0.01 * s, fit=0.2 + s / 10) for a in ("sklearn-lr", "mlp") for s in range(3)]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Two runs under ``results``, a copy of one under ``other/runs`` (another results folder), a link to a run."""
    root = tmp_path_factory.mktemp("store")
    write_run(root / "results", "a", RECORDS)
    write_run(root / "results", "b", RECORDS)
    shutil.copytree(root / "results" / "runs" / "a", root / "other" / "runs" / "copied")
    os.symlink(root / "results" / "runs" / "a", root / "alias")
    (root / "work").mkdir()
    return root


#: (how the place is spelled relative to the store's root, whether it names a file).
PLACES = [
    ("results/runs/a", False),
    ("results/runs/a/records.jsonl", True),
    ("results/runs/a/logs/x", False),
    ("results/runs/a/../a/config.json", True),
    ("work/../results/runs/b/run.json", True),
    ("results/runs/new-folder", False),
    ("results/runs", False),
    ("other/runs/copied", False),
    ("other/runs/copied/records.jsonl", True),
    ("other/runs/fresh", False),
    ("alias/out", False),
    ("alias/records.jsonl", True),
]


def _argv(command: str, target: str, is_file: bool) -> list[str]:
    if command == "export":
        return ["export", "a", "--to", "parquet", "--out", target if is_file else target + "/x.parquet"]
    if command == "report":
        return ["report", "a", "--out", target]
    if command == "compare":
        return ["compare", "a", "b", "--out", target]
    if command == "history":
        return ["history", "a", "b", "--out", target]
    return ["publish", "--out", target]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["export", "report", "compare", "history", "publish"]),
    place=st.sampled_from(PLACES),
    absolute=st.booleans(),
)
def test_no_output_lands_in_a_run_folder(store, monkeypatch, capsys, command, place, absolute):
    tiny_figures(monkeypatch)
    monkeypatch.chdir(store)
    spelled, is_file = place
    if is_file and command != "export":  # the other commands take folders: a file's spelling is the folder's
        spelled = spelled.rsplit("/", 1)[0]
    target = str(store / spelled) if absolute else spelled
    before = snapshot(store)
    code, _, err = run_cli([*_argv(command, target, is_file), "--results-dir", "results"], capsys)
    assert_clean_failure(code, err, {1})
    assert "only `bench run` writes" in err or "symbolic link" in err
    assert snapshot(store) == before


def test_the_results_folder_of_publish_is_refused_before_a_page_is_written(store, monkeypatch, capsys):
    """``publish --out results`` would put runs/<id>/index.html into each run folder."""
    tiny_figures(monkeypatch)
    monkeypatch.chdir(store)
    before = snapshot(store)
    code, _, err = run_cli(["publish", "--out", "results", "--results-dir", "results"], capsys)
    assert_clean_failure(code, err, {1})
    assert snapshot(store) == before


def test_outputs_beside_the_runs_still_work(store, monkeypatch, capsys, tmp_path):
    tiny_figures(monkeypatch)
    monkeypatch.chdir(store)
    out = tmp_path / "mine"
    assert run_cli(["export", "a", "--to", "parquet", "--out", str(out / "a.parquet")], capsys)[0] == 0
    assert run_cli(["report", "a", "--out", str(out / "report")], capsys)[0] == 0
    assert (out / "a.parquet").is_file() and (out / "report" / "REPORT.md").is_file()


def test_a_results_folder_inside_a_run_is_refused(store):
    with pytest.raises(UserError, match="results folder"):
        safefs.check_results_dir(store / "results" / "runs" / "a" / "nested")
    with pytest.raises(UserError, match="results folder"):
        safefs.check_results_dir(store / "results" / "runs")
    safefs.check_results_dir(store / "results")


@given(st.lists(st.sampled_from(["x", "..", ".", "logs", "runs", "a"]), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_store_folder_sees_through_every_spelling(store, parts):
    """Whatever the spelling, the answer is the one for the resolved path."""
    path = store / "results" / "runs" / "a" / Path(*parts)
    resolved = Path(os.path.realpath(path))
    inside = any(safefs._holds_run(p) for p in [resolved, *resolved.parents]) or any(
        p.name == "runs" and p.parent.name in ("results", "other") for p in [resolved, *resolved.parents]
    )
    assert (safefs.store_folder(path, store / "results") is not None) == inside


def test_history_refuses_its_markdown_target_before_writing_a_figure(store, monkeypatch, capsys, tmp_path):
    """Figures are staged with the Markdown and written together: a refused HISTORY.md leaves no figure."""
    monkeypatch.chdir(store)
    out = tmp_path / "history"
    out.mkdir()
    os.symlink(tmp_path / "victim.md", out / "HISTORY.md")
    before = snapshot(tmp_path)
    code, _, err = run_cli(["history", "a", "b", "--out", str(out), "--metrics", "fit_wall_s"], capsys)
    assert_clean_failure(code, err, {1})
    assert "symbolic link" in err and snapshot(tmp_path) == before and not (out / "figures").exists()
