"""``check_adapter``: what a plugin author runs to know the harness will measure an adapter correctly.

As scikit-learn's ``parametrize_with_checks`` and ``benchopt test`` do, each
check is a small named function; :func:`adapter_checks` yields them,
:func:`check_adapter` runs them all and raises one error listing every
failure, and :func:`parametrize_with_checks` makes them pytest cases::

    from hello_bench.checks import parametrize_with_checks
    from my_package import MyClassifier

    @parametrize_with_checks([MyClassifier])
    def test_my_adapter(check):
        check()

``bench check NAME`` runs the same checks from the command line; ``bench check NAME --env
base=REQ`` runs them in an environment's Python, where a package installed only there is checked.

What the harness reads from an adapter, and so what is checked here:

- class attributes: ``framework`` (its versions' key), ``requires``,
  ``supported_devices`` (``cpu``/``gpu``), ``supported_backends``,
  ``profiles`` (parameter sets), ``stock_profile`` (None or a profile name),
  ``smoke_params``, ``iterative``, ``model``, ``colour``;
- class hooks: ``import_framework``, ``framework_versions`` (a dict with
  ``framework_version`` and ``backend_version``), ``limit_threads`` (a dict
  of thread counts), ``worker_env`` (str -> str), ``unsupported_reason``;
- after ``fit``: ``classes_`` (labels of the caller's type),
  ``n_features_in_``, ``device_``; iterative adapters also
  ``epoch_times_ns_`` (one duration per epoch, in ns) and one
  ``_epoch_end(loss)`` call per epoch (learning curves);
- ``predict_proba`` / ``predict_proba_stock``: rows that sum to 1, in the
  order of ``classes_``; ``predict`` returns labels of the training type;
- ``serving_paths()``: every path builds and agrees with ``predict_proba``
  within its tolerance (or says why it cannot be built here);
- the record one trial produces matches the record schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

CheckFn = Callable[[], None]


class AdapterCheckError(AssertionError):
    """One or more checks failed; the message lists each with its reason."""


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFn

    def __call__(self) -> None:
        self.run()

    def __repr__(self) -> str:  # pytest ids
        return self.name


def _data(n: int = 60, classes: tuple[str, ...] = ("a", "b", "c")) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.array([classes[i % len(classes)] for i in range(n)])
    X = rng.standard_normal((n, 4)) + np.array([classes.index(c) for c in y])[:, None]
    return X, y


def _fitted(cls: Any, **params: Any) -> Any:
    X, y = _data()
    return cls(**{**cls.smoke_params, **params}, random_state=0).fit(X, y)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AdapterCheckError(message)


# -- the checks -------------------------------------------------------------------------------------
def check_class_attributes(cls: Any) -> None:
    """Class attributes have the types and values the harness relies on."""
    _require(
        isinstance(cls.framework, str) and cls.framework not in ("", "unknown"), "framework must name the framework"
    )
    _require(all(isinstance(m, str) for m in cls.requires), "requires must be a tuple of module names")
    _require(bool(cls.supported_devices) and set(cls.supported_devices) <= {"cpu", "gpu"},
             "supported_devices must be a non-empty subset of ('cpu', 'gpu')")  # fmt: skip
    _require(bool(cls.supported_backends) and all(isinstance(b, str) for b in cls.supported_backends),
             "supported_backends must be a non-empty tuple of names ('default' when there is no choice)")  # fmt: skip
    _require(isinstance(cls.profiles, dict) and all(isinstance(p, dict) for p in cls.profiles.values()),
             "profiles must map names to parameter dicts")  # fmt: skip
    _require(cls.stock_profile is None or cls.stock_profile in cls.profiles,
             f"stock_profile {cls.stock_profile!r} is not one of the profiles {sorted(cls.profiles)}")  # fmt: skip
    known = set(cls().get_params())
    for name, params in {"smoke_params": cls.smoke_params, **cls.profiles}.items():
        unknown = sorted(set(params) - known)
        _require(not unknown, f"{name} sets unknown parameter(s) {unknown}; parameters: {sorted(known)}")
    _require(isinstance(cls.model_family(), str) and bool(cls.model_family()), "model must name the model family")


def check_class_hooks(cls: Any) -> None:
    """The framework hooks run and return what the harness records."""
    backend = cls.supported_backends[0]
    missing = cls.missing_modules(backend)
    _require(not missing, f"{', '.join(missing)} not installed here: {cls.install_hint(backend)}")
    cls.import_framework(backend)
    versions = cls.framework_versions(backend)
    _require(isinstance(versions, dict) and {"framework_version", "backend_version"} <= set(versions),
             "framework_versions must return {'framework_version': ..., 'backend_version': ...}")  # fmt: skip
    threads = cls.limit_threads(1, backend)
    _require(isinstance(threads, dict), "limit_threads must return a dict of the thread counts in force")
    env = cls.worker_env(backend, 1)
    _require(isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()),
             "worker_env must return a dict of str to str")  # fmt: skip
    reason = cls.unsupported_reason({}, backend, "cpu")
    _require(reason is None or isinstance(reason, str), "unsupported_reason must return None or a reason")


def check_fit_attributes(cls: Any) -> None:
    """After fit: classes_, n_features_in_, device_, and for iterative adapters epoch_times_ns_ and _epoch_end."""
    epochs: list[float] = []
    X, y = _data()
    clf = cls(**cls.smoke_params, random_state=0)
    clf.set_epoch_callback(lambda _clf, loss: epochs.append(loss))
    _require(clf.fit(X, y) is clf, "fit must return self")
    _require(list(clf.classes_) == ["a", "b", "c"], f"classes_ must be the sorted labels; got {list(clf.classes_)!r}")
    _require(clf.n_features_in_ == 4, "n_features_in_ must be the number of columns seen in fit")
    _require(clf.device_ in ("cpu", "gpu"), "device_ must be 'cpu' or 'gpu' after fit")
    if cls.iterative:
        times = getattr(clf, "epoch_times_ns_", None) or []
        _require(isinstance(times, list) and len(times) > 0 and all(isinstance(t, int) and t > 0 for t in times),
                 "iterative adapters set epoch_times_ns_: one positive int (ns) per epoch")  # fmt: skip
        _require(len(epochs) == len(times), f"_epoch_end was called {len(epochs)} times for {len(times)} epochs")


def check_predictions(cls: Any) -> None:
    """Probabilities sum to 1 in classes_ order; labels keep the caller's type; the stock API agrees."""
    X, _ = _data()
    clf = _fitted(cls)
    for name in ("predict_proba", "predict_proba_stock"):
        proba = np.asarray(getattr(clf, name)(X[:7]))
        _require(proba.shape == (7, 3), f"{name} must return (n_samples, n_classes); got {proba.shape}")
        _require(bool(np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)), f"{name} rows must sum to 1")
    labels = clf.predict(X[:7])
    _require(all(isinstance(v, str) for v in labels.tolist()), "predict must return labels of the training type")
    stock = np.asarray(clf.predict_proba_stock(X))
    _require(bool(np.allclose(stock, clf.predict_proba(X), atol=1e-4)), "predict_proba_stock must match predict_proba")


