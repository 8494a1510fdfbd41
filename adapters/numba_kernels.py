"""The compiled floor's kernels: the MLP's forward pass, one Adam step and one epoch, in numba.

Imported only by :mod:`hello_bench.adapters.numba_mlp` when it trains or predicts (this
module imports numba and compiles on first call). Everything is float32, as
in the frameworks: weights, activations, gradients and Adam's moments, and
every constant is cast to float32 so that no expression widens to float64.

The step is what Keras computes for ``input -> Dense(h, sigmoid) ->
Dense(c, softmax)`` with mean categorical cross-entropy (from the logits, as
Keras on TensorFlow and torch's ``cross_entropy`` do), then Keras' Adam::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m    += (g - m) * (1 - beta_1)
    v    += (g^2 - v) * (1 - beta_2)
    w    -= m * alpha / (sqrt(v) + epsilon)

Loops are written out: at iris' size (4-16-3) a BLAS call costs more than
the arithmetic it would do.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numba import config as numba_config
from numba import njit

ONE = np.float32(1.0)
ZERO = np.float32(0.0)


def _cache_folder() -> Path:
    """Compiled kernels are cached in a folder bench owns (as the read side's frames), not beside the source."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hello-bench" / "numba"


def _use_cache() -> bool:
    """Cache compiled kernels on disk when a folder is writable (NUMBA_CACHE_DIR, else bench's); else compile each time."""
    if not os.environ.get("NUMBA_CACHE_DIR"):
        folder = _cache_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        if folder.is_symlink() or not os.access(folder, os.W_OK):
            return False
        numba_config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]  # set from the environment at import
    return True


CACHE = _use_cache()


@njit(cache=CACHE, nogil=True)
def _hidden(x: np.ndarray, i: int, w1: np.ndarray, b1: np.ndarray, out: np.ndarray) -> None:
    """Sigmoid hidden units of row ``i`` of ``x`` into ``out``."""
    for j in range(w1.shape[1]):
        s = b1[j]
        for k in range(w1.shape[0]):
            s += x[i, k] * w1[k, j]
        out[j] = ONE / (ONE + np.exp(-s))


@njit(cache=CACHE, nogil=True)
def _softmax(hidden: np.ndarray, w2: np.ndarray, b2: np.ndarray, out: np.ndarray) -> np.float32:
    """Softmax of the logits into ``out``; returns log(sum(exp(logit - max))) + max (the log-partition)."""
    top = np.float32(-np.inf)
    for j in range(w2.shape[1]):
        s = b2[j]
        for k in range(w2.shape[0]):
            s += hidden[k] * w2[k, j]
        out[j] = s
        top = max(top, s)
    total = ZERO
    for j in range(w2.shape[1]):
        out[j] = np.exp(out[j] - top)
        total += out[j]
    for j in range(w2.shape[1]):
        out[j] = out[j] / total
    return np.float32(np.log(total)) + top


def _views(theta: np.ndarray, n_features: int, n_hidden: int, n_classes: int) -> tuple:
    """W1 (in, hidden), b1, W2 (hidden, out), b2 as views of one flat float32 vector (Keras' order)."""
    a = n_features * n_hidden
    b = a + n_hidden
    c = b + n_hidden * n_classes
    return (theta[:a].reshape((n_features, n_hidden)), theta[a:b], theta[b:c].reshape((n_hidden, n_classes)),
            theta[c : c + n_classes])  # fmt: skip


views = njit(cache=CACHE, nogil=True)(_views)


@njit(cache=CACHE, nogil=True)
def forward(x: np.ndarray, theta: np.ndarray, n_hidden: int, n_classes: int) -> np.ndarray:
    """Class probabilities of every row of ``x`` (float32, shape (n, c)); ``theta``: the flat weights."""
    w1, b1, w2, b2 = views(theta, x.shape[1], n_hidden, n_classes)
    out = np.empty((x.shape[0], n_classes), dtype=np.float32)
    hidden = np.empty(n_hidden, dtype=np.float32)
    for i in range(x.shape[0]):
        _hidden(x, i, w1, b1, hidden)
        _softmax(hidden, w2, b2, out[i])
    return out


@njit(cache=CACHE, nogil=True)
def adam_step(x: np.ndarray, y: np.ndarray, rows: np.ndarray, theta: np.ndarray, m: np.ndarray, v: np.ndarray,
              grad: np.ndarray, scratch: np.ndarray, n_hidden: int, n_classes: int, t: int, lr: np.float32,
              beta_1: np.float32, beta_2: np.float32, eps: np.float32) -> np.float32:  # fmt: skip
    """One Adam step on the batch ``x[rows]``; returns the batch's summed cross-entropy (mean * batch size).

    ``theta`` (the flat weights), ``m`` and ``v`` (Adam's moments) are updated
    in place; ``grad`` (as large as ``theta``) and ``scratch`` (``n_hidden +
    2 * n_classes``) are work space, allocated once per fit, not per step;
    ``t`` is the step's number (1 for the first).
    """
    w1, b1, w2, b2 = views(theta, x.shape[1], n_hidden, n_classes)
    g1, gb1, g2, gb2 = views(grad, x.shape[1], n_hidden, n_classes)
    grad[:] = ZERO
    hidden = scratch[:n_hidden]
    proba = scratch[n_hidden : n_hidden + n_classes]
    delta = scratch[n_hidden + n_classes : n_hidden + 2 * n_classes]
    scale = ONE / np.float32(rows.size)
    loss = ZERO
    for r in range(rows.size):
        i = rows[r]
        label = y[i]
        _hidden(x, i, w1, b1, hidden)
        logit = b2[label]
        for k in range(n_hidden):
            logit += hidden[k] * w2[k, label]
        loss += _softmax(hidden, w2, b2, proba) - logit
        for j in range(n_classes):  # d(mean loss)/d(logit) = (p - onehot) / batch
            delta[j] = (proba[j] - (ONE if j == label else ZERO)) * scale
            gb2[j] += delta[j]
        for k in range(n_hidden):
            back = ZERO
            for j in range(n_classes):
                g2[k, j] += hidden[k] * delta[j]
                back += delta[j] * w2[k, j]
            back *= hidden[k] * (ONE - hidden[k])
            gb1[k] += back
            for f in range(x.shape[1]):
                g1[f, k] += x[i, f] * back
    step = np.float32(t)
    alpha = lr * np.sqrt(ONE - beta_2**step) / (ONE - beta_1**step)
    for p in range(theta.size):
        m[p] += (grad[p] - m[p]) * (ONE - beta_1)
        v[p] += (grad[p] * grad[p] - v[p]) * (ONE - beta_2)
        theta[p] -= m[p] * alpha / (np.sqrt(v[p]) + eps)
    return loss


@njit(cache=CACHE, nogil=True)
def train_epoch(x: np.ndarray, y: np.ndarray, order: np.ndarray, batch_size: int, theta: np.ndarray, m: np.ndarray,
                v: np.ndarray, grad: np.ndarray, scratch: np.ndarray, n_hidden: int, n_classes: int, t: int,
                lr: np.float32, beta_1: np.float32, beta_2: np.float32, eps: np.float32) -> tuple:  # fmt: skip
    """One epoch: every batch of ``order`` once, one Adam step each; returns (summed loss, last step number)."""
    total = ZERO
    for start in range(0, order.size, batch_size):
        t += 1
        total += adam_step(x, y, order[start : start + batch_size], theta, m, v, grad, scratch, n_hidden, n_classes,
                           t, lr, beta_1, beta_2, eps)  # fmt: skip
    return total, t
