"""The compiled floor (``numba-mlp``) computes and trains the same MLP as the framework MLPs.

The same tests as ``tests/test_equivalence.py``: identical weights give the same forward outputs and the same
weights after 1 and 25 Adam steps on the same batches (atol 1e-6), against every framework MLP installed here;
a full fit reaches the same accuracy on iris.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from hello_bench.adapters.numba_mlp import NumbaMLPClassifier  # noqa: E402
from tests.conftest import has_module  # noqa: E402


def _step_sklearn(clf, X, y):
    clf._train_batch(X, y)


def _step_torch(clf, X, y):
    import torch

    clf._train_batch(torch.from_numpy(X), torch.from_numpy(y))


def _step_keras(clf, X, y):
    clf.model_.train_on_batch(X, clf._one_hot(y))


def _frameworks() -> list:
    """(name, class, one-step function) of every framework MLP installed here."""
    from hello_bench.adapters.sklearn_mlp import SklearnMLPClassifier

    out = [pytest.param(SklearnMLPClassifier, _step_sklearn, id="sklearn")]
    if has_module("torch"):
        from hello_bench.adapters.torch_mlp import TorchMLPClassifier

        out.append(pytest.param(TorchMLPClassifier, _step_torch, id="torch"))
    if has_module("keras") and has_module("tensorflow"):
        from hello_bench.adapters.keras_mlp import KerasMLPClassifier

        out.append(pytest.param(KerasMLPClassifier, _step_keras, id="keras"))
    return out


FRAMEWORKS = _frameworks()


@pytest.fixture
def iris32(iris_xy):
    X, y = iris_xy
    return X.astype(np.float32), y


@pytest.mark.parametrize("framework, _step", FRAMEWORKS)
def test_same_initial_weights_and_forward(iris32, framework, _step):
    X, y = iris32
    floor = NumbaMLPClassifier(random_state=3, batch_size=8).initialize(X, y)
    other = framework(random_state=3, batch_size=8).initialize(X, y)
    for wf, wo in zip(floor.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(wf, wo)
    p_floor = floor.predict_proba(X)
    assert p_floor.dtype == np.float32
    np.testing.assert_allclose(p_floor, other.predict_proba(X), atol=1e-6, rtol=0)


@pytest.mark.parametrize("n_steps", [1, 25])
@pytest.mark.parametrize("framework, step", FRAMEWORKS)
def test_same_weights_after_adam_steps(iris32, framework, step, n_steps):
    X, y = iris32
    floor = NumbaMLPClassifier(random_state=3, batch_size=8).initialize(X, y)
    other = framework(random_state=3, batch_size=8).initialize(X, y)
    y_index = np.searchsorted(floor.classes_, y).astype(np.int64)
    rng = np.random.default_rng(0)
    for _ in range(n_steps):
        idx = rng.choice(len(X), size=8, replace=False)
        floor._train_batch(X[idx], y_index[idx])
        step(other, X[idx], y_index[idx])
    for wf, wo in zip(floor.get_weights(), other.get_weights()):
        np.testing.assert_allclose(wf, wo, atol=1e-6, rtol=0)
    np.testing.assert_allclose(floor.predict_proba(X), other.predict_proba(X), atol=1e-6, rtol=0)


@pytest.mark.parametrize("n_features, hidden, n_classes", [(64, 64, 10), (30, 4, 3)])
def test_equivalence_holds_for_other_sizes(n_features, hidden, n_classes):
    """Model-size knobs keep the floor equivalent (a digits-like shape, a wide input), against scikit-learn."""
    from hello_bench.adapters.sklearn_mlp import SklearnMLPClassifier

    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, n_features)).astype(np.float32)
    y = np.arange(40) % n_classes
    floor = NumbaMLPClassifier(hidden_units=hidden, random_state=5).initialize(X, y)
    other = SklearnMLPClassifier(hidden_units=hidden, random_state=5).initialize(X, y)
    for step in range(5):
        rows = slice(8 * step, 8 * step + 8)
        floor._train_batch(X[rows], y[rows])
        other._train_batch(X[rows], y[rows])
    for wf, wo in zip(floor.get_weights(), other.get_weights()):
        np.testing.assert_allclose(wf, wo, atol=1e-6, rtol=0)


def test_a_full_fit_reaches_the_frameworks_accuracy(iris_xy):
    """The post's split and settings (batch 1, 100 epochs): the floor learns iris as the frameworks do (0.973)."""
    from sklearn.model_selection import train_test_split

    from hello_bench.adapters.mlp_common import SEED_PROFILE
    from hello_bench.adapters.sklearn_mlp import SklearnMLPClassifier

    X, y = iris_xy
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=0.5, random_state=0)
    floor = NumbaMLPClassifier(**SEED_PROFILE, random_state=0).fit(Xtr, ytr)
    other = SklearnMLPClassifier(**SEED_PROFILE, random_state=0).fit(Xtr, ytr)
    assert floor.n_steps_ == 100 * len(Xtr)
    assert len(floor.loss_curve_) == len(floor.epoch_times_ns_) == 100
    assert floor.score(Xte, yte) > 0.9
    assert abs(floor.score(Xte, yte) - other.score(Xte, yte)) <= 0.04  # shuffle orders differ (README)


def test_same_seed_same_fit_and_shuffle_every_epoch(iris_xy):
    X, y = iris_xy
    a = NumbaMLPClassifier(epochs=3, batch_size=4, random_state=7).fit(X, y)
    b = NumbaMLPClassifier(epochs=3, batch_size=4, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.theta_, b.theta_)
    unshuffled = NumbaMLPClassifier(epochs=3, batch_size=4, random_state=7, shuffle=False).fit(X, y)
    assert not np.array_equal(a.theta_, unshuffled.theta_)


def test_the_floor_is_declared_not_named():
    """Records and reports find the floor by its class attribute; every framework MLP says it is not one."""
    from hello_bench.adapters import adapter_class, registered

    floors = [n for n in registered() if adapter_class(n).reference_floor]
    assert floors == ["numba-mlp"]
    assert {adapter_class(n).model_family() for n in floors} == {"mlp"}
