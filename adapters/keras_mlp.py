"""``keras-mlp``: the blog post's Keras MLP, on Keras 3 (TensorFlow, torch or JAX backend)."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from . import frameworks
from .base import FrameworkUnavailableError, install_command, keyword_init
from .mlp_common import (
    ADAM_BETA_1,
    ADAM_BETA_2,
    ADAM_EPSILON,
    MLP_PARAMS,
    SEED_PROFILE,
    MLPClassifierBase,
    initial_weights,
)
from .quiet_import import import_tensorflow_quietly

BACKENDS = ("tensorflow", "torch", "jax")
#: The project's extra that installs each backend with Keras.
BACKEND_EXTRA = {"tensorflow": "tensorflow-cpu", "torch": "keras,torch", "jax": "jax"}

#: The fastest settings measured on the seed model (README, "Each framework at
#: its best"): one compiled execution runs up to 1000 training steps (a whole
#: epoch on iris) instead of one. Same batches, same updates, same results.
TUNED_PROFILE = {**SEED_PROFILE, "steps_per_execution": 1000}
#: Keras 3's documented JAX training loop, an epoch per compiled call (JAX backend only; elsewhere a recorded
#: skip). Same batches, same updates (tests/test_tuned_routes.py).
FUSED_PROFILE = {**SEED_PROFILE, "train_loop": "jax-scan"}


class BackendMismatchError(RuntimeError):
    """Keras runs on another backend in this process than the one asked for."""


def import_keras(backend: str, who: str = "KerasMLPClassifier") -> Any:
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
        if not frameworks.installed(module):
            raise FrameworkUnavailableError(
                f"{who}(backend={backend!r}) needs {module}, which is not installed. "
                f"Install it with: {install_command([BACKEND_EXTRA[backend]])}"
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
    steps_per_execution : int, default=1
        Training steps per compiled call (``Model.compile``); must be 1 on the
        torch backend. Changes speed, not the updates.
    jit_compile : {"auto", True, False}, default="auto"
        XLA compilation (``Model.compile``): "auto" uses it where Keras does
        by default (JAX), True forces it (TensorFlow XLA, torch.compile).
    train_loop : {"fit", "jax-scan"}, default="fit"
        "fit": ``Model.fit``. "jax-scan" (JAX backend only): Keras 3's
        documented JAX training loop, ``stateless_call`` and the optimizer's
        ``stateless_apply`` in a ``jax.lax.scan`` over each epoch's batches,
        one ``jax.jit``-compiled call per epoch (``adapters/keras_jax_loop.py``):
        the same batches and updates, without a dispatch per step.
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
    n_steps_ : int
        Optimiser steps taken since the model was built.
    """

    framework = "keras"
    requires = ("keras",)
    install_extra = "keras"
    colour = {"tensorflow": "orange", "jax": "purple", "torch": "brown"}
    supported_devices = ("cpu", "gpu")
    supported_backends = BACKENDS
    profiles = {"seed": dict(SEED_PROFILE), "tuned": dict(TUNED_PROFILE), "fused": dict(FUSED_PROFILE)}

    _parameter_constraints: dict = {
        **MLPClassifierBase._parameter_constraints,
        "backend": [StrOptions(set(BACKENDS))],
        "steps_per_execution": [Interval(Integral, 1, None, closed="left")],
        "jit_compile": [StrOptions({"auto"}), "boolean"],
        "train_loop": [StrOptions({"fit", "jax-scan"})],
    }

    __init__ = keyword_init(
        **MLP_PARAMS,
        backend="tensorflow",
        steps_per_execution=1,
        jit_compile="auto",
        train_loop="fit",
        device="cpu",
        random_state=None,
    )

    # -- class hooks -------------------------------------------------------
    @classmethod
    def install_hint(cls, backend: str = "default") -> str:
        return install_command([BACKEND_EXTRA.get(backend, cls.install_extra)])

    @classmethod
    def import_framework(cls, backend: str = "default") -> None:
        import_keras(cls._backend(backend))

    @classmethod
    def worker_env(cls, backend: str, threads: int) -> dict[str, str]:
        env = {**super().worker_env(backend, threads), "KERAS_BACKEND": cls._backend(backend)}
        env.update(
            TF_NUM_INTRAOP_THREADS=str(threads),
            TF_NUM_INTEROP_THREADS=str(threads),
            TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            # Several worker processes may share one GPU: take memory as needed.
            TF_FORCE_GPU_ALLOW_GROWTH="true",
            XLA_PYTHON_CLIENT_PREALLOCATE="false",
        )
        if cls._backend(backend) == "jax":
            env.update(frameworks.jax_thread_env(threads))
        return env

    @classmethod
    def limit_threads(cls, threads: int, backend: str = "default") -> dict:
        report = super().limit_threads(threads, backend)
        backend = cls._backend(backend)
        if backend == "tensorflow":
            report.update(frameworks.tensorflow_threads(threads))
        elif backend == "torch":
            report.update(frameworks.torch_threads(threads))
        return report

    @classmethod
    def unsupported_reason(cls, params: dict, backend: str, device: str) -> str | None:
        if cls._backend(backend) == "torch" and params.get("steps_per_execution", 1) != 1:
            return "Keras allows steps_per_execution=1 only on the torch backend (its best is the stock setting)"
        if params.get("train_loop", "fit") == "jax-scan" and cls._backend(backend) != "jax":
            return "the jax-scan training loop is Keras' JAX route (stateless_call in jax.lax.scan): JAX backend only"
        return None

    @staticmethod
    def _backend(backend: str) -> str:
        return "tensorflow" if backend == "default" else backend

    def _keras(self) -> Any:
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

    def device_name(self, device: str) -> str | None:
        return frameworks.torch_gpu_name() if device == "gpu" and self.backend == "torch" else None

    def gpu_memory_probe(self) -> Callable[[], float] | None:
        if self.device != "gpu":
            return None
        if self.backend == "torch":
            return frameworks.torch_gpu_memory_probe()
        if self.backend == "tensorflow":
            return frameworks.tensorflow_gpu_memory_probe()
        return None

    def sync(self) -> None:
        # TensorFlow and JAX results reach us as numpy arrays, which waits for
        # the device; the torch backend can leave kernels queued.
        if getattr(self, "device_", "cpu") == "gpu" and self.backend == "torch":
            import torch

            torch.cuda.synchronize()

    def _device_scope(self) -> Any:
        # Plain "cpu"/"gpu": on the torch backend an indexed name ("cpu:0")
        # differs from the default device ("cpu"), Keras then copies each
        # variable on creation, and the copies are not leaves, so training
        # gets no gradients.
        return self._keras().device("gpu" if self.device_ == "gpu" else "cpu")

    def _build(self, n_features: int, n_classes: int, seed: int | None, device: str) -> None:
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
                steps_per_execution=self.steps_per_execution,
                jit_compile=self.jit_compile,
            )
        self.model_ = model

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.model_.get_weights()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.model_.set_weights(weights)

    def _one_hot(self, y_index: np.ndarray) -> np.ndarray:
        return np.eye(len(self.classes_), dtype=np.float32)[y_index]

    def _train(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
        keras = self._keras()
        if self.train_loop == "jax-scan":
            return self._train_scan(X, y_index, seed)
        if seed is not None:
            keras.utils.set_random_seed(seed)
        times: list[int] = []
        adapter = self

        class EpochEnd(keras.callbacks.Callback):  # type: ignore[name-defined]
            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                times.append(time.perf_counter_ns())

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                times[-1] = time.perf_counter_ns() - times[-1]
                adapter._epoch_end(float((logs or {}).get("loss", float("nan"))))

        with self._device_scope():
            history = self.model_.fit(
                X,
                self._one_hot(y_index),
                epochs=self.epochs,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                verbose=0,
                callbacks=[EpochEnd()],
            )
        self.loss_curve_ = [float(v) for v in history.history["loss"]]
        self.epoch_times_ns_ = times
        self.n_steps_ = int(keras.ops.convert_to_numpy(self.model_.optimizer.iterations))

    def _train_scan(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
        """Keras' JAX training loop, an epoch per compiled call (``train_loop="jax-scan"``)."""
        if self.backend != "jax":
            raise ValueError(self.unsupported_reason({"train_loop": self.train_loop}, self.backend, self.device))
        from .keras_jax_loop import train

        self.loss_curve_, self.epoch_times_ns_ = [], []
        start = [time.perf_counter_ns()]

        def on_epoch(loss: float) -> None:
            self.epoch_times_ns_.append(time.perf_counter_ns() - start[0])
            self.loss_curve_.append(loss)
            self._epoch_end(loss)
            start[0] = time.perf_counter_ns()

        with self._device_scope():
            train(self.model_, X, self._one_hot(y_index), self.epochs, self.batch_size, self.shuffle, seed, on_epoch)
        self.n_steps_ = int(self._keras().ops.convert_to_numpy(self.model_.optimizer.iterations))

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        # predict_on_batch reuses one compiled predict function for in-memory
        # arrays; model.predict builds an input pipeline on every call.
        with self._device_scope():
            return self.model_.predict_on_batch(X)

    def _predict_proba_stock(self, X: np.ndarray) -> np.ndarray:
        with self._device_scope():
            return self.model_.predict(X, verbose=0)

    # -- serving -----------------------------------------------------------
    def serving_paths(self) -> list:
        from .serving import onnx_path

        return [*super().serving_paths(), onnx_path(self._export_onnx), *self._compiled_paths()]

    def _export_onnx(self, target: Path) -> None:
        from .serving import ServingUnavailable

        try:
            with self._device_scope():
                self.model_.export(str(target), format="onnx", verbose=False)
        except ImportError as err:  # the backend's converter (tf2onnx, jax2onnx) is missing
            missing = getattr(err, "name", None) or str(err).split("`pip install ")[-1].rstrip("`. ")
            raise ServingUnavailable(
                f"Keras' ONNX export on the {self.backend} backend needs {missing}", f"pip install {missing}"
            ) from None

    def _compiled_paths(self) -> list:
        """XLA-compiled prediction: a ``jit_compile`` tf.function, or ``jax.jit``."""
        from .serving import function_path

        if self.backend == "tensorflow":
            return [function_path("tf.function(jit_compile)", self._tf_xla_predict)]
        if self.backend == "jax":
            return [function_path("jax.jit", self._jax_jit_predict)]
        return []

    def _tf_xla_predict(self) -> Callable[[np.ndarray], np.ndarray]:
        import tensorflow as tf

        model = self.model_
        spec = tf.TensorSpec([None, self.n_features_in_], tf.float32)
        fn = tf.function(lambda x: model(x, training=False), jit_compile=True, input_signature=[spec])
        concrete = fn.get_concrete_function()

        def predict(X: np.ndarray) -> np.ndarray:
            return concrete(tf.constant(X)).numpy()

        predict(np.zeros((1, self.n_features_in_), np.float32))
        return predict

    def _jax_jit_predict(self) -> Callable[[np.ndarray], np.ndarray]:
        import jax

        model = self.model_
        trainable = [v.value for v in model.trainable_variables]
        other = [v.value for v in model.non_trainable_variables]
        jitted = jax.jit(lambda x: model.stateless_call(trainable, other, x)[0])

        def predict(X: np.ndarray) -> np.ndarray:
            return np.asarray(jitted(X))

        predict(np.zeros((1, self.n_features_in_), np.float32))
        return predict
