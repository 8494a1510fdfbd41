"""A run's noise floor, from its repeated controls: pure functions over numbers, no I/O.

Every round of a run starts with the same raw-speed control (:mod:`bench.measure.noise`). Its spread
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


def speed_index(entry: dict, threads: int = 1) -> float:
    """One control's speed index in ms (lower: faster): see the module docstring; NaN when not measured."""
    keys: Sequence[str] = SINGLE if threads <= 1 else (MULTI,)
    if not all(isinstance(entry.get(k), (int, float)) and entry[k] > 0 for k in keys):
        keys = LEGACY if all(isinstance(entry.get(k), (int, float)) and entry[k] > 0 for k in LEGACY) else ()
    if not keys:
        return math.nan
    return math.exp(sum(math.log(float(entry[k])) for k in keys) / len(keys))


@dataclass(frozen=True)
class Floor:
    """The spread of a run's per-round controls."""

    n: int
    median: float
    low: float
    high: float
    #: Standard deviation of the log values (NaN under MIN_ROUNDS).
    sd_log: float

    @property
    def floor(self) -> float:
        """exp(2 sd) - 1: an effect smaller than this is within the noise floor (NaN: no floor)."""
        return math.exp(2 * self.sd_log) - 1 if math.isfinite(self.sd_log) else math.nan

    @property
    def range(self) -> float:
        """Slowest over fastest, minus one."""
        return self.high / self.low - 1 if self.n and self.low > 0 else math.nan

    @property
    def drifted(self) -> bool:
        return math.isfinite(self.range) and self.range > DRIFT_RANGE


def floor_of(values: Sequence[float]) -> Floor:
    """The floor of a series of control values (NaN and non-positive values left out)."""
    x = sorted(float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v > 0)
    n = len(x)
    if n == 0:
        return Floor(0, math.nan, math.nan, math.nan, math.nan)
    median = x[n // 2] if n % 2 else (x[n // 2 - 1] + x[n // 2]) / 2
    if n < MIN_ROUNDS:
        return Floor(n, median, x[0], x[-1], math.nan)
    logs = [math.log(v) for v in x]
    mean = sum(logs) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in logs) / (n - 1))
    return Floor(n, median, x[0], x[-1], sd)


def run_floor(rounds: Sequence[dict], threads: int = 1) -> Floor:
    """The floor of a run's speed index over its control rounds."""
    return floor_of([speed_index(r, threads) for r in rounds])


def combined(a: Floor, b: Floor) -> float:
    """The floor of a comparison of two runs: their log spreads added in quadrature (NaN if either has none)."""
    if not (math.isfinite(a.sd_log) and math.isfinite(b.sd_log)):
        return math.nan
    return math.exp(2 * math.sqrt(a.sd_log**2 + b.sd_log**2)) - 1


def within_floor(ratio: float, floor: float) -> bool:
    """An effect (a ratio) smaller than the floor: |log ratio| < log(1 + floor)."""
    return math.isfinite(floor) and ratio > 0 and abs(math.log(ratio)) < math.log1p(floor)


@dataclass(frozen=True)
class ControlRatio:
    """B's speed index over A's: geometric mean ratio with a Welch t-interval (95%) on the logs."""

    ratio: float
    low: float
    high: float
    #: Variance of the log ratio (to add to a ratio normalised by it).
    var_log: float
    df: float
    n_a: int
    n_b: int


def control_ratio(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> ControlRatio:
    """B/A of two series of speed indices (ms: above 1, B's machine is slower); one value each: no interval."""
    xa = [math.log(v) for v in a if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    xb = [math.log(v) for v in b if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    if not xa or not xb:
        return ControlRatio(math.nan, math.nan, math.nan, math.nan, math.nan, len(xa), len(xb))
    ma, mb = sum(xa) / len(xa), sum(xb) / len(xb)
    point = math.exp(mb - ma)
    if len(xa) < 2 or len(xb) < 2:
        return ControlRatio(point, math.nan, math.nan, math.nan, math.nan, len(xa), len(xb))
    va = sum((v - ma) ** 2 for v in xa) / (len(xa) - 1) / len(xa)
    vb = sum((v - mb) ** 2 for v in xb) / (len(xb) - 1) / len(xb)
    var = va + vb
    if var <= 0:
        return ControlRatio(point, point, point, 0.0, math.inf, len(xa), len(xb))
    df = var**2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(var)
    return ControlRatio(point, math.exp(mb - ma - half), math.exp(mb - ma + half), var, df, len(xa), len(xb))


@dataclass(frozen=True)
class Normalised:
    """A time ratio divided by the control ratio, with an interval combining both uncertainties."""

    ratio: float
    low: float
    high: float


def normalise(
    mean_log: float, var_log: float, df: float, control: ControlRatio, confidence: float = 0.95
) -> Normalised:
    """``exp(mean_log) / control.ratio`` with a t-interval on var_log + the control's variance (Satterthwaite df)."""
    if not math.isfinite(control.ratio) or not math.isfinite(mean_log):
        return Normalised(math.nan, math.nan, math.nan)
    centre = mean_log - math.log(control.ratio)
    extra = control.var_log if math.isfinite(control.var_log) else math.nan
    total = var_log + extra
    if not (math.isfinite(total) and total > 0):
        return Normalised(math.exp(centre), math.nan, math.nan)
    denominator = (var_log**2 / df if df > 0 else math.inf) + (
        extra**2 / control.df if math.isfinite(control.df) and control.df > 0 else 0.0
    )
    dof = total**2 / denominator if denominator > 0 else math.inf
    half = float(sps.t.ppf(0.5 + confidence / 2, dof)) * math.sqrt(total)
    return Normalised(math.exp(centre), math.exp(centre - half), math.exp(centre + half))
