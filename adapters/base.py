"""What every adapter shares: validation, label encoding, devices, seeds.

An adapter is a scikit-learn classifier. Subclasses implement three hooks:

``_build(n_features, n_classes, seed, device)``
    Create the untrained model and store it on ``self`` (fitted attributes end
    with an underscore).
``_train(X, Y_index, seed)``
    Train the built model on float32 ``X`` and integer class indices.
``_predict_proba(X)`` / ``_predict_proba_stock(X)``
    Class probabilities through the adapter's efficient path, and through the
    framework's stock API (for example Keras ``model.predict``), so that the
    harness can report what a user of the plain API pays.

Everything else the harness needs to know about a framework is a hook on the
class with a harmless default (import it, its versions, its threads, the
worker's environment, GPU name and memory, serving paths): the harness calls
hooks and never names a framework, so a third-party adapter gets the same
measurements as the built-in ones. Iterative adapters call
:meth:`BenchClassifier._epoch_end` after each epoch (learning curves).

Framework imports happen inside those hooks, never at module import time, so
that importing an adapter module (to list it, to read its capabilities) stays
cheap and works without the framework installed.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import frameworks

DEVICES = ("cpu", "gpu", "auto")


class DeviceUnavailableError(RuntimeError):
    """A device was asked for that this process cannot use (e.g. no GPU)."""


class FrameworkUnavailableError(ImportError):
    """The framework an adapter needs is not installed in this environment."""


def seed_from(random_state: Any) -> int | None:
    """Turn an sklearn-style ``random_state`` into an int seed (or None).

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        ``None`` means "do not seed": results then vary between fits.

    Returns
    -------
    int or None
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise ValueError(f"random_state must be None, an int or a numpy RandomState. Got {random_state!r} instead.")


def install_command(extras: tuple[str, ...] | list[str]) -> str:
    """``pip install ".[torch]"`` for the project's extras (``pip install .`` for none)."""
    extras = [e for e in extras if e]
    return f'pip install ".[{",".join(extras)}]"' if extras else "pip install ."


def require_modules(cls_name: str, modules: tuple[str, ...], extra: str) -> None:
    """Raise a clear error when a framework module cannot be found.

    Uses ``importlib.util.find_spec`` so that the check imports nothing.
    """
    missing = [m for m in modules if not frameworks.installed(m)]
    if missing:
        raise FrameworkUnavailableError(
            f"{cls_name} needs {', '.join(missing)}, which is not installed. Install it with: {install_command([extra])}"
        )


def keyword_init(**defaults: Any) -> Callable[..., None]:
    """An ``__init__`` that only stores keyword-only parameters, with a real signature.

    scikit-learn reads an estimator's parameters from its ``__init__``
    signature; this builds one from ``defaults`` so that adapters sharing
    parameters (the MLPs) and generated adapters (any scikit-learn classifier)
    declare them once.
    """

    def __init__(self: Any, **params: Any) -> None:
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) {', '.join(unknown)}")
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    keyword = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d) for n, d in defaults.items()]
    __init__.__signature__ = inspect.Signature([self_param, *keyword])  # type: ignore[attr-defined]
    return __init__


