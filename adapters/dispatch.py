"""What one training step and one predict call cost a framework when there is (almost) nothing to compute.

At iris' size a framework's time is mostly its cost per call: Python, the
dispatcher, autograd, the optimiser's loop over parameters, a compiled
function's entry. :func:`empty_call_costs` measures it the same way for every
iterative adapter, through the adapter's own training and predict code with
the trial's own settings (batch size, ``steps_per_execution``, ``compile``,
``fused``...), on a model with one input and one hidden unit:

- **per step**: fits with epochs of ``SMALL`` and of ``LARGE`` batches;
  the difference of their median epoch (each adapter times its epochs,
  ``epoch_times_ns_``) over the difference in steps. What a fit pays before
  its first epoch (hundreds of noisy milliseconds for Keras on TensorFlow)
  is outside every epoch; what an epoch pays besides its steps is in both
  and cancels. Epochs are doubled until the larger fit takes ``TARGET_S``,
  so a fast framework is not measured below the timer's resolution; the
  larger epochs grow until the difference stands out of the epochs'
  spread, so noise is never credited as a cost.
- **per epoch** (the data pipeline, callbacks, the shuffle): the median
  epoch of ``SMALL`` batches less its steps.
- **per predict call**: the median of single-row ``predict_proba`` calls.

The model is built and traced once, and warmed on both shapes before
anything is timed: compilation is not a per-call cost.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: Batches per epoch of the shorter and (to begin with) the longer timed run.
SMALL, LARGE = 4, 68
#: The longer run's duration to reach by doubling epochs (from the fewest that leave two epochs after the first,
#: to the most tried).
TARGET_S, MIN_EPOCHS, MAX_EPOCHS = 0.1, 3, 1536
#: Timed rounds (the fastest of each run is used, as timeit does: the cost without a neighbour's noise), and
#: predict calls.
REPEATS, PREDICT_CALLS, PREDICT_BUDGET_S = 5, 200, 0.1
#: A difference counts once it is this many times the wider of the two runs' spreads (max - min); until then
#: the longer run grows (8x, up to ``MAX_ROWS`` rows per epoch and 64x the epochs) while the probe is within
#: ``BUDGET_S`` (the default budget; the run's ``call_cost_budget_s`` timing setting).
RESOLVE, GROW, MAX_ROWS, BUDGET_S = 2.0, 8, 2**18, 30.0
#: Runs longer than this are timed ``SLOW_REPEATS`` times, not ``REPEATS``.
SLOW_RUN_S, SLOW_REPEATS = 0.1, 3
#: The largest batch the empty model is trained on (a larger batch size is measured at this one: the cost per
#: call, not the arithmetic of a million rows).
MAX_BATCH = 1024


def _data(batches: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    n = batches * batch_size
    X = np.linspace(-1.0, 1.0, n, dtype=np.float32).reshape(n, 1)
    return X, (np.arange(n) % 2).astype(np.int64)


Timer = Callable[[], int]


def _epoch_times(tiny: Any, X: np.ndarray, y: np.ndarray, epochs: int, timer: Timer) -> list[int]:
    """One fit of ``epochs`` epochs; the duration of each but the first (the adapter's ``epoch_times_ns_``: what
    a fit pays before its first epoch and in it once per fit, a new iterator, a retrace, is left out), or the
    run's mean where it records none."""
    tiny.epochs = epochs
    start = timer()
    tiny._train(X, y, 0)
    tiny.sync()
    total = timer() - start
    times = list(getattr(tiny, "epoch_times_ns_", None) or [])
    return [int(t) for t in times[1:]] if len(times) == epochs > 1 else [total // epochs] * epochs


def _spread(values: list[int]) -> float:
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def _per_batch(run: Callable[[int], list[int]], low: int, high: int, cap: int, deadline: int,
               timer: Timer) -> tuple[float, float]:  # fmt: skip
    """(median epoch at ``low`` batches, ns per batch more) from interleaved runs at ``low`` and ``high``.

    ``high`` grows while the difference of the median epochs does not stand out of their spread (a noisy
    machine hides a few us per step in an epoch of tens of ms). At ``cap`` a difference still inside the
    spread is a cost below what can be resolved: 0. At the deadline it is not known: NaN, never a guess.
    """
    while True:
        begin, lows, highs = timer(), run(low), run(high)
        repeats = SLOW_REPEATS if sum(highs) > SLOW_RUN_S * 1e9 else REPEATS
        for _ in range(repeats - 1):  # interleaved, so a change of machine speed reaches both
            lows += run(low)
            highs += run(high)
        difference = statistics.median(highs) - statistics.median(lows)
        # The next round's longer runs take about GROW times these: start it only if it fits the budget.
        next_round = (timer() - begin) * (1 + GROW) / 2
        if difference > RESOLVE * max(_spread(lows), _spread(highs)):
            return statistics.median(lows), difference / (high - low)
        if GROW * high > cap:
            return statistics.median(lows), 0.0
        if timer() + next_round > deadline:
            return statistics.median(lows), math.nan
        high *= GROW


def step_and_epoch_costs(
    tiny: Any, batch_size: int, timer: Timer = time.perf_counter_ns, budget_s: float = BUDGET_S
) -> tuple[float, float]:
    """Seconds per optimiser step and per epoch of ``tiny`` (built), from its epochs' durations; NaN for a cost
    the probe could not resolve within ``budget_s``.

    An epoch of ``b`` batches costs the epoch's own work plus ``b`` steps:
    the difference between epochs of ``SMALL`` and of more batches gives the
    step, an epoch of ``SMALL`` batches less its steps the epoch's own work.
    """
    deadline = timer() + int(budget_s * 1e9)
    data: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def batches(b: int, epochs: int) -> list[int]:
        if b not in data:
            data[b] = _data(b, batch_size)
            _epoch_times(tiny, *data[b], 1, timer)  # traces, compiles, allocates: not a per-call cost
        return _epoch_times(tiny, *data[b], epochs, timer)

    epochs = MIN_EPOCHS
    while sum(batches(LARGE, epochs)) < TARGET_S * 1e9 and epochs < MAX_EPOCHS:
        epochs *= 2
    cap = max(LARGE, MAX_ROWS // batch_size)
    epoch, step = _per_batch(lambda b: batches(b, epochs), SMALL, LARGE, cap, deadline, timer)
    if math.isnan(step):
        return math.nan, math.nan
    return step / 1e9, max(0.0, epoch - SMALL * step) / 1e9


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


def empty_call_costs(clf: Any, budget_s: float = BUDGET_S, **tiny_params: Any) -> dict[str, float]:
    """The cost per ``step``, per ``epoch`` and per ``predict`` call of ``clf``'s settings on a model with
    nothing to compute.

    ``tiny_params`` shrink the model (``hidden_units=1`` for the MLPs); every
    other parameter stays the trial's.
    """
    from sklearn.base import clone

    batch_size = min(int(clf.batch_size), MAX_BATCH)
    tiny = clone(clf).set_params(**tiny_params, batch_size=batch_size, random_state=0)
    X, y = _data(LARGE, batch_size)
    tiny.initialize(X, y)
    step, epoch = step_and_epoch_costs(tiny, batch_size, budget_s=budget_s)
    return {"step": step, "epoch": epoch, "predict": predict_cost(tiny, X[:1])}
