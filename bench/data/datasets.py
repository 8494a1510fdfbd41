"""Datasets from copies on disk: scikit-learn's bundled data, nothing downloaded."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hello_bench.data import columns
from hello_bench.errors import UserError

#: Column names of the iris DataFrame in the blog post (seaborn's copy).
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass(frozen=True)
class Dataset:
    """A classification dataset: numeric features, labels of any type."""

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    #: What loading did to a file's data: rows and columns read, missing cells, categorical columns and their
    #: levels, rows dropped, cells imputed, one-hot columns made (:func:`_from_file`); empty for built-in data.
    preparation: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.y)

    @property
    def content_sha(self) -> str:
        """Short hash of the data as loaded (features, then labels as text): a dataset is its content, not its name."""
        import hashlib

        digest = hashlib.sha1(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        digest.update("\x1f".join(map(str, self.y.tolist())).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:16]


def iris_frame() -> pd.DataFrame:
    """Iris as the blog post loads it: four measurements and a ``species`` column of names."""
    from sklearn.datasets import load_iris

    data = load_iris()
    frame = pd.DataFrame(data.data, columns=IRIS_COLUMNS)
    frame["species"] = np.asarray(data.target_names)[data.target]
    return frame


def _from_sklearn(loader_name: str, name: str) -> Dataset:
    import sklearn.datasets

    data = getattr(sklearn.datasets, loader_name)()
    names = getattr(data, "target_names", None)
    y = np.asarray(names)[data.target] if names is not None and loader_name != "load_digits" else data.target
    return Dataset(name, np.asarray(data.data, dtype=np.float64), np.asarray(y), tuple(map(str, data.feature_names)))


def _iris() -> Dataset:
    frame = iris_frame()
    return Dataset("iris", frame[IRIS_COLUMNS].to_numpy(np.float64), frame["species"].to_numpy(), tuple(IRIS_COLUMNS))


BUNDLED = {
    "iris": _iris,
    "wine": lambda: _from_sklearn("load_wine", "wine"),
    "breast_cancer": lambda: _from_sklearn("load_breast_cancer", "breast_cancer"),
    "digits": lambda: _from_sklearn("load_digits", "digits"),
}

CATEGORICAL_CHOICES = ("error", "onehot", "drop")
MISSING_CHOICES = ("error", "drop", "impute")
SYNTHETIC_KEYS = {"n_samples": 1000, "n_features": 20, "n_classes": 3, "n_informative": None, "seed": 0}


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from: a bundled name, ``synthetic:...``, or a CSV/Parquet path.

    Attributes
    ----------
    source : str
        ``iris``, ``synthetic:n_samples=1000,n_features=20,n_classes=3`` or a file path.
    target : str or None
        Label column of a file.
    categorical : {"error", "onehot", "drop"}
        What to do with non-numeric feature columns of a file.
    missing : {"error", "drop", "impute"}
        What to do with missing values in a file (impute: column median).
    """

    source: str
    target: str | None = None
    categorical: str = "error"
    missing: str = "error"

    @property
    def kind(self) -> str:
        if self.source in BUNDLED:
            return "bundled"
        if self.source.startswith("synthetic:") or self.source == "synthetic":
            return "synthetic"
        return "file"

    @property
    def name(self) -> str:
        """Short id used in trial ids: the bundled name, the file's stem, or synthetic(...)."""
        if self.kind == "bundled":
            return self.source
        if self.kind == "synthetic":
            params = synthetic_params(self.source)
            return "synthetic(" + ",".join(f"{k}={v}" for k, v in params.items() if v is not None and k != "seed") + ")"
        from pathlib import Path

        # A file named like a bundled dataset (iris.csv) keeps its suffix: trial ids never pair it with iris.
        path = Path(self.source)
        return path.name if path.stem in BUNDLED or path.stem.startswith("synthetic") else path.stem

    def to_dict(self) -> dict:
        return {"source": self.source, "target": self.target, "categorical": self.categorical, "missing": self.missing}

    @classmethod
    def from_dict(cls, data: dict) -> DatasetSpec:
        return cls(**{k: data[k] for k in ("source", "target", "categorical", "missing") if k in data})


#: Largest matrix one dataset may become (cells), synthetic or from a file: 4 GB of float64.
MAX_CELLS = MAX_SYNTHETIC_CELLS = 5 * 10**8
#: One text column may become at most this many one-hot columns (more: an identifier, not a category).
MAX_ONEHOT_LEVELS = 1_000


