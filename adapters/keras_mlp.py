"""``keras-mlp``: the blog post's Keras MLP, on Keras 3 (TensorFlow, torch or JAX backend)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time

from sklearn.utils._param_validation import StrOptions

from .base import FrameworkUnavailableError
from .mlp_common import ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON, MLPClassifierBase, initial_weights
from .quiet_import import import_tensorflow_quietly

BACKENDS = ("tensorflow", "torch", "jax")


class BackendMismatchError(RuntimeError):
    """Keras runs on another backend in this process than the one asked for."""


def import_keras(backend: str, who: str = "KerasMLPClassifier"):
    """Import Keras on ``backend``, or explain why this process cannot.

    Keras fixes its backend when it is first imported (``KERAS_BACKEND``), so
    a process can run Keras on one backend only; ``bench run`` starts one
    worker process per backend.

    Raises
    ------
    BackendMismatchError
        Keras is already imported here with another backend.
    FrameworkUnavailableError
        Keras or the backend's framework is not installed.
    """
    if "keras" in sys.modules:
        import keras

        active = keras.backend.backend()
        if active != backend:
            raise BackendMismatchError(
                f"{who}(backend={backend!r}) cannot run in this process: Keras is already "
                f"running on the {active!r} backend, which is fixed per process. Run it in "
                f"a separate process with KERAS_BACKEND={backend} (bench run does this)."
            )
        return keras
    for module in ("keras", backend):
        if importlib.util.find_spec(module) is None:
            extra = "tensorflow" if backend == "tensorflow" else backend
            raise FrameworkUnavailableError(
                f"{who}(backend={backend!r}) needs {module}, which is not installed. "
                f'Install it with: pip install ".[keras,{extra}]"'
            )
    os.environ["KERAS_BACKEND"] = backend
    # Hide TensorFlow's INFO and WARNING start-up lines; errors still print.
    if backend == "tensorflow":
        import_tensorflow_quietly()
    return importlib.import_module("keras")


class KerasMLPClassifier(MLPClassifierBase):
    """Keras 3 MLP: input -> Dense(hidden, sigmoid) -> Dense(n_classes, softmax).

    Adam (Keras defaults), categorical cross-entropy on one-hot targets, as in
    the blog post; the one-hot encoding of (string) labels happens inside.

    Parameters
    ----------
    hidden_units : int, default=16
    epochs : int, default=100
    batch_size : int, default=32
        Keras' ``fit`` default. The blog post used 1 (``profiles["seed"]``).
    learning_rate : float, default=0.001
    shuffle : bool, default=True
        Shuffle the training data before every epoch (Keras' ``fit`` default).
    backend : {"tensorflow", "torch", "jax"}, default="tensorflow"
        Keras backend. It is fixed per process: asking for another backend
        than the one Keras already runs on raises an error.
    device : {"cpu", "gpu", "auto"}, default="cpu"
    random_state : int, RandomState or None, default=None
        Seeds the initial weights and Keras' shuffling (through
        ``keras.utils.set_random_seed``, which also seeds Python's and numpy's
        global generators).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    device_ : str
    model_ : keras.Model
    loss_curve_ : list of float
        Mean training loss of each epoch.
    epoch_times_ns_ : list of int
        Wall time of each epoch, nanoseconds.
    """

    framework = "keras"
    requires = ("keras",)
    install_extra = "keras"
    supported_devices = ("cpu", "gpu")
    supported_backends = BACKENDS

    _parameter_constraints: dict = {
        **MLPClassifierBase._parameter_constraints,
        "backend": [StrOptions(set(BACKENDS))],
    }

    def __init__(
        self,
        *,
        hidden_units=16,
        epochs=100,
        batch_size=32,
        learning_rate=0.001,
        shuffle=True,
        backend="tensorflow",
        device="cpu",
        random_state=None,
    ):
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.shuffle = shuffle
        self.backend = backend
        self.device = device
        self.random_state = random_state

    def _keras(self):
        return import_keras(self.backend, type(self).__name__)

    def gpu_available(self) -> bool:
        self._keras()
        if self.backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if self.backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
        import jax

        return jax.default_backend() == "gpu"

    def sync(self) -> None:
        # TensorFlow and JAX results reach us as numpy arrays, which waits for
        # the device; the torch backend can leave kernels queued.
        if getattr(self, "device_", "cpu") == "gpu" and self.backend == "torch":
            import torch

            torch.cuda.synchronize()

    def _device_scope(self):
        # Plain "cpu"/"gpu": on the torch backend an indexed name ("cpu:0")
        # differs from the default device ("cpu"), Keras then copies each
        # variable on creation, and the copies are not leaves, so training
        # gets no gradients.
        return self._keras().device("gpu" if self.device_ == "gpu" else "cpu")

    def _build(self, n_features, n_classes, seed, device):
        keras = self._keras()
        self.device_ = device
        with self._device_scope():
            inputs = keras.Input(shape=(n_features,), dtype="float32")
            hidden = keras.layers.Dense(self.hidden_units, activation="sigmoid")(inputs)
            outputs = keras.layers.Dense(n_classes, activation="softmax")(hidden)
            model = keras.Model(inputs, outputs)
            model.set_weights(initial_weights(n_features, self.hidden_units, n_classes, seed))
            model.compile(
                optimizer=keras.optimizers.Adam(
                    learning_rate=self.learning_rate,
                    beta_1=ADAM_BETA_1,
                    beta_2=ADAM_BETA_2,
                    epsilon=ADAM_EPSILON,
                ),
                loss="categorical_crossentropy",
            )
        self.model_ = model

    def get_weights(self):
        return [w.copy() for w in self.model_.get_weights()]

    def set_weights(self, weights):
        self.model_.set_weights(weights)

    def _one_hot(self, y_index):
        import numpy as np

        return np.eye(len(self.classes_), dtype=np.float32)[y_index]

    def _train(self, X, y_index, seed):
        keras = self._keras()
        if seed is not None:
            keras.utils.set_random_seed(seed)
        times: list[int] = []

        class EpochTimer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                times.append(time.perf_counter_ns())

            def on_epoch_end(self, epoch, logs=None):
                times[-1] = time.perf_counter_ns() - times[-1]

        with self._device_scope():
            history = self.model_.fit(
                X,
                self._one_hot(y_index),
                epochs=self.epochs,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                verbose=0,
                callbacks=[EpochTimer()],
            )
        self.loss_curve_ = [float(v) for v in history.history["loss"]]
        self.epoch_times_ns_ = times

    def _predict_proba(self, X):
        # predict_on_batch reuses one compiled predict function for in-memory
        # arrays; model.predict builds an input pipeline on every call.
        with self._device_scope():
            return self.model_.predict_on_batch(X)

    def _predict_proba_stock(self, X):
        with self._device_scope():
            return self.model_.predict(X, verbose=0)
