"""Items 7, 11 and 13 of issue 19: what a data file holds, how big it may become, and whose it is.

- Every column is numeric, categorical or unusable, decided once (hello_bench.data.columns): nested and
  struct Parquet columns, list labels, nullable booleans with --missing impute, decimals.
- Bounds before allocation: a one-hot encoding that explodes is refused before it is built.
- A dataset is its content: a user's iris.csv never pairs with bundled iris, two different
  data.csv files are never compared, and a resume with changed data is refused.
- Known answer: a dataset's rows and labels survive writing (CSV, Parquet) and loading.
"""

from __future__ import annotations

import datetime
import decimal
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_bench.adapters.registry import refresh
from hello_bench.data.datasets import MAX_ONEHOT_LEVELS, DatasetSpec, load_spec
from hello_bench.errors import UserError
from tests.invariants import assert_clean_failure, fast_runs, run_cli, snapshot, tiny_config, tiny_figures

N = 30
LABELS = [("a", "b", "c")[i % 3] for i in range(N)]


def parquet(path: Path, columns: dict) -> str:
    pq.write_table(pa.table(columns), path)
    return str(path)


def load(path: str, **options: str) -> object:
    return load_spec(DatasetSpec(path, target="label", **options))


@pytest.mark.parametrize(
    "column, options, message",
    [
        ([[1, 2]] * N, {}, "nested values (lists)"),
        ([[1, 2]] * N, {"categorical": "onehot"}, "nested values (lists)"),
        ([{"a": 1, "b": 2}] * N, {}, "nested values (structs)"),
        ([b"\x00\x01"] * N, {"categorical": "onehot"}, "bytes"),
        ([datetime.datetime(2020, 1, 1)] * N, {"categorical": "onehot"}, "dates and times"),
    ],
)
def test_unusable_feature_columns_are_one_line(tmp_path, column, options, message):
    path = parquet(tmp_path / "d.parquet", {"x": list(range(N)), "odd": column, "label": LABELS})
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(path, **options)
    assert load(path, categorical="drop").feature_names == ("x",)  # drop takes every non-numeric column


