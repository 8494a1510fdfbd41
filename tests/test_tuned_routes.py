"""The fastest routes (the ``fused`` profiles) train the same model with the same updates as the stock path.

Keras on JAX: ``stateless_call`` in a ``jax.lax.scan`` over an epoch, one compiled call per epoch (run in a
subprocess: Keras' backend is fixed per process). PyTorch: a pure step (``torch.func`` gradients, Keras' Adam as
tensor operations), compiled whole by ``torch.compile`` (the compiled variant is slow to build: ``-m slow``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import has_module

ROOT = Path(__file__).resolve().parent.parent


def _batches(n_rows: int, n_steps: int, size: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.choice(n_rows, size=size, replace=False) for _ in range(n_steps)]


# -- PyTorch: the pure step ---------------------------------------------------------------------
@pytest.mark.skipif(not (has_module("torch") and has_module("keras") and has_module("tensorflow")),
                    reason="needs torch and Keras on TensorFlow")  # fmt: skip
@pytest.mark.parametrize("n_steps", [1, 25])
def test_torch_pure_step_matches_keras(iris_xy, n_steps):
    import torch

    from hello_bench.adapters.keras_mlp import KerasMLPClassifier
    from hello_bench.adapters.torch_mlp import TorchMLPClassifier

    X, y = iris_xy
    X = X.astype(np.float32)
    keras_clf = KerasMLPClassifier(random_state=3, batch_size=8).initialize(X, y)
    torch_clf = TorchMLPClassifier(random_state=3, batch_size=8, functional=True).initialize(X, y)
    trainer = torch_clf._functional_trainer()
    y_index = np.searchsorted(keras_clf.classes_, y)
    with torch.no_grad():
        for idx in _batches(len(X), n_steps):
            keras_clf.model_.train_on_batch(X[idx], keras_clf._one_hot(y_index[idx]))
            trainer.train_step(torch.from_numpy(X[idx]), torch.from_numpy(y_index[idx]))
    trainer.write_back()
    assert trainer.n_steps == n_steps
    for wk, wt in zip(keras_clf.get_weights(), torch_clf.get_weights()):
        np.testing.assert_allclose(wk, wt, atol=1e-6, rtol=0)


def _torch_fit_agrees(iris_xy, **route):
    from hello_bench.adapters.torch_mlp import TorchMLPClassifier

    X, y = iris_xy
    settings = dict(hidden_units=16, epochs=5, batch_size=1, learning_rate=0.001, random_state=0)
    stock = TorchMLPClassifier(**settings).fit(X, y)
    fast = TorchMLPClassifier(**settings, **route).fit(X, y)
    assert fast.n_steps_ == stock.n_steps_ == 5 * len(X)
    np.testing.assert_allclose(fast.predict_proba(X), stock.predict_proba(X), atol=1e-5, rtol=0)
    assert (fast.predict(X) == stock.predict(X)).all()
    assert len(fast.loss_curve_) == 5 and np.allclose(fast.loss_curve_, stock.loss_curve_, atol=1e-5)


@pytest.mark.skipif(not has_module("torch"), reason="needs torch")
def test_torch_pure_step_fit_predicts_as_the_stock_path(iris_xy):
    """The same shuffles (one torch.Generator), the same updates: the same predictions after a whole fit."""
    _torch_fit_agrees(iris_xy, functional=True)


@pytest.mark.slow
@pytest.mark.skipif(not has_module("torch"), reason="needs torch")
def test_torch_fused_profile_predicts_as_the_stock_path(iris_xy):
    """The ``fused`` profile: the pure step compiled whole (torch.compile, fullgraph)."""
    _torch_fit_agrees(iris_xy, functional=True, compile=True)


# -- Keras on JAX: an epoch per compiled call ---------------------------------------------------
JAX_STEPS = """
from hello_bench.adapters.keras_jax_loop import train_ordered
out = {}
for n_steps in (1, 25):
    stock = KerasMLPClassifier(backend="jax", batch_size=8, random_state=3).initialize(X, y)
    scan = KerasMLPClassifier(backend="jax", batch_size=8, random_state=3, train_loop="jax-scan").initialize(X, y)
    rng = np.random.default_rng(0)
    rows = np.concatenate([rng.choice(len(X), size=8, replace=False) for _ in range(n_steps)])
    for i in range(n_steps):
        batch = rows[8 * i : 8 * i + 8]
        stock.model_.train_on_batch(X[batch], stock._one_hot(y[batch]))
    train_ordered(scan.model_, X[rows], scan._one_hot(y[rows]), 8)
    out[n_steps] = max(float(np.abs(a - b).max()) for a, b in zip(stock.get_weights(), scan.get_weights()))
"""
JAX_FIT = """
settings = dict(backend="jax", hidden_units=16, epochs=4, batch_size=4, learning_rate=0.01, shuffle=False, random_state=0)
stock = KerasMLPClassifier(**settings).fit(X, y)
scan = KerasMLPClassifier(**settings, train_loop="jax-scan").fit(X, y)  # 150 rows / 4: a short last batch
out = {"proba": float(np.abs(stock.predict_proba(X) - scan.predict_proba(X)).max()),
       "labels": bool((stock.predict(X) == scan.predict(X)).all()), "steps": [stock.n_steps_, scan.n_steps_],
       "epochs": [len(stock.loss_curve_), len(scan.loss_curve_)]}
shuffled = KerasMLPClassifier(**{**settings, "shuffle": True}, train_loop="jax-scan")
out["same_seed_same_fit"] = bool(np.array_equal(shuffled.fit(X, y).predict_proba(X), shuffled.fit(X, y).predict_proba(X)))
"""


def _on_jax(body: str) -> dict:
    """Run ``body`` with Keras on JAX in a fresh process (iris as X, y); its ``out`` dict back."""
    head = "import json, numpy as np\nfrom sklearn.datasets import load_iris\nfrom hello_bench.adapters.keras_mlp import KerasMLPClassifier\n"
    head += "X, y = load_iris(return_X_y=True)\nX = X.astype(np.float32)\n"
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", head + body + "print(json.dumps(out))"], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not (has_module("keras") and has_module("jax")), reason="needs Keras and JAX")
def test_keras_jax_scan_steps_match_the_stock_steps():
    """Identical weights, the same batches: the same weights after 1 and 25 steps (atol 1e-6)."""
    out = _on_jax(JAX_STEPS)
    assert out["1"] <= 1e-6 and out["25"] <= 1e-6


@pytest.mark.slow
@pytest.mark.skipif(not (has_module("keras") and has_module("jax")), reason="needs Keras and JAX")
def test_keras_jax_scan_fit_predicts_as_the_stock_fit():
    """A whole fit in the same batch order (no shuffle), a short last batch included: the same predictions;
    with shuffling, the same seed gives the same fit."""
    out = _on_jax(JAX_FIT)
    assert out["proba"] <= 1e-5 and out["labels"]
    assert out["steps"] == [4 * 38, 4 * 38] and out["epochs"] == [4, 4]
    assert out["same_seed_same_fit"]


def test_the_scan_route_is_a_recorded_skip_on_other_backends():
    from hello_bench.adapters.keras_mlp import KerasMLPClassifier

    reason = KerasMLPClassifier.unsupported_reason({"train_loop": "jax-scan"}, "tensorflow", "cpu")
    assert reason and "JAX backend only" in reason
    assert KerasMLPClassifier.unsupported_reason({"train_loop": "jax-scan"}, "jax", "cpu") is None
