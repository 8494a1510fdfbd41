"""A run's noise floor, from its repeated controls: pure functions over numbers, no I/O.

Every round of a run starts with the same raw-speed control (:mod:`hello_bench.measure.noise`). Its spread
across rounds is how much the machine itself moved while the run ran: an effect smaller than that is
**within the noise floor** and is said to be. The control read against the trials is the *speed
index*: for single-threaded trials, the geometric mean of the Python loop and the one-thread matmul
(ms per unit); for multi-threaded trials, the multi-threaded matmul.

- the floor: ``exp(2 sd) - 1``, sd the standard deviation of the log speed index over the rounds
  (about the 95% range of one round's speed around the run's typical speed); no floor from fewer than
  :data:`MIN_ROUNDS` rounds;
- the control ratio of two runs (or hosts): the geometric mean of B's speed indices over A's, with a
  Welch t-interval on the logs, used to normalise their time ratios (a ratio divided by the control
  ratio is what remains once the machines' raw speeds are taken out);
- a drift: the run's slowest round's speed index over its fastest beyond :data:`DRIFT_RANGE`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as sps

#: Fewer control rounds than this give no noise floor.
MIN_ROUNDS = 3
#: A run whose slowest control round is this much slower than its fastest drifted (pyperf's 10% rule).
DRIFT_RANGE = 0.10
SINGLE = ("python_loop_ms", "numpy_matmul_1t_ms")
MULTI = "numpy_matmul_mt_ms"
#: Controls stored before the long-span control (bench < 0.4): median of five short repeats.
LEGACY = ("python_loop_200k_ms", "numpy_matmul_256_ms")


def positive(values: Sequence[object]) -> list[float]:
    """The finite, positive numbers among ``values``, as floats (a control can be missing or damaged)."""
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]  # type: ignore[arg-type]


def speed_index(entry: dict, threads: int = 1) -> float:
    """One control's speed index in ms (lower: faster): see the module docstring; NaN when not measured."""
    for keys in ((SINGLE if threads == 1 else (MULTI,)), LEGACY):
        values = positive([entry.get(k) for k in keys])
        if len(values) == len(keys):
            return math.exp(statistics.fmean(math.log(v) for v in values))
    return math.nan


@dataclass(frozen=True)
class Floor:
    """The spread of a run's per-round controls."""

    n: int
    median: float = math.nan
    low: float = math.nan
    high: float = math.nan
    #: Standard deviation of the log values (NaN under MIN_ROUNDS).
    sd_log: float = math.nan

    @property
    def floor(self) -> float:
        """exp(2 sd) - 1: an effect smaller than this is within the noise floor (NaN: no floor)."""
        return math.exp(2 * self.sd_log) - 1

    @property
    def range(self) -> float:
        """Slowest over fastest, minus one (NaN without controls)."""
        return self.high / self.low - 1

    @property
    def drifted(self) -> bool:
        return self.range > DRIFT_RANGE


def floor_of(values: Sequence[object]) -> Floor:
    """The floor of a series of control values (missing and non-positive values left out)."""
    x = positive(values)
    if not x:
        return Floor(0)
    sd = statistics.stdev(math.log(v) for v in x) if len(x) >= MIN_ROUNDS else math.nan
    return Floor(len(x), statistics.median(x), min(x), max(x), sd)


def run_floor(rounds: Sequence[dict], threads: int = 1) -> Floor:
    """The floor of a run's speed index over its control rounds."""
    return floor_of([speed_index(r, threads) for r in rounds])


def combined(a: Floor, b: Floor) -> float:
    """The floor of a comparison of two runs: their log spreads added in quadrature (NaN if either has none)."""
    return math.exp(2 * math.hypot(a.sd_log, b.sd_log)) - 1


def within_floor(ratio: float, floor: float) -> bool:
    """An effect (a ratio) smaller than the floor: |log ratio| < log(1 + floor); never within no floor (NaN)."""
    return abs(math.log(ratio)) < math.log1p(floor)


@dataclass(frozen=True)
class ControlRatio:
    """B's speed index over A's: geometric mean ratio with a Welch t-interval (95%) on the logs."""

    n_a: int
    n_b: int
    ratio: float = math.nan
    low: float = math.nan
    high: float = math.nan
    #: Variance of the log ratio (to add to a ratio normalised by it).
    var_log: float = math.nan
    df: float = math.nan


def control_ratio(a: Sequence[object], b: Sequence[object], confidence: float = 0.95) -> ControlRatio:
    """B/A of two series of speed indices (ms: above 1, B's machine is slower); one value each: no interval."""
    xa = [math.log(v) for v in positive(a)]
    xb = [math.log(v) for v in positive(b)]
    if not xa or not xb:
        return ControlRatio(len(xa), len(xb))
    centre = statistics.fmean(xb) - statistics.fmean(xa)
    if len(xa) == 1 or len(xb) == 1:
        return ControlRatio(len(xa), len(xb), math.exp(centre))
    va = statistics.variance(xa) / len(xa)
    vb = statistics.variance(xb) / len(xb)
    var = va + vb
    if var == 0:
        return ControlRatio(len(xa), len(xb), math.exp(centre), math.exp(centre), math.exp(centre), 0.0, math.inf)
    df = var**2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(var)
    return ControlRatio(len(xa), len(xb), math.exp(centre), math.exp(centre - half), math.exp(centre + half), var, df)


@dataclass(frozen=True)
class Normalised:
    """A time ratio divided by the control ratio, with an interval combining both uncertainties."""

    ratio: float
    low: float = math.nan
    high: float = math.nan


def normalise(
    mean_log: float, var_log: float, df: float, control: ControlRatio, confidence: float = 0.95
) -> Normalised:
    """``exp(mean_log) / control.ratio`` with a t-interval on ``var_log`` (df >= 1) plus the control's variance
    (Welch-Satterthwaite df); no interval when either variance is unknown (NaN) or both are zero."""
    centre = mean_log - math.log(control.ratio)
    total = var_log + control.var_log
    if not total > 0:  # NaN (unknown) or zero
        return Normalised(math.exp(centre))
    own = var_log**2 / df
    theirs = control.var_log**2 / control.df if math.isfinite(control.df) else 0.0
    dof = total**2 / (own + theirs) if own + theirs > 0 else math.inf
    half = float(sps.t.ppf(0.5 + confidence / 2, dof)) * math.sqrt(total)
    return Normalised(math.exp(centre), math.exp(centre - half), math.exp(centre + half))
