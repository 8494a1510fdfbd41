"""Datasets from copies on disk: scikit-learn's bundled data, nothing downloaded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import UserError

#: Column names of the iris DataFrame in the blog post (seaborn's copy).
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass(frozen=True)
class Dataset:
    """A classification dataset: numeric features, labels of any type."""

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.y)


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
