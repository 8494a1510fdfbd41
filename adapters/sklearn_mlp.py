"""``sklearn-mlp``: the blog post's MLP in scikit-learn (``MLPClassifier``).

The same model as ``keras-mlp`` and ``torch-mlp`` (one hidden layer of
logistic units, softmax output, mean log-loss, Adam with Keras'
hyperparameters and epsilon placement, no L2 penalty), from the same initial
weights, trained every epoch with no early stopping. With it, the report can
tell the model effect (logistic regression vs MLP) from the framework effect
(three frameworks, one model).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier

from .base import keyword_init
from .mlp_common import ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON, MLP_PARAMS, MLPClassifierBase, initial_weights


class _SeededMLP(MLPClassifier):
    """``MLPClassifier`` that starts from given weights instead of drawing its own.

    scikit-learn draws its own Glorot bounds (``sqrt(2 / (fan_in + fan_out))``
    for logistic units) and non-zero biases; the other MLPs start from Keras'
    initialisation, drawn once in :func:`hello_bench.adapters.mlp_common.initial_weights`.
    """

    initial: list[np.ndarray] | None = None

    def _initialize(self, y: np.ndarray, layer_units: list[int], dtype: Any) -> None:
        super()._initialize(y, layer_units, dtype)
        if self.initial is None:
            return
        w1, b1, w2, b2 = (np.asarray(w, dtype=dtype) for w in self.initial)
        if self.out_activation_ == "logistic":
            # Two classes: scikit-learn has one logistic output where the others
            # have a softmax over two; sigmoid(a - b) is that softmax's second
            # column, so this starts from the same function.
            w2, b2 = w2[:, 1:] - w2[:, :1], b2[1:] - b2[:1]
        self.coefs_ = [w1.copy(), w2.copy()]
        self.intercepts_ = [b1.copy(), b2.copy()]
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]


class SklearnMLPClassifier(MLPClassifierBase):
    """scikit-learn's ``MLPClassifier`` set up as the Keras and PyTorch MLPs.

    Parameters
    ----------
    hidden_units : int, default=16
    epochs : int, default=100
        Every epoch runs (no early stopping, no tolerance stop).
    batch_size : int, default=32
        Keras' ``fit`` default. The blog post used 1 (``profiles["seed"]``).
    learning_rate : float, default=0.001
    shuffle : bool, default=True
        Shuffle the training data before every epoch.
    device : {"cpu", "auto"}, default="cpu"
        scikit-learn runs on the CPU only.
    random_state : int, RandomState or None, default=None
        Seeds the initial weights (shared with the other MLPs) and shuffling.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    estimator_ : MLPClassifier
    loss_curve_ : list of float
        Mean training loss of each epoch.
    epoch_times_ns_ : list of int
        Wall time of each epoch, nanoseconds.
    n_steps_ : int
        Adam steps taken since the model was built.
    """

    framework = "sklearn"
    colour = "green"
    requires = ("sklearn",)
    install_extra = ""
    supported_devices = ("cpu",)

    __init__ = keyword_init(**MLP_PARAMS, device="cpu", random_state=None)

    def _build(self, n_features: int, n_classes: int, seed: int | None, device: str) -> None:
        self.estimator_ = _SeededMLP(
            hidden_layer_sizes=(self.hidden_units,),
            activation="logistic",
            solver="adam",
            alpha=0.0,
            batch_size=self.batch_size,
            learning_rate_init=self.learning_rate,
            beta_1=ADAM_BETA_1,
            beta_2=ADAM_BETA_2,
            epsilon=ADAM_EPSILON,
            max_iter=1,
            shuffle=self.shuffle,
            # One generator for the whole fit: an int would restart the same
            # shuffle at every epoch (partial_fit re-reads random_state).
            random_state=np.random.RandomState(seed),
            tol=0.0,
            early_stopping=False,
        )
        self.estimator_.initial = initial_weights(n_features, self.hidden_units, n_classes, seed)
        self._setup(n_features, n_classes)

    def _setup(self, n_features: int, n_classes: int) -> None:
        """Do scikit-learn's first-pass set-up now (label binarizer, layers, weights), not in the first
        ``partial_fit``: the model then exists untrained (``initialize``) and training only trains.

        Uses ``MLPClassifier``'s own private steps; the equivalence tests fail if they change.
        """
        from sklearn.utils import check_random_state

        est = self.estimator_
        _, y = est._validate_input(
            np.zeros((n_classes, n_features), np.float32), np.arange(n_classes), incremental=False, reset=True
        )
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        est.n_outputs_ = y.shape[1]
        est._random_state = check_random_state(est.random_state)
        est._initialize(y, [n_features, self.hidden_units, est.n_outputs_], np.float32)

    def _train(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
        classes = np.arange(len(self.classes_))
        # Keras and torch take a short last batch; scikit-learn warns instead.
        self.estimator_.set_params(batch_size=min(self.batch_size, len(X)))
        self.loss_curve_, self.epoch_times_ns_ = [], []
        for _ in range(self.epochs):
            start = time.perf_counter_ns()
            # One epoch: every batch once, one Adam step each (partial_fit's contract).
            self.estimator_.partial_fit(X, y_index, classes=classes)
            self.epoch_times_ns_.append(time.perf_counter_ns() - start)
            self.loss_curve_.append(float(self.estimator_.loss_))
            self._epoch_end(self.loss_curve_[-1])
        self.n_steps_ = int(self.estimator_._optimizer.t)

    def _train_batch(self, X: np.ndarray, y_index: np.ndarray) -> None:
        """One Adam step on one batch (the equivalence tests drive this)."""
        est = self.estimator_
        est.set_params(batch_size=len(X), shuffle=False)
        est.partial_fit(X, y_index, classes=np.arange(len(self.classes_)))
        est.set_params(shuffle=self.shuffle)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(X)

    def get_weights(self) -> list[np.ndarray]:
        w1, w2 = self.estimator_.coefs_
        b1, b2 = self.estimator_.intercepts_
        return [w1.copy(), b1.copy(), w2.copy(), b2.copy()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        w1, b1, w2, b2 = (np.asarray(w) for w in weights)
        self.estimator_.coefs_ = [w1.copy(), w2.copy()]
        self.estimator_.intercepts_ = [b1.copy(), b2.copy()]

    def serving_paths(self) -> list:
        import copy

        from .serving import skl2onnx_path

        # skl2onnx converts MLPClassifier by class: the fitted model, as a plain MLPClassifier.
        plain = copy.copy(self.estimator_)
        plain.__class__ = MLPClassifier
        paths = [skl2onnx_path(plain, self.n_features_in_)]
        if len(self.classes_) > 2:  # the numpy reference computes the softmax form
            paths.insert(0, *super().serving_paths())
        return paths

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
