"""Issue 19's proof: generated inputs against the invariants every command must keep.

Generated: command lines (from the argparse parser itself, so a command or option added later is
covered without touching this file), TOML configs, data files and damaged run folders. For every
one of them:

- the exit status is in the documented table;
- on an error, exactly one line on stderr and no traceback anywhere;
- when the input was refused (1 bad input, 2 usage), nothing under the working folder (which holds
  the results folder) was created, changed or removed;
- it answers in bounded time.

Trials themselves are not what is under test here: a stub executor records every trial as
skipped at once, and the machine fingerprint and figures are stubbed, so that an accepted command
costs milliseconds. Known-answer properties live beside: records read back equal records written.

Examples are bounded and derandomized in the default suite (tests/conftest.py);
``BENCH_HYPOTHESIS=thorough`` runs many more.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hello_bench import record as rec
from hello_bench.adapters.registry import refresh
from hello_bench.cli.parser import build_parser
from hello_bench.run.process import Outcome
from tests.invariants import DOCUMENTED, run_cli, snapshot, tiny_config
from tests.test_report import record, write_run

#: One command may take this long at most, on a loaded 2-core machine, with trials stubbed.
BOUND_S = 60.0
EXAMPLES = settings().max_examples
GOOD_CSV = "a,b,label\n" + "".join(f"{i},{i % 3},{'cat' if i % 2 else 'dog'}\n" for i in range(20))


# -- a sandbox per example ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """What every example's working folder starts from: data, configs, and a results folder of runs."""
    root = tmp_path_factory.mktemp("template")
    (root / "good.csv").write_text(GOOD_CSV)
    (root / "dir").mkdir()
    (root / "bad.toml").write_text("splits = [\n")
    tiny_config(root / "c.toml", ["fake-ok"], splits=2)
    results = root / "results"
    runs = [record(a, s, 0.9 + s / 100, fit=0.1 + s / 10) for a in ("sklearn-lr", "fake-ok") for s in range(3)]
    write_run(results, "a", runs)
    write_run(results, "b", runs)
    scale = write_run(results, "scale", [record("sklearn-lr", 0, 0.9, dataset_source="synthetic:n_samples=100")])
    (scale / "run.json").write_text('{"kind": "scale"}')
    sealed = write_run(results, "sealed", runs)
    (sealed / "run.json").write_text('{"kind": "matrix", "sealed": true}')
    return root


