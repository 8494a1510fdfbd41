"""``sklearn-lr``: scikit-learn's LogisticRegressionCV, its defaults pinned."""

from __future__ import annotations

import inspect
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegressionCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils._param_validation import Interval, StrOptions

from .base import BenchClassifier

#: The defaults the blog post ran with in 2016 (scikit-learn 0.17):
#: one-vs-rest, liblinear, 3-fold CV. Today's defaults are multinomial, lbfgs, 5-fold.
PROFILE_2016 = {"multi_class": "ovr", "solver": "liblinear", "cv": 3}


class SklearnLRClassifier(BenchClassifier):
    """``LogisticRegressionCV`` with every default that shapes results written out.

    Written out so that a future scikit-learn release that changes a default
    (as 1.8 did for ``l1_ratios`` and 1.11 will for ``scoring``) cannot change
    results silently.

    Parameters
    ----------
    Cs : int, default=10
    cv : int, default=5
    solver : str, default="lbfgs"
    max_iter : int, default=100
    tol : float, default=1e-4
    scoring : str, default="accuracy"
    multi_class : {"multinomial", "ovr"}, default="multinomial"
        ``"ovr"`` fits one binary model per class (the 2016 default), through
        ``OneVsRestClassifier`` since scikit-learn removed the option.
    device : {"cpu", "auto"}, default="cpu"
        scikit-learn runs on the CPU only.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    estimator_ : LogisticRegressionCV or OneVsRestClassifier
    n_iter_ : int
        Largest number of solver iterations over folds, Cs and classes.
    """

    framework = "sklearn"
    requires = ("sklearn",)
    install_extra = ""
    supported_devices = ("cpu",)
    profiles = {"2016": dict(PROFILE_2016)}
    model = "logistic-regression"
    colour = "blue"

    _parameter_constraints: dict = {
        **BenchClassifier._parameter_constraints,
        "Cs": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "solver": [StrOptions({"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "scoring": [str],
        "multi_class": [StrOptions({"multinomial", "ovr"})],
    }

    def __init__(
        self,
        *,
        Cs: int = 10,
        cv: int = 5,
        solver: str = "lbfgs",
        max_iter: int = 100,
        tol: float = 1e-4,
        scoring: str = "accuracy",
        multi_class: str = "multinomial",
        device: str = "cpu",
        random_state: Any = None,
    ) -> None:
        self.Cs = Cs
        self.cv = cv
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.scoring = scoring
        self.multi_class = multi_class
        self.device = device
        self.random_state = random_state

    def _lr_kwargs(self, seed: int | None) -> dict[str, Any]:
        kwargs = dict(
            Cs=self.Cs,
            cv=self.cv,
            solver=self.solver,
            max_iter=self.max_iter,
            tol=self.tol,
            scoring=self.scoring,
            fit_intercept=True,
            refit=True,
            random_state=seed,
        )
        accepted = inspect.signature(LogisticRegressionCV).parameters
        # scikit-learn >= 1.8: an L2 penalty is spelled l1_ratios=(0,); passing
        # it (and the new attribute layout) also silences the deprecation warnings.
        if "use_legacy_attributes" in accepted:
            kwargs.update(l1_ratios=(0.0,), use_legacy_attributes=False)
        return kwargs

    def _build(self, n_features: int, n_classes: int, seed: int | None, device: str) -> None:
        lr = LogisticRegressionCV(**self._lr_kwargs(seed))
        self.estimator_ = OneVsRestClassifier(lr) if self.multi_class == "ovr" else lr

    def _train(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
        self.estimator_.fit(X, y_index)
        fitted = getattr(self.estimator_, "estimators_", [self.estimator_])
        self.n_iter_ = int(max(np.max(est.n_iter_) for est in fitted))

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(X)

    def serving_paths(self) -> list:
        from .serving import ServingPath, skl2onnx_path

        coefs = [(np.asarray(e.coef_, np.float32), np.asarray(e.intercept_, np.float32)) for e in self._linear_models()]
        reference = ServingPath(
            "numpy-reference",
            lambda folder: None,
            lambda artifact, threads: lambda X: linear_proba(coefs, X),
            reference=True,
        )
        return [reference, skl2onnx_path(self.estimator_, self.n_features_in_)]

    def _linear_models(self) -> list:
        return list(getattr(self.estimator_, "estimators_", [self.estimator_]))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def linear_proba(coefs: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray) -> np.ndarray:
    """Logistic-regression probabilities in numpy: the reference floor for serving.

    One (coef, intercept) pair: softmax over classes (a single row: the binary
    sigmoid). Several pairs: one-vs-rest sigmoids, normalised as
    ``OneVsRestClassifier`` does.
    """
    if len(coefs) == 1:
        coef, intercept = coefs[0]
        z = X @ coef.T + intercept
        if z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-z))
            return np.hstack([1 - p, p])
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    p = np.hstack([1.0 / (1.0 + np.exp(-(X @ c.T + b))) for c, b in coefs])
    return p / p.sum(axis=1, keepdims=True)
