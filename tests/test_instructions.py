"""Instruction counts under valgrind (hello_bench.measure.instructions): the arithmetic of the three runs, what each
run is given and does, once per worker, errors kept to the field; the opt-in's checks; one real count (slow)."""

from __future__ import annotations

import io
import pickle
import shutil
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from hello_bench.measure import instructions as ins
from hello_bench.measure.trial import Split


def _split() -> Split:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = np.arange(60) % 3
    return Split(X[:30].astype(np.float32), X[30:], y[:30], y[30:])


def test_refs_reads_cachegrinds_total_and_refuses_output_without_one():
    assert ins.refs("==123== \n==123== I   refs:      5,775,103,595\n") == 5_775_103_595
    assert ins.refs("I refs: 42") == 42
    text = "==1== error: something else" + "x" * 400 + "the end\n"
    with pytest.raises(ins.CountError) as raised:
        ins.refs(text)
    assert str(raised.value) == "no instruction count in valgrind's output: " + text.strip()[-300:]


def test_counts_are_the_differences_of_the_three_runs():
    got = ins.counts({"setup": 1000, "fit": 1600, "predict": 1600 + 1001 * 7}, calls=1000)
    assert got == {"fit": 600.0, "predict": 7.0, "setup": 1000.0, "calls": 1001, "tool": "cachegrind"}
    assert ins.PHASES == ("setup", "fit", "predict") and ins.CALLS == 1000


def test_each_run_is_valgrind_around_an_isolated_python_given_the_job_on_stdin():
    import json

    cmd = ins.command()
    assert cmd[: len(ins.TOOL)] == list(ins.TOOL) and "--cache-sim=no" in cmd
    assert cmd[len(ins.TOOL) :] == [sys.executable, "-I", "-c", ins._CHILD, json.dumps([p for p in sys.path if p])]
    env = ins.environment()
    assert env["PYTHONHASHSEED"] == "0" and env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    job = pickle.loads(ins.payload("clf", _split(), "fit"))
    assert job["phase"] == "fit" and job["calls"] == ins.CALLS and job["one"].shape == (1, 4)
    assert job["one"].dtype == np.float32 and len(job["X"]) == 30


def test_a_run_is_given_its_command_job_environment_and_limit_and_its_failures_are_count_errors():
    calls = []

    def runner(code: int, stderr: object):
        def run(cmd, **kwargs):
            calls.append((cmd, kwargs))
            return SimpleNamespace(returncode=code, stderr=stderr)

        return run

    assert ins.run_phase("clf", _split(), "fit", runner(0, b"==1== I   refs:  1,000")) == 1000
    cmd, kwargs = calls[0]
    assert cmd == ins.command() and kwargs["capture_output"] is True and kwargs["timeout"] == ins.TIMEOUT_S
    assert kwargs["env"] == ins.environment() and set(kwargs) == {"input", "capture_output", "env", "timeout"}
    job = pickle.loads(kwargs["input"])
    assert job["clf"] == "clf" and job["phase"] == "fit"
    assert ins.run_phase("clf", _split(), "fit", runner(0, "I refs: 7")) == 7  # text output read as it is
    with pytest.raises(ins.CountError) as raised:
        ins.run_phase("clf", _split(), "fit", runner(3, ("y" * 400 + " boom\n").encode()))
    assert str(raised.value) == "the fit run exited 3: " + ("y" * 400 + " boom")[-300:]
    with pytest.raises(ins.CountError, match="exited 1: caf\ufffd"):  # undecodable bytes do not hide the error
        ins.run_phase("clf", _split(), "fit", runner(1, b"caf\xff"))
    with pytest.raises(ins.CountError):
        ins.run_phase("clf", _split(), "fit", runner(0, b"nothing"))


def test_count_runs_each_phase_once_and_first_of_worker_counts_one_trial_per_adapter(monkeypatch):
    seen = []
    totals = {"setup": 100, "fit": 160, "predict": 160 + 1001 * 2}

    def runner(cmd, input, **kwargs):
        phase = pickle.loads(input)["phase"]
        seen.append(phase)
        return SimpleNamespace(returncode=0, stderr=f"I refs: {totals[phase]:,}".encode())

    assert ins.count("clf", _split(), runner=runner) == ins.counts(totals)
    assert sorted(seen) == sorted(ins.PHASES)
    clfs = []

    def spy(cmd, input, **kwargs):
        clfs.append(pickle.loads(input)["clf"])
        return runner(cmd, input)

    ins.count("the adapter", _split(), runner=spy)
    assert clfs == ["the adapter"] * 3
    monkeypatch.setattr(ins, "_counted", set())
    given = []
    monkeypatch.setattr(ins, "count", lambda clf, split: given.append((clf, split)) or {"fit": 1.0})

    class A:
        pass

    class B:
        pass

    a, split = A(), _split()
    assert ins.first_of_worker(a, split) == {"fit": 1.0} and given == [(a, split)]
    assert ins.first_of_worker(A(), _split()) is None  # the group's other trials: not counted again
    assert ins.first_of_worker(B(), _split()) == {"fit": 1.0}
    assert f"{A.__module__}:{A.__qualname__}" in ins._counted

    def broken(clf, split):
        raise ins.CountError("valgrind said no")

    monkeypatch.setattr(ins, "count", broken)
    assert ins.first_of_worker(type("C", (), {})(), _split()) == {"error": "CountError: valgrind said no"}

    def long(clf, split):
        raise ins.CountError("z" * 1000)

    monkeypatch.setattr(ins, "count", long)
    assert ins.first_of_worker(type("D", (), {})(), _split()) == {"error": ("CountError: " + "z" * 1000)[:400]}


