"""Metrics from outside the harness: what a plugin registers through the ``bench.metrics`` entry points.

One of each kind a plugin is likely to add: a count (the model's parameters), a memory (its size in
MiB) and a duration (the time of a plugin's own step). None is named anywhere in the harness.
"""

from __future__ import annotations

import time

from hello_bench.record import Metric


def count_parameters(clf, split) -> float:
    """A stand-in for a model's parameter count: features x classes."""
    return float(split.X_train.shape[1] * len(clf.classes_))


def model_megabytes(clf, split) -> float:
    """A stand-in for a model's size: 4 bytes per stand-in parameter, in MiB."""
    return count_parameters(clf, split) * 4 / 2**20


def scoring_seconds(clf, split) -> float:
    """A duration the plugin times itself: one predict over the test rows."""
    start = time.perf_counter()
    clf.predict(split.X_test)
    return time.perf_counter() - start


N_PARAMS = Metric.measured("n_params", count_parameters, label="parameters", kind="count", better="lower",
                           summary=True, compare=True)  # fmt: skip
MODEL_MB = Metric.measured("model_mb", model_megabytes, label="model size", unit="MiB", summary=True, compare=True,
                           short="model-mb")  # fmt: skip
SCORING_S = Metric.measured("scoring_s", scoring_seconds, label="scoring time", unit="s", summary=True, compare=True,
                            short="scoring")  # fmt: skip
ALL = [N_PARAMS, MODEL_MB, SCORING_S]
