"""Pairing on split identity: the same seed is not the same split; init seeds averaged; reasons named."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hello_bench.analysis import pairing


def rows(adapter: str, run: str, accs: list[float], sha: str = "s", n_test: int = 75, **extra: object) -> list[dict]:
    return [
        {"dataset": "iris", "device": "cpu", "adapter": adapter, "run_id": run, "split_seed": s, "init_seed": 0,
         "accuracy": a, "test_rows_sha": f"{sha}{s}", "n_test": n_test, "n_train": 150 - n_test, **extra}
        for s, a in enumerate(accs)
    ]  # fmt: skip


def frame(*groups: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([r for g in groups for r in g])


def test_same_split_pairs_and_keeps_its_identity():
    a, b = frame(rows("lr", "r1", [0.9, 0.8])), frame(rows("mlp", "r2", [0.95, 0.85]))
    result = pairing.match(a, b, ["dataset", "device"], "accuracy")
    assert result.unpaired == []
    assert result.pairs[["split_seed", "a", "b", "test_rows_sha", "n_test", "n_train"]].to_dict("records") == [
        {"split_seed": 0, "a": 0.9, "b": 0.95, "test_rows_sha": "s0", "n_test": 75, "n_train": 75},
        {"split_seed": 1, "a": 0.8, "b": 0.85, "test_rows_sha": "s1", "n_test": 75, "n_train": 75},
    ]


def test_same_seed_other_test_rows_is_never_paired_and_names_both_runs():
    """The issue's case: n_test 75 vs 30 on the same seeds was reported 'more accurate (p < 0.05)'."""
    a = frame(rows("lr", "run-75", [0.9, 0.8, 0.85], n_test=75))
    b = frame(rows("mlp", "run-30", [0.95, 0.9, 0.92], sha="t", n_test=30))
    result = pairing.match(a, b, ["dataset", "device"], "accuracy")
    assert result.pairs.empty and len(result.unpaired) == 3
    first = result.unpaired[0]
    assert first.key == ("iris", "cpu") and first.split_seed == 0
    assert first.reason == "test_rows_sha s0 vs t0 (run run-75 vs run run-30)"
    assert first.describe() == "iris/cpu split 0: test_rows_sha s0 vs t0 (run run-75 vs run run-30)"
    # without a row hash (older records), the sizes still tell the splits apart
    a_old, b_old = a.drop(columns="test_rows_sha"), b.drop(columns="test_rows_sha")
    old = pairing.match(a_old, b_old, ["dataset", "device"], "accuracy")
    assert old.pairs.empty and old.unpaired[0].reason == "n_test 75 vs 30 (run run-75 vs run run-30)"
    assert pairing.pair(a_old, b_old, ["dataset", "device"], "accuracy").empty


def test_each_identity_field_is_compared_when_both_sides_have_it():
    base = {"test_rows_sha": "x", "n_test": 75, "n_train": 75, "dataset_sha": "d1"}
    assert pairing.identity_conflict(base, dict(base)) is None
    assert pairing.identity_conflict(base, {**base, "n_train": 100}) == "n_train 75 vs 100"
    assert pairing.identity_conflict(base, {**base, "dataset_sha": "d2"}) == "dataset_sha d1 vs d2"
    assert pairing.identity_conflict(base, {**base, "test_rows_sha": "y"}) == "test_rows_sha x vs y"
    # absent or missing on one side: not compared (older records have no hash)
    assert pairing.identity_conflict(base, {"n_test": 75}) is None
    assert pairing.identity_conflict({**base, "dataset_sha": None}, {**base, "dataset_sha": "d2"}) is None
    assert pairing.identity_conflict({**base, "dataset_sha": math.nan}, {**base, "dataset_sha": "d2"}) is None
    # a frame turns 75 into 75.0: the same number
    assert pairing.identity_conflict({"n_test": 75}, {"n_test": 75.0}) is None
    assert pairing.identity_conflict({"n_test": 75.0}, {"n_test": 30.0}) == "n_test 75 vs 30"


