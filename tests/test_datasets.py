"""Datasets: bundled, synthetic, and the user's own files with every bad-data case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hello_bench.cli import main
from hello_bench.data.datasets import BUNDLED, DatasetSpec, load_spec
from hello_bench.errors import UserError
from hello_bench.run.config import AdapterSpec, Config, parse_dataset, validate


def test_bundled_shapes():
    shapes = {
        name: (ds.n_samples, ds.n_features, len(ds.classes))
        for name in BUNDLED
        for ds in [load_spec(DatasetSpec(name))]
    }
    assert shapes == {
        "iris": (150, 4, 3),
        "wine": (178, 13, 3),
        "breast_cancer": (569, 30, 2),
        "digits": (1797, 64, 10),
    }
    assert set(load_spec(DatasetSpec("iris")).classes) == {"setosa", "versicolor", "virginica"}


def test_synthetic_is_seeded():
    spec = DatasetSpec("synthetic:n_samples=200,n_features=6,n_classes=4")
    a, b = load_spec(spec), load_spec(spec)
    assert a.X.shape == (200, 6) and len(a.classes) == 4
    np.testing.assert_array_equal(a.X, b.X)
    assert spec.name == "synthetic(n_samples=200,n_features=6,n_classes=4)"
    with pytest.raises(UserError, match="expected key=value pairs"):
        load_spec(DatasetSpec("synthetic:rows=5"))


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def check(spec, test_size=0.5):
    return validate(Config(datasets=(spec,), adapters=(AdapterSpec("sklearn-lr"),), test_size=test_size), "test")


GOOD = "a,b,label\n" + "".join(f"{i},{i % 3},{'cat' if i % 2 else 'dog'}\n" for i in range(20))


def test_own_csv_with_string_labels(tmp_path):
    spec = DatasetSpec(write(tmp_path, GOOD), target="label")
    ds = load_spec(spec)
    assert ds.X.shape == (20, 2) and set(ds.classes) == {"cat", "dog"} and spec.name == "data"
    check(spec)


def test_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.parquet"
    pd.read_csv(write(tmp_path, GOOD)).to_parquet(path)
    assert load_spec(DatasetSpec(str(path), target="label")).X.shape == (20, 2)


@pytest.mark.parametrize(
    "content, options, message",
    [
        (None, {}, "does not exist"),
        ("", {}, "is empty"),
        ("a,b,label\n", {}, "has no data rows"),
        (GOOD, {"target": "species"}, "no target column 'species'. Columns: 'a', 'b', 'label'."),
        (
            GOOD.replace("a,b", "a,colour").replace(",0,", ",red,"),
            {"target": "label"},
            "non-numeric feature column(s) colour. Use --categorical onehot",
        ),
        (
            GOOD.replace("3,0,", "3,,"),
            {"target": "label"},
            "1 missing value(s) in 1 row(s) (0 in the target). Use --missing drop",
        ),
        (
            GOOD + "99,1,bird\n",
            {"target": "label"},
            "too few rows for stratified splits (need >= 2 each): bird (1 row)",
        ),
        (GOOD, {}, "name the label column with --target (columns: 'a', 'b', 'label')"),
    ],
)
def test_bad_data_messages(tmp_path, content, options, message):
    path = str(tmp_path / "missing.csv") if content is None else write(tmp_path, content)
    with pytest.raises(UserError) as err:
        check(DatasetSpec(path, **options))
    assert message in str(err.value)
    assert path in str(err.value) or "bird" in str(err.value)


def test_fixes_offered_by_flags_work(tmp_path):
    colour = write(
        tmp_path,
        GOOD.replace("a,b", "a,colour").replace(",0,", ",red,").replace(",1,", ",blue,").replace(",2,", ",green,"),
        "c.csv",
    )
    assert load_spec(DatasetSpec(colour, target="label", categorical="onehot")).n_features == 4
    assert load_spec(DatasetSpec(colour, target="label", categorical="drop")).n_features == 1
    holes = write(tmp_path, GOOD.replace("3,0,", "3,,"), "h.csv")
    assert load_spec(DatasetSpec(holes, target="label", missing="drop")).n_samples == 19
    imputed = load_spec(DatasetSpec(holes, target="label", missing="impute"))
    assert imputed.n_samples == 20 and not np.isnan(imputed.X).any()


def test_cli_own_csv_end_to_end(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, GOOD)
    assert main(["run", "--datasets", path, "--target", "label", "--adapters", "sklearn-lr", "--devices", "cpu", "--splits", "2",
                 "--quick", "--run-id", "own", "--results-dir", str(tmp_path / "res")]) == 0  # fmt: skip
    assert "2 ok" in capsys.readouterr().out
    assert main(["report", "own", "--results-dir", str(tmp_path / "res")]) == 0
    assert "| data      | sklearn-lr | cpu      | 2" in (tmp_path / "res" / "reports" / "own" / "REPORT.md").read_text()


def test_parse_dataset_tables():
    spec = parse_dataset({"path": "x.csv", "target": "y", "missing": "drop"})
    assert spec == DatasetSpec("x.csv", "y", "error", "drop")
    with pytest.raises(UserError, match="must be a name or a table"):
        parse_dataset({"file": "x.csv"})


@st.composite
def frames_with_gaps(draw):
    """A small frame: numeric and text feature columns with missing cells anywhere, labels complete."""
    n = draw(st.integers(6, 30))
    cells = st.one_of(st.none(), st.floats(-5, 5, allow_nan=False))
    words = st.one_of(st.none(), st.sampled_from(["p", "q", "r"]))
    data = {f"n{i}": draw(st.lists(cells, min_size=n, max_size=n)) for i in range(draw(st.integers(1, 3)))}
    data.update({f"t{i}": draw(st.lists(words, min_size=n, max_size=n)) for i in range(draw(st.integers(1, 2)))})
    frame = pd.DataFrame(data)
    for column in frame:  # at least one value per column, so a column is never all-missing by chance only
        frame.loc[0, column] = 1.0 if column.startswith("n") else "p"
    frame["y"] = ["a", "b"] * (n // 2) + ["a"] * (n % 2)
    return frame


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames_with_gaps())
def test_every_missing_cell_is_counted_and_handled_wherever_it_is(tmp_path, frame):
    """A missing category counts as much as a missing number: one-hot encoding never absorbs it unseen."""
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    gaps = frame.drop(columns="y").isna()
    n_missing, complete = int(gaps.to_numpy().sum()), int((~gaps.any(axis=1)).sum())
    if n_missing:
        with pytest.raises(UserError, match=rf": {n_missing} missing value\(s\) in {len(frame) - complete} row\(s\)"):
            load_spec(DatasetSpec(str(path), "y", "onehot", "error"))
    if complete:
        dropped = load_spec(DatasetSpec(str(path), "y", "onehot", "drop"))
        assert dropped.n_samples == complete and dropped.preparation["missing_cells"] == n_missing
    imputed = load_spec(DatasetSpec(str(path), "y", "onehot", "impute"))
    assert imputed.n_samples == len(frame) and np.isfinite(imputed.X).all()
    numeric_gaps = int(gaps[[c for c in gaps if c.startswith("n")]].to_numpy().sum())
    assert imputed.preparation["imputed_cells"] == numeric_gaps


def test_a_tab_separated_txt_read_as_one_column_says_why(tmp_path):
    path = tmp_path / "tabs.txt"
    path.write_text("a\tb\tlabel\n1\t2\tx\n3\t4\ty\n")
    with pytest.raises(UserError, match=r"one column: the file was read as comma-separated, and its header holds tabs"):
        load_spec(DatasetSpec(str(path), target="label"))
