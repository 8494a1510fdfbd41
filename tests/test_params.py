"""Item 8 of issue 19: parameters of any type, from the config to the record and back on resume.

Known-answer properties: a parameter value of any JSON type survives config -> matrix -> trial
message -> record -> stored config -> resume unchanged, and its label is stable.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_bench import record as rec
from hello_bench.adapters.registry import refresh
from hello_bench.errors import UserError
from hello_bench.run.config import Config, config_from_dict
from hello_bench.run.matrix import Trial, expand
from hello_bench.run.params import check_param, freeze, thaw
from hello_bench.store.reader import read_records
from tests.invariants import assert_clean_failure, fast_runs, run_cli, tiny_config

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
)
KEYS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12
)


@pytest.fixture(autouse=True)
def params_adapter(monkeypatch):
    monkeypatch.setenv(
        "BENCH_ADAPTERS", "params=tests.fake_adapters:ParamsClassifier,fake-ok=tests.fake_adapters:_Fake"
    )
    refresh()
    yield
    refresh()


def config_with(anything: object, other: object) -> Config:
    entry = {"name": "params", "params": {"anything": anything, "other": other}}
    return config_from_dict({"adapters": [entry], "devices": ["cpu"], "splits": 2}, "test")


@given(VALUES, VALUES)
def test_any_value_survives_config_matrix_record_and_resume(anything, other):
    config = config_with(anything, other)
    trials = list(expand(config))  # specs are dict keys here: any value must be hashable when frozen
    assert len({t.trial_id for t in trials}) == 2
    for trial in trials:
        sent = Trial.from_dict(json.loads(json.dumps(trial.to_dict())))  # what a worker receives
        assert sent == trial and sent.trial_id == trial.trial_id
        assert sent.adapter.resolved_params() == {"anything": anything, "other": other}
        fields = {"schema_version": rec.SCHEMA_VERSION, "status": "ok", **trial.record_fields(config)}
        stored = rec.as_dict(rec.decode(rec.encode(rec.build(fields))))
        assert stored["params"] == {"anything": anything, "other": other}
    # Resume compares the stored config (JSON) with the one the command builds again.
    stored_config = json.loads(json.dumps(config.to_dict()))
    assert Config.from_dict(stored_config) == config
    assert stored_config == json.loads(json.dumps(config_with(anything, other).to_dict()))


@given(VALUES)
def test_freeze_is_hashable_and_thaw_inverts_it(value):
    frozen = freeze(value)
    hash(frozen)
    assert thaw(frozen) == value


@pytest.mark.parametrize(
    "value, message",
    [
        (math.inf, "finite"),
        (float("nan"), "finite"),
        (2**70, "too large"),
        (__import__("datetime").date(2020, 1, 1), "must be a number, string"),
        ({"a": __import__("functools").reduce(lambda v, _: [v], range(20), 1)}, "nested deeper"),
        (list(range(20_000)), "more than"),
    ],
)
def test_values_a_record_cannot_hold_are_one_line(value, message):
    with pytest.raises(UserError, match=message):
        check_param("x", value, "config")


def test_list_and_table_params_run_record_and_resume(tmp_path, capsys, monkeypatch):
    fast_runs(monkeypatch)
    extra = (
        '[[adapters]]\nname = "params"\nparams = { anything = [16, 16], other = { setosa = 2.0, deep = [[1], []] } }\n'
    )
    conf = tiny_config(tmp_path / "c.toml", [], splits=2, extra="")
    conf.write_text(conf.read_text().replace("adapters = []\n", "") + extra)
    argv = ["run", "--config", str(conf), "--run-id", "p", "--results-dir", str(tmp_path / "r")]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    records = read_records(tmp_path / "r" / "runs" / "p" / "records.jsonl")
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert records[0]["params"] == {"anything": [16, 16], "other": {"setosa": 2.0, "deep": [[1], []]}}
    assert records[0]["adapter"] == 'params(anything=[16,16],other={"deep":[[1],[]],"setosa":2.0})'
    code, out, err = run_cli([*argv, "--json"], capsys)  # the resume finds every trial recorded
    assert code == 0 and json.loads(out)["resumed"] == 2 and json.loads(out)["new"] == {}, err
    assert read_records(tmp_path / "r" / "runs" / "p" / "records.jsonl") == records


def test_a_deeply_nested_config_is_one_line(tmp_path, capsys):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = run_cli(["run", "--config", str(path), "--dry-run"], capsys)
    assert_clean_failure(code, err, {1})
    assert "nested too deeply" in err