def test_dataset_hash_separates_dataset_versions():
    a = frame(rows("lr", "v1", [0.9, 0.8], dataset_sha="aaa"))
    b = frame(rows("mlp", "v2", [0.95, 0.85], dataset_sha="bbb"))
    result = pairing.match(a, b, ["dataset", "device"], "accuracy")
    assert result.pairs.empty and result.unpaired[1].reason == "dataset_sha aaa vs bbb (run v1 vs run v2)"
    assert len(pairing.match(a, b.drop(columns="dataset_sha"), ["dataset", "device"], "accuracy").pairs) == 2


def test_init_seeds_are_averaged_within_a_split():
    a = frame(rows("lr", "r", [0.9]), [{**rows("lr", "r", [0.7])[0], "init_seed": 1}])
    split = pairing.per_split(a, ["adapter"], "accuracy")
    assert split[["split_seed", "accuracy", "n_inits"]].to_dict("records") == [
        {"split_seed": 0, "accuracy": pytest.approx(0.8), "n_inits": 2}
    ]
    assert split["runs"].tolist() == ["r"]


def test_one_side_claiming_a_split_twice_with_other_rows_is_left_out():
    """Init seed 1 of split 0 came from a run with another test size: averaging it in would mix two splits."""
    clash = {**rows("lr", "r2", [0.7], sha="other", n_test=30)[0], "init_seed": 1}
    a = frame(rows("lr", "r1", [0.9, 0.8]), [clash])
    split, unpaired = pairing.per_split_matched(a, ["dataset", "adapter"], "accuracy")
    assert split["split_seed"].tolist() == [1]
    assert [u.describe() for u in unpaired] == ["iris/lr split 0: test_rows_sha s0 vs other0 (run r1 vs run r2)"]
    paired = pairing.match(a, frame(rows("mlp", "r1", [0.9, 0.8])), ["dataset"], "accuracy")
    assert paired.pairs["split_seed"].tolist() == [1] and len(paired.unpaired) == 1


def test_split_conflicts_are_listed_once_per_split():
    df = frame(rows("lr", "r1", [0.9, 0.8]), rows("mlp", "r1", [0.9, 0.8]), rows("mlp2", "r2", [0.9], sha="z"))
    conflicts = pairing.split_conflicts(df)
    assert [c.describe() for c in conflicts] == ["iris/cpu split 0: test_rows_sha s0 vs z0 (run r1 vs run r2)"]
    assert pairing.split_conflicts(frame(rows("lr", "r1", [0.9]), rows("mlp", "r1", [0.8]))) == []


def test_against_pairs_every_adapter_with_the_baseline():
    df = frame(rows("lr", "r", [0.9, 0.8]), rows("mlp", "r", [0.95, 0.85]), rows("svm", "r", [0.7, 0.6]))
    got = [
        (key, adapter, g["a"].tolist(), g["b"].tolist()) for key, adapter, g in pairing.against(df, "lr", "accuracy")
    ]
    assert got == [(("iris", "cpu"), "mlp", [0.9, 0.8], [0.95, 0.85]), (("iris", "cpu"), "svm", [0.9, 0.8], [0.7, 0.6])]


splits_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["x", "y"]), st.sampled_from([30, 75]), st.floats(0, 1)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=100, deadline=None, database=None)
@given(splits_strategy, splits_strategy)
def test_pairing_never_pairs_different_test_rows(left, right):
    def side(adapter: str, specs: list) -> pd.DataFrame:
        return pd.DataFrame([
            {"adapter": adapter, "run_id": adapter, "split_seed": s, "init_seed": i, "test_rows_sha": sha,
             "n_test": n, "n_train": 150 - n, "accuracy": acc}
            for i, (s, sha, n, acc) in enumerate(specs)
        ])  # fmt: skip

    a, b = side("a", left), side("b", right)
    result = pairing.match(a, b, [], "accuracy")
    for _, r in result.pairs.iterrows():
        rows_a = a[a["split_seed"] == r["split_seed"]]
        rows_b = b[b["split_seed"] == r["split_seed"]]
        identities = {(sha, n) for sha, n in zip(rows_a["test_rows_sha"], rows_a["n_test"])}
        identities |= {(sha, n) for sha, n in zip(rows_b["test_rows_sha"], rows_b["n_test"])}
        assert identities == {(r["test_rows_sha"], r["n_test"])}  # one split on both sides, and it is this one
    paired = set(result.pairs["split_seed"])
    unpaired = {u.split_seed for u in result.unpaired}
    assert not paired & unpaired
    assert set(a["split_seed"]) & set(b["split_seed"]) <= paired | unpaired  # every shared seed is accounted for