@pytest.mark.parametrize("labels", [[["a"], ["b"]] * (N // 2), [{"k": 1}, {"k": 2}] * (N // 2)])
def test_list_and_struct_labels_are_one_line(tmp_path, labels):
    parquet(tmp_path / "d.parquet", {"x": list(range(N)), "label": labels})
    with pytest.raises(UserError, match="holds nested values"):
        load(str(tmp_path / "d.parquet"))


def test_labels_mixing_text_and_numbers_are_one_line():
    from hello_bench.data import columns

    with pytest.raises(UserError, match="mixes text and numbers"):
        columns.labels(pd.Series(["a", 1] * (N // 2), dtype=object, name="label"), "data")


def test_nullable_booleans_decimals_and_boolean_labels_load_as_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "flag": pd.array([True, False, None] * (N // 3), dtype="boolean"),
            "count": pd.array([1, None, 3] * (N // 3), dtype="Int64"),
            "price": [decimal.Decimal("1.25"), decimal.Decimal("2.5"), None] * (N // 3),
            "label": pd.array([True, False, True] * (N // 3), dtype="boolean"),
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(UserError, match="missing value"):
        load(str(tmp_path / "d.parquet"))
    ds = load(str(tmp_path / "d.parquet"), missing="impute")
    assert not np.isnan(ds.X).any()
    assert ds.X[:3].tolist() == [[1.0, 1.0, 1.25], [0.0, 2.0, 2.5], [0.5, 3.0, 1.875]]
    assert ds.y.dtype == bool and ds.y[:3].tolist() == [True, False, True]


def test_a_column_with_nothing_to_impute_from_is_one_line(tmp_path):
    pd.DataFrame({"x": range(N), "empty": [None] * N, "label": LABELS}).to_parquet(tmp_path / "d.parquet")
    with pytest.raises(UserError, match="no values to impute from"):
        load(str(tmp_path / "d.parquet"), missing="impute")


def test_an_exploding_one_hot_is_refused_before_it_is_built(tmp_path, monkeypatch):
    rows = MAX_ONEHOT_LEVELS + 200
    path = tmp_path / "ids.csv"
    path.write_text("id,x,label\n" + "".join(f"user-{i},{i},{'ab'[i % 2]}\n" for i in range(rows)))

    def never(*args, **kwargs):
        raise AssertionError("the one-hot matrix was built")

    monkeypatch.setattr(pd, "get_dummies", never)
    with pytest.raises(UserError, match=f"{rows:,} distinct values"):
        load(str(path), categorical="onehot")


def test_an_exploding_one_hot_on_the_command_line_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = 12_000
    (tmp_path / "ids.csv").write_text("id,label\n" + "".join(f"{i:x}z,{'ab'[i % 2]}\n" for i in range(rows)))
    before = snapshot(tmp_path)
    argv = ["run", "--datasets", "ids.csv", "--target", "label", "--categorical", "onehot", "--adapters", "sklearn-lr"]
    code, _, err = run_cli(argv, capsys)
    assert_clean_failure(code, err, {1})
    assert "one-hot encoding would make more than" in err and snapshot(tmp_path) == before


# -- a dataset is its content ----------------------------------------------------------
def iris_like_csv(path: Path, shuffle_seed: int) -> Path:
    from hello_bench.data.datasets import iris_frame

    frame = iris_frame()
    frame["sepal_length"] = np.random.default_rng(shuffle_seed).permutation(frame["sepal_length"].to_numpy())
    frame.to_csv(path, index=False)
    return path


def test_a_users_iris_csv_is_never_named_iris(tmp_path):
    spec = DatasetSpec(str(iris_like_csv(tmp_path / "iris.csv", 1)), target="species")
    assert spec.name == "iris.csv" and DatasetSpec("iris").name == "iris"
    assert DatasetSpec(str(tmp_path / "flowers.csv"), target="species").name == "flowers"


@pytest.fixture
def fakes(monkeypatch):
    monkeypatch.setenv("BENCH_ADAPTERS", "fake-ok=tests.fake_adapters:_Fake")
    refresh()
    yield
    refresh()


def test_resuming_with_changed_data_is_refused(tmp_path, capsys, fakes, monkeypatch):
    fast_runs(monkeypatch)
    data = iris_like_csv(tmp_path / "data.csv", 1)
    conf = tiny_config(
        tmp_path / "c.toml", ["fake-ok"], extra=f'datasets = [{{ path = "{data}", target = "species" }}]'
    )
    argv = ["run", "--config", str(conf), "--run-id", "r", "--results-dir", str(tmp_path / "results")]
    assert run_cli(argv, capsys)[0] == 0
    iris_like_csv(data, 2)  # the same file name, other data
    before = snapshot(tmp_path)
    for extra in ([], ["--dry-run"]):
        code, _, err = run_cli(argv + extra, capsys)
        assert_clean_failure(code, err, {1})
        assert "changed since the run's records were made" in err and snapshot(tmp_path) == before


def test_two_contents_under_one_name_are_never_compared(tmp_path, capsys, monkeypatch):
    from hello_bench.analysis.load import load_runs
    from tests.test_report import record, write_run

    tiny_figures(monkeypatch)
    results = tmp_path / "results"

    def records(sha: str) -> list[dict]:
        return [record("fake-ok", s, 0.9 + s / 100, dataset="data", dataset_sha=sha, test_rows_sha=f"rows{s}",
                       trial_id=f"data/fake-ok/cpu/split-0{s}") for s in range(3)]  # fmt: skip

    write_run(results, "a", records("1" * 16))
    write_run(results, "same", records("1" * 16))
    write_run(results, "b", records("2" * 16))  # the same name, other data
    for other, matched in (("b", False), ("same", True)):
        code, out, err = run_cli(["compare", "a", other, "--results-dir", str(results), "--json"], capsys)
        assert code == 0, err
        ratios = next(t for t in json.loads(out)["tables"] if t["name"] == "ratios")["rows"]
        assert bool(ratios) is matched  # other content under the same name: nothing paired
    frame = load_runs(["a", "b"], results).frame
    assert sorted(frame["dataset"].unique()) == ["data #11111111", "data #22222222"]
    assert len(frame) == 6  # no record of one taken for a duplicate of the other


# -- known answers: rows and labels survive loading ----------------------------------------
COLUMN = st.sampled_from(["int", "float", "bool"])


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(6, 40))
    data: dict = {}
    for i, kind in enumerate(draw(st.lists(COLUMN, min_size=1, max_size=4))):
        if kind == "int":
            values = draw(st.lists(st.integers(-(10**9), 10**9), min_size=rows, max_size=rows))
        elif kind == "float":
            values = draw(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=rows, max_size=rows))
        else:
            values = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
        data[f"c{i}"] = values
    alphabet = draw(st.sampled_from([("cat", "dog"), ("x1", "y2", "z3"), (0, 1), (3, 7, 11)]))
    data["label"] = [alphabet[i % len(alphabet)] for i in draw(st.permutations(range(rows)))]
    return pd.DataFrame(data)


@given(frames(), st.sampled_from(["csv", "parquet"]))
def test_rows_and_labels_survive_loading(tmp_path_factory, frame, fmt):
    path = tmp_path_factory.mktemp("data") / f"d.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path, index=False)
    ds = load(str(path))
    expected = frame.drop(columns=["label"]).astype(float).to_numpy()
    assert ds.X.shape == expected.shape and np.array_equal(ds.X, expected)
    assert ds.y.tolist() == frame["label"].tolist()
    assert ds.content_sha == load(str(path)).content_sha


#: Ways a CSV may write a number (or a boolean) that pandas reads as the same value.
SPELLINGS = {
    "one": ["1", "01", "001", "+1", "1.0", "1e0", " 1"],
    "two": ["2", "02", "2.0", "+2"],
    "true": ["True", "true", "TRUE"],
    "false": ["False", "false", "FALSE"],
}


@given(
    kind=st.sampled_from(["numbers", "booleans"]),
    chosen=st.data(),
    suffix=st.sampled_from([".csv", ".tsv"]),
)
def test_two_spellings_of_a_label_never_silently_become_one_class(tmp_path_factory, kind, chosen, suffix):
    """Issue 29, item 8: a CSV label column whose parsing would merge distinct spellings (``01`` and ``1``,
    ``True`` and ``true``) is one line naming them; one spelling per class loads with one class per spelling."""
    values = ["one", "two"] if kind == "numbers" else ["true", "false"]
    written = {
        v: chosen.draw(st.lists(st.sampled_from(SPELLINGS[v]), min_size=1, max_size=3, unique=True)) for v in values
    }
    rows = [spelling for v in values for spelling in written[v] for _ in range(6)]
    sep = "\t" if suffix == ".tsv" else ","
    path = tmp_path_factory.mktemp("labels") / f"data{suffix}"
    path.write_text(f"x{sep}label\n" + "".join(f"{i}{sep}{label}\n" for i, label in enumerate(rows)))
    spec = DatasetSpec(str(path), target="label")
    distinct = {v: {s.strip() for s in written[v]} for v in values}
    if any(len(s) > 1 for s in distinct.values()):
        with pytest.raises(UserError, match="writes one class several ways"):
            load_spec(spec)
    else:
        assert len(load_spec(spec).classes) == len(values)
