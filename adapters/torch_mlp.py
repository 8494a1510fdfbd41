"""``torch-mlp``: the PyTorch MLP, equivalent to the Keras MLP of the blog post."""

from __future__ import annotations

import time

import numpy as np

from .mlp_common import ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON, MLPClassifierBase, initial_weights


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
    """

    framework = "torch"
    requires = ("torch",)
    install_extra = "torch"
    supported_devices = ("cpu", "gpu")

    def __init__(
        self,
        *,
        hidden_units=16,
        epochs=100,
        batch_size=32,
        learning_rate=0.001,
        shuffle=True,
        device="cpu",
        random_state=None,
    ):
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.shuffle = shuffle
        self.device = device
        self.random_state = random_state

    def gpu_available(self) -> bool:
        import torch

        return bool(torch.cuda.is_available())

    def sync(self) -> None:
        if getattr(self, "device_", "cpu") == "gpu":
            import torch

            torch.cuda.synchronize()

    def _build(self, n_features, n_classes, seed, device):
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
        )

    def get_weights(self):
        layers = (self.module_[0], self.module_[2])
        out = []
        for layer in layers:
            out.append(layer.weight.detach().cpu().numpy().T.copy())
            out.append(layer.bias.detach().cpu().numpy().copy())
        return out

    def set_weights(self, weights):
        import torch

        w1, b1, w2, b2 = weights
        with torch.no_grad():
            for layer, w, b in ((self.module_[0], w1, b1), (self.module_[2], w2, b2)):
                layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                layer.bias.copy_(torch.from_numpy(np.asarray(b)))

    def _train_batch(self, xb, yb):
        """One optimiser step on one batch (tensors on the model's device)."""
        import torch.nn.functional as F

        self.optimizer_.zero_grad(set_to_none=True)
        # Keras (TensorFlow backend) computes categorical cross-entropy from the
        # logits behind its softmax layer: the same as cross_entropy on logits.
        loss = F.cross_entropy(self.module_(xb), yb)
        loss.backward()
        self.optimizer_.step()
        return loss.detach()

    def _train(self, X, y_index, seed):
        import torch

        dev = self.torch_device_
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
        Xt = torch.from_numpy(X).to(dev)
        yt = torch.from_numpy(y_index).to(dev)
        n, bs = len(X), self.batch_size
        self.module_.train()
        self.loss_curve_, self.epoch_times_ns_ = [], []
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
                total += self._train_batch(xb, yb) * len(xb)
            # float() waits for the device: the epoch time includes all its work.
            self.loss_curve_.append(float(total) / n)
            self.epoch_times_ns_.append(time.perf_counter_ns() - start)
        self.module_.eval()

    def _predict_proba(self, X):
        import torch

        x = torch.from_numpy(X)
        if self.torch_device_ != "cpu":
            x = x.to(self.torch_device_)
        with torch.inference_mode():
            return torch.softmax(self.module_(x), dim=1).cpu().numpy()

    def _predict_proba_stock(self, X):
        # What a plain PyTorch user writes: call the module, autograd on.
        import torch

        logits = self.module_(torch.from_numpy(X).to(self.torch_device_))
        return torch.softmax(logits, dim=1).detach().cpu().numpy()
