"""Keras on JAX, trained by its documented JAX route: an epoch per compiled call.

Keras 3's guide "Writing a training loop from scratch in JAX" trains with
``model.stateless_call`` and ``optimizer.stateless_apply`` inside a
``jax.jit``-compiled step. Here the step runs under ``jax.lax.scan`` over all
of an epoch's batches, so one compiled call (shuffle included) does what
``Model.fit`` dispatches step by step: the same model, loss
(``CategoricalCrossentropy``, as ``compile(loss="categorical_crossentropy")``),
optimizer object and batches, so the same updates.

Imported only by the Keras adapter on the JAX backend (imports jax). The
compiled epoch is kept per model shape and settings for the process: a
worker compiles it in the first fit that needs it (that fit's time includes
it), and every later fit of the same shape reuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

#: Compiled epochs by (features, hidden units, classes, batch size, optimizer config).
_PROGRAMS: dict[tuple, tuple[Callable, Callable]] = {}


def _programs(model: Any, batch_size: int) -> tuple[Callable, Callable]:
    """(epoch, step): the jitted epoch over full batches and the jitted single step (for a short last batch)."""
    import keras

    optimizer = model.optimizer
    settings = {k: v for k, v in optimizer.get_config().items() if k != "name"}  # names count instances up
    key = (tuple(w.shape for w in model.trainable_weights), batch_size, repr(sorted(settings.items())))
    if key in _PROGRAMS:
        return _PROGRAMS[key]
    loss_fn = keras.losses.CategoricalCrossentropy()

    def loss_and_state(trainable: list, other: list, x: Any, y: Any) -> tuple[Any, list]:
        predicted, other = model.stateless_call(trainable, other, x, training=True)
        return loss_fn(y, predicted), other

    gradient = jax.value_and_grad(loss_and_state, has_aux=True)

    def step(state: tuple, batch: tuple) -> tuple[tuple, Any]:
        trainable, other, optimizer_state = state
        (loss, other), grads = gradient(trainable, other, *batch)
        trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, grads, trainable)
        return (trainable, other, optimizer_state), loss

    def epoch(state: tuple, key: Any, x: Any, y: Any, shuffle: bool) -> tuple[tuple, Any, Any]:
        key, sub = jax.random.split(key)
        order = jax.random.permutation(sub, x.shape[0]) if shuffle else jax.numpy.arange(x.shape[0])
        full = (x.shape[0] // batch_size) * batch_size
        xs = x[order][:full].reshape(-1, batch_size, x.shape[1])
        ys = y[order][:full].reshape(-1, batch_size, y.shape[1])
        state, losses = jax.lax.scan(step, state, (xs, ys))
        return state, key, (losses, order[full:])

    programs = (jax.jit(epoch, static_argnames="shuffle"), jax.jit(step))
    _PROGRAMS[key] = programs
    return programs


def train(model: Any, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, shuffle: bool, seed: int | None,
          on_epoch: Callable[[float], None]) -> None:  # fmt: skip
    """Train ``model`` (compiled, with its optimizer) for ``epochs``; ``on_epoch(mean loss)`` after each epoch.

    The last batch of an epoch is short when the rows do not divide by the
    batch size, as in ``Model.fit``; it is one more compiled step.
    """
    (epoch, step), state = _programs(model, batch_size), _state(model)
    key = jax.random.PRNGKey(np.random.SeedSequence(seed).generate_state(1)[0])
    xs, ys = jax.numpy.asarray(x), jax.numpy.asarray(y)
    for _ in range(epochs):
        state, key, (losses, rest) = epoch(state, key, xs, ys, shuffle)
        total = float(losses.sum()) * batch_size
        if rest.shape[0]:
            state, loss = step(state, (xs[rest], ys[rest]))
            total += float(loss) * rest.shape[0]
        _assign(model, state)
        on_epoch(total / xs.shape[0])


def _state(model: Any) -> tuple[list, list, list]:
    """The model's and its optimizer's variables as arrays: what the compiled programs take and return."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables])  # fmt: skip


def _assign(model: Any, state: tuple) -> None:
    """The trained values back into the model's and optimizer's variables (prediction and the next fit read them)."""
    trainable, other, optimizer_state = state
    for variables, values in zip((model.trainable_variables, model.non_trainable_variables,
                                  model.optimizer.variables), (trainable, other, optimizer_state)):  # fmt: skip
        for variable, value in zip(variables, values):
            variable.assign(value)


def train_ordered(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
    """One epoch of the scan route over ``x`` in the order given, no shuffle (the equivalence tests' batches)."""
    (epoch, _), state = _programs(model, batch_size), _state(model)
    state, _, _ = epoch(state, jax.random.PRNGKey(0), jax.numpy.asarray(x), jax.numpy.asarray(y), False)
    _assign(model, state)
