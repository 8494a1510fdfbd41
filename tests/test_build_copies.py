"""An environment built from a local folder builds a copy: the user's working tree is left as it was."""

from __future__ import annotations

from pathlib import Path

from hello_bench.run.sources import in_copies


def test_a_file_folder_is_copied_without_build_output_and_bench_results(tmp_path):
    project = tmp_path / "teampkg"
    for name in ("teampkg/__init__.py", "pyproject.toml", "build/lib/old.py", "results/runs/ci/records.jsonl",
                 "teampkg.egg-info/PKG-INFO", ".git/HEAD"):  # fmt: skip
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("x")
    before = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    out = in_copies(
        [f"teampkg @ {project.as_uri()}", "numpy>=1.24", f"b @ git+{project.as_uri()}@main"], tmp_path / "c"
    )
    copy = Path(out[0].split(" @ file://", 1)[1])
    assert copy.parent == tmp_path / "c" and out[1:] == ["numpy>=1.24", f"b @ git+{project.as_uri()}@main"]
    assert sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file()) == [
        ".git/HEAD", "pyproject.toml", "teampkg/__init__.py"]  # fmt: skip
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == before  # the original untouched
