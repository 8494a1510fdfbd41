"""Item 1 of issue 19: every output goes through the one safe writer.

Reports, figures, CSVs, HTML, comparisons, the pairplot, SCALE.md and Parquet exports: a symlink at
the target or in a folder on the way is refused before anything is written; under the results
folder bench writes only into folders it owns; a user's ``--out`` gets only the files named.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_bench.errors import UserError
from hello_bench.store.safefs import MARKER, OutputDir, file_name
from tests.invariants import assert_clean_failure, run_cli, snapshot, tiny_figures
from tests.test_report import record, write_run


@pytest.fixture
def results(tmp_path: Path, monkeypatch) -> Path:
    tiny_figures(monkeypatch)
    recs = [record(a, s, 0.9 + 0.01 * s, fit=0.2 + s / 10) for a in ("sklearn-lr", "mlp") for s in range(3)]
    write_run(tmp_path / "results", "a", recs)
    write_run(tmp_path / "results", "b", recs)
    (tmp_path / "victim.txt").write_text("precious")
    return tmp_path / "results"


def refused_untouched(argv: list[str], root: Path, capsys) -> str:
    """Run ``argv``: it must fail as bad input with one line and change nothing under ``root``."""
    before = snapshot(root)
    code, _, err = run_cli(argv, capsys)
    assert_clean_failure(code, err, {1})
    assert snapshot(root) == before
    return err


def test_report_through_a_symlinked_report_md_is_refused(results, capsys):
    assert run_cli(["report", "a", "--results-dir", str(results)], capsys)[0] == 0
    folder = results / "reports" / "a"
    assert (folder / MARKER).is_file()
    (folder / "REPORT.md").unlink()
    os.symlink(results.parent / "victim.txt", folder / "REPORT.md")
    err = refused_untouched(["report", "a", "--results-dir", str(results)], results.parent, capsys)
    assert "symbolic link" in err
    assert (results.parent / "victim.txt").read_text() == "precious"


@pytest.mark.parametrize("link", ["figures", "figures/accuracy.png", "summary.csv", "report.html"])
def test_any_symlinked_target_refuses_the_whole_report(results, capsys, link):
    folder = results / "reports" / "a"
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("")
    elsewhere = results.parent / "elsewhere"
    elsewhere.mkdir()
    if link == "figures":
        os.symlink(elsewhere, folder / "figures")
    else:
        (folder / "figures").mkdir()
        os.symlink(results.parent / "victim.txt", folder / link)
    refused_untouched(["report", "a", "--results-dir", str(results)], results.parent, capsys)


def test_a_foreign_folder_under_results_is_never_written(results, capsys):
    folder = results / "reports" / "a"
    (folder / ".git").mkdir(parents=True)
    (folder / ".env").write_text("SECRET=1")
    err = refused_untouched(["report", "a", "--results-dir", str(results)], results.parent, capsys)
    assert "was not made by bench" in err


def test_a_symlinked_report_folder_is_refused(results, capsys):
    (results / "reports").mkdir()
    os.symlink(results.parent, results / "reports" / "a")
    refused_untouched(["report", "a", "--results-dir", str(results)], results.parent, capsys)


def test_a_report_folder_from_before_the_marker_is_still_bench_s(results, capsys):
    folder = results / "reports" / "a"
    (folder / "figures").mkdir(parents=True)
    (folder / "REPORT.md").write_text("old")
    assert run_cli(["report", "a", "--results-dir", str(results)], capsys)[0] == 0
    assert (folder / "REPORT.md").read_text() != "old" and (folder / MARKER).exists()


def test_user_out_gets_only_the_named_files(results, capsys, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert run_cli(["report", "a", "--results-dir", str(results), "--out", str(out)], capsys)[0] == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"notes.txt", "REPORT.md", "report.html", "summary.csv", "trials.csv", "figures"}
    assert not (out / MARKER).exists() and (out / "notes.txt").read_text() == "keep"
    (out / "report.html").unlink()
    os.symlink(tmp_path / "victim.txt", out / "report.html")
    refused_untouched(["report", "a", "--results-dir", str(results), "--out", str(out)], tmp_path, capsys)


def test_compare_outputs_never_follow_a_link(results, capsys):
    assert run_cli(["compare", "a", "b", "--results-dir", str(results)], capsys)[0] == 0
    md = results / "reports" / "COMPARE-a-vs-b.md"
    assert md.is_file() and (results / "reports" / MARKER).exists()
    md.unlink()
    os.symlink(results.parent / "victim.txt", md)
    refused_untouched(["compare", "a", "b", "--results-dir", str(results)], results.parent, capsys)


@pytest.mark.parametrize("where", ["default", "out"])
def test_parquet_export_never_follows_a_link(results, capsys, where):
    target = results / "reports" / "a.parquet" if where == "default" else results.parent / "x.parquet"
    target.parent.mkdir(exist_ok=True)
    os.symlink(results.parent / "victim.txt", target)
    argv = ["export", "a", "--to", "parquet", "--results-dir", str(results)]
    refused_untouched(argv + (["--out", str(target)] if where == "out" else []), results.parent, capsys)


def test_scale_report_never_follows_a_link(tmp_path):
    from hello_bench.report.scale import write_scale_report

    out = tmp_path / "out"
    out.mkdir()
    os.symlink(tmp_path, out / "figures")
    run = tmp_path / "results" / "runs" / "s"
    run.mkdir(parents=True)
    (run / "run.json").write_text('{"kind": "scale"}')
    (run / "config.json").write_text("{}")
    rec = record("sklearn-lr", 0, 0.9, dataset_source="synthetic:n_samples=100,n_features=20,n_classes=3")
    rec = {k: v for k, v in rec.items() if not k.endswith("_raw_ns")}  # kept in raw.jsonl, not in the record
    (run / "records.jsonl").write_text(__import__("json").dumps(rec) + "\n")
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match="symbolic link"):
        write_scale_report(run, out)
    assert snapshot(tmp_path) == before


def test_the_pairplot_never_follows_a_link(tmp_path):
    from hello_bench.report.plots import iris_pairplot

    results = tmp_path / "results"
    (results / "reports" / "seed").mkdir(parents=True)
    (results / "reports" / "seed" / MARKER).write_text("")
    (tmp_path / "victim.txt").write_text("precious")
    folder = OutputDir.owned(results / "reports" / "seed", results)
    os.symlink(tmp_path / "victim.txt", results / "reports" / "seed" / "iris-pairplot.png")  # planted after the check
    iris_pairplot(folder / "iris-pairplot.png")
    before = snapshot(tmp_path)
    with pytest.raises(UserError, match="symbolic link"):
        folder.commit()
    assert snapshot(tmp_path) == before


@given(st.text(max_size=300))
def test_names_made_from_data_are_one_plain_component(text):
    name = file_name(text)
    assert name and "/" not in name and "\0" not in name and not name.startswith(".") and len(name) <= 200
