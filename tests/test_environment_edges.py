"""Issue 29, item 10: environments.

- A requirement the installer cannot find is named in the one line, however much else the installer printed
  (pip lists every version it ignored, at length).
- ``BENCH_ENV_CACHE`` naming a file (or a path under one) is one line, ``--dry-run`` included.
- A local project is rebuilt with every local package it pulls in (uv's ``--refresh``), and a nested repository
  inside it is part of its content.
- The pip path (no uv) reads the README's recipe: ``git+file:///path@ref`` spelled as every pip reads it.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_bench.run import environments as envs
from hello_bench.run.sources import fingerprint
from tests.invariants import assert_clean_failure, run_cli, snapshot

NAMES = st.from_regex(r"[a-z][a-z0-9]{1,10}(-[a-z0-9]{1,6})?", fullmatch=True)
PIP_NOISE = "ERROR: Ignored the following versions that require a different python version: " + "; ".join(
    f"1.{i}.0 Requires-Python >=3.12" for i in range(60)
)


@given(name=NAMES, version=st.sampled_from(["", "==1.0", ">=99", "==0.0.1"]), noise=st.integers(0, 3))
def test_the_one_line_names_the_requirement_the_installer_blamed(name, version, noise):
    text = "\n".join([PIP_NOISE] * noise + [
        f"ERROR: Could not find a version that satisfies the requirement {name}{version} (from versions: none)",
        f"ERROR: No matching distribution found for {name}{version}",
    ] + [PIP_NOISE] * noise)  # fmt: skip
    line = envs._cause(text, (f"{name}{version}", "other-thing==1"))
    assert line.startswith(f"cannot install {name}{version}:") and "other-thing" not in line
    assert "\n" not in line and len(line) < 600


def test_uv_s_cause_names_it_too():
    text = (
        "error: No solution found when resolving dependencies\n  cause: Because nonexistent-pkg-zz was not found in "
        "the package registry and you require nonexistent-pkg-zz, we can conclude that your requirements are "
        "unsatisfiable."
    )
    assert envs._cause(text, ("nonexistent-pkg-zz",)).startswith("cannot install nonexistent-pkg-zz:")


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_an_environment_cache_that_is_no_folder_is_one_line(where, tmp_path, capsys, monkeypatch):
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("BENCH_ENV_CACHE", str(tmp_path / "cache" / ("" if where == "file" else "sub")))
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    for extra in (["--dry-run"], []):
        argv = ["run", "--adapters", "sklearn-lr", "--devices", "cpu", "--splits", "1", "--env", "x=numpy", *extra]
        code, _, err = run_cli(argv, capsys)
        assert_clean_failure(code, err, {1})
        assert "is not a folder" in err
    assert snapshot(tmp_path) == before


@given(path=st.from_regex(r"(/[a-z0-9_.-]{1,8}){1,4}", fullmatch=True), ref=st.sampled_from(["", "@main", "@v1.0"]))
def test_the_pip_path_spells_git_file_urls_as_every_pip_reads_them(path, ref):
    pytest.importorskip("pip")
    from pip._vendor.packaging.requirements import Requirement

    requirement = envs.pip_spelling(f"mypkg @ git+file://{path}{ref}")
    assert Requirement(requirement).url == f"git+file://localhost{path}{ref}"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_nested_repository_inside_a_local_project_is_part_of_its_content(tmp_path):
    from tests.test_sources import make_project

    repo = make_project(tmp_path)
    nested = repo / "benchdemo" / "sub"
    nested.mkdir()
    subprocess.run(["git", "init", "-q", str(nested)], check=True)
    (nested / "__init__.py").write_text("VALUE = 1\n")
    before = fingerprint(f"file://{repo}")
    (nested / "__init__.py").write_text("VALUE = 2\n")
    assert fingerprint(f"file://{repo}") != before


def test_uv_rebuilds_every_local_package_of_a_local_project(tmp_path):
    spec = {"installer": "uv", "base_python": "python3", "requirements": ["p @ file:///x"], "pins": [],
            "pip": {}, "sources": {"p @ file:///x": "tree 1"}}  # fmt: skip
    assert "--refresh" in envs._install_commands(tmp_path / "env", spec)[-1]
    assert "--refresh" not in envs._install_commands(tmp_path / "env", {**spec, "sources": {}})[-1]


@pytest.mark.slow
def test_a_requirement_that_does_not_exist_is_the_one_line(tmp_path, capsys, monkeypatch):
    """Resolved before the build is announced: the refusal is the only line, and it names the requirement."""
    monkeypatch.setenv("BENCH_ENV_CACHE", str(tmp_path / "envs"))
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--adapters", "sklearn-lr", "--devices", "cpu", "--splits", "1", "--env", "x=nonexistent-pkg-zz-29"]
    code, _, err = run_cli(argv, capsys)
    if any(w in err.lower() for w in ("network", "dns", "timed out")):
        pytest.skip(f"no package index here: {err.strip()[:200]}")
    assert_clean_failure(code, err, {1})
    assert "cannot install nonexistent-pkg-zz-29" in err and not (tmp_path / "results").exists()
