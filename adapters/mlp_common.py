"""What the three MLP adapters share, so that they stay equivalent.

Each adapter builds input -> Dense(hidden, sigmoid) -> Dense(n_classes, softmax)
and starts from the *same* initial weights for the same ``random_state``: the
weights are drawn here, with numpy, from Keras' default initialisers
(Glorot-uniform kernels, zero biases), and copied into each framework's model.
That removes one source of difference between frameworks (their own RNGs);
what remains is listed in README.md ("Equivalence of the MLPs").
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval

from .base import BenchClassifier

#: The blog post's training settings, by name.
SEED_PROFILE = {"hidden_units": 16, "epochs": 100, "batch_size": 1, "learning_rate": 0.001}

#: Parameters every MLP adapter has, with their defaults (Keras' ``fit``
#: defaults: batch size 32, shuffling every epoch).
MLP_PARAMS: dict[str, Any] = {
    "hidden_units": 16,
    "epochs": 100,
    "batch_size": 32,
    "learning_rate": 0.001,
    "shuffle": True,
}

#: Keras' Adam defaults (keras.optimizers.Adam); torch's own Adam differs in
#: epsilon (1e-8) and in where epsilon enters the update.
ADAM_BETA_1 = 0.9
ADAM_BETA_2 = 0.999
ADAM_EPSILON = 1e-7


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot/Xavier-uniform kernel of shape (fan_in, fan_out), as Keras draws it.

    Limit ``sqrt(6 / (fan_in + fan_out))``, float32.
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def initial_weights(n_features: int, hidden: int, n_classes: int, seed: int | None) -> list[np.ndarray]:
    """Initial weights in Keras layout: [W1 (in, hidden), b1, W2 (hidden, out), b2].

    Parameters
    ----------
    seed : int or None
        ``None`` draws fresh weights from OS entropy.
    """
    rng = np.random.default_rng(seed)
    return [
        glorot_uniform(rng, n_features, hidden),
        np.zeros(hidden, dtype=np.float32),
        glorot_uniform(rng, hidden, n_classes),
        np.zeros(n_classes, dtype=np.float32),
    ]


def n_parameters(n_features: int, hidden: int, n_classes: int) -> int:
    """Number of trainable parameters of the MLP (131 on iris with 16 hidden units)."""
    return n_features * hidden + hidden + hidden * n_classes + n_classes


def numpy_forward(weights: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    """The MLP's forward pass in numpy (float32): the reference floor for serving.

    ``weights`` in Keras layout; returns softmax probabilities.
    """
    w1, b1, w2, b2 = weights
    hidden = 1.0 / (1.0 + np.exp(-(X @ w1 + b1)))
    logits = hidden @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


class MLPClassifierBase(BenchClassifier):
    """Parameters, validation and weight access shared by the MLP adapters."""

    profiles = {"seed": dict(SEED_PROFILE)}
    smoke_params = {"epochs": 3, "batch_size": 32}
    iterative = True
    model = "mlp"
    stock_profile = "seed"

    _parameter_constraints: dict = {
        **BenchClassifier._parameter_constraints,
        "hidden_units": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
    }

    def get_weights(self) -> list[np.ndarray]:
        """Current weights in Keras layout: [W1 (in, hidden), b1, W2 (hidden, out), b2]."""
        raise NotImplementedError

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Replace the model's weights (Keras layout, see :meth:`get_weights`)."""
        raise NotImplementedError

    @classmethod
    def shape_warmup_params(cls, params: dict) -> dict | None:
        """One epoch of the trial's own settings: the batch shapes its compiled routes are built for."""
        return {**params, "epochs": 1}

    def empty_call_costs(self, budget_s: float = 30.0) -> dict[str, float] | None:
        """The training step's and predict call's cost on a 1-input, 1-hidden-unit MLP with these settings."""
        from .dispatch import empty_call_costs

        return empty_call_costs(self, budget_s, hidden_units=1)

    def serving_paths(self) -> list:
        from .serving import numpy_reference_path

        return [numpy_reference_path(self.get_weights())]
