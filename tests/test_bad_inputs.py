"""Every bad input a careless or hostile user can give: one line, a non-zero exit, nothing written.

Each case runs the real CLI entry point (``hello_bench.cli.main``) in a sandbox
folder that is both the working directory and the results directory, and
checks: exit status != 0, exactly one line on stderr, no traceback, and not
one file created, changed or removed anywhere in the sandbox (the results
directory included).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from hello_bench.cli import main

GOOD_CSV = "a,b,label\n" + "".join(f"{i},{i % 3},{'cat' if i % 2 else 'dog'}\n" for i in range(20))


def _snapshot(root: Path) -> dict:
    out = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        out[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return out


def _files(sandbox: Path) -> None:
    """Data files and stores the cases refer to (made before the snapshot)."""
    (sandbox / "good.csv").write_text(GOOD_CSV)
    (sandbox / "empty.csv").write_text("")
    (sandbox / "header.csv").write_text("a,b,label\n")
    (sandbox / "folder.csv").mkdir()
    (sandbox / "holes.csv").write_text(GOOD_CSV.replace("3,0,", "3,,"))
    (sandbox / "inf.csv").write_text(GOOD_CSV.replace("4,1,", "inf,1,"))
    (sandbox / "text.csv").write_text(GOOD_CSV.replace("a,b", "a,colour").replace(",0,", ",red,"))
    (sandbox / "oneclass.csv").write_text("a,label\n" + "".join(f"{i},x\n" for i in range(10)))
    (sandbox / "lonely.csv").write_text(GOOD_CSV + "99,1,bird\n")
    (sandbox / "tiny.csv").write_text("a,label\n1,x\n2,x\n3,y\n4,y\n5,z\n6,z\n")
    (sandbox / "garbage.parquet").write_text("this is not parquet")
    (sandbox / "data.xlsx").write_text("x")
    (sandbox / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (sandbox / "bad.toml").write_text("splits = [\n")
    (sandbox / "foreign").mkdir()
    for name, text in TOML.items():
        (sandbox / f"{name}.toml").write_text(text)


TOML = {
    "unknown_key": 'adapters = ["sklearn-lr"]\ncolour = 1\n',
    "devices_str": 'adapters = ["sklearn-lr"]\ndevices = "cpu"\n',
    "datasets_str": 'adapters = ["sklearn-lr"]\ndatasets = "iris"\n',
    "adapters_str": 'adapters = "sklearn-lr"\n',
    "params_str": '[[adapters]]\nname = "torch-mlp"\nparams = "epochs=3"\n',
    "backends_str": '[[adapters]]\nname = "keras-mlp"\nbackends = "jax"\n',
    "profile_int": '[[adapters]]\nname = "torch-mlp"\nprofile = 3\n',
    "no_name": '[[adapters]]\nprofile = "seed"\n',
    "adapter_extra": '[[adapters]]\nname = "torch-mlp"\ncolor = 1\n',
    "splits_str": 'adapters = ["sklearn-lr"]\nsplits = "10"\n',
    "splits_float": 'adapters = ["sklearn-lr"]\nsplits = 1.5\n',
    "test_size_1": 'adapters = ["sklearn-lr"]\ntest_size = 1.0\n',
    "test_size_0": 'adapters = ["sklearn-lr"]\ntest_size = 0.0\n',
    "test_size_str": 'adapters = ["sklearn-lr"]\ntest_size = "0.5"\n',
    "threads_bool": 'adapters = ["sklearn-lr"]\nthreads = true\n',
    "timeout_neg": 'adapters = ["sklearn-lr"]\ntrial_timeout_s = -5\n',
    "timeout_inf": 'adapters = ["sklearn-lr"]\ntrial_timeout_s = inf\n',
    "stratify_str": 'adapters = ["sklearn-lr"]\nstratify = "yes"\n',
    "init_neg": 'adapters = ["sklearn-lr"]\ninit_seeds = -1\n',
    "init_many": 'adapters = ["sklearn-lr"]\ninit_seeds = 1000\n',
    "warmup_neg": 'adapters = ["sklearn-lr"]\n[timing]\nwarmup = -1\n',
    "batch_zero": 'adapters = ["sklearn-lr"]\n[timing]\nbatch_sizes = [0]\n',
    "batch_empty": 'adapters = ["sklearn-lr"]\n[timing]\nbatch_sizes = []\n',
    "batch_str": 'adapters = ["sklearn-lr"]\n[timing]\nbatch_sizes = "32"\n',
    "budget_zero": 'adapters = ["sklearn-lr"]\n[timing]\nlatency_budget_s = 0\n',
    "budget_nan": 'adapters = ["sklearn-lr"]\n[timing]\nlatency_budget_s = nan\n',
    "timing_key": 'adapters = ["sklearn-lr"]\n[timing]\nwarm_up = 3\n',
    "timing_str": 'adapters = ["sklearn-lr"]\ntiming = "fast"\n',
    "serving_splits_neg": 'adapters = ["sklearn-lr"]\n[timing]\nserving_splits = -1\n',
    "curves_str": 'adapters = ["sklearn-lr"]\n[timing]\ncurves = "no"\n',
    "min_over_max": 'adapters = ["sklearn-lr"]\n[timing]\nlatency_min_calls = 10\nlatency_max_calls = 5\n',
    "dataset_table": 'adapters = ["sklearn-lr"]\ndatasets = [{ file = "x.csv" }]\n',
    "dataset_int": 'adapters = ["sklearn-lr"]\ndatasets = [3]\n',
    "no_adapters": "adapters = []\n",
    "epochs_zero": '[[adapters]]\nname = "torch-mlp"\nparams = { epochs = 0 }\n',
    "spe_zero": '[[adapters]]\nname = "keras-mlp"\nparams = { steps_per_execution = 0 }\n',
    "compile_yes": '[[adapters]]\nname = "torch-mlp"\nparams = { compile = "yes" }\n',
    "jit_str": '[[adapters]]\nname = "keras-mlp"\nparams = { jit_compile = "always" }\n',
    "lr_neg": '[[adapters]]\nname = "sklearn-mlp"\nparams = { learning_rate = -1.0 }\n',
    "param_seed": '[[adapters]]\nname = "torch-mlp"\nparams = { random_state = 3 }\n',
    "param_unknown": '[[adapters]]\nname = "torch-mlp"\nparams = { epoch = 3 }\n',
    "hgb_bad_param": '[[adapters]]\nname = "sklearn.ensemble.HistGradientBoostingClassifier"\nparams = { max_iter = 0 }\n',
    "too_many_trials": 'adapters = ["sklearn-lr", "sklearn-mlp", "torch-mlp"]\nsplits = 10000\ninit_seeds = 10\n',
    "tiny_split": 'adapters = ["sklearn-lr"]\ntest_size = 0.2\ndatasets = [{ path = "tiny.csv", target = "label" }]\n',
}

RUN = ["run", "--adapters", "sklearn-lr", "--devices", "cpu", "--splits", "1"]
CASES: list[tuple[str, list[str]]] = [
    # run ids are names, not paths
    *[(f"run-id {rid!r}", [*RUN, "--run-id", rid]) for rid in
      ["../../x", "/tmp/x", ".", "..", ".hidden", "a/b", "a\nb", "a b", "x;rm -rf ~", "$(touch pwned)", "a" * 101, "", "é", "x@host", "run."]],
    # flags
    ("splits 0", [*RUN[:-2], "--splits", "0"]),
    ("splits -1", [*RUN[:-2], "--splits", "-1"]),
    ("splits abc", [*RUN[:-2], "--splits", "abc"]),
    ("splits huge", [*RUN[:-2], "--splits", "100000000", "--dry-run"]),
    ("threads 0", [*RUN, "--threads", "0"]),
    ("threads huge", [*RUN, "--threads", "5000"]),
    ("timeout 0", [*RUN, "--trial-timeout", "0"]),
    ("timeout -1", [*RUN, "--trial-timeout", "-1"]),
    ("timeout inf", [*RUN, "--trial-timeout", "inf"]),
    ("timeout nan", [*RUN, "--trial-timeout", "nan"]),
    ("adapters empty", ["run", "--adapters", "", "--dry-run"]),
    ("adapters comma", ["run", "--adapters", ",", "--dry-run"]),
    ("adapters blank entry", ["run", "--adapters", "sklearn-lr,,torch-mlp", "--dry-run"]),
    ("devices empty", ["run", "--devices", "", "--dry-run"]),
    ("devices twice", ["run", "--devices", "cpu,cpu", "--dry-run"]),
    ("device tpu", ["run", "--devices", "tpu", "--dry-run"]),
    ("preprocessing twice", ["run", "--preprocessing", "none,none", "--dry-run"]),
    ("preprocessing unknown", ["run", "--preprocessing", "minmax", "--dry-run"]),
    ("datasets empty", ["run", "--datasets", "", "--dry-run"]),
    ("datasets twice", ["run", "--datasets", "iris,iris", "--dry-run"]),
    ("config and quick", ["run", "--config", "default", "--quick", "--dry-run"]),
    ("executor unknown", [*RUN, "--executor", "ray"]),
    ("scheduler without dask", [*RUN, "--scheduler", "tcp://127.0.0.1:8786"]),
    ("each-host without dask", [*RUN, "--each-host"]),
    ("tls without dask", [*RUN, "--tls-ca", "ca.pem"]),
    ("dask workers 0", [*RUN, "--executor", "dask", "--dask-workers", "0"]),
    ("tls incomplete", [*RUN, "--executor", "dask", "--tls-ca", "good.csv"]),
    ("tls missing files", [*RUN, "--executor", "dask", "--tls-ca", "a", "--tls-cert", "b", "--tls-key", "c"]),
    ("scheduler not a url", [*RUN, "--executor", "dask", "--scheduler", "not a url"]),
    ("scheduler no port", [*RUN, "--executor", "dask", "--scheduler", "tcp://host"]),
    ("scheduler bad scheme", [*RUN, "--executor", "dask", "--scheduler", "http://127.0.0.1:8786"]),
    ("target without datasets", [*RUN, "--target", "label"]),
    ("unknown flag", [*RUN, "--colour", "red"]),
    ("no subcommand", []),
    ("unknown subcommand", ["fly"]),
    ("categorical bad", ["run", "--datasets", "good.csv", "--target", "label", "--categorical", "encode", "--dry-run"]),
    # adapters
    ("adapter unknown", ["run", "--adapters", "xgboost", "--dry-run"]),
    ("adapter typo", ["run", "--adapters", "torh-mlp", "--dry-run"]),
    ("adapter no name", ["run", "--adapters", ":seed", "--dry-run"]),
    ("profile unknown", ["run", "--adapters", "torch-mlp:fast", "--dry-run"]),
    ("backend unknown", ["run", "--adapters", "keras-mlp@theano", "--dry-run"]),
    ("backend on torch", ["run", "--adapters", "torch-mlp@jax", "--dry-run"]),
    ("not a classifier", ["run", "--adapters", "sklearn.linear_model.LinearRegression", "--dry-run"]),
    ("no such module", ["run", "--adapters", "no.such.Module", "--dry-run"]),
    ("not a class", ["run", "--adapters", "os.path.Join", "--dry-run"]),
    ("adapter twice", ["run", "--adapters", "sklearn-lr,sklearn-lr", "--dry-run"]),
    # datasets
    ("dataset unknown", ["run", "--datasets", "mnist", "--dry-run"]),
    ("file missing", ["run", "--datasets", "nope.csv", "--target", "label", "--dry-run"]),
    ("file empty", ["run", "--datasets", "empty.csv", "--target", "label", "--dry-run"]),
    ("file no rows", ["run", "--datasets", "header.csv", "--target", "label", "--dry-run"]),
    ("file is a folder", ["run", "--datasets", "folder.csv", "--target", "label", "--dry-run"]),
    ("file is /dev/null", ["run", "--datasets", "/dev/null", "--target", "label", "--dry-run"]),
    ("file no target", ["run", "--datasets", "good.csv", "--dry-run"]),
    ("file bad target", ["run", "--datasets", "good.csv", "--target", "species", "--dry-run"]),
    ("file missing values", ["run", "--datasets", "holes.csv", "--target", "label", "--dry-run"]),
    ("file inf values", ["run", "--datasets", "inf.csv", "--target", "label", "--dry-run"]),
    ("file text column", ["run", "--datasets", "text.csv", "--target", "label", "--dry-run"]),
    ("file one class", ["run", "--datasets", "oneclass.csv", "--target", "label", "--dry-run"]),
    ("file lonely class", ["run", "--datasets", "lonely.csv", "--target", "label", "--dry-run"]),
    ("file too small to split", ["run", "--config", "tiny_split.toml", "--dry-run"]),
    ("parquet garbage", ["run", "--datasets", "garbage.parquet", "--target", "label", "--dry-run"]),
    ("xlsx", ["run", "--datasets", "data.xlsx", "--target", "label", "--dry-run"]),
    *[(f"synthetic {spec}", ["run", "--datasets", spec, "--dry-run"]) for spec in [
        "synthetic:rows=5", "synthetic:n_samples=inf", "synthetic:n_samples=abc", "synthetic:n_samples=5",
        "synthetic:n_samples=100,n_features=2,n_classes=100", "synthetic:n_samples=100,n_features=5,n_informative=50",
        "synthetic:n_samples=1e12", "synthetic:n_samples=100.5", "synthetic:n_samples=100,n_classes=1", "synthetic:seed=-1",
        "synthetic:n_samples=10,n_classes=9"]],
    # config files
    ("config missing", ["run", "--config", "nope.toml", "--dry-run"]),
    ("config invalid", ["run", "--config", "bad.toml", "--dry-run"]),
    ("config binary", ["run", "--config", "binary.toml", "--dry-run"]),
    ("config is a folder", ["run", "--config", "foreign", "--dry-run"]),
    *[(f"toml {name}", ["run", "--config", f"{name}.toml", "--dry-run"]) for name in TOML],
    # read side
    ("report missing run", ["report", "nope"]),
    ("report no runs", ["report"]),
    ("report target 0", ["report", "--target-accuracy", "0"]),
    ("report target 1.5", ["report", "--target-accuracy", "1.5"]),
    ("report target abc", ["report", "--target-accuracy", "abc"]),
    ("compare one run", ["compare", "a"]),
    ("compare missing runs", ["compare", "a", "b"]),
    ("compare fail-above neg", ["compare", "a", "b", "--fail-above", "-5"]),
    ("export no --to", ["export", "a"]),
    ("export to csv", ["export", "a", "--to", "csv"]),
    ("export missing run", ["export", "a", "--to", "parquet"]),
    ("scale sizes abc", ["scale", "--sizes", "abc"]),
    ("scale sizes small", ["scale", "--sizes", "5"]),
    ("scale sizes twice", ["scale", "--sizes", "100,100"]),
    ("scale sizes fraction", ["scale", "--sizes", "100.5"]),
    ("scale sizes empty", ["scale", "--sizes", ""]),
    ("scale budget 0", ["scale", "--budget", "0"]),
    ("scale budget -1", ["scale", "--budget", "-1"]),
    ("scale adapter unknown", ["scale", "--adapters", "nope"]),
    ("scale device tpu", ["scale", "--devices", "tpu"]),
    ("scale report missing", ["scale", "--report", "nope"]),
    ("scale run id path", ["scale", "--run-id", "../x"]),
    ("seed threads 0", ["seed", "--threads", "0"]),
    ("seed random state abc", ["seed", "--random-state", "abc"]),
]  # fmt: skip


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _files(tmp_path)
    return tmp_path


def run_case(argv: list[str], sandbox: Path, capsys) -> tuple[int, str]:
    needs_results = (
        argv and argv[0] in ("run", "report", "compare", "export", "scale", "seed") and "--results-dir" not in argv
    )
    full = [*argv, "--results-dir", str(sandbox / "results")] if needs_results else list(argv)
    try:
        code = main(full)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(argv, sandbox, capsys):
    before = _snapshot(sandbox)
    code, err = run_case(argv, sandbox, capsys)
    assert code != 0, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    assert _snapshot(sandbox) == before, "the failed command changed files"


def test_the_table_is_long_enough():
    assert len(CASES) + len(STORE_CASES) >= 120


# -- damaged or hostile stores ------------------------------------------------------
@pytest.fixture(scope="module")
def template_run(tmp_path_factory) -> Path:
    """One real run (made once), copied into each sandbox that needs a store to damage."""
    root = tmp_path_factory.mktemp("template")
    assert main([*RUN, "--run-id", "r", "--results-dir", str(root / "results")]) == 0
    return root / "results"


def _damage(name: str, sandbox: Path, template: Path) -> list[str]:
    """Set up one damaged store; return the command to run on it."""
    results = sandbox / "results"
    run = None
    if name not in ("foreign folder", "run folder symlink", "results is a file"):
        shutil.copytree(template, results, symlinks=True)
        run = results / "runs" / "r"
    if name == "different config":
        return [*RUN[:-2], "--splits", "2", "--run-id", "r"]
    if name == "foreign folder":
        (results / "runs" / "mine").mkdir(parents=True)
        (results / "runs" / "mine" / "thesis.tex").write_text("precious")
        return [*RUN, "--run-id", "mine"]
    if name == "run folder symlink":
        (results / "runs").mkdir(parents=True)
        os.symlink(sandbox / "foreign", results / "runs" / "link")
        return [*RUN, "--run-id", "link"]
    if name == "records symlink":
        assert run is not None
        (run / "records.jsonl").unlink()
        os.symlink(sandbox / "good.csv", run / "records.jsonl")
        return [*RUN, "--run-id", "r"]
    if name == "results is a file":
        results.write_text("not a folder")
        return [*RUN, "--run-id", "r"]
    assert run is not None
    records = run / "records.jsonl"
    if name == "corrupt config":
        (run / "config.json").write_text("{not json")
        return [*RUN, "--run-id", "r"]
    if name == "corrupt environment (report)":
        (run / "environment.json").write_text("[1, 2")
        return ["report", "r"]
    if name == "invalid utf-8 (report)":
        records.write_bytes(records.read_bytes() + b'{"trial_id": "\xff\xfe", "status": "ok"}\n')
        return ["report", "r"]
    if name == "invalid utf-8 (resume)":
        records.write_bytes(b'{"trial_id": "\xff"}\n' + records.read_bytes())
        return [*RUN, "--run-id", "r"]
    if name == "record without status":
        records.write_text(records.read_text() + '{"trial_id": "x", "schema_version": 2}\n')
        return ["report", "r"]
    if name == "future schema":
        records.write_text(records.read_text() + '{"trial_id": "x", "schema_version": 9, "status": "ok"}\n')
        return ["report", "r"]
    if name == "corrupt middle line":
        records.write_text("garbage\n" + records.read_text())
        return ["report", "r"]
    if name == "scale on a matrix run":
        return ["scale", "--run-id", "r", "--sizes", "100", "--adapters", "sklearn-lr"]
    if name == "scale report on a matrix run":
        return ["scale", "--report", "r"]
    if name == "corrupt run.json":
        (run / "run.json").write_text("{")
        return ["report"]  # finding the latest run reads every run's kind
    raise AssertionError(name)


STORE_CASES = [
    "different config", "foreign folder", "run folder symlink", "records symlink", "results is a file", "corrupt config",
    "corrupt environment (report)", "invalid utf-8 (report)", "invalid utf-8 (resume)", "record without status",
    "future schema", "corrupt middle line", "scale on a matrix run", "scale report on a matrix run", "corrupt run.json",
]  # fmt: skip


@pytest.mark.parametrize("name", STORE_CASES)
def test_damaged_or_hostile_store_is_one_line_and_untouched(name, sandbox, capsys, template_run):
    argv = _damage(name, sandbox, template_run)
    capsys.readouterr()
    before = _snapshot(sandbox)
    foreign_before = _snapshot(sandbox / "foreign")
    code, err = run_case(argv, sandbox, capsys)
    assert code != 0, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    assert _snapshot(sandbox) == before and _snapshot(sandbox / "foreign") == foreign_before
