"""What a run's data is, described once when the run starts and kept in its ``run.json`` (``datasets``).

The report's data section reads it from there (never from the data file, which may have changed or gone):
rows and feature columns as read and as used, the classes and their balance, missing cells and what was done
with them, categorical columns and their levels, columns dropped, the preprocessing of each split, and
whether the features as used are already standardised (the report advises standardising only where they
are not).
"""

from __future__ import annotations

import numpy as np

from hello_bench.data.datasets import DatasetSpec, load_spec

#: Features count as standardised when every column that is not 0/1 has a mean within this of 0 ...
MEAN_WITHIN = 0.25
#: ... and a standard deviation within this factor of 1.
STD_FACTOR = 1.5


def feature_scale(X: np.ndarray) -> dict:
    """The spread of the features' means and standard deviations, and whether they are already standardised
    (columns holding only 0 and 1, one-hot or boolean, are left out: they have no scale to fix)."""
    binary = np.array([np.isin(np.unique(X[:, j]), (0.0, 1.0)).all() for j in range(X.shape[1])], dtype=bool)
    scaled = X[:, ~binary] if X.shape[1] else X
    if scaled.shape[1] == 0:
        return {"columns": 0, "max_abs_mean": None, "std_min": None, "std_max": None, "standardised": True}
    means, stds = np.abs(scaled.mean(axis=0)), scaled.std(axis=0)
    standardised = bool(means.max() <= MEAN_WITHIN and stds.min() >= 1 / STD_FACTOR and stds.max() <= STD_FACTOR)
    return {"columns": int(scaled.shape[1]), "max_abs_mean": float(means.max()), "std_min": float(stds.min()),
            "std_max": float(stds.max()), "standardised": standardised}  # fmt: skip


def describe(spec: DatasetSpec) -> dict:
    """One dataset as the run used it (see the module docstring); JSON-ready."""
    data = load_spec(spec)
    labels, counts = np.unique(np.asarray(data.y).astype(str), return_counts=True)
    return {
        "source": spec.source,
        "kind": spec.kind,
        "target": spec.target,
        "categorical_rule": spec.categorical,
        "missing_rule": spec.missing,
        "sha": data.content_sha,
        "rows": data.n_samples,
        "features": data.n_features,
        "classes": {str(label): int(n) for label, n in zip(labels, counts)},
        "preparation": dict(data.preparation),
        "scale": feature_scale(data.X),
    }


def describe_all(specs: tuple[DatasetSpec, ...] | list[DatasetSpec]) -> dict[str, dict]:
    """Every dataset of a run, by the label its records carry."""
    return {spec.name: describe(spec) for spec in specs}
