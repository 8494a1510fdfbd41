"""toyframework: a pretend machine-learning framework (nearest centroids in numpy).

It stands in for a real framework the harness has never heard of: it has a
version, a thread setting, a slow import and a device of its own, which its
adapter reports through the adapter contract's hooks.
"""

from __future__ import annotations

import time

import numpy as np

__version__ = "2.7.1"
time.sleep(0.05)  # a framework's import takes time: the harness times it as the cold start

_threads = 0


def set_num_threads(n: int) -> None:
    global _threads
    _threads = n


def get_num_threads() -> int:
    return _threads


def device_name() -> str:
    return "ToyAccelerator 9000 (host CPU)"


class NearestCentroid:
    """Class centroids in ``fit``; softmax over negative distances in ``predict_proba``."""

    def fit(self, X: np.ndarray, y: np.ndarray, n_classes: int) -> NearestCentroid:
        self.centroids = np.stack([X[y == k].mean(axis=0) for k in range(n_classes)])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        d = -np.linalg.norm(X[:, None, :] - self.centroids[None], axis=2)
        e = np.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
