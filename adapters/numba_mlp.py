"""``numba-mlp``: the compiled floor, the same MLP and training as the frameworks', as plain compiled loops.

Not a framework: a reference. It runs what ``keras-mlp``, ``torch-mlp`` and
``sklearn-mlp`` run (the same initial weights, Adam with Keras' settings and
epsilon placement, mean softmax cross-entropy, the same batch size and
epochs, a fresh shuffle every epoch, float32) as numba-compiled loops with no
framework in between, so its times are what the arithmetic itself costs on
this machine. Reports show every MLP's time against it (``reference_floor``).

What its fit time counts: the shuffles and every epoch's compiled loop, from
already compiled kernels. Compilation (or loading the kernels from numba's
on-disk cache, in ``$XDG_CACHE_HOME/hello-bench/numba``) happens in
:meth:`NumbaMLPClassifier.import_framework`, which the worker times as the
framework's cold start (``import_s``); a process that fits without calling it
(a plain script) compiles on its first fit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .base import keyword_init
from .mlp_common import (
    ADAM_BETA_1,
    ADAM_BETA_2,
    ADAM_EPSILON,
    MLP_PARAMS,
    SEED_PROFILE,
    MLPClassifierBase,
    initial_weights,
)


def _kernels() -> Any:
    from . import numba_kernels

    return numba_kernels


def shuffle_generator(seed: int | None) -> np.random.Generator:
    """The floor's batch-order generator: its own stream, seeded from ``random_state`` (fresh entropy for None)."""
    return np.random.default_rng(None if seed is None else [seed, 1])


class NumbaMLPClassifier(MLPClassifierBase):
    """The MLP as numba-compiled loops: the reference floor every framework's time is shown against.

    Parameters
    ----------
    hidden_units : int, default=16
    epochs : int, default=100
    batch_size : int, default=32
        Keras' ``fit`` default. The blog post used 1 (``profiles["seed"]``).
    learning_rate : float, default=0.001
    shuffle : bool, default=True
        Shuffle the training data before every epoch (numpy's generator, seeded from ``random_state``).
    device : {"cpu", "auto"}, default="cpu"
        CPU only (one thread, no BLAS).
    random_state : int, RandomState or None, default=None
        Seeds the initial weights (shared with the other MLPs) and the shuffling.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    device_ : str
    theta_ : ndarray of float32
        All weights, flat, in Keras' order (W1, b1, W2, b2).
    n_steps_ : int
        Adam steps taken.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    epoch_times_ns_ : list of int
        Wall time of each epoch, nanoseconds.
    """

    framework = "numba"
    requires = ("numba",)
    install_extra = "floor"
    colour = "grey"
    supported_devices = ("cpu",)
    profiles = {"seed": dict(SEED_PROFILE)}
    reference_floor = True

    __init__ = keyword_init(**MLP_PARAMS, device="cpu", random_state=None)

    @classmethod
    def import_framework(cls, backend: str = "default") -> None:
        """Import numba and compile the kernels (or load them from its cache): the floor's cold start."""
        warm_up_kernels()

    def _build(self, n_features: int, n_classes: int, seed: int | None, device: str) -> None:
        self.shape_ = (n_features, self.hidden_units, n_classes)
        self.theta_ = np.concatenate(
            [w.ravel() for w in initial_weights(n_features, self.hidden_units, n_classes, seed)]
        )
        self.m_ = np.zeros_like(self.theta_)
        self.v_ = np.zeros_like(self.theta_)
        self.n_steps_ = 0

    def _adam(self) -> tuple[np.float32, np.float32, np.float32, np.float32]:
        return (np.float32(self.learning_rate), np.float32(ADAM_BETA_1), np.float32(ADAM_BETA_2),
                np.float32(ADAM_EPSILON))  # fmt: skip

    def _work_space(self) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and activation buffers for the kernels: allocated per fit, not per step."""
        _, hidden, n_classes = self.shape_
        return np.empty_like(self.theta_), np.empty(hidden + 2 * n_classes, dtype=np.float32)

    def _train(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
        kernels = _kernels()
        _, hidden, n_classes = self.shape_
        rng = shuffle_generator(seed)
        work = self._work_space()
        adam = self._adam()
        order = np.arange(len(X), dtype=np.int64)
        self.loss_curve_, self.epoch_times_ns_ = [], []
        for _ in range(self.epochs):
            start = time.perf_counter_ns()
            if self.shuffle:
                order = rng.permutation(len(X))
            total, self.n_steps_ = kernels.train_epoch(X, y_index, order, self.batch_size, self.theta_, self.m_,
                                                       self.v_, *work, hidden, n_classes, self.n_steps_, *adam)  # fmt: skip
            self.loss_curve_.append(float(total) / len(X))
            self.epoch_times_ns_.append(time.perf_counter_ns() - start)
            self._epoch_end(self.loss_curve_[-1])

    def _train_batch(self, X: np.ndarray, y_index: np.ndarray) -> float:
        """One Adam step on the whole of ``X`` (the equivalence tests drive this); returns the batch's mean loss."""
        _, hidden, n_classes = self.shape_
        x = np.ascontiguousarray(X, dtype=np.float32)
        rows = np.arange(len(x), dtype=np.int64)
        self.n_steps_ += 1
        loss = _kernels().adam_step(x, np.asarray(y_index, dtype=np.int64), rows, self.theta_, self.m_, self.v_,
                                    *self._work_space(), hidden, n_classes, self.n_steps_, *self._adam())  # fmt: skip
        return float(loss) / len(x)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        _, hidden, n_classes = self.shape_
        return _kernels().forward(X, self.theta_, hidden, n_classes)

    def get_weights(self) -> list[np.ndarray]:
        n_features, hidden, n_classes = self.shape_
        shapes = [(n_features, hidden), (hidden,), (hidden, n_classes), (n_classes,)]
        out, at = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            out.append(self.theta_[at : at + size].reshape(shape).copy())
            at += size
        return out

    def set_weights(self, weights: list[np.ndarray]) -> None:
        flat = np.concatenate([np.asarray(w, dtype=np.float32).ravel() for w in weights])
        if flat.shape != self.theta_.shape:
            raise ValueError(f"expected {self.theta_.size} weights in Keras layout, got {flat.size}")
        self.theta_[:] = flat


def warm_up_kernels() -> None:
    """Compile every kernel for the types fit and predict pass (float32 data, int64 labels and rows)."""
    kernels = _kernels()
    x = np.zeros((2, 1), dtype=np.float32)
    y = np.array([0, 1], dtype=np.int64)
    theta = np.zeros(1 + 1 + 2 + 2, dtype=np.float32)
    adam = (np.float32(0.001), np.float32(ADAM_BETA_1), np.float32(ADAM_BETA_2), np.float32(ADAM_EPSILON))
    state = (np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta), np.zeros(1 + 2 * 2, np.float32))
    kernels.train_epoch(x, y, np.arange(2, dtype=np.int64), 1, theta, *state, 1, 2, 0, *adam)
    kernels.adam_step(x, y, np.arange(2, dtype=np.int64), theta, *state, 1, 2, 1, *adam)
    kernels.forward(x, theta, 1, 2)
