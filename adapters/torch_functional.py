"""The PyTorch MLP trained by a pure step: ``torch.func`` gradients and Keras' Adam as tensor operations.

``torch.optim`` steps loop over parameters in Python and the module call
goes through autograd's tape; a pure function of (parameters, Adam's
moments, step, batch) can be compiled whole by ``torch.compile``
(``fullgraph=True``: one graph, forward, backward and update fused), which is
what the ``fused`` profile runs. The update is Keras' (epsilon added to
``sqrt(v)`` before bias correction, as ``adapters/torch_keras_adam.py``)::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m    += (g - m) * (1 - beta_1)
    v    += (g^2 - v) * (1 - beta_2)
    w    -= m * alpha / (sqrt(v) + epsilon)

Imported only by the PyTorch adapter when it trains this way (imports
torch). The compiled step is kept for the process: a worker compiles it in
the first fit of a shape (that fit's time includes it) and reuses it after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad

#: The step, compiled once per process (torch.compile keeps one graph per shape).
_COMPILED: dict[str, Callable] = {}


def make_step(module: torch.nn.Module, lr: float, beta_1: float, beta_2: float, eps: float) -> Callable:
    """``step(params, m, v, t, x, y) -> (params, m, v, loss)``: one Adam step of ``module``'s function (pure)."""

    def loss_of(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
        loss = F.cross_entropy(functional_call(module, params, (x,)), y)
        return loss, loss.detach()

    gradient = grad(loss_of, has_aux=True)

    def step(params: dict, m: dict, v: dict, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple:
        grads, loss = gradient(params, x, y)
        alpha = lr * torch.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        new_m = {k: m[k] + (grads[k] - m[k]) * (1 - beta_1) for k in params}
        new_v = {k: v[k] + (grads[k] * grads[k] - v[k]) * (1 - beta_2) for k in params}
        new_p = {k: params[k] - new_m[k] * alpha / (torch.sqrt(new_v[k]) + eps) for k in params}
        return new_p, new_m, new_v, loss

    return step


def compiled(key: str, build: Callable[[], Callable]) -> Callable:
    """``torch.compile(build(), fullgraph=True)``, once per ``key`` for the process."""
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(build(), fullgraph=True, dynamic=False)
    return _COMPILED[key]


class FunctionalTrainer:
    """The module's parameters and Adam's moments as plain tensors, stepped by a pure (maybe compiled) function."""

    def __init__(self, module: torch.nn.Module, step: Callable) -> None:
        self.module, self.step = module, step
        self.params = {k: p.detach().clone() for k, p in module.named_parameters()}
        self.m = {k: torch.zeros_like(p) for k, p in self.params.items()}
        self.v = {k: torch.zeros_like(p) for k, p in self.params.items()}
        first = next(iter(self.params.values()))
        # A tensor, not a Python int: a compiled step would otherwise be specialised (recompiled) per step number.
        self.t = torch.zeros((), dtype=first.dtype, device=first.device)

    @property
    def n_steps(self) -> int:
        return int(self.t.item())

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.t = self.t + 1
        self.params, self.m, self.v, loss = self.step(self.params, self.m, self.v, self.t, x, y)
        return loss

    def write_back(self) -> None:
        """The trained values into the module (prediction, serving and curves read the module)."""
        with torch.no_grad():
            for name, p in self.module.named_parameters():
                p.copy_(self.params[name])