def check_serving_paths(cls: Any) -> None:
    """Every serving path builds and agrees with predict_proba (or says why it cannot be built here)."""
    from hello_bench.measure.serving import measure_serving
    from hello_bench.measure.settings import TimingSettings

    X, _ = _data()
    clf = _fitted(cls)
    settings = TimingSettings(serving_min_calls=3, serving_budget_s=0.01, batch_sizes=(1,), throughput_budget_s=0.01)
    results = measure_serving(clf, X, clf.predict_proba(X), settings, threads=1)
    bad = {name: r.get("reason") for name, r in results.items() if r.get("status") in ("invalid", "error")}
    _require(not bad, f"serving paths that disagree or fail: {bad}")


def check_record(cls: Any) -> None:
    """One trial's measurements make a record that matches the record schema."""
    from hello_bench import record as rec
    from hello_bench.measure.settings import TimingSettings
    from hello_bench.measure.trial import Split, measure_trial
    from hello_bench.measure.worker import json_safe

    X, y = _data()
    split = Split(X[:40], X[40:], y[:40], y[40:], {"n_train": 40, "n_test": 20})
    settings = TimingSettings(warmup=1, latency_min_calls=3, latency_budget_s=0.01, stock_min_calls=2,
                              stock_budget_s=0.01, batch_sizes=(1,), throughput_budget_s=0.01, serving=False)  # fmt: skip
    fields = json_safe(
        measure_trial(cls(**cls.smoke_params, random_state=0), split, settings)
    )  # as the worker sends it
    for name in ("latency_raw_ns", "stock_latency_raw_ns"):
        fields.pop(name, None)  # kept apart from the record
    unmeasured = [w for w in fields.get("warnings") or [] if w.startswith("metric ") and " not measured: " in w]
    if unmeasured:  # a run keeps the trial and says why in its warnings; a check is where the plugin author learns it
        raise AdapterCheckError("a registered metric could not measure this adapter: " + "; ".join(unmeasured))
    try:
        rec.build({"schema_version": rec.SCHEMA_VERSION, "run_id": "check", "trial_id": "check", "status": "ok",
                   **split.meta, **fields, **cls.framework_versions(cls.supported_backends[0])})  # fmt: skip
    except rec.RecordError as err:
        raise AdapterCheckError(f"the trial's record does not match the schema: {err}") from None


