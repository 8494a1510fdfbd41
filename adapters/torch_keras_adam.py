"""Keras' Adam update, written for PyTorch.

Imported only by the PyTorch adapter when it builds a model (this module
imports torch).

Keras (``keras.optimizers.Adam``) and PyTorch (``torch.optim.Adam``) implement
Adam with epsilon in different places::

    keras:  alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
            w    -= alpha * m / (sqrt(v) + eps)
    torch:  w    -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

Both agree when torch's epsilon at step ``t`` is ``eps / sqrt(1 - b2^t)``.
:class:`KerasAdam` sets that before each step and lets ``torch.optim.Adam``
(its fast multi-tensor implementation included) do the rest.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class KerasAdam(torch.optim.Adam):
    """``torch.optim.Adam`` with Keras' defaults and epsilon placement.

    Parameters
    ----------
    params : iterable
        Parameters to optimise.
    lr : float, default=1e-3
    betas : tuple of float, default=(0.9, 0.999)
    eps : float, default=1e-7
        Keras' epsilon (added to ``sqrt(v)`` before bias correction).
    fused : bool, default=False
        torch's fused Adam kernel (reads the same per-step epsilon).
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-7,
        fused: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, fused=fused or None)
        for group in self.param_groups:
            group["keras_eps"] = eps
        self._keras_step = 0

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """Take one Adam step with Keras' epsilon placement."""
        self._keras_step += 1
        for group in self.param_groups:
            beta_2 = group["betas"][1]
            group["eps"] = group["keras_eps"] / math.sqrt(1.0 - beta_2**self._keras_step)
        return super().step(closure)