@contextmanager
def sandbox(template: Path) -> Iterator[Path]:
    """A fresh copy of the template as the working folder (hypothesis reuses function fixtures)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-prop-"))
    shutil.copytree(template, folder, dirs_exist_ok=True, symlinks=True)
    os.mkfifo(folder / "pipe.csv")  # reading it would block: bench must refuse it at once
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(cwd)
        shutil.rmtree(folder, ignore_errors=True)


def skip_all(self: object, lanes: list, job: object, hooks: object) -> None:
    """The stub executor: every trial recorded as skipped, at once."""
    for lane in lanes:
        for trial in lane:
            hooks.started(trial)  # type: ignore[attr-defined]
            hooks.finished(trial, Outcome({"status": "skipped", "reason": "not run by the property tests"}))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def stubs() -> Iterator[None]:
    """Trials, fingerprints, figures and clusters stubbed for the whole module (module scope: hypothesis)."""
    from _pytest.monkeypatch import MonkeyPatch

    from hello_bench.measure import machine
    from hello_bench.report import figures, plots
    from hello_bench.run import estimate
    from hello_bench.run.executors import local

    patch = MonkeyPatch()
    patch.setenv("BENCH_ADAPTERS", "fake-ok=tests.fake_adapters:_Fake")
    patch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    patch.setenv("MLFLOW_TRACKING_URI", "")
    patch.setattr(local.LocalExecutor, "run", skip_all)
    patch.setattr(estimate, "pilot", lambda *args, **kwargs: None)  # no worker starts to time a trial
    patch.setattr(local.LocalExecutor, "local_devices", False)
    patch.setattr(machine, "fingerprint", lambda control=True: {"machine_id": "prop", "hostname": "prop"})
    patch.setattr(figures, "draw", lambda *args, **kwargs: {})
    patch.setattr(plots, "iris_pairplot", lambda target: target.stage(b"png"))
    try:
        from hello_bench.run.executors import dask

        def enter(self: object) -> object:
            self._hosts = {"prop": ["w"]}  # type: ignore[attr-defined]
            return self

        patch.setattr(dask.DaskExecutor, "__enter__", enter)
        patch.setattr(dask.DaskExecutor, "__exit__", lambda self, *exc: None)
        patch.setattr(dask.DaskExecutor, "run", skip_all)
    except ImportError:
        pass
    refresh()
    yield
    patch.undo()
    refresh()


def check_invariants(argv: list[str], folder: Path, capsys) -> tuple[int, str]:
    """Run ``argv`` in ``folder``; assert every invariant; return (status, stderr)."""
    before = snapshot(folder)
    start = time.monotonic()
    code, out, err = run_cli(argv, capsys)
    elapsed = time.monotonic() - start
    assert code in DOCUMENTED, (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out, (argv, err)
    assert elapsed < BOUND_S, (argv, elapsed)
    if code != 0:
        assert err.count("\n") == 1 and err.startswith("error: "), (argv, err)
    if code in (1, 2):
        assert snapshot(folder) == before, (argv, "a refused command changed files", err)
    return code, err


# -- command lines from the parser itself --------------------------------------------------------
TEXT = ["iris", "wine", "good.csv", "missing.csv", "dir", "pipe.csv", "c.toml", "bad.toml", "default", "quick",
        "sklearn-lr", "fake-ok", "fake-ok,sklearn-lr", "keras-mlp@jax", "nope", "", ",", "../x", "/etc/passwd",
        "a", "b", "scale", "sealed", "cpu", "gpu", "cpu,gpu", "label", "100,200", "standard", "none,standard",
        "synthetic:n_samples=50,n_features=3,n_classes=2", "tcp://127.0.0.1:1", "results", "out", "out.parquet",
        "é", "x" * 300, "a\nb"]  # fmt: skip
INTEGERS = ["0", "1", "2", "-1", "abc", "", "1e3", "2.5", "99999999999999"]
NUMBERS = ["0", "0.5", "1", "-1", "nan", "inf", "1e308", "abc", "", "20", "1e-9"]
RUNS = ["a", "b", "scale", "sealed", "nope", "a@prop", "../a", "results/runs/a", ""]


def _value(action: argparse.Action) -> st.SearchStrategy[str]:
    if action.choices:
        return st.sampled_from([*map(str, action.choices), "bogus"])
    name = getattr(action.type, "__name__", "")
    if name in ("_positive_int", "int"):
        return st.sampled_from(INTEGERS)
    if name == "_number":
        return st.sampled_from(NUMBERS)
    return st.sampled_from(TEXT) | st.text(max_size=12)


def _option(action: argparse.Action) -> st.SearchStrategy[list[str]]:
    flag = st.sampled_from(action.option_strings)
    if action.nargs == 0:
        return flag.map(lambda f: [f])
    return st.tuples(flag, _value(action)).map(list)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@st.composite
def command_lines(draw: st.DrawFn, command: str | None = None) -> list[str]:
    """A command line drawn from the parser: a subcommand, some of its options, its positionals."""
    parsers = subcommands()
    name = command or draw(st.sampled_from(sorted(parsers)))
    argv = [name]
    actions = [a for a in parsers[name]._actions if not isinstance(a, argparse._HelpAction)]
    for action in actions:
        if not action.option_strings:
            low = 1 if action.nargs == "+" else 0
            argv += draw(st.lists(st.sampled_from(RUNS), min_size=low, max_size=3))
        elif action.required or draw(st.integers(0, 3)) == 0:
            argv += draw(_option(action))
    if draw(st.booleans()):
        argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(["--bogus", "-x", "--"])))
    return argv


@settings(max_examples=EXAMPLES * 2)
@given(command_lines())
def test_any_command_line_keeps_the_invariants(template, stubs, capsys, argv):
    with sandbox(template) as folder:
        check_invariants(argv, folder, capsys)


@settings(max_examples=EXAMPLES)
@given(command_lines("run"))
def test_dry_run_validates_what_a_real_run_validates(template, stubs, capsys, argv):
    argv = [a for a in argv if a != "--dry-run"]
    with sandbox(template) as folder:
        real, real_err = check_invariants(argv, folder, capsys)
    with sandbox(template) as folder:
        dry, dry_err = check_invariants([argv[0], "--dry-run", *argv[1:]], folder, capsys)
    assert (dry == 0) == (real in (0, 3)), (argv, dry_err, real_err)
    if dry != 0:
        assert dry_err == real_err


# -- configs ----------------------------------------------------------------------------------
KEYS = ["splits", "first_seed", "init_seeds", "threads", "test_size", "trial_timeout_s", "startup_timeout_s",
        "stratify", "interleave", "description", "quick", "init_seed", "devices", "preprocessing", "datasets",
        "adapters", "timing", "stop_after_fit_s", "colour"]  # fmt: skip
SCALAR = (
    st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True)
    | st.booleans()
    | st.sampled_from(["iris", "cpu", "fake-ok", "good.csv", "", "none"])
    | st.text(max_size=8)
)
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)  # fmt: skip
ADAPTER = st.sampled_from(["fake-ok", "sklearn-lr", "nope"]) | st.fixed_dictionaries(
    {"name": st.sampled_from(["fake-ok", "sklearn-lr", "sklearn.naive_bayes.GaussianNB"])},
    optional={"params": st.dictionaries(st.sampled_from(["var_smoothing", "C", "x"]), VALUE, max_size=2),
              "profile": st.sampled_from(["seed", "2016", "nope"]), "backends": st.lists(st.sampled_from(["jax", "x"]))},
)  # fmt: skip
SMALL = {"splits": st.integers(-1, 4), "test_size": st.floats(-0.5, 1.5), "trial_timeout_s": st.floats(-1, 10)}


@st.composite
def configs(draw: st.DrawFn) -> dict:
    data: dict = {"adapters": draw(st.lists(ADAPTER, min_size=0, max_size=3))}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        data[key] = draw(SMALL.get(key, VALUE))
    return data


@settings(max_examples=EXAMPLES * 2)
@given(configs(), st.booleans())
def test_any_config_keeps_the_invariants(template, stubs, capsys, data, dry):
    import tomli_w

    with sandbox(template) as folder:
        try:
            (folder / "gen.toml").write_text(tomli_w.dumps(data))
        except (TypeError, ValueError):  # not expressible in TOML: nothing to test
            return
        argv = ["run", "--config", "gen.toml", "--run-id", "g", *(["--dry-run"] if dry else [])]
        code, _ = check_invariants(argv, folder, capsys)
        if code == 0 and not dry:
            stored = json.loads((folder / "results" / "runs" / "g" / "config.json").read_text())
            assert check_invariants(argv, folder, capsys)[0] == 0  # the same config resumes
            assert json.loads((folder / "results" / "runs" / "g" / "config.json").read_text()) == stored


# -- data files -------------------------------------------------------------------------------
CELL = st.one_of(
    st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.sampled_from(["a", "b", "", "NA", "1", "1.5", "x,y", '"q"']), st.text(max_size=4),
)  # fmt: skip


@st.composite
def data_files(draw: st.DrawFn) -> tuple[str, bytes | dict]:
    columns = draw(st.lists(st.sampled_from(["a", "b", "label", "", "a"]), min_size=0, max_size=4))
    rows = draw(st.integers(0, 12))
    table = {
        f"{c}{i}" if c != "label" else c: draw(st.lists(CELL, min_size=rows, max_size=rows))
        for i, c in enumerate(columns)
    }
    if draw(st.booleans()):
        return "csv", draw(
            st.sampled_from([b"", b"\xff\xfe", b"label\n", b"a,label\n1\n2,x,3\n"])
        ) if not table else table
    return "parquet", table


@settings(max_examples=EXAMPLES * 2)
@given(data_files(), st.sampled_from(["error", "onehot", "drop"]), st.sampled_from(["error", "drop", "impute"]))
def test_any_data_file_keeps_the_invariants(template, stubs, capsys, file, categorical, missing):
    import pandas as pd

    kind, content = file
    with sandbox(template) as folder:
        path = folder / f"gen.{kind}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in content.items()})
            try:
                frame.to_csv(path, index=False) if kind == "csv" else frame.to_parquet(path, index=False)
            except Exception:  # pyarrow cannot write some mixed columns: nothing to test
                return
        argv = ["run", "--datasets", path.name, "--target", "label", "--categorical", categorical, "--missing",
                missing, "--adapters", "fake-ok", "--splits", "2", "--run-id", "d"]  # fmt: skip
        check_invariants(argv, folder, capsys)


# -- damaged run folders ------------------------------------------------------------------------
RUN_FILES = ["records.jsonl", "config.json", "environment.json", "run.json", "control.json", "raw.jsonl"]
DAMAGE = st.sampled_from(["truncate", "flip", "mutate", "deep", "fifo", "folder", "link", "empty", "remove", "json", "foreign"])  # fmt: skip
READERS = [["report", "a"], ["compare", "a", "b"], ["export", "a", "--to", "parquet"], ["scale", "--report", "a"],
           ["report", "a", "b"], ["run", "--config", "c.toml", "--run-id", "a"]]  # fmt: skip


def damage(run: Path, how: str, name: str, draw: st.DrawFn) -> None:
    path = run / name
    if os.path.lexists(path) and not (path.is_file() and not path.is_symlink()):
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()  # an earlier damage
    data = path.read_bytes() if path.is_file() else b""
    if how == "truncate":
        path.write_bytes(data[: draw(st.integers(0, max(0, len(data) - 1)))])
    elif how == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        path.write_bytes(data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :])
    elif how == "mutate" and name == "records.jsonl" and data:
        lines = data.decode().splitlines()
        at = draw(st.integers(0, len(lines) - 1))
        line = json.loads(lines[at])
        line[draw(st.sampled_from([*line, "status", "split_seed", "latency", "new_field"]))] = draw(VALUE)
        lines[at] = json.dumps(line)
        path.write_text("\n".join(lines) + "\n")
    elif how == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    elif how in ("fifo", "folder", "link", "empty", "remove"):
        path.unlink(missing_ok=True)
        {"fifo": os.mkfifo, "folder": os.mkdir, "link": lambda p: os.symlink("/etc/passwd", p),
         "empty": lambda p: Path(p).write_bytes(b""), "remove": lambda p: None}[how](path)  # fmt: skip
    elif how == "json":
        path.write_text(json.dumps(draw(VALUE)))
    elif how == "foreign":
        (run / draw(st.sampled_from(["notes.txt", ".git", "lock", "x.jsonl"]))).write_text("mine")


@settings(max_examples=EXAMPLES * 3)
@given(st.data())
def test_any_damaged_run_folder_keeps_the_invariants(template, stubs, capsys, data):
    with sandbox(template) as folder:
        for _ in range(data.draw(st.integers(1, 2))):
            damage(
                folder / "results" / "runs" / "a", data.draw(DAMAGE), data.draw(st.sampled_from(RUN_FILES)), data.draw
            )
        check_invariants(data.draw(st.sampled_from(READERS)), folder, capsys)


# -- known answers ----------------------------------------------------------------------------
NUMBER = st.none() | st.floats(allow_nan=False, allow_infinity=False)
#: Finite JSON: non-finite numbers are stored as null by design (hello_bench.record.encode).
JSON = st.recursive(NUMBER | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=8)  # fmt: skip
FRACTION = st.none() | st.floats(0.0, 1.0)
POSITIVE = st.none() | st.floats(0.0, 1e300)
RECORD_FIELDS = {
    "status": st.sampled_from(rec.STATUSES), "reason": st.text(max_size=20), "dataset": st.text(max_size=8),
    "split_seed": st.integers(0, 2**31), "accuracy": FRACTION, "fit_wall_s": POSITIVE, "warnings": st.lists(st.text(max_size=5), max_size=3),
    "latency": st.dictionaries(st.sampled_from(["p50_us", "p90_us", "n"]), POSITIVE, max_size=3),
    "params": st.dictionaries(st.text(max_size=5), JSON, max_size=3),
    "throughput_sps": st.dictionaries(st.sampled_from(["1", "32"]), POSITIVE, max_size=2), "stratify": st.booleans(),
}  # fmt: skip


@settings(max_examples=EXAMPLES)
@given(st.lists(st.fixed_dictionaries({}, optional=RECORD_FIELDS), min_size=1, max_size=6))
def test_records_read_back_equal_the_records_written(tmp_path_factory, many):
    from hello_bench.store.reader import read_records
    from hello_bench.store.writer import RunStore

    store = RunStore.open(tmp_path_factory.mktemp("store"), "k", {"splits": 1}, {"machine_id": "x"})
    with store:
        written = []
        for i, fields in enumerate(many):
            record = rec.build(
                {"schema_version": rec.SCHEMA_VERSION, "run_id": "k", "trial_id": f"t{i}", "status": "ok", **fields}
            )
            store.append(record)
            written.append(rec.as_dict(record))
    assert read_records(store.records_path) == written


#: Every built-in metric with a bounded valid range, and where in a record it lives.
BOUNDED = [m for m in rec.METRICS if m.valid is not None and (m.valid[0] > float("-inf") or m.valid[1] < float("inf"))]


@st.composite
def impossible(draw: st.DrawFn) -> tuple[rec.Metric, dict]:
    """A record field holding a value outside its metric's valid range (an accuracy of 1.7, a negative time)."""
    metric = draw(st.sampled_from(BOUNDED))
    low, high = metric.valid
    if metric.kind == "count":  # whole numbers (some count fields are typed int)
        value = draw(st.integers(max_value=int(low) - 1))
        head, *rest = metric.path
        return metric, {head: {rest[0]: value} if rest else value}
    sides = (
        [st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False)]
        if low > float("-inf")
        else []
    )
    sides += (
        [st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False)]
        if high < float("inf")
        else []
    )
    value = draw(st.one_of(sides))
    head, *rest = metric.path
    key = "32" if rest == ["*"] else (rest[0] if rest else None)
    return metric, {head: {key: value} if key else value}


@settings(max_examples=EXAMPLES)
@given(impossible())
def test_an_impossible_metric_value_is_refused_on_read_in_one_line(tmp_path_factory, case):
    """Each metric's valid range (in the registry) is checked on every read: the line, the field and the value."""
    from hello_bench.errors import UserError
    from hello_bench.store.reader import read_records

    metric, fields = case
    path = tmp_path_factory.mktemp("range") / "records.jsonl"
    good = {"schema_version": rec.SCHEMA_VERSION, "trial_id": "t0", "status": "ok"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "trial_id": "t1", **fields}) + "\n")
    with pytest.raises(UserError) as err:
        read_records(path)
    text = str(err.value)
    assert "\n" not in text and f"{path}:2:" in text and f"field {metric.path[0]!r}" in text
    assert "outside its valid range" in text