CHECKS = (check_class_attributes, check_class_hooks, check_fit_attributes, check_predictions, check_serving_paths,
          check_record)  # fmt: skip


def _resolve(adapter: Any) -> Any:
    if isinstance(adapter, str):
        from hello_bench.adapters import adapter_class

        return adapter_class(adapter)
    return adapter


def adapter_checks(adapter: Any) -> Iterator[Check]:
    """Every check for ``adapter`` (a class, or a registered name / dotted path), named ``Class-check``."""
    cls = _resolve(adapter)
    for fn in CHECKS:
        yield Check(f"{cls.__name__}-{fn.__name__.removeprefix('check_')}", functools.partial(fn, cls))


def check_adapter(adapter: Any) -> list[str]:
    """Run every check; return their names, or raise AdapterCheckError listing each failure."""
    failures, passed = [], []
    for check in adapter_checks(adapter):
        try:
            check()
            passed.append(check.name)
        except Exception as err:  # every failure is reported, not only the first
            failures.append(f"{check.name}: {type(err).__name__}: {err}")
    if failures:
        raise AdapterCheckError(
            f"{len(failures)} of {len(failures) + len(passed)} checks failed: " + "; ".join(failures)
        )
    return passed


def run_checks(names: list[str]) -> list[dict]:
    """Every check of every named adapter, as ``{"adapter", "check", "ok", "reason"}`` rows (``bench check``).

    Raises what :func:`adapters.adapter_class` raises when a name does not load.
    """
    rows = []
    for name in names:
        for check in list(adapter_checks(name)):
            try:
                check()
                rows.append({"adapter": name, "check": check.name, "ok": True, "reason": ""})
            except Exception as err:  # a failing check is a result, reported with its reason
                rows.append(
                    {"adapter": name, "check": check.name, "ok": False, "reason": f"{type(err).__name__}: {err}"}
                )
    return rows


def main() -> int:
    """In an environment's Python (``bench check --env``): ``argv[1]`` a JSON list of names; one JSON line out,
    ``{"checks": [...]}`` or ``{"error": why a name does not load}``."""
    import json
    import sys

    from hello_bench.adapters import AdapterLoadError, UnknownAdapterError
    from hello_bench.run.describe import protocol_stdout

    out = protocol_stdout()
    try:
        answer: dict = {"checks": run_checks(json.loads(sys.argv[1]))}
    except (UnknownAdapterError, AdapterLoadError) as err:
        answer = {"error": str(err)}
    out.write(json.dumps(answer, default=str) + "\n")
    out.close()
    return 0


def parametrize_with_checks(adapters: list[Any]) -> Any:
    """A pytest decorator: one test case per (adapter, check); the test calls ``check()``."""
    import pytest

    checks = [check for adapter in adapters for check in adapter_checks(adapter)]
    return pytest.mark.parametrize("check", checks, ids=[c.name for c in checks])
