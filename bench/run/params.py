"""Adapter parameters of any JSON type, one way from config to record and back.

A parameter may be a number, a string, a boolean, or a list or table of them
(``hidden_layer_sizes = [16, 16]``, ``class_weight = { setosa = 2.0 }``). The
same value has to survive the config, the matrix (where a spec is a dict key,
so it must be hashable), the trial label and id, the worker, the record and a
resume (which compares the stored config as JSON). So a value is checked
once (:func:`check_param`: JSON types only, finite numbers, bounded depth and
size), kept *frozen* inside specs (:func:`freeze`: lists become tuples,
tables become :class:`FrozenTable`) and *thawed* back to plain JSON data
(:func:`thaw`) wherever a model, a record or a file gets it.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from hello_bench.errors import UserError

#: Deeper or bigger values are refused: a parameter is a setting, not a dataset.
MAX_DEPTH = 16
MAX_ITEMS = 10_000
#: Longer label texts are shortened to a hash of the value (labels name trials, groups and log files).
MAX_LABEL = 120


class FrozenTable(tuple):
    """A table (dict) as a hashable, sorted tuple of (key, frozen value) pairs."""


def check_param(key: str, value: Any, where: str) -> None:
    """UserError unless ``value`` is JSON data: finite numbers, string keys, at most MAX_DEPTH deep."""
    problem = _problem(value, 0, [0])
    if problem:
        raise UserError(f"{where}: parameter {key!r} {problem}.")


def _problem(value: Any, depth: int, count: list[int]) -> str | None:
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_ITEMS:
        return f"is nested deeper than {MAX_DEPTH} levels or holds more than {MAX_ITEMS:,} values"
    if value is None or isinstance(value, (bool, str)):
        return None
    if isinstance(value, int):  # records store 64-bit integers, as TOML does
        return None if -(2**63) <= value < 2**64 else f"is an integer too large to store ({value})"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"must be a finite number, got {value!r}"
    if isinstance(value, (list, tuple)):
        return next(filter(None, (_problem(v, depth + 1, count) for v in value)), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "has a table with keys that are not strings"
        return next(filter(None, (_problem(v, depth + 1, count) for v in value.values())), None)
    return f"must be a number, string, boolean, list or table; got {type(value).__name__} {str(value)[:40]!r}"


def freeze(value: Any) -> Any:
    """A hashable form of a JSON value (lists -> tuples, tables -> FrozenTable)."""
    if isinstance(value, dict):
        return FrozenTable(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)) and not isinstance(value, FrozenTable):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON value back from :func:`freeze` (idempotent on plain values)."""
    if isinstance(value, FrozenTable):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


def freeze_all(params: dict) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, freeze(v)) for k, v in params.items()))


def thaw_all(params: tuple[tuple[str, Any], ...] | dict) -> dict:
    items = params.items() if isinstance(params, dict) else params
    return {k: thaw(v) for k, v in items}


def label_text(value: Any) -> str:
    """How a value reads in a label: scalars as before (``3``, ``adam``), lists and tables as compact JSON."""
    plain = thaw(value)
    if isinstance(plain, (list, dict)):
        return json.dumps(plain, separators=(",", ":"), sort_keys=True)
    return str(plain)


def params_label(params: tuple[tuple[str, Any], ...]) -> str:
    """``(k=v,...)`` for a label, or ``(#<hash>)`` when that would be longer than MAX_LABEL."""
    text = ",".join(f"{k}={label_text(v)}" for k, v in params)
    if len(text) > MAX_LABEL:
        digest = hashlib.sha1(json.dumps(thaw_all(params), sort_keys=True).encode()).hexdigest()[:12]
        text = f"#{digest}"
    return f"({text})"
