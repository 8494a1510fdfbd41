"""Learning curves: held-out accuracy after every epoch, with the clock paused.

An iterative adapter calls its epoch callback after each epoch; the
:class:`CurveRecorder` then evaluates the model on the trial's test set and
notes the training time so far *minus* every evaluation before it, so the
curve's time axis (and the trial's ``fit_wall_s``) is training alone.

Evaluating on the test set each epoch only measures *when* a target accuracy
is reached; nothing is selected with it (no early stopping, no best epoch).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


class CurveRecorder:
    """The epoch callback the harness gives an adapter (``clf.set_epoch_callback``).

    Parameters
    ----------
    X_test, y_test : arrays
        The trial's test set.
    sync : callable
        Waits for the device before the clock is read.
    """

    def __init__(self, X_test: np.ndarray, y_test: np.ndarray, sync: Callable[[], None] | None = None):
        self.X_test = np.ascontiguousarray(X_test, dtype=np.float32)
        self.y_test = np.asarray(y_test)
        self.sync = sync or (lambda: None)
        self.train_time_s: list[float] = []
        self.loss: list[float] = []
        self.test_accuracy: list[float] = []
        self.paused_ns = 0
        self.paused_cpu_ns = 0
        self.start_ns: int | None = None

    def start(self) -> None:
        """Mark the start of fit (call right after the fit timer starts)."""
        self.start_ns = time.perf_counter_ns()

    def __call__(self, clf: Any, loss: float) -> None:
        self.sync()
        enter, enter_cpu = time.perf_counter_ns(), time.process_time_ns()
        if self.start_ns is None:
            self.start_ns = enter
        self.train_time_s.append((enter - self.start_ns - self.paused_ns) / 1e9)
        self.loss.append(float(loss))
        proba = clf.predict_proba(self.X_test)
        predicted = clf.classes_[np.argmax(proba, axis=1)]
        self.test_accuracy.append(float(np.mean(predicted == self.y_test)))
        self.paused_ns += time.perf_counter_ns() - enter
        self.paused_cpu_ns += time.process_time_ns() - enter_cpu

    def as_record(self) -> dict:
        return {"train_time_s": self.train_time_s, "loss": self.loss, "test_accuracy": self.test_accuracy}