class BenchClassifier(ClassifierMixin, BaseEstimator):
    """Base class of all adapters: an sklearn classifier with devices and seeds.

    Class attributes describe the adapter as data, so that the harness can ask
    before it runs anything.

    Attributes
    ----------
    framework : str
        Name of the framework (also the key of its version in records).
    requires : tuple of str
        Importable module names the adapter needs.
    install_extra : str
        The pip extra that installs them.
    supported_devices : tuple of str
        Concrete devices the adapter can run on (``"cpu"``, ``"gpu"``).
    supported_backends : tuple of str
        Backends the adapter can use; ``("default",)`` when there is no choice.
    profiles : dict
        Named parameter sets (for example ``"seed"``: the blog post's settings).

    smoke_params : dict
        Small, fast parameters (a few epochs) for warm-up fits and smoke tests.
    iterative : bool
        Trains in epochs and calls :meth:`_epoch_end` after each one, so the
        harness can record learning curves.
    model : str
        The model family, the same across frameworks (``"mlp"``), so reports
        can tell a model effect (two models) from a framework effect (one
        model, two frameworks). Defaults to the class name.
    stock_profile : str or None
        The profile that is the framework's stock use of this model (the
        post's settings, ``"seed"``, for the MLPs); reports compare every
        other profile of the adapter (``"tuned"``) with it. None: the
        adapter's defaults are its stock form.
    colour : str, dict or None
        A hue for figures (blue, orange, green, red, purple, brown, pink,
        grey, olive, cyan), or one per backend (``{"jax": "purple"}``); None:
        one is derived from the adapter's name, the same in every run.
    reference_floor : bool
        The adapter is a reference, not a framework: the model's arithmetic
        as plain compiled code, whose times are the floor the other adapters
        of its ``model`` family are shown against (records carry it; reports
        find the floor by it, never by name).
    """

    framework = "unknown"
    requires: tuple[str, ...] = ()
    install_extra = ""
    supported_devices: tuple[str, ...] = ("cpu",)
    supported_backends: tuple[str, ...] = ("default",)
    profiles: dict[str, dict] = {}
    smoke_params: dict[str, Any] = {}
    iterative = False
    model = ""
    stock_profile: str | None = None
    colour: str | dict[str, str] | None = None
    reference_floor = False

    @classmethod
    def model_family(cls) -> str:
        return cls.model or cls.__name__

    @classmethod
    def colour_for(cls, backend: str) -> str | None:
        """The figure hue this adapter declares for ``backend`` (None: derived from its name)."""
        return cls.colour.get(backend) if isinstance(cls.colour, dict) else cls.colour

    _parameter_constraints: dict = {
        "device": [StrOptions(set(DEVICES))],
        "random_state": ["random_state"],
    }

    # -- class hooks: what the harness asks before and around running -------
    @classmethod
    def backend_modules(cls, backend: str) -> tuple[str, ...]:
        """Importable modules this adapter needs on ``backend``."""
        return tuple(cls.requires) + (() if backend == "default" else (backend,))

    @classmethod
    def missing_modules(cls, backend: str = "default") -> list[str]:
        """Required modules that cannot be found (checked without importing them)."""
        return [m for m in cls.backend_modules(backend) if not frameworks.installed(m)]

    @classmethod
    def install_hint(cls, backend: str = "default") -> str:
        """The command that installs what ``backend`` needs."""
        return install_command([cls.install_extra, "" if backend == "default" else backend])

    @classmethod
    def import_framework(cls, backend: str = "default") -> None:
        """Import the framework (the harness times this as the cold start)."""
        for module in cls.backend_modules(backend):
            importlib.import_module(module)

    @classmethod
    def framework_versions(cls, backend: str = "default") -> dict[str, str | None]:
        """``framework_version`` and ``backend_version`` for the records."""
        top = cls.requires[0] if cls.requires else cls.__module__
        return {
            "framework_version": frameworks.module_version(top),
            "backend_version": None if backend == "default" else frameworks.module_version(backend),
        }

    @classmethod
    def packages(cls) -> list[str]:
        """Distributions whose versions belong in a machine's fingerprint."""
        modules = set(cls.requires) | {b for b in cls.supported_backends if b != "default"}
        return sorted({d for m in modules for d in frameworks.distribution_names(m)})

    @classmethod
    def worker_env(cls, backend: str, threads: int) -> dict[str, str]:
        """Environment variables for a worker process, set before anything imports."""
        return frameworks.thread_env(threads)

    @classmethod
    def limit_threads(cls, threads: int, backend: str = "default") -> dict:
        """Limit this framework to ``threads``; return the counts in force, per library."""
        return frameworks.blas_threads(threads)

    @classmethod
    def unsupported_reason(cls, params: dict, backend: str, device: str) -> str | None:
        """Why these parameters cannot run on this backend and device here (None: they can).

        Such a trial is recorded as skipped with this reason, not run.
        """
        return None

    @classmethod
    def shape_warmup_params(cls, params: dict) -> dict | None:
        """Parameters of one untimed fit on a trial's own data, before the worker's first timed fit on data of
        that shape; None (the default): no such fit.

        Caches a framework keeps per process and shape (a ``jax.jit``
        program, a ``torch.compile`` graph) are then built untimed, as the
        worker's warm-up builds the rest: the first trial of a worker is
        timed as every later one. Keep it short (one epoch of the trial's
        own settings, say).
        """
        return None

    def device_name(self, device: str) -> str | None:
        """Name of the device (``"cpu"`` or ``"gpu"``) this adapter runs on, or None to let
        the harness name it (the CPU's model; the GPU that nvidia-smi lists first)."""
        return None

    def gpu_memory_probe(self) -> Callable[[], float] | None:
        """A callable returning peak GPU memory (MiB) since it was made, or None.

        Called before ``fit`` (so the peak covers training): decide from ``self.device``."""
        return None

    def serving_paths(self) -> list:
        """Extra ways to serve this fitted model (``hello_bench.adapters.serving.ServingPath``)."""
        return []

    def empty_call_costs(self, budget_s: float = 30.0) -> dict[str, float] | None:
        """This framework's cost per call, with these parameters, when there is (almost) nothing to compute.

        ``{"step": ..., "epoch": ..., "predict": ...}``: seconds per optimiser
        step in ``fit``, per epoch besides its steps, and per single-row
        ``predict_proba`` call (any may be left out).
        The worker measures it once, after its warm-up, and reports explain
        fit and predict times with it (optimiser steps x the step's cost: the
        framework's dispatch). Called on an unfitted adapter with the trial's
        parameters; it must not change ``self``. None (the default): unknown.
        Iterative models implement it with :func:`hello_bench.adapters.dispatch.empty_call_costs`.
        """
        return None

    # -- learning curves ---------------------------------------------------
    def set_epoch_callback(self, callback: Callable[[BenchClassifier, float], None] | None) -> BenchClassifier:
        """Have ``callback(self, mean_epoch_loss)`` called after every training epoch.

        Not a parameter (clones do not carry it): the harness sets it on the
        estimator it measures to record learning curves.
        """
        self._epoch_callback = callback
        return self

    def _epoch_end(self, loss: float) -> None:
        """Iterative adapters call this after each epoch's work, before the next."""
        callback = getattr(self, "_epoch_callback", None)
        if callback is not None:
            callback(self, float(loss))

    # -- training hooks ----------------------------------------------------
    def _build(self, n_features: int, n_classes: int, seed: int | None, device: str) -> None:
        raise NotImplementedError

    def _train(self, X: np.ndarray, y_index: np.ndarray, seed: int | None) -> None:
        raise NotImplementedError

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _predict_proba_stock(self, X: np.ndarray) -> np.ndarray:
        return self._predict_proba(X)

    def _resolve_device(self, device: str) -> str:
        """Map ``device`` to ``"cpu"`` or ``"gpu"``; raise if unusable here."""
        if device == "auto":
            return "gpu" if "gpu" in self.supported_devices and self.gpu_available() else "cpu"
        if device not in self.supported_devices:
            raise DeviceUnavailableError(
                f"{type(self).__name__} supports device(s) {', '.join(self.supported_devices)}; "
                f"device={device!r} is not supported."
            )
        if device == "gpu" and not self.gpu_available():
            raise DeviceUnavailableError(
                f"{type(self).__name__}(device='gpu') but no GPU is available to "
                f"{self.framework} in this process. Use device='cpu' or 'auto'."
            )
        return device

    def gpu_available(self) -> bool:
        """Whether this adapter's framework sees a GPU (imports the framework)."""
        return False

    def sync(self) -> None:
        """Wait for queued device work to finish (no-op on CPU).

        The harness calls this before it stops a timer.
        """

    def check_params(self) -> None:
        """Validate the parameters without data (config validation, before anything runs)."""
        self._validate_params()

    # -- sklearn API -------------------------------------------------------
    def _prepare(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate, encode labels, build the model; return float32 X and class indices."""
        self._validate_params()
        require_modules(type(self).__name__, self.requires, self.install_extra)
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y to fit; got 1 class ({self.classes_[0]!r})."
            )
        self.device_ = self._resolve_device(self.device)
        self._build(self.n_features_in_, len(self.classes_), seed_from(self.random_state), self.device_)
        return np.ascontiguousarray(X, dtype=np.float32), y_index.astype(np.int64)

    def initialize(self, X: Any, y: Any) -> BenchClassifier:
        """Validate data, encode labels and build the untrained model.

        Separate from training so that build time and training time can be
        told apart (as skorch's ``initialize``).

        Returns
        -------
        self
        """
        self._prepare(X, y)
        return self

    def fit(self, X: Any, y: Any) -> BenchClassifier:
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features; NaN or infinite values are rejected.
        y : array-like of shape (n_samples,)
            Class labels of any type (strings such as ``"setosa"`` work).

        Returns
        -------
        self
        """
        X32, y_index = self._prepare(X, y)
        self._train(X32, y_index, seed_from(self.random_state))
        return self

    def _check_X(self, X: Any) -> np.ndarray:
        if not hasattr(self, "classes_"):  # check_is_fitted's answer, without its cost per call
            check_is_fitted(self, "classes_")
        # Fast path for the common case (a float ndarray of the right width,
        # fitted without feature names): sklearn's full validation costs tens of
        # microseconds, more than a small model's forward pass.
        if (
            isinstance(X, np.ndarray)
            and X.ndim == 2
            and X.dtype in (np.float32, np.float64)
            and X.shape[1] == self.n_features_in_
            and X.shape[0] > 0
            and not hasattr(self, "feature_names_in_")
        ):
            if not np.isfinite(X).all():
                raise ValueError(f"Input X contains NaN or infinity; {type(self).__name__} needs finite values.")
            return np.ascontiguousarray(X, dtype=np.float32)
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        return np.ascontiguousarray(X, dtype=np.float32)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities through the adapter's efficient path.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self._predict_proba(self._check_X(X))

    def predict_proba_stock(self, X: Any) -> np.ndarray:
        """Class probabilities through the framework's stock predict API.

        Same numbers as :meth:`predict_proba`, usually at a higher cost per
        call; the harness measures both.
        """
        return self._predict_proba_stock(self._check_X(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predict class labels, of the same type as the labels seen in fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # checks fitted state before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_stock(self, X: Any) -> np.ndarray:
        """Predict labels through the framework's stock API."""
        proba = self.predict_proba_stock(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
