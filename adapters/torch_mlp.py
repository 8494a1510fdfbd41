"""``torch-mlp``: the PyTorch MLP, equivalent to the Keras MLP of the blog post."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import frameworks
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

#: The fastest settings measured on the seed model (README, "Each framework at
#: its best"): torch's fused Adam kernel, the same update in one call per step.
TUNED_PROFILE = {**SEED_PROFILE, "fused": True}
#: The step as one compiled graph: a pure function of parameters, moments and batch (torch.func gradients,
#: Keras' Adam as tensor operations) under torch.compile(fullgraph=True). Same batches, same updates.
FUSED_PROFILE = {**SEED_PROFILE, "functional": True, "compile": True}


class TorchMLPClassifier(MLPClassifierBase):
    """PyTorch MLP: input -> Linear(hidden) -> sigmoid -> Linear(n_classes) -> softmax.

    Trained as Keras trains the same model: same initial weights for the same
    ``random_state`` (Glorot-uniform, zero biases), Adam with Keras'
    hyperparameters and epsilon placement, mean softmax cross-entropy, the
    same batch size and epochs, a fresh shuffle every epoch, float32.

    Parameters
    ----------
    hidden_units : int, default=16
    epochs : int, default=100
    batch_size : int, default=32
        Keras' ``fit`` default. The blog post used 1 (``profiles["seed"]``).
    learning_rate : float, default=0.001
    shuffle : bool, default=True
        Shuffle the training data before every epoch.
    fused : bool, default=False
        Use Adam's fused kernel (``torch.optim.Adam(fused=True)``): the same
        update, computed in one kernel for all parameters.
    compile : bool, default=False
        Compile the training step with ``torch.compile`` (the first epoch then
        includes compilation; with ``functional``, once per process and shape).
    functional : bool, default=False
        Train with a pure step (``torch.func`` gradients of the module's
        function, Keras' Adam as tensor operations: ``adapters/torch_functional.py``)
        instead of the module's autograd and ``torch.optim``; with ``compile``
        the whole step is one compiled graph.
    device : {"cpu", "gpu", "auto"}, default="cpu"
    random_state : int, RandomState or None, default=None
        Seeds the initial weights and the shuffling.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    device_ : str
        The device used, ``"cpu"`` or ``"gpu"``.
    module_ : torch.nn.Sequential
    loss_curve_ : list of float
        Mean training loss of each epoch.
    epoch_times_ns_ : list of int
        Wall time of each epoch (GPU synchronised), nanoseconds.
    n_steps_ : int
        Optimiser steps taken since the model was built.
    """

    framework = "torch"
    requires = ("torch",)
    install_extra = "torch"
    colour = "red"
    supported_devices = ("cpu", "gpu")
    profiles = {"seed": dict(SEED_PROFILE), "tuned": dict(TUNED_PROFILE), "fused": dict(FUSED_PROFILE)}

    _parameter_constraints: dict = {
        **MLPClassifierBase._parameter_constraints,
        "fused": ["boolean"],
        "compile": ["boolean"],
        "functional": ["boolean"],
    }

    __init__ = keyword_init(**MLP_PARAMS, fused=False, compile=False, functional=False, device="cpu", random_state=None)

    @classmethod
    def limit_threads(cls, threads: int, backend: str = "default") -> dict:
        return {**super().limit_threads(threads, backend), **frameworks.torch_threads(threads)}

    def gpu_available(self) -> bool:
        import torch

        return bool(torch.cuda.is_available())

    def device_name(self, device: str) -> str | None:
        return frameworks.torch_gpu_name() if device == "gpu" else None

    def gpu_memory_probe(self) -> Callable[[], float] | None:
        return frameworks.torch_gpu_memory_probe() if self.device == "gpu" else None

    def sync(self) -> None:
        if getattr(self, "device_", "cpu") == "gpu":
            import torch

            torch.cuda.synchronize()

    def _build(self, n_features: int, n_classes: int, seed: int | None, device: str) -> None:
        import torch

        from .torch_keras_adam import KerasAdam

        self.torch_device_ = "cuda" if device == "gpu" else "cpu"
        module = torch.nn.Sequential(
            torch.nn.Linear(n_features, self.hidden_units),
            torch.nn.Sigmoid(),
            torch.nn.Linear(self.hidden_units, n_classes),
        )
        self.module_ = module.to(self.torch_device_)
        self.set_weights(initial_weights(n_features, self.hidden_units, n_classes, seed))
        self.optimizer_ = KerasAdam(
            self.module_.parameters(),
            lr=self.learning_rate,
            betas=(ADAM_BETA_1, ADAM_BETA_2),
            eps=ADAM_EPSILON,
            fused=self.fused,
        )

    def get_weights(self) -> list[np.ndarray]:
        layers: tuple[Any, Any] = (self.module_[0], self.module_[2])
        out = []
        for layer in layers:
            out.append(layer.weight.detach().cpu().numpy().T.copy())
            out.append(layer.bias.detach().cpu().numpy().copy())
        return out

    def set_weights(self, weights: list[np.ndarray]) -> None:
        import torch

        w1, b1, w2, b2 = weights
        layers: tuple[Any, Any] = (self.module_[0], self.module_[2])
        with torch.no_grad():
            for layer, w, b in zip(layers, (w1, w2), (b1, b2)):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                layer.bias.copy_(torch.from_numpy(np.asarray(b)))

    def _train_batch(self, xb: Any, yb: Any) -> Any:
        """One optimiser step on one batch (tensors on the model's device)."""
        import torch.nn.functional as F

        self.optimizer_.zero_grad(set_to_none=True)
        # Keras (TensorFlow backend) computes categorical cross-entropy from the
        # logits behind its softmax layer: the same as cross_entropy on logits.
        loss = F.cross_entropy(self.module_(xb), yb)
        loss.backward()
        self.optimizer_.step()
        return loss.detach()

    def _train(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
        import torch

        dev = self.torch_device_
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
        Xt = torch.from_numpy(X).to(dev)
        yt = torch.from_numpy(y_index).to(dev)
        trainer = self._functional_trainer() if self.functional else None
        if trainer is not None:
            step = trainer.train_step
        else:
            step = torch.compile(self._train_batch) if self.compile else self._train_batch
        self.module_.train()
        self.loss_curve_: list[float] = []
        self.epoch_times_ns_: list[int] = []
        # The pure step takes no gradient of its own inputs: no tape (torch.func.grad makes its own).
        with torch.no_grad() if trainer is not None else contextlib.nullcontext():
            self._epochs(Xt, yt, step, generator, trainer)
        self.n_steps_ = trainer.n_steps if trainer is not None else self.optimizer_._keras_step
        self.module_.eval()

    def _epochs(self, Xt: Any, yt: Any, step: Callable, generator: Any, trainer: Any) -> None:
        import torch

        dev, n, bs = self.torch_device_, len(Xt), self.batch_size
        for _ in range(self.epochs):
            start = time.perf_counter_ns()
            if self.shuffle:
                perm = torch.randperm(n, generator=generator).to(dev)
                Xs, ys = Xt[perm], yt[perm]
            else:
                Xs, ys = Xt, yt
            total = torch.zeros((), device=dev)
            for i in range(0, n, bs):
                xb, yb = Xs[i : i + bs], ys[i : i + bs]
                total += step(xb, yb) * len(xb)
            if trainer is not None:
                trainer.write_back()
            # float() waits for the device: the epoch time includes all its work.
            self.loss_curve_.append(float(total) / n)
            self.epoch_times_ns_.append(time.perf_counter_ns() - start)
            self._epoch_end(self.loss_curve_[-1])

    def _functional_trainer(self) -> Any:
        """The pure-step trainer (``functional=True``); its step compiled once per process and shape with ``compile``."""
        from .torch_functional import FunctionalTrainer, compiled, make_step

        settings = (self.learning_rate, ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON)
        build = lambda: make_step(self.module_, *settings)  # noqa: E731
        shape = tuple(tuple(p.shape) for p in self.module_.parameters())
        step = compiled(f"{shape}{settings}{self.torch_device_}", build) if self.compile else build()
        return FunctionalTrainer(self.module_, step)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(X)
        if self.torch_device_ != "cpu":
            x = x.to(self.torch_device_)
        with torch.inference_mode():
            return torch.softmax(self.module_(x), dim=1).cpu().numpy()

    def _predict_proba_stock(self, X: np.ndarray) -> np.ndarray:
        # What a plain PyTorch user writes: call the module, autograd on.
        import torch

        logits = self.module_(torch.from_numpy(X).to(self.torch_device_))
        return torch.softmax(logits, dim=1).detach().cpu().numpy()

    # -- serving -----------------------------------------------------------
    def _probability_module(self) -> Any:
        import torch

        return torch.nn.Sequential(*self.module_, torch.nn.Softmax(dim=1)).eval()

    def serving_paths(self) -> list:
        from .serving import function_path, onnx_path

        sync = self.sync if self.torch_device_ != "cpu" else None
        return [
            *super().serving_paths(),
            onnx_path(self._export_onnx),
            function_path("torchscript", self._torchscript_predict, sync),
            function_path("torch.compile", self._compiled_predict, sync),
        ]

    def _export_onnx(self, target: Path) -> None:
        import warnings

        import torch

        from .serving import require

        require("onnx", "serving")
        module = self._probability_module().cpu()
        sample = torch.zeros((1, self.n_features_in_))
        with warnings.catch_warnings():  # the TorchScript-based exporter's deprecation notice
            warnings.simplefilter("ignore")
            # The TorchScript-based exporter: fast and needs no onnxscript.
            torch.onnx.export(
                module, (sample,), str(target), input_names=["x"], output_names=["p"],
                dynamic_axes={"x": {0: "n"}, "p": {0: "n"}}, dynamo=False,
            )  # fmt: skip

    def _wrap(self, fn: Callable[[Any], Any]) -> Callable[[np.ndarray], np.ndarray]:
        import torch

        dev = self.torch_device_

        def predict(X: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return fn(torch.from_numpy(X).to(dev)).cpu().numpy()

        predict(np.zeros((1, self.n_features_in_), np.float32))
        return predict

    def _torchscript_predict(self) -> Callable[[np.ndarray], np.ndarray]:
        import warnings

        import torch

        module = self._probability_module()
        sample = torch.zeros((1, self.n_features_in_), device=self.torch_device_)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            scripted = torch.jit.freeze(torch.jit.trace(module, sample))
        return self._wrap(scripted)

    def _compiled_predict(self) -> Callable[[np.ndarray], np.ndarray]:
        import torch

        return self._wrap(torch.compile(self._probability_module()))
