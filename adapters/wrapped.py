"""Any scikit-learn classifier as an adapter, without code.

``bench run --adapters sklearn.ensemble.HistGradientBoostingClassifier`` (or
``BENCH_ADAPTERS=hgb=sklearn.ensemble:HistGradientBoostingClassifier``) wraps
the class here: its parameters become the adapter's, labels are encoded and
decoded as for the built-in adapters, the harness's ``random_state`` seeds it
where it takes one, and every class hook keeps its default (versions from the
class's top-level package, threads through threadpoolctl).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np

from .base import BenchClassifier, keyword_init


class NotAClassifierError(TypeError):
    """A class given as an adapter that is not a scikit-learn classifier."""


def _params_of(estimator_cls: type) -> dict[str, Any]:
    signature = inspect.signature(estimator_cls)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def check_classifier(estimator_cls: Any, where: str) -> None:
    """Raise :class:`NotAClassifierError` unless ``estimator_cls`` is a scikit-learn classifier class."""
    from sklearn.base import is_classifier

    if not inspect.isclass(estimator_cls):
        raise NotAClassifierError(f"{where} is not a class (got {type(estimator_cls).__name__}).")
    try:
        ok = is_classifier(estimator_cls()) and hasattr(estimator_cls, "fit") and hasattr(estimator_cls, "predict")
    except Exception as err:  # a class that cannot be built with its defaults
        raise NotAClassifierError(f"{where} cannot be created with its defaults: {err}") from None
    if not ok:
        raise NotAClassifierError(f"{where} is not a scikit-learn classifier (no classifier tag, fit and predict).")


def index_keyed(weights: dict, classes: np.ndarray) -> dict:
    """``class_weight`` keyed by the caller's labels (a config's keys are text: ``"3"`` names class 3),
    re-keyed by class index: the wrapped estimator is trained on indices."""
    out, used = {}, set()
    for index, label in enumerate(classes.tolist()):
        for key in (label, str(label)):
            if key in weights:
                out[index] = weights[key]
                used.add(key)
                break
    unknown = [k for k in weights if k not in used]
    if unknown:
        raise ValueError(
            f"class_weight names labels that are not in the data: {unknown!r} (labels: {classes.tolist()!r})"
        )
    return out


@functools.cache
def wrap_classifier(estimator_cls: type) -> type[BenchClassifier]:
    """A :class:`BenchClassifier` subclass that trains and serves ``estimator_cls``.

    Cached per class, so the same class always gives the same adapter class.
    """
    params = _params_of(estimator_cls)
    seeded = "random_state" in params
    own = {k: v for k, v in params.items() if k not in ("random_state", "device")}
    top = estimator_cls.__module__.split(".")[0]

    class Wrapped(BenchClassifier):
        framework = top
        requires = (top,)
        wrapped = estimator_cls
        __doc__ = f"{estimator_cls.__module__}.{estimator_cls.__qualname__} behind the adapter contract."

        __init__ = keyword_init(**own, device="cpu", random_state=None)

        def _make(self, seed: int | None = None) -> Any:
            kwargs = {k: getattr(self, k) for k in own}
            if isinstance(kwargs.get("class_weight"), dict) and hasattr(self, "classes_"):
                kwargs["class_weight"] = index_keyed(kwargs["class_weight"], self.classes_)
            if seeded:
                kwargs["random_state"] = seed
            return estimator_cls(**kwargs)

        def check_params(self) -> None:
            super().check_params()
            inner = self._make()
            # scikit-learn's own validation, where the class declares its constraints (a third-party
            # BaseEstimator without them would fail there for a reason that is not the user's).
            if hasattr(inner, "_validate_params") and hasattr(inner, "_parameter_constraints"):
                inner._validate_params()

        def _build(self, n_features: int, n_classes: int, seed: int | None, device: str) -> None:
            self.estimator_ = self._make(seed)

        def _train(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
            self.estimator_.fit(X, y_index)

        def _predict_proba(self, X: np.ndarray) -> np.ndarray:
            if hasattr(self.estimator_, "predict_proba"):
                try:
                    return self.estimator_.predict_proba(X)
                except AttributeError:  # e.g. SVC(probability=False)
                    pass
            # No probabilities: one-hot of the predicted labels (log loss is then uninformative).
            return np.eye(len(self.classes_))[np.asarray(self.estimator_.predict(X), dtype=int)]

        def __reduce__(self) -> tuple:
            # a class made here is not importable by name: pickle (a metric that sizes the model, a process pool)
            # rebuilds it from the wrapped class, which is
            return (_unpickled, (estimator_cls, self.__dict__.copy()))

        def serving_paths(self) -> list:
            from .serving import skl2onnx_path

            return [skl2onnx_path(self.estimator_, self.n_features_in_)]

    Wrapped.__name__ = Wrapped.__qualname__ = f"Wrapped{estimator_cls.__name__}"
    return Wrapped


def _unpickled(estimator_cls: type, state: dict) -> BenchClassifier:
    cls = wrap_classifier(estimator_cls)
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj
