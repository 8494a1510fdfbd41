"""Environments from URLs: a git ref of the user's own project (git+file), its working tree (file), https;
a bad one is one line naming the environment; a changed tree is a new environment, not a stale build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hello_bench.errors import UserError
from hello_bench.run.config import check_requirement
from hello_bench.run.sources import fingerprint

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def make_project(root: Path, work: int = 1) -> Path:
    """A tiny installable project in a git repository: one commit on branch main."""
    repo = root / "demo"
    (repo / "benchdemo").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "benchdemo"\nversion = "0.1"\n\n[tool.setuptools]\npackages = ["benchdemo"]\n'
    )
    (repo / "benchdemo" / "__init__.py").write_text(f"WORK = {work}\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], check=True)
    return repo


def test_url_requirements_a_git_ref_a_folder_and_https_are_accepted(tmp_path):
    repo = make_project(tmp_path)
    assert (
        check_requirement(f"benchdemo @ git+file://{repo}@main", "environment 'base'")
        == f"benchdemo @ git+file://{repo}@main"
    )
    assert check_requirement(f"benchdemo @ file://{repo}", "environment 'head'")
    assert check_requirement("benchdemo @ https://example.org/benchdemo-0.1.tar.gz", "environment 'x'")


@pytest.mark.parametrize("url,message", [
    ("git+file://{missing}@main", "is not a git repository"),
    ("git+file://{repo}@no-such-branch", "has no commit, branch or tag 'no-such-branch'"),
    ("git+file://{repo}@", "nothing after '@': name a commit, branch or tag"),  # a `$(git rev-parse ...)` that failed
    ("file://{missing}", "does not exist"),
    ("http://example.org/x.tar.gz", "URL requirements must be git+file://, file://, https://, git+https://; got http://"),
    ("git+ssh://example.org/x.git", "got git+ssh://"),
])  # fmt: skip
def test_a_bad_url_requirement_is_one_line_naming_the_environment(tmp_path, url, message):
    repo = make_project(tmp_path)
    text = "benchdemo @ " + url.format(repo=repo, missing=tmp_path / "missing")
    with pytest.raises(UserError, match=re.escape(message)) as err:
        check_requirement(text, "environment 'base'")
    assert str(err.value).startswith("environment 'base': ") and "\n" not in str(err.value)


def test_bad_url_on_the_command_line_writes_nothing(tmp_path, capsys):
    from hello_bench.cli import main

    args = ["run", "--adapters", "sklearn-lr", "--results-dir", str(tmp_path / "results"), "--run-id", "x",
            "--env", f"base=benchdemo @ git+file://{tmp_path}/nope@main"]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "environment 'base'" in err and not (tmp_path / "results").exists()


def test_the_cache_key_follows_the_content_of_a_url_requirement(tmp_path):
    from hello_bench.run.config import Config, EnvironmentSpec
    from hello_bench.run.environments import _install_commands, spec_hash, specification

    repo = make_project(tmp_path)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()
    assert fingerprint(f"git+file://{repo}@main") == f"commit {commit}"
    clean = fingerprint(f"file://{repo}")
    assert clean.startswith(f"commit {commit} + changes ")
    (repo / "benchdemo" / "__init__.py").write_text("WORK = 2\n")  # an uncommitted change: new content
    changed = fingerprint(f"file://{repo}")
    assert changed != clean and fingerprint(f"git+file://{repo}@main") == f"commit {commit}"
    (repo / "benchdemo" / "new.py").write_text("X = 1\n")  # an untracked file too
    assert fingerprint(f"file://{repo}") != changed
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("A = 1\n")
    before = fingerprint(f"file://{plain}")
    (plain / "a.py").write_text("A = 2\n")
    assert before.startswith("tree ") and fingerprint(f"file://{plain}") != before
    assert fingerprint("https://example.org/x.tar.gz") == "url"
    spec = EnvironmentSpec("head", (f"benchdemo @ file://{repo}",))
    config = Config(adapters=(), environments=(spec,))
    first = specification(spec, config)
    assert first["sources"] == {f"benchdemo @ file://{repo}": fingerprint(f"file://{repo}")}
    (repo / "benchdemo" / "__init__.py").write_text("WORK = 3\n")
    assert spec_hash(specification(spec, config)) != spec_hash(first)  # a new build, not yesterday's
    if first["installer"] == "uv":
        commands = _install_commands(tmp_path / "env", first)
        assert "--refresh" in commands[-1]  # the project and every local package it pulls in, rebuilt