class Counted:
    """An sklearn logistic regression that counts its fits and predicts (module level: picklable)."""

    calls = {"fit": 0, "predict": 0}

    def __init__(self) -> None:
        from sklearn.linear_model import LogisticRegression

        self.inner = LogisticRegression()

    @classmethod
    def limit_threads(cls, threads: int, backend: str = "default") -> dict:
        assert threads == 1
        return {}

    def get_params(self, deep: bool = True) -> dict:
        return {}

    def fit(self, X, y):
        Counted.calls["fit"] += 1
        self.inner.fit(X, y)
        return self

    def predict_proba(self, X):
        Counted.calls["predict"] += 1
        return self.inner.predict_proba(X)


@pytest.mark.parametrize("phase, fits, predicts", [("setup", 1, 1), ("fit", 2, 1), ("predict", 2, 1 + ins.CALLS + 1)])
def test_the_child_does_its_phase_and_nothing_more(monkeypatch, phase, fits, predicts):
    monkeypatch.setattr(Counted, "calls", {"fit": 0, "predict": 0})
    stdin = SimpleNamespace(buffer=io.BytesIO(ins.payload(Counted(), _split(), phase)))
    monkeypatch.setattr(sys, "stdin", stdin)
    ins.child()
    assert Counted.calls == {"fit": fits, "predict": predicts}  # the warm-up's fit and predict, then the phase's


def test_the_opt_in_needs_one_thread_and_valgrind_said_before_anything_runs(monkeypatch):
    from hello_bench.errors import UserError
    from hello_bench.measure.settings import TimingSettings
    from hello_bench.run.config import AdapterSpec, Config, validate

    timing = TimingSettings(instructions=True)
    config = Config(adapters=(AdapterSpec("sklearn-lr"),), splits=1, timing=timing, threads=1)
    monkeypatch.setattr(ins, "available", lambda: True)
    assert validate(config, "t").timing.instructions
    from dataclasses import replace

    with pytest.raises(UserError, match="single-threaded runs only; set threads = 1"):
        validate(replace(config, threads=2), "t")
    monkeypatch.setattr(ins, "available", lambda: False)
    with pytest.raises(UserError, match="needs valgrind, which is not installed"):
        validate(config, "t")
    assert "instructions" not in TimingSettings().to_dict()  # configs stored before it existed stay equal
    assert TimingSettings.from_dict({"instructions": True}).to_dict()["instructions"] is True
    with pytest.raises(ValueError, match="instructions must be true or false"):
        TimingSettings(instructions="yes")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_a_real_count_of_logistic_regression():
    """Three runs under cachegrind (about 80 s here): the fit and the mean predict are counted, and a
    predict costs far fewer instructions than a fit."""
    from hello_bench.adapters import adapter_class

    got = ins.count(adapter_class("sklearn-lr")(random_state=0), _split())
    assert got["fit"] > 10 * got["predict"] > 0 and got["setup"] > got["fit"] and got["calls"] == ins.CALLS + 1


def test_valgrind_is_found_by_name():
    assert ins.available() == (shutil.which("valgrind") is not None)


def test_a_trial_with_the_opt_in_records_its_counts_on_the_first_trial_of_its_worker_only(monkeypatch):
    from hello_bench import record as rec
    from hello_bench.measure.settings import TimingSettings
    from hello_bench.measure.trial import measure_trial
    from tests.fake_adapters import _Fake

    monkeypatch.setattr(ins, "_counted", set())
    monkeypatch.setattr(ins, "count", lambda clf, split: ins.counts({"setup": 10, "fit": 40, "predict": 40 + 1001}))
    settings = TimingSettings(warmup=1, latency_min_calls=3, latency_budget_s=0.001, stock_min_calls=2,
                              stock_budget_s=0.001, batch_sizes=(1,), throughput_budget_s=0.001, serving=False,
                              curves=False, instructions=True)  # fmt: skip
    first = measure_trial(_Fake(random_state=0), _split(), settings, threads=1)
    assert first["instructions"] == {"fit": 30.0, "predict": 1.0, "setup": 10.0, "calls": 1001, "tool": "cachegrind"}
    second = measure_trial(_Fake(random_state=1), _split(), settings, threads=1)
    assert second["instructions"] is None
    assert "instructions" not in measure_trial(_Fake(random_state=0), _split(), settings, threads=2)
    fields = {
        "schema_version": rec.SCHEMA_VERSION,
        "trial_id": "t",
        "status": "ok",
        "instructions": first["instructions"],
    }
    record = rec.as_dict(rec.build(fields))
    assert dict(((c, v) for c, _, v in rec.metric_values(record))) == {
        "instructions_fit": 30.0,
        "instructions_predict": 1.0,
    }
