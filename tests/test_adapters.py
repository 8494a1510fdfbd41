"""Behaviour every adapter shares: labels, sklearn tooling, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hello_bench.adapters import UnknownAdapterError, adapter_class, describe, list_adapters, make_adapter
from hello_bench.adapters.base import DeviceUnavailableError
from tests.conftest import gpu_present, has_module

FAST = {
    "sklearn-lr": {},
    "sklearn-mlp": dict(epochs=20, batch_size=16, learning_rate=0.05),
    "torch-mlp": dict(epochs=20, batch_size=16, learning_rate=0.05),
    "keras-mlp": dict(epochs=20, batch_size=16, learning_rate=0.05),
}
AVAILABLE = [name for name in FAST if describe(name).available and (name != "keras-mlp" or has_module("tensorflow"))]


@pytest.fixture(params=AVAILABLE)
def name(request):
    return request.param


def fast(name, **params):
    return make_adapter(name, random_state=0, **{**FAST[name], **params})


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_string_labels_in_and_out(name, iris_xy):
    X, y = iris_xy
    clf = fast(name).fit(X, y)
    pred = clf.predict(X[:5])
    assert pred.dtype == y.dtype and set(pred) <= {"setosa", "versicolor", "virginica"}
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(clf.predict_proba_stock(X[:5]), proba, atol=1e-5)
    score = clf.score(X, y)
    assert score == pytest.approx(np.mean(clf.predict(X) == y)) and score > 0.8  # learns iris at these settings


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_tooling(name, iris_xy):
    X, y = iris_xy
    clf = fast(name)
    copy = clone(clf).set_params(random_state=1)
    assert copy.get_params()["random_state"] == 1 and clf.get_params()["random_state"] == 0
    scores = cross_validate(make_pipeline(StandardScaler(), clf), X, y, cv=2)
    assert len(scores["test_score"]) == 2 and np.all(scores["test_score"] > 0.5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_same_seed_same_predictions(name, iris_xy):
    X, y = iris_xy
    a = fast(name).fit(X, y).predict_proba(X)
    b = fast(name).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_wrong_number_of_features(name, iris_xy):
    X, y = iris_xy
    clf = fast(name).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 4 features"):
        clf.predict(np.zeros((2, 5)))


def test_nan_in_X(name, iris_xy):
    X, y = iris_xy
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fast(name).fit(bad, y)
    clf = fast(name).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(bad)


def test_single_class(name, iris_xy):
    X, _ = iris_xy
    with pytest.raises(ValueError, match="at least 2 classes"):
        fast(name).fit(X, np.full(len(X), "setosa"))


def test_invalid_parameter(iris_xy):
    X, y = iris_xy
    cls = adapter_class("torch-mlp")
    with pytest.raises(
        ValueError,
        match=r"The 'epochs' parameter of TorchMLPClassifier must be an int in the range \[1, inf\). Got 0 instead",
    ):
        cls(epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="'device' parameter"):
        adapter_class("sklearn-lr")(device="tpu").fit(X, y)


@pytest.mark.skipif(gpu_present(), reason="checks the no-GPU message")
def test_gpu_without_gpu(name, iris_xy):
    X, y = iris_xy
    with pytest.raises(DeviceUnavailableError, match="device='gpu'|no GPU"):
        fast(name, device="gpu").fit(X, y)


def test_auto_device_falls_back_to_cpu(name, iris_xy):
    X, y = iris_xy
    clf = fast(name, device="auto").fit(X, y)
    assert clf.device_ == ("gpu" if gpu_present() and name != "sklearn-lr" else "cpu")


def test_unknown_adapter_lists_valid_names():
    with pytest.raises(UnknownAdapterError) as err:
        make_adapter("torh-mlp")
    assert str(err.value) == (
        "Unknown adapter 'torh-mlp'. Available: keras-mlp, numba-mlp, sklearn-lr, sklearn-mlp, torch-mlp, or a scikit-learn "
        "classifier's dotted path (e.g. sklearn.ensemble.HistGradientBoostingClassifier). Did you mean 'torch-mlp'?"
    )


def test_profiles():
    seed = make_adapter("keras-mlp", profile="seed")
    assert (seed.epochs, seed.batch_size, seed.hidden_units) == (100, 1, 16)
    assert make_adapter("torch-mlp", profile="seed", epochs=5).epochs == 5
    with pytest.raises(ValueError, match="has no profile 'fast'. Its profiles: seed, tuned"):
        make_adapter("torch-mlp", profile="fast")


def test_listing_imports_no_framework():
    code = (
        "import sys; from hello_bench.adapters import list_adapters; infos = list_adapters();"
        "print(len(infos), any(m in sys.modules for m in ('torch', 'tensorflow', 'keras', 'jax', 'numba')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "False"]


def test_missing_framework_is_reported_with_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a))
    info = describe("torch-mlp")
    assert not info.available and 'pip install ".[torch]"' in info.reason
    assert describe("sklearn-lr").available
    assert {i.name for i in list_adapters()} == {"keras-mlp", "numba-mlp", "sklearn-lr", "sklearn-mlp", "torch-mlp"}


@pytest.mark.skipif(not has_module("tensorflow"), reason="needs the TensorFlow backend in-process")
def test_keras_backend_fixed_per_process(iris_xy):
    from hello_bench.adapters.keras_mlp import BackendMismatchError

    X, y = iris_xy
    import keras

    assert keras.backend.backend() == "tensorflow"
    with pytest.raises(BackendMismatchError, match="already running on the 'tensorflow' backend"):
        fast("keras-mlp", backend="jax").fit(X, y)
