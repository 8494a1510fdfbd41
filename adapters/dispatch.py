"""What one training step and one predict call cost a framework when there is (almost) nothing to compute.

At iris' size a framework's time is mostly its cost per call: Python, the
dispatcher, autograd, the optimiser's loop over parameters, a compiled
function's entry. :func:`empty_call_costs` measures it the same way for every
iterative adapter, through the adapter's own training and predict code with
the trial's own settings (batch size, ``steps_per_execution``, ``compile``,
``fused``...), on a model with one input and one hidden unit:

- **per step**: the same number of epochs is run on ``SMALL`` and on
  ``LARGE`` batches per epoch; the difference of the two times over the
  difference in steps. Everything paid once per fit or once per epoch is in
  both times and cancels. Epochs are doubled until the larger run takes
  ``TARGET_S``, so a fast framework is not measured below the timer's
  resolution.
- **per epoch** (the data pipeline, callbacks, the shuffle): twice the
  epochs on ``SMALL`` batches, less the steps' share.
- **per predict call**: the median of single-row ``predict_proba`` calls.

The model is built and traced once, and warmed on both shapes before
anything is timed: compilation is not a per-call cost.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: Batches per epoch of the timed runs.
SMALL, LARGE = 4, 68
#: The larger run's duration to reach by doubling epochs (and the most epochs tried).
TARGET_S, MAX_EPOCHS = 0.1, 1024
#: Timed rounds (the fastest of each run is used, as timeit does: the cost without a neighbour's noise), and
#: predict calls.
REPEATS, PREDICT_CALLS, PREDICT_BUDGET_S = 5, 200, 0.1
#: The largest batch the empty model is trained on (a larger batch size is measured at this one: the cost per
#: call, not the arithmetic of a million rows).
MAX_BATCH = 1024


def _data(batches: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    n = batches * batch_size
    X = np.linspace(-1.0, 1.0, n, dtype=np.float32).reshape(n, 1)
    return X, (np.arange(n) % 2).astype(np.int64)


Timer = Callable[[], int]


def _timed_train(tiny: Any, X: np.ndarray, y: np.ndarray, epochs: int, timer: Timer) -> int:
    tiny.epochs = epochs
    start = timer()
    tiny._train(X, y, 0)
    tiny.sync()
    return timer() - start


def step_and_epoch_costs(tiny: Any, batch_size: int, timer: Timer = time.perf_counter_ns) -> tuple[float, float]:
    """Seconds per optimiser step and per epoch of ``tiny`` (built), from three runs' differences.

    ``T(b, e)`` (``e`` epochs of ``b`` batches) is a fixed cost plus ``e``
    epochs' cost plus ``e * b`` steps' cost: ``T(LARGE, e) - T(SMALL, e)``
    gives the step, ``T(SMALL, 2e) - T(SMALL, e)`` the epoch (its steps taken out).
    """
    small, large = _data(SMALL, batch_size), _data(LARGE, batch_size)
    _timed_train(tiny, *large, 1, timer)  # traces, compiles, allocates: not a per-call cost
    _timed_train(tiny, *small, 1, timer)
    epochs = 1
    while _timed_train(tiny, *large, epochs, timer) < TARGET_S * 1e9 and epochs < MAX_EPOCHS:
        epochs *= 2
    runs: dict[str, list[int]] = {"short": [], "long": [], "twice": []}
    for _ in range(REPEATS):  # interleaved, so a change of machine speed reaches every run
        runs["short"].append(_timed_train(tiny, *small, epochs, timer))
        runs["long"].append(_timed_train(tiny, *large, epochs, timer))
        runs["twice"].append(_timed_train(tiny, *small, 2 * epochs, timer))
    short, long, twice = (min(v) / 1e9 for v in runs.values())
    step = (long - short) / (epochs * (LARGE - SMALL))
    epoch = (twice - short) / epochs - SMALL * step
    # A cost below what the differences resolve (a compiled loop's few ns) is noise around 0: it is 0.
    return max(0.0, step), max(0.0, epoch)


def predict_cost(tiny: Any, x: np.ndarray, timer: Timer = time.perf_counter_ns) -> float:
    """Seconds per single-row ``predict_proba`` call (median of up to ``PREDICT_CALLS``, at least 10)."""
    tiny.predict_proba(x)
    times: list[int] = []
    deadline = timer() + int(PREDICT_BUDGET_S * 1e9)
    while len(times) < PREDICT_CALLS and (len(times) < 10 or timer() < deadline):
        start = timer()
        tiny.predict_proba(x)
        tiny.sync()
        times.append(timer() - start)
    return statistics.median(times) / 1e9


def empty_call_costs(clf: Any, **tiny_params: Any) -> dict[str, float]:
    """``step_overhead_s``, ``epoch_overhead_s`` and ``predict_overhead_s`` of ``clf``'s settings on a model with
    nothing to compute.

    ``tiny_params`` shrink the model (``hidden_units=1`` for the MLPs); every
    other parameter stays the trial's.
    """
    from sklearn.base import clone

    batch_size = min(int(clf.batch_size), MAX_BATCH)
    tiny = clone(clf).set_params(**tiny_params, batch_size=batch_size, random_state=0)
    X, y = _data(LARGE, batch_size)
    tiny.initialize(X, y)
    step, epoch = step_and_epoch_costs(tiny, batch_size)
    return {"step_overhead_s": step, "epoch_overhead_s": epoch, "predict_overhead_s": predict_cost(tiny, X[:1])}