def synthetic_params(source: str) -> dict:
    """Parse and check ``synthetic:n_samples=1000,n_features=20,n_classes=3``.

    Every impossible combination is a UserError here, before anything runs.
    """
    params: dict = dict(SYNTHETIC_KEYS)
    body = source.partition(":")[2]
    bad = f"Bad synthetic dataset {source!r}"
    given: set[str] = set()
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, value = part.partition("=")
        if not eq or key not in SYNTHETIC_KEYS:
            raise UserError(f"{bad}: expected key=value pairs among {', '.join(SYNTHETIC_KEYS)}; got {part!r}.")
        if key in given:
            raise UserError(f"{bad}: {key} is given twice.")
        given.add(key)
        try:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            params[key] = int(number)
        except (ValueError, OverflowError):
            raise UserError(f"{bad}: {key} must be a whole number, got {value!r}.") from None
    if params["n_samples"] < 10 or params["n_features"] < 2 or params["n_classes"] < 2 or params["seed"] < 0:
        raise UserError(f"{bad}: needs n_samples >= 10, n_features >= 2, n_classes >= 2, seed >= 0.")
    if params["n_samples"] * params["n_features"] > MAX_SYNTHETIC_CELLS:
        raise UserError(f"{bad}: n_samples x n_features must be at most {MAX_SYNTHETIC_CELLS:,} (4 GB).")
    informative = _informative(params)
    if not 1 <= informative <= params["n_features"]:
        raise UserError(f"{bad}: n_informative must be between 1 and n_features ({params['n_features']}).")
    if params["n_classes"] * 2 > 2**informative:
        raise UserError(
            f"{bad}: {params['n_classes']} classes need n_informative >= {int(np.ceil(np.log2(params['n_classes'] * 2)))} "
            "(make_classification puts 2 clusters per class on the corners of an n_informative-cube)."
        )
    return params


def _informative(p: dict) -> int:
    if p["n_informative"] is not None:
        return int(p["n_informative"])
    return max(2, min(p["n_features"], int(np.ceil(np.log2(p["n_classes"] * 2))) + 2))


def _synthetic(spec: DatasetSpec) -> Dataset:
    from sklearn.datasets import make_classification

    p = synthetic_params(spec.source)
    X, y = make_classification(
        n_samples=p["n_samples"],
        n_features=p["n_features"],
        n_informative=_informative(p),
        n_redundant=0,
        n_classes=p["n_classes"],
        random_state=p["seed"],
    )
    return Dataset(spec.name, X.astype(np.float64), y, tuple(f"x{i}" for i in range(p["n_features"])))


