"""A user's own classifier, installed only in the environments: resolved where it runs, never imported here.

The environments here are real interpreters (``venv --without-pip``) that see bench's dependencies and,
for some of them, a small package that exists nowhere else (not in this Python, not on its path): they
stand for the environments ``--env`` builds, without a package index. ``tests/test_duet_recipe.py`` runs
the README's recipe end to end with real builds.
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hello_bench.errors import UserError
from hello_bench.measure.settings import TimingSettings
from hello_bench.run.config import AdapterSpec, Config, EnvironmentSpec, config_from_dict
from hello_bench.run.matrix import expand
from hello_bench.run.resolve import resolve
from hello_bench.store.writer import RunStore
from tests.conftest import run_local
from tests.invariants import fast_runs

CLASS = "churnpkg.model.ChurnClassifier"
TINY = TimingSettings(warmup=1, latency_min_calls=5, latency_budget_s=0.01, stock_min_calls=2, stock_budget_s=0.01,
                      batch_sizes=(1,), throughput_budget_s=0.005, serving=False, curves=False)  # fmt: skip

#: The user's package: a plain scikit-learn classifier (nearest class mean), wrapped by bench from its path.
MODEL = '''
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """Nearest class mean, with some busy work per fit (``WORK`` additions): a stand-in for a team's model."""

    def __init__(self, shrink=0.0, random_state=None):
        self.shrink = shrink
        self.random_state = random_state

    def fit(self, X, y):
        from churnpkg import WORK

        if not 0.0 <= self.shrink <= 1.0:
            raise ValueError(f"shrink must be in [0, 1]; got {self.shrink!r}")
        X = np.asarray(X, dtype=float)
        self.classes_, index = np.unique(y, return_inverse=True)
        self.means_ = np.stack([X[index == k].mean(axis=0) for k in range(len(self.classes_))]) * (1 - self.shrink)
        self.n_features_in_ = X.shape[1]
        total = 0
        for i in range(WORK):
            total += i
        return self

    def predict_proba(self, X):
        d = ((np.asarray(X, dtype=float)[:, None, :] - self.means_[None]) ** 2).sum(axis=2)
        e = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
