"""A metric from outside the harness: what a plugin registers through the ``bench.metrics`` entry points."""

from __future__ import annotations

from bench.record import Metric


def count_parameters(clf, split) -> float:
    """A stand-in for a model's parameter count: features x classes."""
    return float(split.X_train.shape[1] * len(clf.classes_))


N_PARAMS = Metric.measured("n_params", count_parameters, label="parameters", better="lower", summary=True, compare=True)
