"""How much to measure per trial: plain, validated settings (no measuring code here).

Configuration (:mod:`bench.config`) builds these from TOML; the measuring
layer (:mod:`hello_bench.measure`) reads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from numbers import Integral, Real

#: Every duration setting is seconds in (0, MAX_SECONDS); batch sizes in [1, MAX_BATCH]; these call counts >= 1.
MAX_SECONDS = 3600
MAX_BATCH = 10**7
AT_LEAST_ONE = ("latency_min_calls", "stock_min_calls", "serving_min_calls", "latency_max_calls")


@dataclass(frozen=True)
class TimingSettings:
    """How much to measure after each fit.

    Attributes
    ----------
    warmup : int
        Untimed single-sample predict calls after the first (cold) one.
    latency_min_calls, latency_max_calls, latency_budget_s
        Single-sample latency: calls are timed one by one until the budget is
        spent, between min and max calls (p99 needs hundreds).
    stock_min_calls, stock_budget_s
        The same for the framework's stock predict API (can be ~50 ms a call).
    batch_sizes : tuple of int
        Throughput batch sizes; the whole test set is added, all capped by it.
    throughput_budget_s : float
        Time per batch size.
    serving : bool
        Build and measure every serving path of the adapter (ONNX Runtime,
        compiled functions, the numpy reference).
    serving_min_calls, serving_budget_s
        Single-sample latency of each serving path.
    serving_splits : int or None
        Measure serving paths on the first N splits of each group only (None:
        every split). Building a compiled path costs seconds per trial.
    curves : bool
        Record learning curves (held-out accuracy after every epoch, outside the clock).
    control_span_s : float
        Seconds each workload of the raw-speed control runs (before every round): long enough to span
        several CPU scheduling periods (100 ms), or a CPU quota goes unseen.
    call_cost_budget_s : float
        Seconds a worker may spend, once at start-up, measuring its framework's cost per optimiser step,
        epoch and predict call (adapters' ``empty_call_costs``; the report's dispatch). A cost the budget
        cannot resolve on a noisy machine is recorded as unknown.
    instructions : bool
        Also count the instructions of fit and predict under valgrind, on the first trial of each group
        (:mod:`hello_bench.measure.instructions`; single-threaded runs only, where valgrind is installed).
    """

    warmup: int = 20
    latency_min_calls: int = 200
    latency_max_calls: int = 5000
    latency_budget_s: float = 0.5
    stock_min_calls: int = 10
    stock_budget_s: float = 0.5
    batch_sizes: tuple[int, ...] = (1, 32, 1024)
    throughput_budget_s: float = 0.1
    serving: bool = True
    serving_min_calls: int = 200
    serving_budget_s: float = 0.2
    serving_splits: int | None = None
    curves: bool = True
    control_span_s: float = 0.25
    call_cost_budget_s: float = 30.0
    instructions: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_sizes", tuple(self.batch_sizes))
        for problem in self.problems():
            raise ValueError(problem)

    def problems(self) -> list[str]:
        """What is wrong with these settings, one sentence each."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool" and not isinstance(value, bool):
                out.append(f"{f.name} must be true or false. Got {value!r}.")
            elif f.type == "int" and (isinstance(value, bool) or not isinstance(value, Integral) or int(value) < 0):
                out.append(f"{f.name} must be a whole number >= 0. Got {value!r}.")
            elif f.type == "float" and (
                isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) < MAX_SECONDS
            ):
                out.append(f"{f.name} must be a number of seconds in (0, {MAX_SECONDS}). Got {value!r}.")
        if self.serving_splits is not None and (
            isinstance(self.serving_splits, bool)
            or not isinstance(self.serving_splits, Integral)
            or self.serving_splits < 0
        ):
            out.append(f"serving_splits must be a whole number >= 0. Got {self.serving_splits!r}.")
        if not self.batch_sizes or any(
            isinstance(b, bool) or not isinstance(b, Integral) or not 1 <= b <= MAX_BATCH for b in self.batch_sizes
        ):
            out.append(
                f"batch_sizes must be a non-empty list of whole numbers in [1, 10^7]. Got {list(self.batch_sizes)!r}."
            )
        for low, high in (("latency_min_calls", "latency_max_calls"),):
            if not out and getattr(self, low) > getattr(self, high):
                out.append(f"{low} ({getattr(self, low)}) must not exceed {high} ({getattr(self, high)}).")
        for name in AT_LEAST_ONE:
            if not out and getattr(self, name) < 1:
                out.append(f"{name} must be >= 1. Got {getattr(self, name)}.")
        return out

    @classmethod
    def from_dict(cls, data: dict) -> TimingSettings:
        """From a TOML table; unknown keys and bad values raise ValueError naming them."""
        if not isinstance(data, dict):
            raise ValueError(f"must be a table of settings, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown timing setting(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        data = dict(data)
        if "batch_sizes" in data and not isinstance(data["batch_sizes"], (list, tuple)):
            raise ValueError(f"batch_sizes must be a list of whole numbers. Got {data['batch_sizes']!r}.")
        return cls(**data)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["batch_sizes"] = list(self.batch_sizes)
        if self.control_span_s == 0.25:
            del data["control_span_s"]  # the default: configs stored before it existed stay equal
        if self.call_cost_budget_s == 30.0:
            del data["call_cost_budget_s"]  # likewise
        if self.instructions is False:
            del data["instructions"]  # the same
        return data
