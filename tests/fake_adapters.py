"""Adapters that misbehave on purpose, to test the harness's isolation."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from adapters.base import BenchClassifier


class _Fake(BenchClassifier):
    framework = "sklearn"

    def __init__(self, *, device="cpu", random_state=None):
        self.device = device
        self.random_state = random_state

    def _build(self, n_features, n_classes, seed, device):
        pass

    def _train(self, X, y_index, seed):
        self.prior_ = np.bincount(y_index, minlength=len(self.classes_)) / len(y_index)

    def _predict_proba(self, X):
        return np.tile(self.prior_, (len(X), 1))


class FailingClassifier(_Fake):
    """Raises in fit on odd split seeds."""

    def _train(self, X, y_index, seed):
        if seed % 2:
            raise RuntimeError("deliberate failure in fit")
        super()._train(X, y_index, seed)


class HangingClassifier(_Fake):
    """Hangs in fit on split seed 1."""

    def _train(self, X, y_index, seed):
        if seed == 1:
            time.sleep(3600)
        super()._train(X, y_index, seed)


class CrashingClassifier(_Fake):
    """Kills its own process in fit on split seed 1 (as a segfault would)."""

    def _train(self, X, y_index, seed):
        if seed == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        super()._train(X, y_index, seed)


class SlowClassifier(_Fake):
    """Takes a few seconds to fit, long enough to kill its worker meanwhile."""

    def _train(self, X, y_index, seed):
        time.sleep(3)
        super()._train(X, y_index, seed)


class ParamsClassifier(_Fake):
    """Takes two parameters of any JSON type (for the parameter round-trip properties)."""

    def __init__(self, *, anything=None, other=None, device="cpu", random_state=None):
        self.anything = anything
        self.other = other
        self.device = device
        self.random_state = random_state

    def _train(self, X, y_index, seed):
        self.seen_ = (self.anything, self.other)
        super()._train(X, y_index, seed)
