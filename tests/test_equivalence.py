"""The Keras MLP and the PyTorch MLP compute the same function and train the same way."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from hello_bench.adapters.keras_mlp import KerasMLPClassifier  # noqa: E402
from hello_bench.adapters.mlp_common import n_parameters  # noqa: E402
from hello_bench.adapters.torch_mlp import TorchMLPClassifier  # noqa: E402


@pytest.fixture
def pair(iris_xy):
    X, y = iris_xy
    keras_clf = KerasMLPClassifier(random_state=3, batch_size=8).initialize(X, y)
    torch_clf = TorchMLPClassifier(random_state=3, batch_size=8).initialize(X, y)
    return X.astype(np.float32), y, keras_clf, torch_clf


def test_same_architecture_and_parameter_count(pair):
    _, _, keras_clf, torch_clf = pair
    assert keras_clf.model_.count_params() == 131
    assert sum(p.numel() for p in torch_clf.module_.parameters()) == 131
    assert n_parameters(4, 16, 3) == 131
    shapes_k = [w.shape for w in keras_clf.get_weights()]
    shapes_t = [w.shape for w in torch_clf.get_weights()]
    assert shapes_k == shapes_t == [(4, 16), (16,), (16, 3), (3,)]


def test_same_initial_weights_for_same_seed(pair):
    _, _, keras_clf, torch_clf = pair
    for wk, wt in zip(keras_clf.get_weights(), torch_clf.get_weights()):
        np.testing.assert_array_equal(wk, wt)
    # biases start at zero, kernels within the Glorot-uniform limit
    w1, b1, w2, b2 = torch_clf.get_weights()
    assert not b1.any() and not b2.any()
    assert np.abs(w1).max() <= np.sqrt(6 / (4 + 16))


def test_same_forward_outputs(pair):
    X, _, keras_clf, torch_clf = pair
    p_keras = keras_clf.predict_proba(X)
    p_torch = torch_clf.predict_proba(X)
    assert p_keras.dtype == p_torch.dtype == np.float32
    np.testing.assert_allclose(p_keras, p_torch, atol=1e-6, rtol=0)


@pytest.mark.parametrize("n_steps", [1, 25])
def test_same_weights_after_optimizer_steps(pair, n_steps):
    import torch

    X, _, keras_clf, torch_clf = pair
    y_index = np.searchsorted(keras_clf.classes_, pair[1])
    rng = np.random.default_rng(0)
    for _ in range(n_steps):
        idx = rng.choice(len(X), size=8, replace=False)
        keras_clf.model_.train_on_batch(X[idx], keras_clf._one_hot(y_index[idx]))
        torch_clf._train_batch(torch.from_numpy(X[idx]), torch.from_numpy(y_index[idx]))
    for wk, wt in zip(keras_clf.get_weights(), torch_clf.get_weights()):
        np.testing.assert_allclose(wk, wt, atol=1e-6, rtol=0)
    np.testing.assert_allclose(keras_clf.predict_proba(X), torch_clf.predict_proba(X), atol=1e-6, rtol=0)


def test_torch_default_adam_would_not_match(pair):
    """The epsilon placement matters: stock torch Adam drifts from Keras' update."""
    import torch

    X, y, keras_clf, torch_clf = pair
    torch_clf.optimizer_ = torch.optim.Adam(torch_clf.module_.parameters(), lr=0.001)
    y_index = np.searchsorted(keras_clf.classes_, y)
    # Tiny gradients make epsilon's placement visible: scale inputs down.
    Xs = X[:8] * 1e-4
    for _ in range(3):
        keras_clf.model_.train_on_batch(Xs, keras_clf._one_hot(y_index[:8]))
        torch_clf._train_batch(torch.from_numpy(Xs), torch.from_numpy(y_index[:8]))
    diffs = [np.abs(wk - wt).max() for wk, wt in zip(keras_clf.get_weights(), torch_clf.get_weights())]
    assert max(diffs) > 1e-6


def test_full_training_reaches_similar_accuracy(iris_xy):
    """Same data, seed, settings: both learn iris (shuffle orders differ, see README)."""
    from sklearn.model_selection import train_test_split

    X, y = iris_xy
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=0.5, random_state=0, stratify=y)
    params = dict(epochs=60, batch_size=4, learning_rate=0.01, random_state=0)
    acc_k = KerasMLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte)
    acc_t = TorchMLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte)
    assert acc_k > 0.85 and acc_t > 0.85
    assert abs(acc_k - acc_t) <= 0.1


