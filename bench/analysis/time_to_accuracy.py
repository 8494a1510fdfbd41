"""Time to accuracy that selects nothing: one rule for every adapter, the target set without any test row.

**The target.** A user's ``--target-accuracy``, or by default a level set
from the *training* rows only (:func:`relative_target`): :data:`TRAIN_SHARE`
of the way from a uniform guess among the classes (accuracy 1/classes) to
the median training accuracy of the adapter that fits its own training rows
least well. It is stated relative to what the adapters reach on this data,
so it means something on any data (a fixed level does not: 0.933 on iris is
out of reach on a harder task), and it reads no test row: the former default,
99% of the best median final *test* accuracy, picked the bar after seeing
who cleared it. Records without a training accuracy (made before it was
recorded) fall back to a rule that reads no accuracy at all: an error at
most :data:`TARGET_ERROR_SHARE` of a uniform guess's,
``1 - share * (1 - 1/n_classes)`` (iris: 0.933). A target no adapter reaches
says so (and that ``--target-accuracy`` sets another); it is never lowered
to fit the test results.

**Reached means reached and held.** Held-out accuracy is measured after every
epoch on the split's *test rows* (the record's ``curve``); a model that
touched the target at one epoch and fell back was given many chances to be
lucky (100 epochs against the logistic regression's one fit). So a split
counts as reached only when the model the run ends with is at or above the
target, and its time is the training time from which accuracy stayed there
to the end. The logistic regression's single fit is the same rule on a
one-point curve: reached at its fit time if its (final, only) accuracy
meets the target. Every adapter is judged on its final model, as its
accuracy is; the test rows only date *when* that level was reached for good,
they choose no epoch and no model.

**Not reached is censored**, counted as +inf, never dropped: medians come
with a distribution-free interval from order statistics, in which +inf
simply sorts last. **Orderings** come only from a paired sign test per
split (+inf loses to any finite time; two +inf tie), Holm-adjusted over the
pairs compared, never from overlapping or disjoint intervals.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from hello_bench.analysis import stats
from hello_bench.record import role

#: Default target: error at most this share of the error of a uniform guess among the classes.
TARGET_ERROR_SHARE = 0.10
#: Accuracies are k/n_test fractions: a target equal to one must count as met despite float noise.
EPS = 1e-12


#: The default target goes this share of the way from a uniform guess to the weakest training accuracy.
TRAIN_SHARE = 0.9


def relative_target(n_classes: int, train_accuracy: dict[str, float]) -> tuple[float, str]:
    """``TRAIN_SHARE`` of the way from a uniform guess (1/classes) to the lowest of the adapters' (median)
    training accuracies, and which adapter that is; read from training rows only."""
    if n_classes < 2 or not train_accuracy:
        raise ValueError("a relative target needs at least 2 classes and one adapter's training accuracy")
    weakest = min(sorted(train_accuracy), key=lambda a: train_accuracy[a])
    chance = 1.0 / n_classes
    return chance + TRAIN_SHARE * (max(train_accuracy[weakest], chance) - chance), weakest


def default_target(n_classes: int) -> float:
    """``1 - TARGET_ERROR_SHARE * (1 - 1/n_classes)``: set by the task's classes, never by a measured accuracy."""
    if n_classes < 2:
        raise ValueError(f"a classification target needs at least 2 classes; got {n_classes}")
    return 1.0 - TARGET_ERROR_SHARE * (1.0 - 1.0 / n_classes)


def curve_of(record: dict) -> tuple[list[float], list[float]]:
    """Cumulative training time and held-out accuracy per epoch; a model without a curve is one point (its fit)."""
    curve = record.get("curve") or {}
    accuracies = curve.get("test_accuracy")
    if accuracies is not None and len(accuracies):
        return [float(t) for t in curve["train_time_s"]], [float(a) for a in accuracies]
    return [float(record[role("fit").column])], [float(record[role("accuracy").column])]


def time_held(times: Sequence[float], accuracies: Sequence[float], target: float) -> float:
    """Training time from which accuracy stayed at or above ``target`` to the end; +inf if the end is below it."""
    held = math.inf
    for t, acc in zip(reversed(times), reversed(accuracies)):
        if acc < target - EPS:
            break
        held = t
    return held


def time_to_target(record: dict, target: float) -> float:
    """Seconds of training until the target was reached and held (see the module docstring); +inf if never."""
    return time_held(*curve_of(record), target)


def split_time(times: Sequence[float]) -> float:
    """One time per split: the median over its init seeds (+inf when most of them never got there)."""
    return float(np.median(times))


@dataclass(frozen=True)
class Ordering:
    """A paired per-split comparison of two adapters' times to target."""

    a: str
    b: str
    test: stats.SignTest
    p_holm: float

    @property
    def splits(self) -> int:
        return self.test.a_smaller + self.test.b_smaller + self.test.ties


def orderings(times: dict[str, dict[Hashable, float]], pairs: Sequence[tuple[str, str]]) -> list[Ordering]:
    """Sign tests for each pair over the splits both hold, Holm-adjusted over the distinct pairs.

    ``times``: adapter -> {split identity: time (+inf: not reached)}. A pair
    and its reverse are one test; a pair without a shared split, or whose
    splits all tie, has no p-value and is not in the family.
    """
    seen: set[frozenset] = set()
    kept = []
    for a, b in pairs:
        if a == b or frozenset((a, b)) in seen or a not in times or b not in times:
            continue
        seen.add(frozenset((a, b)))
        shared = set(times[a]) & set(times[b])  # the order does not matter to a sign test
        kept.append((a, b, stats.sign_test([times[a][s] for s in shared], [times[b][s] for s in shared])))
    adjusted = stats.holm([t.p for _, _, t in kept])
    return [Ordering(a, b, t, p) for (a, b, t), p in zip(kept, adjusted)]
