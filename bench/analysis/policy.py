"""What the gate tests and how strictly: one :class:`GatePolicy` value, whoever builds it.

``bench compare`` builds it from its flags (:func:`GatePolicy.from_options`), a config's ``[gate]``
table from the same option names, ``bench calibrate`` from its plan, and ``bench run --until-precise``
from its stopping rule (:meth:`GatePolicy.at_look`); the comparison (:mod:`hello_bench.analysis.comparison`)
reads only this value. Adding a gate option is one entry in :data:`OPTIONS` (its flag, TOML key, type,
check and help) and the attribute it sets here; the CLI and the config loader iterate :data:`OPTIONS`.

Which metrics are gated: by default those the registry marks ``gated`` (what a CI run measures
precisely: fit time, warm predict p50, throughput, accuracy); ``--gate-metrics`` names others (the
cold first predict, p99, peak RSS, a plugin's count), each at its own default threshold unless
``--threshold NAME=VALUE`` sets one. ``--fail-above PCT`` turns the gate on and sets the threshold of
every gated ratio metric (times, rates, memory) that has no threshold of its own on the command line;
``--fail-accuracy-drop POINTS`` sets accuracy's (and every gated fraction's) in points.

A sequential gate (``--until-precise``) looks after every round of splits. Look ``k`` tests at
``alpha / (k (k + 1))``: these levels sum to ``alpha`` over any number of looks, so stopping at the
first PASS or FAIL keeps both error rates at most ``alpha`` (a union bound over looks; within a look,
Holm over the FAIL tests and the intersection-union PASS rule as in one look).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hello_bench.errors import UserError
from hello_bench.metrics import DIFFERENCE, EXACT, RATIO, Metric
from hello_bench.record import find_metric, metrics

#: The gate's level: :data:`hello_bench.analysis.stats.ALPHA` (not imported, so the CLI parser starts without scipy).
ALPHA = 0.05


def spent(look: int, alpha: float = ALPHA) -> float:
    """The level of look ``look`` (1, 2, ...) of a sequential gate: alpha / (look (look + 1)); they sum to alpha."""
    return alpha / (look * (look + 1))


@dataclass(frozen=True)
class GatePolicy:
    """Everything that decides a comparison's gate (see the module docstring).

    Attributes
    ----------
    on : bool
        Whether the gate runs at all (``bench compare`` without gate options only describes).
    metrics : tuple of str, optional
        Metrics gated by name (short names, ``tput:32`` for one key); None: the registry's defaults.
    thresholds : mapping of str to float
        Per-metric thresholds by name, in the metric's terms (percent, points, units).
    fail_above : float, optional
        Percent: the threshold of every gated ratio metric without one of its own.
    accuracy_drop : float, optional
        Points: the threshold of every gated fraction without one of its own.
    equivalence_margin : float, optional
        A TOST margin for accuracy (fraction), described, not gated.
    calibration : str, optional
        The calibration run whose run-to-run variance gates separate runs (None: the newest of the machine).
    wall_only : bool
        Gate wall-clock times only. By default a gated wall-clock time is decided on its process CPU time where
        the baseline's wall time was stretched by a busy machine (:func:`hello_bench.analysis.comparison.busy_ratio`).
    look : int, optional
        The look of a sequential gate (``--until-precise``); None: a single look at alpha.
    """

    on: bool = False
    metrics: tuple[str, ...] | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    fail_above: float | None = None
    accuracy_drop: float | None = None
    equivalence_margin: float | None = None
    calibration: str | None = None
    look: int | None = None
    alpha: float = ALPHA
    #: Gate wall-clock times only; by default, where the baseline's wall time was stretched by a busy machine, a
    #: timed call is decided on its process CPU time.
    wall_only: bool = False

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_options(cls, **given: Any) -> GatePolicy:
        """A validated policy from option values by :data:`OPTIONS` name (None: not given); UserError if bad."""
        values: dict[str, Any] = {}
        for option in OPTIONS:
            value = given.get(option.name)
            if value is not None:
                values[option.name] = option.check(value)
        gate_on = any(values.get(o.name) is not None for o in OPTIONS if o.turns_on)
        policy = cls(on=gate_on, **values)
        policy.resolve()  # every named metric and threshold is checked now, before anything is written
        return policy

    def at_look(self, look: int) -> GatePolicy:
        """The same policy at look ``look`` of a sequential gate."""
        return replace(self, look=look)

    @property
    def accuracy_only(self) -> bool:
        """Only ``--fail-accuracy-drop`` was given: the gate is about accuracy alone."""
        return (
            self.accuracy_drop is not None and self.fail_above is None and not self.thresholds and self.metrics is None
        )

    @property
    def level(self) -> float:
        """The alpha this look tests at (alpha itself for a single look)."""
        return self.alpha if self.look is None else spent(self.look, self.alpha)

    # -- which metrics, at what threshold ---------------------------------------------------------------
    def resolve(self) -> dict[str, Metric]:
        """The metrics named by ``metrics`` and ``thresholds`` (by name), each checked: UserError naming a bad one."""
        named: dict[str, Metric] = {}
        for name in (*(self.metrics or ()), *self.thresholds):
            found = find_metric(name)
            if found is None:
                known = ", ".join(sorted({m.short for m in metrics() if m.directed}))
                raise UserError(f"No metric named {name!r} to gate. Metrics with a direction: {known}.")
            if not found[0].directed:
                raise UserError(f"Metric {name!r} ({found[0].label}) is not better either way: it cannot be gated.")
            named[name] = found[0]
        for name, value in self.thresholds.items():
            _check_threshold(named[name], name, value)
            drop = self.accuracy_drop
            if drop is not None and _is_accuracy_like(named[name]) and value != drop:  # never one silently winning
                raise UserError(f"--threshold {name}={value:g} and --fail-accuracy-drop {drop:g} give {name} two "
                                "thresholds: give one of them.")  # fmt: skip
        return named

    def named(self, metric: Metric, column: str) -> bool:
        """Whether ``--gate-metrics`` names this metric (or this key of it) explicitly."""
        return self.metrics is not None and bool(_aliases(metric, column) & set(self.metrics))

    def threshold(self, metric: Metric, column: str) -> float | None:
        """The threshold ``column`` (one of ``metric``'s columns) is gated at, in the metric's terms; None: not gated."""
        if not self.on or not metric.directed:
            return None
        names = _aliases(metric, column)
        # a metric given its own threshold (--threshold, or --fail-accuracy-drop for accuracy) is gated: the
        # user asked for that limit, so a --gate-metrics list or the registry's defaults never drop it silently
        asked = bool(names & set(self.thresholds)) or (self.accuracy_drop is not None and _is_accuracy_like(metric))
        if not asked and self.metrics is not None and not names & set(self.metrics):
            return None
        if (
            not asked
            and self.metrics is None
            and (not metric.gated or (self.accuracy_only and metric.kind != "fraction"))
        ):
            return None
        for name in (metric.short_name(column), column, metric.short, metric.column, metric.label):
            if name in self.thresholds:
                return float(self.thresholds[name])
        if metric.compared_as == RATIO and self.fail_above is not None:
            return self.fail_above
        if metric.compared_as == DIFFERENCE and metric.kind == "fraction" and self.accuracy_drop is not None:
            return self.accuracy_drop
        return metric.threshold if metric.threshold is not None else 0.0  # every kind has a default: never None

    def describe(self) -> str:
        """The policy in words, for the comparison's settings line."""
        named = "the registry's default metrics" if self.metrics is None else ", ".join(self.metrics)
        look = f"; look {self.look} of a sequential gate, at alpha {self.level:.3g}" if self.look else ""
        return f"gated: {named}{look}"


def worsening_threshold(metric: Metric, threshold: float) -> float:
    """A threshold in the metric's terms as a worsening: log(1 + pct/100) for ratios, points/100 for fractions."""
    if metric.compared_as == RATIO:
        return math.log1p(threshold / 100)
    if metric.kind == "fraction":
        return threshold / 100
    return threshold


def _check_threshold(metric: Metric, name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise UserError(f"--threshold {name}={value}: a threshold must be a number >= 0.")
    if metric.kind == "fraction" and value >= 100:
        raise UserError(f"--threshold {name}={value}: {metric.label} is gated in points, below 100.")
    if metric.compared_as == EXACT and not float(value).is_integer():
        raise UserError(f"--threshold {name}={value}: {metric.label} is a count; its threshold is a whole number.")


# -- the options, declared once for the CLI and the config file ---------------------------------------
def _percent(value: Any) -> float:
    value = _number(value, "--fail-above")
    if value < 0:
        raise UserError(f"--fail-above must be a percentage >= 0. Got {value:g}.")
    return value


def _points(value: Any) -> float:
    value = _number(value, "--fail-accuracy-drop")
    if not 0 <= value < 100:
        raise UserError(f"--fail-accuracy-drop must be accuracy points in [0, 100), e.g. 2. Got {value:g}.")
    return value


def _margin(value: Any) -> float:
    value = _number(value, "--equivalence-margin")
    if not 0 < value < 1:
        raise UserError(f"--equivalence-margin must be an accuracy difference in (0, 1), e.g. 0.02. Got {value:g}.")
    return value


def _number(value: Any, flag: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{flag}: {value!r} is not a number.") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise UserError(f"{flag}: {value!r} is not a finite number.")
    return number


def _names(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items or not all(isinstance(i, str) and i.strip() for i in items):
        raise UserError(
            f"--gate-metrics {value!r}: expected a comma-separated list of metric names, e.g. fit,p50,cold."
        )
    return tuple(i.strip() for i in items)


def _thresholds(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        given = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else [value]
        pairs = []
        for item in (part for text in given for part in str(text).split(",")):
            name, sep, number = str(item).partition("=")
            if not sep or not name.strip():
                raise UserError(f"--threshold {item!r}: expected NAME=VALUE, e.g. cold=50 or accuracy=1.")
            pairs.append((name.strip(), number.strip()))
    out: dict[str, float] = {}
    for name, number in pairs:
        value = _number(number, f"--threshold {name}")
        if str(name) in out and out[str(name)] != value:
            raise UserError(f"--threshold {name} is given twice ({out[str(name)]:g} and {value:g}): give it once.")
        out[str(name)] = value
    return out


def _run_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"--calibration {value!r}: name a calibration run.")
    return value


@dataclass(frozen=True)
class Option:
    """One gate option: its name (the policy attribute and TOML key), flag, check, help, and whether it turns the gate on."""

    name: str
    flag: str
    check: Callable[[Any], Any]
    help: str
    metavar: str = ""
    turns_on: bool = True
    #: A switch (no value): given means True, handed to ``check``.
    switch: bool = False


OPTIONS: tuple[Option, ...] = (
    Option("fail_above", "--fail-above", _percent, "gate: fail (exit 4) when a gated time, rate or memory metric is "
           "worse than PCT percent with confidence, pass (exit 0) when every gated metric is shown within its "
           "threshold, else inconclusive (exit 5); it sets the threshold of every gated ratio metric without its own",
           "PCT"),
    Option("accuracy_drop", "--fail-accuracy-drop", _points, "gate: the accuracy drop in points that fails (default: "
           "the registry's, 2 points; gated whenever the gate is on)", "POINTS"),
    Option("metrics", "--gate-metrics", _names, "gate these metrics (short names: fit, p50, tput, accuracy, cold, p99, "
           "rss, ...; tput:32 for one batch size) instead of the defaults (fit, p50, tput, accuracy)", "NAMES"),
    Option("thresholds", "--threshold", _thresholds, "a metric's own threshold, NAME=VALUE (repeatable or comma-"
           "separated): percent for times, rates and memory, points for accuracy, units for counts", "NAME=VALUE"),
    Option("equivalence_margin", "--equivalence-margin", _margin, "accuracy: also test equivalence within +-D "
           "(TOST, Holm-adjusted), e.g. 0.02", "D", turns_on=False),
    Option("wall_only", "--wall-only", bool, "gate wall-clock times only, even where the machine was "
           "busy (by default a gated time whose baseline took 1.5x its CPU time or more is decided on CPU time, and "
           "the line says so)", "", turns_on=False, switch=True),
    Option("calibration", "--calibration", _run_name, "the calibration run (bench calibrate) whose run-to-run "
           "variance gates two separate runs (default: the newest calibration of the machine both ran on)", "RUN",
           turns_on=False),
)  # fmt: skip


def _aliases(metric: Metric, column: str) -> set[str]:
    """Every name a user may give a metric (or one key of it) by."""
    return {metric.short, metric.short_name(column), metric.column, column, metric.label}


def _is_accuracy_like(metric: Metric) -> bool:
    """A fraction compared as a difference, gated by default (accuracy): what ``--fail-accuracy-drop`` limits."""
    return metric.compared_as == DIFFERENCE and metric.kind == "fraction" and bool(metric.gated)