@pytest.mark.parametrize("n_features, hidden, n_classes", [(64, 64, 10), (30, 4, 2)])
def test_equivalence_holds_for_other_sizes(n_features, hidden, n_classes):
    """Model-size knobs keep the two MLPs equivalent (digits-like and binary shapes)."""
    import torch

    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, n_features)).astype(np.float32)
    y = np.arange(40) % n_classes
    k = KerasMLPClassifier(hidden_units=hidden, random_state=5).initialize(X, y)
    t = TorchMLPClassifier(hidden_units=hidden, random_state=5).initialize(X, y)
    assert (
        k.model_.count_params()
        == sum(p.numel() for p in t.module_.parameters())
        == n_parameters(n_features, hidden, n_classes)
    )
    np.testing.assert_allclose(k.predict_proba(X), t.predict_proba(X), atol=1e-6, rtol=0)
    for step in range(5):
        idx = slice(8 * step, 8 * step + 8)
        k.model_.train_on_batch(X[idx], k._one_hot(y[idx]))
        t._train_batch(torch.from_numpy(X[idx]), torch.from_numpy(y[idx].astype(np.int64)))
    for wk, wt in zip(k.get_weights(), t.get_weights()):
        np.testing.assert_allclose(wk, wt, atol=1e-6, rtol=0)


# -- scikit-learn's MLPClassifier: the same model and the same Adam ---------------------------
@pytest.fixture
def sk_pair(iris_xy):
    from hello_bench.adapters.sklearn_mlp import SklearnMLPClassifier

    X, y = iris_xy
    keras_clf = KerasMLPClassifier(random_state=3, batch_size=8).initialize(X, y)
    sk_clf = SklearnMLPClassifier(random_state=3, batch_size=8).initialize(X, y)
    return X.astype(np.float32), y, keras_clf, sk_clf


def test_sklearn_mlp_same_initial_weights_and_forward(sk_pair):
    X, _, keras_clf, sk_clf = sk_pair
    for wk, ws in zip(keras_clf.get_weights(), sk_clf.get_weights()):
        np.testing.assert_array_equal(wk, ws)
    p_sk = sk_clf.predict_proba(X)
    assert p_sk.dtype == np.float32  # float32 in, float32 weights and arithmetic
    np.testing.assert_allclose(keras_clf.predict_proba(X), p_sk, atol=1e-6, rtol=0)


@pytest.mark.parametrize("n_steps", [1, 25])
def test_sklearn_mlp_same_weights_after_adam_steps(sk_pair, n_steps):
    """scikit-learn's AdamOptimizer puts epsilon where Keras does; with Keras' epsilon the updates match."""
    X, y, keras_clf, sk_clf = sk_pair
    y_index = np.searchsorted(keras_clf.classes_, y)
    rng = np.random.default_rng(0)
    for _ in range(n_steps):
        idx = rng.choice(len(X), size=8, replace=False)
        keras_clf.model_.train_on_batch(X[idx], keras_clf._one_hot(y_index[idx]))
        sk_clf._train_batch(X[idx], y_index[idx])
    for wk, ws in zip(keras_clf.get_weights(), sk_clf.get_weights()):
        np.testing.assert_allclose(wk, ws, atol=1e-6, rtol=0)


def test_sklearn_mlp_binary_starts_from_the_same_function():
    """Two classes: scikit-learn has one logistic output unit where the others have a softmax over two;
    it starts from sigmoid(a - b), the same probabilities (training then differs: another parameterisation)."""
    from hello_bench.adapters.sklearn_mlp import SklearnMLPClassifier

    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 30)).astype(np.float32)
    y = np.arange(40) % 2
    k = KerasMLPClassifier(hidden_units=4, random_state=5).initialize(X, y)
    s = SklearnMLPClassifier(hidden_units=4, random_state=5).initialize(X, y)
    np.testing.assert_allclose(k.predict_proba(X), s.predict_proba(X), atol=1e-6, rtol=0)


def test_torch_fused_adam_matches_keras(pair):
    """The tuned profile's fused Adam kernel computes the same update (Keras' epsilon placement included)."""
    import torch

    from hello_bench.adapters.torch_keras_adam import KerasAdam

    X, y, keras_clf, torch_clf = pair
    torch_clf.optimizer_ = KerasAdam(torch_clf.module_.parameters(), lr=0.001, eps=1e-7, fused=True)
    y_index = np.searchsorted(keras_clf.classes_, y)
    rng = np.random.default_rng(0)
    for _ in range(25):
        idx = rng.choice(len(X), size=8, replace=False)
        keras_clf.model_.train_on_batch(X[idx], keras_clf._one_hot(y_index[idx]))
        torch_clf._train_batch(torch.from_numpy(X[idx]), torch.from_numpy(y_index[idx]))
    for wk, wt in zip(keras_clf.get_weights(), torch_clf.get_weights()):
        np.testing.assert_allclose(wk, wt, atol=1e-6, rtol=0)
