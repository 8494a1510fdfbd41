"""The one validation of a run folder's JSON files: ``run.json``, ``config.json``, ``environment.json``,
``control.json`` (and each machine's fingerprint under ``environments/``).

Every reader (report, compare, history, publish, export, calibrate, resume) reads them through
:class:`hello_bench.store.reader.RunFolder`, which checks each file here once: every field a reader uses
has a declared type and, where a value can be impossible, a range (a variance is finite and not
negative, a count is a whole number >= 0, a rate lies in [0, 1]). A damaged file is one line naming
the file and the field, never a traceback deep in a report. Fields no reader uses are let through
(older and newer runs carry different extras); a field that is present must have its type.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

#: The largest finite double: ``le=FINITE`` refuses infinity (Python's JSON reads ``Infinity``).
FINITE = 1.7976931348623157e308
Number = Annotated[float, Meta(ge=-FINITE, le=FINITE)]
NonNegative = Annotated[float, Meta(ge=0, le=FINITE)]
Positive = Annotated[float, Meta(gt=0, le=FINITE)]
Count = Annotated[int, Meta(ge=0)]
Fraction = Annotated[float, Meta(ge=0, le=1)]
Object = dict[str, Any]


# -- run.json -----------------------------------------------------------------------------------
class BuiltEnvironment(Struct):
    packages: dict[str, str] = {}
    requirements: list[str] = []
    name: str | None = None
    python: str | None = None
    spec_hash: str | None = None
    installer: str | None = None


class Project(Struct):
    path: str | None = None
    commit: str | None = None
    dirty: bool | None = None


class UntilPrecise(Struct):
    target_pct: NonNegative | None = None
    max_time_s: NonNegative | None = None
    splits: Count | None = None
    widest_pct: NonNegative | None = None
    widest: str | None = None
    stopped: str | None = None


class Variance(Struct):
    """A run-to-run variance of a metric's log values, with its degrees of freedom. Unknown (too few runs:
    stored as null) and truncated (0 with df 0) entries are kept, so the report can say why each is unusable."""

    var: NonNegative | None = None
    df: NonNegative | None = None
    runs: Count | None = None
    splits: Count | None = None
    truncated: bool = False
    df_method: str | None = None

    def __post_init__(self) -> None:
        # a positive variance is a measurement: it has its degrees of freedom (only unknown or truncated ones lack them)
        if self.var is not None and self.var > 0 and not self.truncated and not (self.df or 0) > 0:
            raise ValueError("a positive variance needs positive df")


class Rate(Struct):
    """k of n comparisons, with the rate and its interval (None when n is 0)."""

    k: Count
    n: Count
    rate: Fraction | None = None
    low: Fraction | None = None
    high: Fraction | None = None
    outcomes: dict[str, Count] = {}


class AA(Rate):
    undisturbed: Rate | None = None
    disturbed: Rate | None = None
    fit_time: Rate | None = None


class Detection(Rate):
    slowdown: Positive = 1.0
    fit_time: Rate | None = None
    undisturbed: Rate | None = None


class Plan(Struct):
    adapters: list[str]
    splits: Count
    repeats: Count
    slowdowns: list[Positive]
    fail_above: NonNegative
    disturbed: list[Count]
    accuracy_drop: NonNegative = 0.0
    mode: str = "custom"


class Smallest(Struct):
    observed: Positive | None = None
    shown: Positive | None = None
    level: Fraction | None = None


class Comparison(Struct):
    kind: str
    repeats: list[Count]
    disturbed: bool
    outcomes: list[str]
    lines: list[str]
    slowdown: NonNegative | None = None


class Calibration(Struct):
    """``bench calibrate``'s summary: every part the gate (``run_variance``) and the calibration report read."""

    run_variance: dict[str, Variance] = {}
    plan: Plan | None = None
    aa: AA | None = None
    aa_separate: AA | None = None
    ab: dict[str, Detection] | None = None
    smallest_detected: Smallest | None = None
    to_bound_5pct: Count | None = None
    comparisons: list[Comparison] = []
    seconds: NonNegative | None = None
    command: str | None = None


#: The parts of a calibration summary its report needs (the gate needs only ``run_variance``).
REPORTED = ("plan", "aa", "aa_separate", "ab", "smallest_detected", "to_bound_5pct")


class RunInfo(Struct):
    kind: str = "matrix"
    sealed: bool = False
    command: str | None = None
    environments: dict[str, BuiltEnvironment] = {}
    project: Project | None = None
    until_precise: UntilPrecise | None = None
    calibration: Calibration | None = None


# -- config.json --------------------------------------------------------------------------------
class AdapterEntry(Struct):
    name: str
    params: Object = {}
    profile: str | None = None
    backend: str | None = None


class RunConfig(Struct):
    adapters: list[AdapterEntry] = []
    datasets: list[Object | str] = []
    devices: list[str] = []
    preprocessing: list[str] = []
    environments: list[Object] | None = None
    splits: Count | None = None
    first_seed: int | None = None
    init_seeds: Count | None = None
    test_size: Annotated[float, Meta(gt=0, lt=1)] | None = None
    stratify: bool | None = None
    threads: Count | None = None
    trial_timeout_s: NonNegative | None = None
    startup_timeout_s: NonNegative | None = None
    interleave: bool | None = None
    quick: bool | None = None
    description: str | None = None
    timing: Object = {}


# -- environment.json -----------------------------------------------------------------------------
class Gpu(Struct):
    name: str | None = None
    memory_mib: NonNegative | None = None
    driver: str | None = None


class Environment(Struct):
    hostname: str | None = None
    machine_id: str | None = None
    cpu: Object = {}
    os: Object = {}
    python: Object = {}
    packages: dict[str, str | None] = {}
    gpus: list[Gpu] = []
    blas: list[Object] = []
    memory_gib: NonNegative | None = None
    git_commit: str | None = None
    control: Object | None = None


# -- control.json ---------------------------------------------------------------------------------
class Measurement(Struct):
    """One control measurement: raw machine speed (milliseconds per fixed piece of work) and the load."""

    at: Number | None = None
    threads: Count | None = None
    host: str | None = None
    load_avg_1m: NonNegative | None = None
    numpy_matmul_256_ms: NonNegative | None = None
    python_loop_200k_ms: NonNegative | None = None
    numpy_matmul_1t_ms: NonNegative | None = None
    numpy_matmul_mt_ms: NonNegative | None = None
    python_loop_ms: NonNegative | None = None
    span_s: NonNegative | None = None
    cpu_since_last: Object | None = None
    spread: Object | None = None


class Control(Struct):
    before: Measurement | None = None
    after: Measurement | None = None
    rounds: list[Measurement] = []


SCHEMAS: dict[str, type] = {
    "run.json": RunInfo,
    "config.json": RunConfig,
    "environment.json": Environment,
    "control.json": Control,
}


def problem(name: str, data: dict) -> str | None:
    """Why ``data`` (the parsed file ``name``, or a machine's fingerprint) cannot be what bench wrote, or None."""
    schema = SCHEMAS.get(name, Environment)
    try:
        msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as err:
        return str(err)
    return None
