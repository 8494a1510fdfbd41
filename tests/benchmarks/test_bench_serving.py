"""Serving paths and learning-curve bookkeeping, benchmarked.

- ``serve-one``: one-sample predict through every serving path of every
  adapter (the adapter's path, the stock API, ONNX Runtime, compiled paths,
  the numpy reference), so ``--benchmark-compare`` tracks each one. A path is
  only benchmarked once its predictions match the adapter's (max |dp| <= its
  tolerance, identical labels): an invalid path is never timed as if it were
  the same model.
- ``fit-curves``: what recording a learning curve costs the fit (the clock
  is paused during evaluation); ``extra_info`` holds the ratio of fit time
  with curves (evaluation excluded) to fit time without.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import numpy as np
import pytest

from hello_bench.adapters.serving import ServingUnavailable
from tests.benchmarks.conftest import THREADS
from tests.benchmarks.test_bench_adapters import ADAPTERS, _make, fitted, info, iterative

PATHS = [
    "adapter",
    "stock",
    "numpy-reference",
    "onnxruntime",
    "torchscript",
    "torch.compile",
    "tf.function(jit_compile)",
    "jax.jit",
]
_BUILT: dict = {}
#: The folders the built serving paths live in, removed when the module's tests end (nothing left in /tmp).
_FOLDERS: list[tempfile.TemporaryDirectory] = []


@pytest.fixture(scope="module", autouse=True)
def _remove_built_paths():
    yield
    _BUILT.clear()
    while _FOLDERS:
        _FOLDERS.pop().cleanup()


def built_path(name: str, path: str, split, smoke: bool = False):
    """The fitted adapter's serving path ``path``, built and loaded once per session (or a skip)."""
    key = (name, path, smoke)
    if key not in _BUILT:
        clf = fitted(name, "cpu", split, smoke)
        if path == "adapter":
            _BUILT[key] = (clf.predict_proba, clf.sync)
        elif path == "stock":
            _BUILT[key] = (clf.predict_proba_stock, clf.sync)
        else:
            offered = {p.name: p for p in clf.serving_paths()}
            if path not in offered:
                _BUILT[key] = f"{name} has no {path} path"
            else:
                _FOLDERS.append(tempfile.TemporaryDirectory(prefix="bench-serving-"))
                folder = Path(_FOLDERS[-1].name)
                try:
                    serving = offered[path]
                    _BUILT[key] = (serving.load(serving.build(folder), THREADS), serving.sync)
                except ServingUnavailable as err:
                    _BUILT[key] = f"{path} unavailable: {err.reason}"
    return _BUILT[key]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", ADAPTERS)
def test_serve_one(benchmark, name, path, split, threads, smoke):
    built = built_path(name, path, split, smoke)
    if isinstance(built, str):
        pytest.skip(built)
    predict, sync = built
    clf = fitted(name, "cpu", split, smoke)
    X_test = split[1]
    reference = clf.predict_proba(X_test)
    got = np.asarray(predict(X_test), dtype=np.float64)
    assert np.abs(got - reference).max() <= 1e-5 and (got.argmax(1) == reference.argmax(1)).all(), (
        f"{path} is not the same model"
    )
    one = X_test[:1]

    def call():
        out = predict(one)
        if sync:
            sync()
        return out

    benchmark.group = "serve-one"
    benchmark.pedantic(call, rounds=500, iterations=1, warmup_rounds=50)
    info(benchmark, clf, split, threads, path=path, n_samples=1)


@pytest.mark.parametrize("name", [a for a in ADAPTERS if iterative(a)])
def test_fit_curve_bookkeeping(benchmark, name, split, threads, smoke):
    """Fit with and without learning curves, interleaved; the ratio (evaluation excluded) goes in extra_info."""
    from hello_bench.measure.settings import TimingSettings
    from hello_bench.measure.trial import Split, _fit

    X_train, X_test, y_train, y_test = split
    data = Split(X_train, X_test, y_train, y_test)
    params = {"epochs": 1} if smoke else {"epochs": 20} if name == "keras-mlp" else {}
    rounds = {True: [], False: []}

    def fit(curves: bool) -> dict:
        out = _fit(_make(name, "cpu", **params), data, TimingSettings(curves=curves))
        rounds[curves].append(out["fit_wall_s"])
        return out

    fit(False)  # warm-up
    rounds[False].clear()
    for _ in range(1 if smoke else 4):
        fit(False)
        fit(True)
    benchmark.group = "fit-curves"
    benchmark.pedantic(lambda: fit(True), rounds=1, iterations=1)
    with_curves, without = statistics.median(rounds[True]), statistics.median(rounds[False])
    info(benchmark, _make(name, "cpu", **params), split, threads, fit_with_curves_s=with_curves, fit_without_curves_s=without,
         curve_bookkeeping_ratio=with_curves / without)  # fmt: skip
    print(f"{name}: fit with curves {with_curves:.3f} s, without {without:.3f} s, ratio {with_curves / without:.3f}")
