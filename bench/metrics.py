"""What a measured number means: the vocabulary of the metric registry (pure; no I/O, no pandas).

A :class:`Metric` is declared once (built-in ones beside their record field in
:mod:`hello_bench.record`, plugin ones through :func:`hello_bench.record.register` or the
``bench.metrics`` entry points) and carries everything a reader needs to treat
its numbers correctly, so that no table, comparison or gate has to know a
metric by name:

- **kind**: ``duration`` (seconds and their multiples), ``rate`` (per second),
  ``memory`` (MiB), ``count`` (a whole number of things: parameters, epochs,
  calls), ``fraction`` (a proportion of the test rows: accuracy, macro-F1),
  ``score`` (another statistic of the test rows: log loss), or ``index`` (a
  dimensionless diagnostic: a drift ratio, a load average).
- **direction** (``better``): ``lower``, ``higher``, or None (neither: a
  description, never gated).
- **machine**: whether it moves with the machine's speed. Only machine-dependent
  durations and rates are normalised by the raw-speed control, and only
  machine-dependent metrics carry a run-to-run variance between separate runs.
- how it is **compared** (derived from the kind): durations, rates and memory
  as B/A ratios (geometric means, intervals on the logs); fractions and scores
  as B - A differences over overlapping splits (Nadeau-Bengio's correction);
  counts exactly (identical, or changed by how much).
- its **gate**: whether it is gated by default and its default threshold
  (percent for ratios, points for fractions, units for scores and counts).
- its **valid range**, checked on every read (an accuracy of 1.7 is damage).
- **keyed columns**: a metric read from every key of a dict field (throughput
  per batch size) expands to one column per key here, in :meth:`Metric.expand`,
  and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

DURATION, RATE, MEMORY, COUNT, FRACTION, SCORE, INDEX = (
    "duration",
    "rate",
    "memory",
    "count",
    "fraction",
    "score",
    "index",
)
KINDS = (DURATION, RATE, MEMORY, COUNT, FRACTION, SCORE, INDEX)
#: How each kind is compared between two sides: ``ratio`` (B/A), ``difference`` (B - A) or ``exact``.
RATIO, DIFFERENCE, EXACT = "ratio", "difference", "exact"
COMPARED_AS = {DURATION: RATIO, RATE: RATIO, MEMORY: RATIO, COUNT: EXACT, FRACTION: DIFFERENCE, SCORE: DIFFERENCE,
               INDEX: RATIO}  # fmt: skip
#: The valid range of a kind's values, unless a metric says otherwise.
VALID = {DURATION: (0.0, math.inf), RATE: (0.0, math.inf), MEMORY: (0.0, math.inf), COUNT: (0.0, math.inf),
         FRACTION: (0.0, 1.0), SCORE: (-math.inf, math.inf), INDEX: (-math.inf, math.inf)}  # fmt: skip
#: A metric's gate threshold when it declares none: percent for ratios, points for fractions, units otherwise.
THRESHOLD = {DURATION: 10.0, RATE: 10.0, MEMORY: 10.0, COUNT: 0.0, FRACTION: 2.0, SCORE: 0.0, INDEX: 10.0}
#: Fewer calls than this give a tail percentile (p99) that is not an estimate of the tail.
TAIL_CALLS = 100
#: The report table a kind's metrics join unless a metric names one.
TABLE = {DURATION: "time", RATE: "throughput", MEMORY: "memory", COUNT: "counts", FRACTION: "quality", SCORE: "quality",
         INDEX: "diagnostics"}  # fmt: skip
#: Units that say a plugin metric's kind when it does not declare one.
_UNIT_KINDS = {"s": DURATION, "ms": DURATION, "us": DURATION, "ns": DURATION, "MiB": MEMORY, "MB": MEMORY,
               "bytes": MEMORY, "fraction": FRACTION}  # fmt: skip


def kind_from_unit(unit: str) -> str:
    """The kind a unit implies (``s`` a duration, ``MiB`` memory, ``.../s`` a rate); ``index`` otherwise."""
    if unit in _UNIT_KINDS:
        return _UNIT_KINDS[unit]
    return RATE if unit.endswith("/s") else INDEX


@dataclass(frozen=True)
class Metric:
    """One measured number and its meaning (see the module docstring).

    Attributes
    ----------
    column : str
        Column of the tidy frame; ``tput_{key}`` for a keyed metric (one column per key).
    path : tuple of str
        Where in a record: ``("latency", "p50_us")``; ``("throughput_sps", "*")`` for every key.
    label : str
        Long label, ``{key}`` filled in for keyed metrics: ``throughput batch 32``.
    kind : str
        One of :data:`KINDS`.
    unit : str
    better : {"lower", "higher", None}
    short : str
        The name users type (``--gate-metrics fit,p50``) and short lines print; keyed: ``tput`` for
        every key, ``tput:32`` for one.
    machine : bool
        Moves with the machine's speed (default: durations and rates).
    threshold : float, optional
        Default gate threshold, in the comparison's terms: percent for ratios, points for fractions,
        units for scores and counts.
    gated : bool
        Gated by default whenever the gate is on.
    valid : (low, high)
        Valid range of a stored value (default: the kind's).
    table : str
        The report table it belongs to (default: the kind's).
    scale, shown_unit
        How a value is displayed: ``value * scale`` in ``shown_unit`` (seconds shown as ms).
    summary : bool
        A column of the summary table and ``summary.csv``.
    compare : bool
        Compared by ``bench compare`` (and so available to the gate).
    measure : callable, optional
        ``measure(clf, split) -> float | None``, run in the worker after the trial's timed work; its value
        is stored under ``record["metrics"][column]``.
    """

    column: str
    path: tuple[str, ...]
    label: str
    kind: str = INDEX
    unit: str = ""
    better: str | None = "lower"
    short: str = ""
    machine: bool | None = None
    threshold: float | None = None
    gated: bool = False
    valid: tuple[float, float] | None = None
    table: str = ""
    scale: float = 1.0
    shown_unit: str = ""
    summary: bool = False
    compare: bool = False
    #: A tail percentile: an estimate needs enough calls (its field's count, :data:`TAIL_CALLS`).
    tail: bool = False
    #: The short name of the wall-clock metric this one is the process CPU time of (the same calls): ``fit``.
    cpu_of: str = ""
    measure: Callable[[Any, Any], float | None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.column!r}: kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if self.better not in ("lower", "higher", None):
            raise ValueError(f"metric {self.column!r}: better must be 'lower', 'higher' or None; got {self.better!r}")
        defaults = {"short": self.short or self.column.replace("_{key}", ""),
                    "threshold": THRESHOLD[self.kind] if self.threshold is None else self.threshold,
                    "machine": self.kind in (DURATION, RATE) if self.machine is None else self.machine,
                    "valid": self.valid or VALID[self.kind], "table": self.table or TABLE[self.kind],
                    "shown_unit": self.shown_unit or self.unit}  # fmt: skip
        for name, value in defaults.items():
            object.__setattr__(self, name, value)

    @classmethod
    def measured(
        cls, column: str, measure: Callable[[Any, Any], float | None], label: str = "", unit: str = "",
        better: str | None = "lower", summary: bool = True, compare: bool = False, kind: str = "", **meaning: Any,
    ) -> Metric:  # fmt: skip
        """A metric measured by ``measure(clf, split)`` in the worker, stored under ``record["metrics"][column]``.

        ``kind`` defaults to what ``unit`` implies (:func:`kind_from_unit`); ``meaning`` takes the other
        attributes (``threshold``, ``gated``, ``valid``, ``machine``, ``short``, ``table``). Plugins expose
        such objects through the ``bench.metrics`` entry-point group.
        """
        return cls(column, ("metrics", column), label or column, kind or kind_from_unit(unit), unit, better,
                   summary=summary, compare=compare, measure=measure, **meaning)  # fmt: skip

    # -- what it means -------------------------------------------------------------------------
    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"

    @property
    def directed(self) -> bool:
        return self.better in ("lower", "higher")

    @property
    def compared_as(self) -> str:
        """``ratio``, ``difference`` or ``exact`` (:data:`COMPARED_AS`)."""
        return COMPARED_AS[self.kind]

    @property
    def normalisable(self) -> bool:
        """Divided by the raw-speed control between machines or runs: machine-dependent durations and rates only."""
        return bool(self.machine) and self.kind in (DURATION, RATE)

    @property
    def test_rows(self) -> bool:
        """A statistic of the test rows: its per-split values share training rows (Nadeau-Bengio's correction)."""
        return self.kind in (FRACTION, SCORE)

    # -- keyed columns: the one place they expand ------------------------------------------------
    @property
    def keyed(self) -> bool:
        return "{key}" in self.column

    @property
    def prefix(self) -> str:
        return self.column.split("{key}")[0]

    def key_of(self, column: str) -> str | None:
        """The key of one of this metric's columns (``tput_32`` -> ``32``); '' when unkeyed; None: not its column."""
        if not self.keyed:
            return "" if column == self.column else None
        key = column[len(self.prefix) :]
        return key if column.startswith(self.prefix) and key.isdigit() else None

    def expand(self, columns: Iterable[str]) -> list[str]:
        """This metric's columns among ``columns``: itself, or one per key in key order (``tput_1``, ``tput_32``)."""
        mine = [c for c in columns if self.key_of(c) is not None]
        return sorted(mine, key=lambda c: int(self.key_of(c) or 0)) if self.keyed else mine

    def column_for(self, key: str) -> str:
        return self.column.format(key=key) if self.keyed else self.column

    def name(self, column: str, unit: bool = False) -> str:
        """The label of one of its columns (``throughput batch 32``), with its shown unit if asked."""
        text = self.label.format(key=self.key_of(column) or "")
        return f"{text} ({self.shown_unit})" if unit and self.shown_unit else text

    def short_name(self, column: str) -> str:
        """What users type for one column: ``fit``, or ``tput:32`` for one key of a keyed metric."""
        key = self.key_of(column)
        return f"{self.short}:{key}" if self.keyed and key else self.short

    # -- values ------------------------------------------------------------------------------------
    def invalid(self, value: object) -> str | None:
        """Why a stored value is impossible for this metric (outside its valid range, not a number); None when fine."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{value!r} is not a number"
        if math.isnan(value):
            return None
        low, high = self.valid or VALID[self.kind]
        if not low <= value <= high:
            return f"{value!r} is outside its valid range [{_bound(low)}, {_bound(high)}]"
        return None

    def shown(self, value: float) -> float:
        """A value in the unit it is displayed in."""
        return value * self.scale


def _bound(x: float) -> str:
    return f"{x:g}" if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def declare(label: str, kind: str, **meaning: Any) -> dict:
    """A metric read from the field it is declared on (``key``: a key of a dict field, ``*``: every key).

    ``meaning`` takes :class:`Metric`'s attributes (``better``, ``short``, ``threshold``, ``gated``,
    ``summary``, ``compare``, ``table``, ``scale``, ``shown_unit``, ``valid``, ``machine``, ``unit``) and
    ``key``/``column`` for where in the field it is.
    """
    return dict(label=label, kind=kind, **meaning)
