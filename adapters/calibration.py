"""Calibration wrappers: a real adapter that adds an exact fraction of its own measured cost.

``bench calibrate`` needs a slowdown it knows exactly. :func:`wrapper` makes, for any registered
adapter, a subclass with three more parameters:

- ``slowdown`` (a fraction, default 0): every ``fit``, ``predict_proba`` and ``predict_proba_stock``
  call is timed (``perf_counter_ns``, after the adapter's ``sync``), then the wrapper busy-waits for
  ``slowdown`` times that measured duration, so each timed call costs exactly ``1 + slowdown`` times
  what the real adapter cost that time (to the clock's resolution, about 100 ns). A busy wait, not a
  sleep: the extra cost is CPU time on the same core, as a slower implementation's would be;
- ``side`` and ``repeat`` (names only): two identical sides of an A/A comparison, and the repeats
  of a calibration, need distinct adapter labels inside one run.

Every call is timed whatever the slowdown, so side A (0) and side B run the same code. Accuracy is
untouched. The wrappers need learning curves off (a curve's evaluation inside ``fit`` would be
slowed too) and cover the adapter's own predict paths, not its serving paths; ``bench calibrate``
runs with both off.

The classes are made on demand from the attribute name (``hello_bench.adapters.calibration:sklearn-lr`` wraps
``sklearn-lr``), so they can be registered like any plugin (:func:`register`) and a worker process
finds them through ``BENCH_ADAPTERS``.
"""

from __future__ import annotations

import inspect
import os
import time
from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import Interval

from .base import BenchClassifier, keyword_init

#: Registered names of calibration wrappers: this prefix, then the wrapped adapter's name.
PREFIX = "calibrated-"
#: The parameters a wrapper adds to the wrapped adapter's.
EXTRA = {"slowdown": 0.0, "side": "a", "repeat": 0}
_MADE: dict[str, type] = {}


def spin(ns: int, clock: Any = None) -> None:
    """Busy-wait ``ns`` nanoseconds (a CPU cost, not a sleep) on ``clock`` (default: perf_counter_ns)."""
    if ns <= 0:
        return
    clock = clock or time.perf_counter_ns
    deadline = clock() + ns
    while clock() < deadline:
        pass


def _defaults(cls: type) -> dict[str, Any]:
    params = inspect.signature(cls).parameters  # the class signature: its __init__ without self
    return {n: p.default for n, p in params.items() if n != "self" and p.default is not inspect.Parameter.empty}


def wrapper(name: str) -> type[BenchClassifier]:
    """The calibration wrapper of the adapter registered as ``name`` (made once per process)."""
    if name in _MADE:
        return _MADE[name]
    from .registry import adapter_class

    inner = adapter_class(name)
    if any(k in _defaults(inner) for k in EXTRA):
        raise TypeError(f"{name} already has a parameter named {', '.join(k for k in EXTRA if k in _defaults(inner))}")

    class Calibrated(inner):  # type: ignore[valid-type,misc]
        __doc__ = f"``{name}`` with an exact, known slowdown (hello_bench.adapters.calibration)."
        _parameter_constraints: dict = {
            **inner._parameter_constraints,
            "slowdown": [Interval(Real, 0, None, closed="left")],
            "side": [str],
            "repeat": [Interval(Integral, 0, None, closed="left")],
        }

        def _timed(self, call: Any, *args: Any) -> Any:
            start = time.perf_counter_ns()
            out = call(*args)
            self.sync()
            spin(int(float(self.slowdown) * (time.perf_counter_ns() - start)))
            return out

        def fit(self, X: Any, y: Any) -> Any:
            return self._timed(super().fit, X, y)

        def predict_proba(self, X: Any) -> Any:
            return self._timed(super().predict_proba, X)

        def predict_proba_stock(self, X: Any) -> Any:
            return self._timed(super().predict_proba_stock, X)

    Calibrated.__init__ = keyword_init(**_defaults(inner), **EXTRA)  # type: ignore[method-assign]
    Calibrated.__name__ = Calibrated.__qualname__ = f"Calibrated{inner.__name__}"
    Calibrated.__module__ = __name__
    _MADE[name] = Calibrated
    return Calibrated


def __getattr__(name: str) -> type[BenchClassifier]:
    """``hello_bench.adapters.calibration:NAME`` is the wrapper of the adapter registered as NAME."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return wrapper(name)
    except Exception as err:  # the registry reports it as a load error naming the target
        raise AttributeError(f"no calibration wrapper for {name!r}: {err}") from None


def register(names: list[str]) -> list[str]:
    """Register ``calibrated-NAME`` for each adapter name (through ``BENCH_ADAPTERS``, which workers inherit)."""
    from .registry import refresh

    entries = [f"{PREFIX}{n}={__name__}:{n}" for n in names]
    current = [e for e in os.environ.get("BENCH_ADAPTERS", "").split(",") if e]
    os.environ["BENCH_ADAPTERS"] = ",".join([*current, *(e for e in entries if e not in current)])
    refresh()
    return [f"{PREFIX}{n}" for n in names]