def _read_table(source: str) -> pd.DataFrame:
    from pathlib import Path

    path = Path(source)
    if path.is_dir():
        raise UserError(f"Dataset file {path} is a directory; give a .csv or .parquet file.")
    if path.exists() and not path.is_file():
        raise UserError(f"Dataset file {path} is not a regular file (a device or pipe); give a .csv or .parquet file.")
    if not path.is_file():
        raise UserError(f"Dataset file {path} does not exist.")
    if path.stat().st_size == 0:
        raise UserError(f"Dataset file {path} is empty.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
            _unique_header(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise UserError(f"Dataset file {path}: unsupported format {suffix!r}; use .csv, .tsv or .parquet.")
    except UserError:
        raise
    except ImportError as err:
        raise UserError(f"Dataset file {path}: reading Parquet needs pyarrow ({err}). pip install pyarrow") from None
    except Exception as err:  # a parser error is the file's problem, reported as such
        raise UserError(f"Dataset file {path} could not be read: {str(err).splitlines()[0]}") from None
    if frame.empty:
        raise UserError(f"Dataset file {path} has no data rows.")
    return frame


def _written_labels(source: str, target: str) -> pd.Series | None:
    """A text file's label column as written (text, missing values as pandas reads them), to see what its
    parsing merged; None for a typed format (Parquet), where the values are what was stored."""
    suffix = os.path.splitext(source)[1].lower()
    if suffix not in (".csv", ".txt", ".tsv"):
        return None
    try:
        return pd.read_csv(source, sep="\t" if suffix == ".tsv" else ",", usecols=[target], dtype=str)[target]
    except Exception as err:  # it was read once already: this is the file changing under us
        raise UserError(f"Dataset file {source} could not be read again: {str(err).splitlines()[0]}") from None


def _unique_header(path: str | os.PathLike[str], sep: str) -> None:
    """pandas renames a repeated column (``x``, ``x.1``): refuse instead, the file's columns are ambiguous."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        header = next(csv.reader(handle, delimiter=sep), [])
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise UserError(
            f"Dataset file {path}: column name(s) repeated in the header: {', '.join(map(repr, repeated))}."
        )


def _columns_text(frame: pd.DataFrame) -> str:
    """The columns as read, and, when the whole header was read as one column holding another separator,
    what that means (a tab- or semicolon-separated file read as comma-separated)."""
    names = [str(c) for c in frame.columns]
    text = ", ".join(map(repr, names))
    if len(names) == 1:
        found = next(
            (name for sep, name in (("\t", "tabs"), (";", "semicolons"), ("|", "bars")) if sep in names[0]), None
        )
        if found:
            text += (f" (one column: the file was read as comma-separated, and its header holds {found}; "
                     "a tab-separated file needs the .tsv suffix, another separator must become commas)")  # fmt: skip
    return text


def _from_file(spec: DatasetSpec) -> Dataset:
    frame = _read_table(spec.source)
    where = f"Dataset file {spec.source}"
    if spec.target is None:
        raise UserError(f"{where}: name the label column with --target (columns: {_columns_text(frame)}).")
    if spec.target not in frame.columns:
        raise UserError(f"{where}: no target column {spec.target!r}. Columns: {_columns_text(frame)}.")
    y = columns.labels(frame[spec.target], where)
    written = _written_labels(spec.source, spec.target)
    if written is not None:
        columns.one_spelling_per_label(y, written, where)
    read = frame.drop(columns=[spec.target])
    features, text = _usable(read, spec, where)
    prep: dict = {"rows_read": len(frame), "feature_columns_read": read.shape[1],
                  "dropped_columns": [str(c) for c in read.columns if c not in features.columns],
                  "categorical": {str(c): int(features[c].nunique(dropna=True)) for c in text},
                  "missing_cells": int(features.isna().to_numpy().sum()), "missing_labels": int(y.isna().sum())}  # fmt: skip
    features, y = _without_missing(features, y, spec, where)
    prep["rows_dropped"] = len(frame) - len(features)
    n_numeric = features.shape[1] - len(text)
    features, prep["imputed_cells"] = _encoded(features, text, spec, where)
    prep["onehot_columns"] = int(features.shape[1] - n_numeric)
    X = features.to_numpy(np.float64)
    infinite = ~np.isfinite(X)
    if infinite.any():
        names = ", ".join(str(c) for c in features.columns[infinite.any(axis=0)])
        raise UserError(f"{where}: {int(infinite.sum())} infinite value(s) in column(s) {names}; fix or drop them.")
    return Dataset(spec.name, X, columns.label_array(y), tuple(map(str, features.columns)), prep)


def _usable(features: pd.DataFrame, spec: DatasetSpec, where: str) -> tuple[pd.DataFrame, list]:
    """The feature columns as read that can be used (``--categorical drop`` drops text ones), and which are text.

    Bounds come first: a one-hot encoding that would make too many columns, or a
    matrix bigger than :data:`MAX_CELLS`, is refused before anything is built.
    """
    kinds = {c: columns.kind(features[c]) for c in features.columns}
    text = [c for c, k in kinds.items() if k == columns.CATEGORICAL]
    unusable = {c: k for c, k in kinds.items() if k not in (columns.NUMERIC, columns.CATEGORICAL)}
    if spec.categorical == "drop":
        features = features.drop(columns=[*text, *unusable])
        text, unusable = [], {}
    if unusable:
        listed = ", ".join(f"{c} ({k})" for c, k in unusable.items())
        raise UserError(
            f"{where}: column(s) {listed} cannot be features (bench reads numbers, booleans, decimals and text). "
            "Convert them, or drop every non-numeric column with --categorical drop."
        )
    if text and spec.categorical == "error":
        raise UserError(
            f"{where}: non-numeric feature column(s) {', '.join(map(str, text))}. "
            "Use --categorical onehot to one-hot encode them or --categorical drop to drop them."
        )
    _check_size(features, text, features.shape[1] - len(text), where)
    if features.shape[1] == 0:
        raise UserError(f"{where}: no feature columns left besides the target {spec.target!r}.")
    return features, text


def _encoded(features: pd.DataFrame, text: list, spec: DatasetSpec, where: str) -> tuple[pd.DataFrame, int]:
    """The features as float64 (numeric ones converted, text one-hot encoded: a missing category is a row of
    zeros) and, with ``--missing impute``, numeric gaps filled with the column's median; and how many were."""
    numeric = pd.DataFrame({c: columns.as_float(features[c]) for c in features.columns if c not in text})
    imputed = int(numeric.isna().to_numpy().sum())
    if imputed:  # only --missing impute gets here with gaps left (error refused them, drop dropped their rows)
        empty = [str(c) for c in numeric.columns if numeric[c].isna().all()]
        if empty:
            raise UserError(f"{where}: column(s) {', '.join(empty)} have no values to impute from; drop them.")
        numeric = numeric.fillna(numeric.median())
    if not text:
        return numeric, imputed
    dummies = pd.get_dummies(pd.DataFrame({c: columns.as_text(features[c]) for c in text}), dtype=float)
    return pd.concat([numeric, dummies], axis=1), imputed


def _check_size(features: pd.DataFrame, text: list, n_numeric: int, where: str) -> None:
    """Refuse, before allocating it, a one-hot encoding that explodes or a matrix that cannot fit."""
    widths = columns.onehot_width(features, text)
    wide = {c: n for c, n in widths.items() if n > MAX_ONEHOT_LEVELS}
    if wide:
        listed = ", ".join(f"{c} ({n:,} distinct values)" for c, n in wide.items())
        raise UserError(
            f"{where}: one-hot encoding would make more than {MAX_ONEHOT_LEVELS:,} columns out of {listed}: "
            "an identifier or free text, not a category. Drop it (--categorical drop) or encode it yourself."
        )
    cells = len(features) * (n_numeric + sum(widths.values()))
    if cells > MAX_CELLS:
        raise UserError(
            f"{where}: {len(features):,} rows x {n_numeric + sum(widths.values()):,} columns is {cells:,} values, "
            f"more than the {MAX_CELLS:,} (4 GB) one dataset may hold."
        )


def _without_missing(features: pd.DataFrame, y: pd.Series, spec: DatasetSpec, where: str) -> tuple:
    """Features (as read: a missing category counts) and labels after ``--missing``: refused (error), rows
    dropped (drop), or kept for :func:`_encoded` to impute (medians; a missing category is a row of zeros)."""
    missing = features.isna()
    n_missing_y = int(y.isna().sum())
    n_missing_x = int(missing.to_numpy().sum())
    if n_missing_x or n_missing_y:
        rows = int((missing.any(axis=1) | y.isna()).sum())
        if spec.missing == "error" or (n_missing_y and spec.missing == "impute"):
            hint = "Use --missing drop to drop those rows" + (
                " or --missing impute to fill numbers with column medians (a missing category: no level)."
                if not n_missing_y
                else " (labels cannot be imputed)."
            )
            raise UserError(
                f"{where}: {n_missing_x + n_missing_y} missing value(s) in {rows} row(s) ({n_missing_y} in the target). {hint}"
            )
        if spec.missing == "drop":
            keep = ~(missing.any(axis=1) | y.isna())
            features, y = features[keep], y[keep]
    if len(features) == 0:
        raise UserError(f"{where}: no rows left after dropping missing values.")
    return features, y


def load_spec(spec: DatasetSpec) -> Dataset:
    """Load any dataset spec; every problem with the data is a UserError naming it.

    The last few loads are kept (a run's validation, its sizing and its estimate read the same data); a file is
    read again once its size or modification time changes.
    """
    stamp = None
    if spec.kind == "file":
        try:
            info = os.stat(spec.source)
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        except OSError:
            stamp = None  # _from_file says what is wrong with it
    return _load_spec(spec, stamp)


@functools.lru_cache(maxsize=4)
def _load_spec(spec: DatasetSpec, stamp: tuple | None) -> Dataset:
    if spec.kind == "bundled":
        return BUNDLED[spec.source]()
    if spec.kind == "synthetic":
        return _synthetic(spec)
    return _from_file(spec)


def check_splittable(ds: Dataset, test_size: float, source: str) -> None:
    """Raise if stratified splits of this size cannot be made from ``ds``."""
    classes, counts = np.unique(ds.y.astype(str), return_counts=True)
    if len(classes) < 2:
        raise UserError(f"Dataset {source}: the target has {len(classes)} class; at least 2 are needed.")
    small = [f"{c!s} ({n} row{'s' if n != 1 else ''})" for c, n in zip(classes, counts) if n < 2]
    if small:
        raise UserError(
            f"Dataset {source}: class(es) with too few rows for stratified splits (need >= 2 each): {', '.join(small)}."
        )
    n_test = int(np.ceil(test_size * ds.n_samples))
    if n_test < len(classes) or ds.n_samples - n_test < len(classes):
        raise UserError(
            f"Dataset {source}: {ds.n_samples} rows cannot be split {1 - test_size:.0%}/{test_size:.0%} with every one "
            f"of its {len(classes)} classes on both sides."
        )


def load_dataset(name: str) -> Dataset:
    """Load a bundled dataset by name.

    Raises
    ------
    UserError
        For an unknown name, listing the valid ones.
    """
    if name not in BUNDLED:
        raise UserError(f"Unknown dataset {name!r}. Available: {', '.join(sorted(BUNDLED))}.")
    return BUNDLED[name]()
