"""A scikit-learn class given by its dotted path pickles (a plugin metric may size the model by pickling it), and
a plugin metric that raises leaves its reason in the trial's warnings, never a silent gap."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris

from hello_bench.adapters import make_adapter
from hello_bench.measure import trial
from hello_bench.metrics import Metric


def test_a_wrapped_class_pickles_and_predicts_the_same():
    X, y = load_iris(return_X_y=True)
    clf = make_adapter("sklearn.tree.DecisionTreeClassifier", random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert type(again) is type(clf) and np.array_equal(again.predict(X), clf.predict(X))


def test_a_metric_that_raises_is_named_in_the_warnings(monkeypatch):
    def broken(clf, split):
        raise RuntimeError("cannot size this model")

    bad = Metric.measured("model_bytes", broken, label="model bytes", unit="B", kind="memory")
    monkeypatch.setattr("hello_bench.record.measured_metrics", lambda: [bad])
    values, failed = trial.registered_metrics(object(), None)
    assert values == {"model_bytes": None}
    assert failed == ["metric model_bytes not measured: RuntimeError: cannot size this model"]


def test_a_bench_adapters_entry_without_a_name_says_how_to_write_one(monkeypatch):
    import pytest

    from hello_bench.adapters import AdapterLoadError, adapter_class

    monkeypatch.setenv("BENCH_ADAPTERS", "os:path")
    with pytest.raises(AdapterLoadError, match=r"BENCH_ADAPTERS entry 'os:path' has no name: write NAME=module:Class"):
        adapter_class("os:path")


@given(returned=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6), st.text(max_size=5),
                          st.booleans(), st.none(), st.lists(st.integers(), max_size=2)),
       kind=st.sampled_from(["count", "memory", "duration", "fraction", "score"]))  # fmt: skip
@settings(max_examples=200, deadline=None)
def test_whatever_a_metric_returns_costs_at_most_the_metric(returned, kind):
    """Any value a plugin returns is either a valid stored value or None with its reason in the warnings: an
    impossible one (a negative count, NaN, an accuracy of 1.7, text) never reaches the record, which would refuse
    the whole trial (every other number of it lost)."""
    import math

    from hello_bench import record

    metric = Metric.measured("plug_x", lambda clf, split: returned, label="plug x", unit="u", kind=kind)
    original = record.measured_metrics
    record.measured_metrics = lambda: [metric]
    try:
        values, failed = trial.registered_metrics(object(), None)
    finally:
        record.measured_metrics = original
    value = values["plug_x"]
    if value is None:
        assert returned is None or failed == [failed[0]] and failed[0].startswith("metric plug_x not measured: ")
    else:
        assert failed == [] and math.isfinite(value) and metric.invalid(value) is None


@pytest.mark.parametrize(
    "entry, why",
    [
        ("sklearn-lr=sklearn.linear_model:RidgeClassifier", "BENCH_ADAPTERS name 'sklearn-lr' (sklearn.linear_model"),
        ("Sklearn-LR=sklearn.linear_model:RidgeClassifier", "BENCH_ADAPTERS name 'Sklearn-LR' (sklearn.linear_model"),
        ("bad name=sklearn.linear_model:RidgeClassifier", "BENCH_ADAPTERS name 'bad name' is not a name"),
        ("a/b=sklearn.linear_model:RidgeClassifier", "BENCH_ADAPTERS name 'a/b' is not a name"),
        ("sklearn.linear_model.LogisticRegression=sklearn.linear_model:RidgeClassifier", "a dotted name is a class"),
    ],
)
def test_a_bench_adapters_name_that_cannot_be_used_says_why(monkeypatch, capsys, tmp_path, entry, why):
    """A name taken by a built-in (or an entry point) never silently loses; a name that would break trial ids and
    file names is refused: listed by bench list, one line when run."""
    import json

    from hello_bench.adapters.registry import refresh
    from hello_bench.cli import main

    monkeypatch.setenv("BENCH_ADAPTERS", entry)
    refresh()
    try:
        name = entry.split("=")[0]
        assert main(["list", "--json"]) == 0
        listed = {a["name"]: a for a in json.loads(capsys.readouterr().out)["adapters"]}
        assert not listed[name]["available"] and why in listed[name]["reason"]
        assert main(["run", "--adapters", name, "--dry-run", "--results-dir", str(tmp_path / "r")]) == 1
        assert why in capsys.readouterr().err and not (tmp_path / "r").exists()
    finally:
        monkeypatch.delenv("BENCH_ADAPTERS")
        refresh()


def test_bench_check_says_which_registered_metric_cannot_measure_the_adapter(monkeypatch):
    """A run keeps its trial when a plugin metric raises or returns junk; bench check is where its author learns."""
    from hello_bench import record
    from hello_bench.adapters import adapter_class
    from hello_bench.checks import AdapterCheckError, check_record

    for returned, why in ((-2.5, "outside its valid range"), (float("nan"), "not a finite number")):
        bad = Metric.measured("plug_y", lambda clf, split, v=returned: v, label="y", unit="", kind="count")
        monkeypatch.setattr(record, "measured_metrics", lambda bad=bad: [bad])
        with pytest.raises(AdapterCheckError, match=f"metric plug_y not measured: it returned .*{why}"):
            check_record(adapter_class("sklearn-lr"))


def test_an_installed_adapter_named_like_a_built_in_is_listed_apart_and_never_shadows(monkeypatch, capsys):
    """An entry point 'sklearn-lr' (or 'Sklearn-LR', or one with a space) is listed with why; the built-in stays."""
    import json
    from importlib.metadata import EntryPoint

    from hello_bench.adapters import registry
    from hello_bench.cli import main

    points = [EntryPoint("Sklearn-LR", "sklearn.linear_model:RidgeClassifier", "bench.adapters"),
              EntryPoint("s7 weird", "sklearn.linear_model:RidgeClassifier", "bench.adapters")]  # fmt: skip
    monkeypatch.setattr(registry, "entry_points", lambda group: points if group == "bench.adapters" else [])
    registry.refresh()
    try:
        assert main(["list", "--json"]) == 0
        listed = {a["name"]: a for a in json.loads(capsys.readouterr().out)["adapters"]}
        assert listed["sklearn-lr"]["available"]  # the built-in keeps its name
        apart = listed["Sklearn-LR (sklearn.linear_model:RidgeClassifier)"]
        assert not apart["available"] and "is taken by hello_bench.adapters" in apart["reason"]
        assert not listed["s7 weird"]["available"] and "is not a name" in listed["s7 weird"]["reason"]
    finally:
        monkeypatch.undo()
        registry.refresh()