'''


def write_package(root: Path, work: int = 1000) -> Path:
    """The package ``churnpkg`` under ``root/src`` (returned): importable only where that folder is on the path."""
    pkg = root / "src" / "churnpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f"WORK = {work}\n")
    (pkg / "model.py").write_text(textwrap.dedent(MODEL))
    return root / "src"


def make_env(path: Path, *extra: Path) -> str:
    """An interpreter that sees bench's dependencies and ``extra`` folders (its site-packages' .pth): its path."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    lines = [*site.getsitepackages(), *map(str, extra)]
    (Path(purelib) / "bench-test-deps.pth").write_text("\n".join(lines) + "\n")
    return str(python)


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    """``with``: an environment holding churnpkg; ``without``: one that does not have it."""
    root = tmp_path_factory.mktemp("envs")
    src = write_package(root)
    return {"with": make_env(root / "with", src), "without": make_env(root / "without")}


def config(*names: str, adapters: tuple = (CLASS,), **kw) -> Config:
    entries = [{"name": n, "requirements": []} for n in names]
    return config_from_dict({"adapters": list(adapters), "devices": ["cpu"], "splits": 2,
                             "environments": entries, **kw}, "test")  # fmt: skip


def test_bench_itself_cannot_import_the_package():
    with pytest.raises(ImportError):
        __import__("churnpkg")


def test_a_class_path_in_environments_is_validated_by_its_form_only_and_never_imported_here():
    cfg = config("base", "head", adapters=[{"name": CLASS, "params": {"shrink": 0.5}}])
    assert [t.backend for t in expand(cfg)][:1] == ["default"] and "churnpkg" not in sys.modules
    with pytest.raises(UserError, match=r"^Adapter 'churnpkg\.-model\.X' is not a class path") as err:
        config("base", adapters=["churnpkg.-model.X"])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, name, profile", [
    ("churnpkg.model:ChurnClassifier", "churnpkg.model:ChurnClassifier", None),
    ("churnpkg.model:ChurnClassifier:fast", "churnpkg.model:ChurnClassifier", "fast"),
    ("churnpkg.model.ChurnClassifier:fast", "churnpkg.model.ChurnClassifier", "fast"),
    ("keras-mlp:seed", "keras-mlp", "seed"),
])  # fmt: skip
def test_module_colon_class_is_a_class_path_not_a_name_and_a_profile(text, name, profile):
    spec = AdapterSpec.parse(text + "@jax")
    assert (spec.name, spec.profile, spec.backend) == (name, profile, "jax")


def test_without_environments_a_missing_package_is_one_line_that_says_where_to_install_it():
    with pytest.raises(UserError) as err:
        config_from_dict({"adapters": [CLASS]}, "test")
    text = str(err.value)
    assert "\n" not in text and "ModuleNotFoundError" in text and "--env" in text and sys.executable in text


def test_the_environments_describe_the_adapter_and_refuse_a_parameter_it_does_not_take(envs):
    cfg = config("base", "head", adapters=[{"name": CLASS, "params": {"shrink": 0.5}}])
    facts = resolve(cfg, {"base": envs["with"], "head": envs["with"]})
    found = facts[(f"{CLASS}(shrink=0.5)", "head")]
    assert found.identity == "churnpkg.model:ChurnClassifier" and found.params == {"shrink": 0.5}
    assert found.skip == {"cpu": None} and found.error is None and "churnpkg" not in sys.modules
    unknown = config("base", adapters=[{"name": CLASS, "params": {"shrinkage": 0.5}}])
    with pytest.raises(UserError, match=r"^Environment 'base': .*no parameter\(s\) shrinkage"):
        resolve(unknown, {"base": envs["with"]})


def test_a_class_no_environment_loads_is_one_line_naming_the_environment_and_the_module(envs):
    with pytest.raises(UserError) as err:
        resolve(config("base"), {"base": envs["without"]})
    text = str(err.value)
    assert "\n" not in text and "'base'" in text and "churnpkg" in text and "ModuleNotFoundError" in text


def test_a_class_one_environment_lacks_runs_in_the_other_and_is_an_error_record_there(envs, tmp_path, monkeypatch):
    fast_runs(monkeypatch)
    cfg = config("old", "new", timing=TINY.to_dict(), trial_timeout_s=60)
    pythons = {"old": envs["without"], "new": envs["with"]}
    said: list[str] = []
    facts = resolve(cfg, pythons, say=said.append)
    assert len(said) == 1 and "'old'" in said[0]
    store = RunStore.open(tmp_path, "r", cfg.to_dict(), {"machine_id": "test"})
    with store:
        from hello_bench.run.executors.local import LocalExecutor
        from hello_bench.run.progress import Quiet
        from hello_bench.run.runner import run

        run(cfg, store, LocalExecutor(), Quiet(), pythons=pythons, facts=facts)
    records = [json.loads(line) for line in (tmp_path / "runs/r/records.jsonl").read_text().splitlines()]
    by_env = {env: [r for r in records if r["environment"] == env] for env in ("old", "new")}
    assert [r["status"] for r in by_env["new"]] == ["ok", "ok"]
    assert by_env["new"][0]["adapter_class"] == "churnpkg.model:ChurnClassifier"
    assert [r["status"] for r in by_env["old"]] == ["error", "error"]
    reason = by_env["old"][0]["reason"]
    assert "\n" not in reason and reason.startswith("environment 'old' (") and "No module named 'churnpkg'" in reason
    assert "churnpkg" not in sys.modules


def test_dry_run_lists_the_matrix_without_asking_the_environments(tmp_path, capsys):
    from hello_bench.cli import main

    code = main(["run", "--dry-run", "--adapters", CLASS, "--env", "a=numpy", "--env", "b=numpy", "--devices", "cpu",
                 "--splits", "1", "--results-dir", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0 and f"iris/{CLASS}/cpu/split-00%a" in out.out and "churnpkg" not in sys.modules


def test_run_local_is_unchanged_for_registered_adapters(tmp_path, monkeypatch):
    fast_runs(monkeypatch)
    cfg = Config(adapters=(AdapterSpec.parse("sklearn-lr"),), devices=("cpu",), splits=1, timing=TINY,
                 environments=(EnvironmentSpec("only"),))  # fmt: skip
    assert not [s for s in cfg.adapters if cfg.in_environments(s)]
    plain = Config(adapters=cfg.adapters, devices=("cpu",), splits=1, timing=TINY)
    store = RunStore.open(tmp_path, "plain", plain.to_dict(), {"machine_id": "test"})
    with store:
        result = run_local(plain, store)
    assert result.statuses["ok"] == 1


def test_bench_check_runs_the_checks_in_an_environments_python(envs, capsys):
    from hello_bench.cli import main

    code = main(["check", CLASS, "--python", envs["with"], "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["failed"] == 0 and len(out["checks"]) >= 5, out
    assert {row["environment"] for row in out["checks"]} == {envs["with"]} and "churnpkg" not in sys.modules
    code = main(["check", CLASS, "--python", envs["without"]])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "No module named 'churnpkg'" in err, err