def test_identity_values_of_other_kinds_are_compared_as_text():
    assert pairing.identity_conflict({"n_test": 75}, {"n_test": "x"}) == "n_test 75 vs x"
    assert pairing.identity_conflict({"test_rows_sha": "1"}, {"test_rows_sha": 1}) is None


def test_unpaired_without_keys_names_the_split():
    assert pairing.Unpaired((), 3, "n_test 75 vs 30").describe() == "split 3: n_test 75 vs 30"


def test_runs_are_named_on_each_side_and_missing_keys_are_kept():
    split0 = rows("lr", "r1", [0.9]) + [{**rows("lr", "r2", [0.7])[0], "init_seed": 1}]
    other = {**rows("lr", "r3", [0.5], sha="z")[0], "init_seed": 2}
    split, unpaired = pairing.per_split_matched(frame(split0, [other]), ["dataset", "adapter"], "accuracy")
    assert split.empty
    assert [u.describe() for u in unpaired] == ["iris/lr split 0: test_rows_sha s0 vs z0 (run r1, r2 vs run r3)"]
    same = pairing.per_split(frame(split0), ["dataset", "adapter"], "accuracy")
    assert same["runs"].tolist() == ["r1, r2"] and same["n_inits"].tolist() == [2]
    # a record with a missing key (no device) is still a split, and a missing value elsewhere drops nothing
    no_device = frame(rows("lr", "r", [0.9], device=None, dataset_sha=None))
    kept = pairing.per_split(no_device, ["device"], "accuracy")
    assert len(kept) == 1 and kept["accuracy"].tolist() == [0.9]
    # a record without the metric is left out of that metric's mean
    missing = frame(rows("lr", "r", [0.9]), [{**rows("lr", "r", [math.nan])[0], "init_seed": 1}])
    assert pairing.per_split(missing, ["adapter"], "accuracy")[["accuracy", "n_inits"]].values.tolist() == [[0.9, 1]]


def test_a_side_without_the_row_hash_takes_the_other_sides():
    a = frame(rows("lr", "old", [0.9])).assign(test_rows_sha=None)
    b = frame(rows("mlp", "new", [0.95]))
    assert pairing.match(a, b, ["dataset"], "accuracy").pairs["test_rows_sha"].tolist() == ["s0"]
    assert pairing.match(b, a, ["dataset"], "accuracy").pairs["test_rows_sha"].tolist() == ["s0"]


def test_split_conflicts_keep_records_with_a_missing_key():
    df = frame(rows("lr", "r1", [0.9], device=None), rows("mlp", "r2", [0.9], sha="z", device=None))
    assert [c.describe() for c in pairing.split_conflicts(df)] == [
        "iris/nan split 0: test_rows_sha s0 vs z0 (run r1 vs run r2)"
    ]


def test_split_conflicts_read_any_row_index_and_a_missing_identity_is_no_conflict():
    """A frame filtered before (its index not 0..n-1) gives the same conflicts; a record whose identity was never
    stored (NaN) conflicts with nothing: only two different known values do."""
    df = frame(rows("lr", "r1", [0.9, 0.8]), rows("mlp", "r1", [0.9, 0.8]), rows("mlp2", "r2", [0.9], sha="z"))
    shifted = df.set_axis(df.index * 10 + 7)
    assert [c.describe() for c in pairing.split_conflicts(shifted)] == [
        c.describe() for c in pairing.split_conflicts(df)
    ]
    assert len(pairing.split_conflicts(shifted)) == 1
    unknown = frame(rows("lr", "r1", [0.9]), rows("mlp", "r2", [0.9]))
    unknown.loc[unknown["adapter"] == "mlp", "test_rows_sha"] = None
    assert pairing.split_conflicts(unknown) == []


def test_an_identity_value_is_compared_by_number_when_it_is_one():
    from hello_bench.analysis.pairing import _canonical

    assert _canonical(75) == _canonical(75.0) == "75.0" and _canonical(75) != _canonical(76)
    assert _canonical("75") == "75" and _canonical("abc") == "abc" and _canonical(None) == "None"
