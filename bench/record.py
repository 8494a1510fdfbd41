"""The trial record, declared once: fields, types, units, schema versions, the metrics read from them.

A record is one JSON line per trial in ``records.jsonl``. Its fields fall in
four kinds: **identity** (what ran: dataset, adapter, device, seeds),
**measurement** (what was measured, with units), **provenance** (where and
how: versions, threads, host, limits) and **raw** (kept for old stores;
schema 3 keeps raw per-call durations apart, in ``raw.jsonl``).

:data:`FIELDS` is the one declaration. Each field names the metrics that
readers take from it, with their meaning (:class:`hello_bench.metrics.Metric`: kind,
direction, machine dependence, default gate threshold, valid range), so
:func:`metrics` (the registry every table, CSV, comparison, gate, export and
``--json`` iterates) is derived from it. A new metric is a measuring function
plus one registry line: :func:`register` with ``measure=``; its value is
stored under the record's ``metrics`` field and reaches every reader without
another change. Plugins register metrics through the ``bench.metrics``
entry-point group (or ``BENCH_METRICS=module:attr,...``, which worker
processes inherit).

:class:`Record` is a ``msgspec.Struct`` generated from :data:`FIELDS`.
msgspec rather than a frozen dataclass: it validates types while decoding
JSON (a wrong type names its field), rejects undeclared fields, encodes
without intermediate dicts, and decodes a 100,000-line store in seconds.
Records are validated when appended (:func:`build`) and when read
(:func:`decode`): types, the fields of the record's own schema version, and
every metric's valid range.

**Versions.** Every field says the schema version that introduced it
(``since``) and, for a field no longer written, the first version without it
(``until``); :func:`fields_of` gives each version's fields, pinned by
``tests/test_record_versions.py``. A new field bumps :data:`SCHEMA_VERSION`.
The reader reads every older version, upgraded to today's shape in one
place (:func:`upgrade`), and refuses a newer one in one line ("written by a
newer bench"). History:

1. First version.
2. Adds ``test_rows_sha``, ``position``, learning curves, serving paths,
   garbage-collection counts, timer overhead and latency drift.
3. Raw per-call durations move to ``raw.jsonl``; adds ``metrics`` (registered
   metrics), ``dataset_sha``, ``adapter_class``, ``stock_profile``,
   ``colour``, ``trial_timeout_s``, ``startup_timeout_s``, ``environment``,
   ``order_seed``, ``python`` and ``latency_attempts``.
4. Adds the second cost signal: the process CPU time of every timed call (``cold_predict_cpu_s``,
   ``latency_cpu``, ``throughput_cpu_sps`` and their stock twins) and opt-in ``instructions`` counted under
   valgrind; ``train_accuracy``; and where the time goes: ``n_steps`` (optimiser steps), the framework's measured cost of an empty
   step, epoch and predict call (``step_overhead_s``, ``epoch_overhead_s``, ``predict_overhead_s``, with
   ``overhead_probe_s``), ``shape_warmup_s`` and ``reference_floor`` (the adapter is its model's compiled
   floor).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal

from hello_bench.metrics import COUNT, DURATION, FRACTION, INDEX, MEMORY, RATE, SCORE, Metric, declare

SCHEMA_VERSION = 4
FIRST_VERSION = 1
READABLE_VERSIONS = tuple(range(FIRST_VERSION, SCHEMA_VERSION + 1))

#: Final statuses of a trial: ``ok``, or why there is no measurement.
STATUSES = ("ok", "skipped", "error", "timeout")
Status = Literal["ok", "skipped", "error", "timeout"]
METRIC_ENTRY_POINTS = "bench.metrics"

Number = float | None
Json = Any


@dataclass(frozen=True)
class Field:
    """One top-level record field, the schema versions that hold it, and the metrics readers take from it."""

    name: str
    type: Any
    kind: str  # identity | measurement | provenance | raw
    unit: str = ""
    doc: str = ""
    metrics: tuple[dict, ...] = ()
    required: bool = False
    #: The schema version that introduced it, and the first version without it (None: still written).
    since: int = FIRST_VERSION
    until: int | None = None

    def metric_objects(self) -> list[Metric]:
        out = []
        for m in self.metrics:
            m = dict(m)
            key, column = m.pop("key", ""), m.pop("column", "")
            column = column or (self.name if not key else f"{self.name}_{key}")
            path = (self.name,) if not key else (self.name, key)
            m.setdefault("unit", self.unit)
            out.append(Metric(column, path, **m))
        return out

    def in_version(self, version: int) -> bool:
        return self.since <= version and (self.until is None or version < self.until)


def F(name: str, type_: Any, kind: str, unit: str = "", doc: str = "", *metrics: dict, required: bool = False,
      since: int = FIRST_VERSION, until: int | None = None) -> Field:  # fmt: skip
    return Field(name, type_, kind, unit, doc, tuple(metrics), required, since, until)


m = declare
_LAT = "single-sample latency: p50/p90/p99/mean in us, n calls"
_CPU = "p50_us, mean_us per call, total_s over the loop, n calls"
IDENTITY, MEASURE, PROV, RAW = "identity", "measurement", "provenance", "raw"
#: The versions where fields arrived.
V2, V3, V4 = 2, 3, 4

FIELDS: list[Field] = [
    # -- identity: what ran ---------------------------------------------------------------
    F("schema_version", int, IDENTITY, "", "version of this schema", required=True),
    F("run_id", str, IDENTITY, "", "the run (folder name; filled in from the folder when absent)"),
    F("trial_id", str, IDENTITY, "", "dataset/adapter/device/split (/init) (%environment) (@host): stable and readable", required=True),
    F("status", Status, IDENTITY, "", "ok | skipped | error | timeout", required=True),
    F("reason", str, IDENTITY, "", "why a trial is not ok"),
    F("group", str, IDENTITY, "", "trials sharing one worker process: adapter label and device"),
    F("dataset", str, IDENTITY, "", "dataset label (+std when standard-scaled)"),
    F("dataset_source", str, IDENTITY, "", "bundled name, synthetic spec or file path"),
    F("dataset_sha", str, IDENTITY, "", "hash of the dataset's content (features and labels) as loaded", since=V3),
    F("preprocessing", str, IDENTITY, "", "none | standard"),
    F("adapter", str, IDENTITY, "", "adapter label: name[:profile](params)[backend]"),
    F("adapter_name", str, IDENTITY, "", "registered name or dotted class path"),
    F("adapter_class", str, IDENTITY, "", "module:Class the name resolved to when the trial ran", since=V3),
    F("profile", str, IDENTITY, "", "named parameter set"),
    F("stock_profile", str, IDENTITY, "", "the adapter's stock profile (its tuned profiles are compared with it)", since=V3),
    F("colour", str, PROV, "", "the figure hue the adapter declares (absent: derived from its name)", since=V3),
    F("reference_floor", bool, IDENTITY, "", "the adapter declares itself its model's compiled reference floor (absent: not)", since=V4),
    F("params", dict[str, Json], IDENTITY, "", "resolved parameters (profile overridden by explicit ones)"),
    F("backend", str, IDENTITY, "", "Keras backend, or 'default'"),
    F("device", str, IDENTITY, "", "cpu | gpu"),
    F("environment", str, IDENTITY, "", "the run's environment (bench run --env NAME=REQ), or absent", since=V3),
    F("host", str, IDENTITY, "", "the machine a trial was pinned to (Dask --each-host)"),
    F("split_seed", int, IDENTITY, "", "seed of the train/test split"),
    F("init_seed", int, IDENTITY, "", "seed of model initialisation and shuffling"),
    F("test_size", float, IDENTITY, "fraction", "share of rows in the test set"),
    F("stratify", bool, IDENTITY, "", "stratified split (the post's split is not)"),
    F("test_rows_sha", str, IDENTITY, "", "hash of the split's test-row indices: the same split everywhere", since=V2),
    F("n_train", int | None, IDENTITY, "rows", "training rows of the split"),
    F("n_test", int | None, IDENTITY, "rows", "test rows of the split"),
    F("n_features", int | None, IDENTITY, "", "features after preprocessing"),
    F("n_classes", int | None, IDENTITY, "", "classes in the dataset"),
    # -- measurement --------------------------------------------------------------------
    F("accuracy", Number, MEASURE, "fraction", "test accuracy",
      m("accuracy", FRACTION, better="higher", gated=True, threshold=2.0, summary=True, compare=True)),
    F("f1_macro", Number, MEASURE, "fraction", "test macro-F1",
      m("macro-F1", FRACTION, better="higher", short="f1", threshold=2.0, summary=True)),
    F("log_loss", Number, MEASURE, "nats", "test log loss (float64, normalised probabilities)",
      m("log loss", SCORE, short="log-loss", valid=(0.0, float("inf")), threshold=0.05, summary=True)),
    F("train_accuracy", Number, MEASURE, "fraction",
      "accuracy of the final model on its own training rows (sets the report's time-to-accuracy target)",
      m("train accuracy", FRACTION, better="higher", short="train-accuracy", table="training"), since=V4),
    F("fit_wall_s", Number, MEASURE, "s", "wall time of fit, learning-curve evaluation excluded",
      m("fit time", DURATION, short="fit", gated=True, threshold=10.0, summary=True, compare=True)),
    F("fit_cpu_s", Number, MEASURE, "s", "CPU time of fit (all threads), curve evaluation excluded",
      m("fit CPU time", DURATION, short="fit-cpu", threshold=10.0, cpu_of="fit")),
    F("n_epochs", int | None, MEASURE, "", "epochs trained", m("epochs", COUNT, better=None, short="epochs", table="training")),
    F("first_epoch_s", Number, MEASURE, "s", "wall time of the first epoch", m("first epoch", DURATION, short="first-epoch")),
    F("epoch_median_s", Number, MEASURE, "s", "median wall time of the other epochs", m("epoch (median)", DURATION, short="epoch")),
    F("n_steps", int | None, MEASURE, "steps", "optimiser steps taken in fit (the adapter's n_steps_)",
      m("optimiser steps", COUNT, better=None, short="steps", table="training"), since=V4),
    F("step_overhead_s", Number, MEASURE, "s",
      "the framework's cost of one optimiser step with these parameters and nothing to compute (a 1-input, 1-unit "
      "model; measured once per worker after its warm-up: adapters' empty_call_costs)",
      m("empty step", DURATION, short="empty-step", table="overhead"), since=V4),
    F("epoch_overhead_s", Number, MEASURE, "s",
      "the framework's cost of one epoch besides its steps (data pipeline, callbacks, shuffle), measured as "
      "step_overhead_s", m("empty epoch", DURATION, short="empty-epoch", table="overhead"), since=V4),
    F("predict_overhead_s", Number, MEASURE, "s",
      "the framework's cost of one single-row predict_proba call with nothing to compute, measured as "
      "step_overhead_s", m("empty predict call", DURATION, short="empty-predict", table="overhead"), since=V4),
    F("cold_predict_s", Number, MEASURE, "s", "first single-sample predict after fit (tracing, compilation)",
      m("first predict", DURATION, short="cold", threshold=50.0, summary=True, compare=True, scale=1e3, shown_unit="ms")),
    F("cold_predict_cpu_s", Number, MEASURE, "s", "process CPU time of the first single-sample predict (all threads)",
      m("first predict CPU", DURATION, short="cold-cpu", threshold=50.0, scale=1e3, shown_unit="ms", cpu_of="cold"), since=V4),
    F("stock_cold_predict_s", Number, MEASURE, "s", "first single-sample call of the stock API",
      m("stock first predict", DURATION, short="stock-cold", threshold=50.0, scale=1e3, shown_unit="ms")),
    F("stock_cold_predict_cpu_s", Number, MEASURE, "s", "process CPU time of the stock API's first single-sample call",
      m("stock first predict CPU", DURATION, short="stock-cold-cpu", threshold=50.0, scale=1e3, shown_unit="ms",
        cpu_of="stock-cold"),
      since=V4),
    F("latency", dict[str, Number], MEASURE, "us", f"through the adapter: {_LAT}",
      m("predict p50", DURATION, key="p50_us", short="p50", gated=True, threshold=10.0, summary=True, compare=True),
      m("predict p90", DURATION, key="p90_us", short="p90", threshold=25.0),
      m("predict p99", DURATION, key="p99_us", short="p99", threshold=25.0, summary=True, compare=True, tail=True),
      m("predict mean", DURATION, key="mean_us", short="mean", threshold=10.0),
      m("predict calls", COUNT, unit="calls", better=None, key="n", short="calls", table="time")),
    F("stock_latency", dict[str, Number], MEASURE, "us", f"through the framework's stock API: {_LAT}",
      m("stock predict p50", DURATION, key="p50_us", short="stock-p50", threshold=10.0, summary=True, compare=True),
      m("stock predict p90", DURATION, key="p90_us", short="stock-p90", threshold=25.0),
      m("stock predict p99", DURATION, key="p99_us", short="stock-p99", threshold=25.0, tail=True),
      m("stock predict mean", DURATION, key="mean_us", short="stock-mean", threshold=10.0),
      m("stock calls", COUNT, unit="calls", better=None, key="n", short="stock-calls", table="time")),
    F("latency_cpu", dict[str, Number], MEASURE, "us", f"process CPU time of each call of the adapter's latency loop: {_CPU}",
      m("predict CPU p50", DURATION, key="p50_us", short="p50-cpu", threshold=10.0, cpu_of="p50"),
      m("predict CPU total", DURATION, unit="s", better=None, key="total_s", short="latency-cpu-total",
        table="diagnostics"), since=V4),
    F("stock_latency_cpu", dict[str, Number], MEASURE, "us", f"the same for the stock API's latency loop: {_CPU}",
      m("stock predict CPU p50", DURATION, key="p50_us", short="stock-p50-cpu", threshold=10.0, cpu_of="stock-p50"),
      m("stock predict CPU total", DURATION, unit="s", better=None, key="total_s", short="stock-latency-cpu-total",
        table="diagnostics"), since=V4),
    F("throughput_sps", dict[str, Number], MEASURE, "samples/s", "predict throughput per batch size",
      m("throughput batch {key}", RATE, better="higher", short="tput", gated=True, threshold=10.0, summary=True,
        compare=True, key="*", column="tput_{key}")),
    F("throughput_cpu_sps", dict[str, Number], MEASURE, "samples/CPU s",
      "predict throughput per batch size per second of process CPU time (median call; None below the clock's resolution)",
      m("CPU throughput batch {key}", RATE, better="higher", short="cpu-tput", threshold=10.0, key="*",
        column="cpu_tput_{key}", cpu_of="tput"), since=V4),
    F("instructions", dict[str, Json], MEASURE, "instructions",
      "counted under valgrind (opt-in, first trial of each group): fit, predict (mean single-sample call), setup, "
      "calls, tool; or error",
      m("instructions in fit", INDEX, key="fit", short="instructions-fit", valid=(0.0, float("inf")), threshold=2.0,
        table="instruction-counts"),
      m("instructions per predict", INDEX, key="predict", short="instructions-predict", valid=(0.0, float("inf")),
        threshold=2.0, table="instruction-counts"), since=V4),
    F("rss_peak_mb", Number, MEASURE, "MiB", "peak resident memory of the trial (VmHWM, reset per trial)",
      m("peak RSS", MEMORY, short="rss", threshold=10.0, summary=True, compare=True)),
    F("rss_fit_delta_mb", Number, MEASURE, "MiB", "resident memory growth during fit",
      m("RSS growth in fit", MEMORY, short="rss-fit", valid=(-float("inf"), float("inf")), threshold=10.0)),
    F("gpu_peak_mb", Number, MEASURE, "MiB", "peak GPU memory", m("peak GPU memory", MEMORY, short="gpu-mem", threshold=10.0)),
    F("curve", dict[str, list[Number]], MEASURE, "",
      "per epoch: train_time_s (cumulative, evaluation excluded), loss, test_accuracy", since=V2),
    F("curve_eval_s", Number, MEASURE, "s", "time spent evaluating learning curves (outside fit_wall_s)",
      m("curve evaluation", DURATION, better=None, short="curve-eval", table="diagnostics"), since=V2),
    F("serving", dict[str, dict[str, Json]], MEASURE, "",
      "per serving path: status, export/load/first-call times, latency, throughput, agreement", since=V2),
    F("stock_agreement", dict[str, Json], MEASURE, "",
      "the stock API's probabilities against the adapter's: max_abs_diff, label_agreement", since=V2),
    F("metrics", dict[str, Number], MEASURE, "", "metrics measured by registered functions (hello_bench.record.register)", since=V3),
    F("warnings", list[str], MEASURE, "", "warnings raised during fit, one line each"),
    F("gc", dict[str, int | None], MEASURE, "collections", "garbage collections during fit and during the latency loop",
      m("GC in fit", COUNT, better=None, key="fit", short="gc-fit", table="diagnostics"),
      m("GC in latency loop", COUNT, better=None, key="latency", short="gc-latency", table="diagnostics"), since=V2),
    F("latency_drift", Number, MEASURE, "ratio", "median of the last third of latency calls / the first third",
      m("latency drift", INDEX, better=None, short="drift", valid=(0.0, float("inf"))), since=V2),
    F("latency_attempts", list[dict[str, Json]], MEASURE, "",
      "earlier latency measurements of this trial, re-measured because they drifted", since=V3),
    F("preprocess_s", Number, MEASURE, "s", "StandardScaler fit and transform"),
    # -- raw (schema <= 2 kept them inline; schema 3 keeps them in raw.jsonl) -----------------
    F("latency_raw_ns", list[int], RAW, "ns", "every single-sample call's duration", until=V3),
    F("stock_latency_raw_ns", list[int], RAW, "ns", "every stock-API call's duration", until=V3),
    F("traceback", str, RAW, "", "end of the traceback of an error"),
    # -- provenance: where and how --------------------------------------------------------
    F("framework", str, PROV, "", "the adapter's framework"),
    F("model", str, PROV, "", "model family, the same across frameworks (mlp, logistic-regression, ...)"),
    F("framework_version", str, PROV, "", ""),
    F("backend_version", str, PROV, "", ""),
    F("threads_requested", int, PROV, "", "threads per framework asked for"),
    F("threads", dict[str, Json], PROV, "", "thread counts in force, read back from each library"),
    F("gc_disabled_in_latency", bool, PROV, "", "the latency loop ran with the garbage collector off (as timeit)", since=V2),
    F("timer_overhead_ns", Number, PROV, "ns", "median cost of one perf_counter_ns pair in this worker",
      m("timer overhead", DURATION, better=None, short="timer", table="diagnostics"), since=V2),
    F("device_name", str, PROV, "", "CPU model (py-cpuinfo) or GPU name"),
    F("hostname", str, PROV, "", ""),
    F("machine_id", str, PROV, "", "hash of CPU model, cores, GPUs"),
    F("worker_pid", int, PROV, "", ""),
    F("python", str, PROV, "", "the worker's Python executable (its environment's)", since=V3),
    F("position", int, PROV, "", "order in which the run started this trial", since=V2),
    F("order_seed", int, PROV, "", "seed of the randomised adapter order within each round", since=V3),
    F("trial_timeout_s", Number, PROV, "s", "the limit this trial had (from its start message)", since=V3),
    F("startup_timeout_s", Number, PROV, "s", "the limit its worker had to start (import, warm-up)", since=V3),
    F("import_s", Number, PROV, "s", "the framework's import in a fresh worker (cold start)",
      m("import", DURATION, short="import", table="time", threshold=25.0)),
    F("worker_warmup_s", Number, PROV, "s", "untimed warm-up fit before the worker's first trial",
      m("worker warm-up", DURATION, short="warmup", table="diagnostics")),
    F("overhead_probe_s", Number, PROV, "s", "time the worker spent measuring the empty-call costs (before any trial)",
      since=V4),
    F("shape_warmup_s", Number, PROV, "s",
      "untimed fit on this trial's own data before its timed one (the worker's first trial of a data shape: "
      "per-shape compiled programs built outside the clock; adapters' shape_warmup_params)", since=V4),
    F("load_avg_1m", Number, PROV, "", "1-minute load average at the trial's start",
      m("load average", INDEX, better=None, short="load", valid=(0.0, float("inf")))),
    F("started_at", Number, PROV, "unix s", ""),
    F("finished_at", Number, PROV, "unix s", ""),
    F("executor", str, PROV, "", "local | dask | ..."),
    F("dask_worker", str, PROV, "", ""),
    F("workers_on_host", int, PROV, "", "Dask workers sharing the trial's host"),
    F("pinned_host", str, PROV, "", "version-1 and -2 spelling of host (read as host)", until=V3),
]  # fmt: skip
del m

FIELD_NAMES = frozenset(f.name for f in FIELDS)
RAW_FIELDS = tuple(f.name for f in FIELDS if f.kind == "raw" and f.name != "traceback")
NESTED_FIELDS = tuple(
    f.name for f in FIELDS if getattr(f.type, "__origin__", f.type) in (dict, list) or f.type in (dict, list)
)
SCALAR_FIELDS = tuple(f.name for f in FIELDS if f.name not in NESTED_FIELDS and f.name not in RAW_FIELDS)


def fields_of(version: int) -> frozenset[str]:
    """The fields a record of schema ``version`` may hold (``tests/test_record_versions.py`` pins them)."""
    return frozenset(f.name for f in FIELDS if f.in_version(version))


def upgrade(data: dict) -> dict:
    """A record of any readable version in today's shape: the one place older versions are migrated.

    Version 1 and 2 records spelled ``host`` as ``pinned_host``; their raw per-call durations stay in
    the record (readers take them from there when ``raw.jsonl`` has none). Records made before 0.4 name a
    built-in adapter's class under the retired top-level ``adapters`` package: the same class, so it is
    read under its import name today and pairs with newer runs. Nothing else changed meaning.
    """
    if "pinned_host" in data:
        data = dict(data)
        host = data.pop("pinned_host")
        data.setdefault("host", host)
    target = data.get("adapter_class")
    if isinstance(target, str) and target.startswith(RETIRED_ADAPTERS):
        data = {**data, "adapter_class": "hello_bench." + target}
    return data


#: The built-in adapters' module prefix before 0.4 (``hello_bench.adapters.keras_mlp:KerasMLPClassifier``).
RETIRED_ADAPTERS = "adapters."


# -- the metric registry ---------------------------------------------------------------------
_BUILTIN_METRICS: tuple[Metric, ...] = tuple(m for f in FIELDS for m in f.metric_objects())
_REGISTERED: list[Metric] = []


def register(
    column: str,
    measure: Callable[[Any, Any], float | None],
    label: str = "",
    unit: str = "",
    better: str | None = "lower",
    summary: bool = True,
    compare: bool = False,
    **meaning: Any,
) -> Metric:
    """Register a metric measured by ``measure(clf, split)`` in the worker; returns it.

    Its value lands in ``record["metrics"][column]`` and, from there, in the
    tidy frame, the report's tables, the CSVs, ``bench compare`` and the gate (with
    ``compare=True``), the exports and ``--json``. ``meaning`` takes the other attributes of
    :class:`~hello_bench.metrics.Metric` (``kind``, ``threshold``, ``gated``, ``valid``, ``machine``, ``short``).
    """
    if column in {m.column for m in metrics()}:
        raise ValueError(f"a metric named {column!r} is already registered")
    m = Metric.measured(column, measure, label, unit, better, summary, compare, **meaning)
    _REGISTERED.append(m)
    return m


def _metric_targets(env: str) -> list[tuple[str, str]]:
    """Every metric plugin target, with how the user names it: ``(label, module:attr)``."""
    targets = [(f"entry point bench.metrics {ep.name!r} ({ep.value})", ep.value)
               for ep in entry_points(group=METRIC_ENTRY_POINTS)]  # fmt: skip
    targets += [(f"BENCH_METRICS {t.strip()!r}", t.strip()) for t in env.split(",") if t.strip()]
    return list({target: (label, target) for label, target in reversed(targets)}.values())[::-1]  # each target once


#: Columns of the tidy frame that are no record field (:mod:`hello_bench.analysis.load` adds them): a metric
#: named like one would overwrite it.
FRAME_COLUMNS = ("machine", "n_warnings", "record_line", "group", "environment", "run_id", "point", "rank")


def _reserved_names() -> dict[str, str]:
    """Names a plugin metric may not take (compared without case): the record's fields, the frame's own columns,
    and every built-in or registered metric's column and short name."""
    taken = {f.name.lower(): "a record field's" for f in FIELDS}
    taken.update({c.lower(): "a column of bench's frame's" for c in FRAME_COLUMNS})
    taken.update(
        {n.lower(): "a built-in metric's" for m in (*_BUILTIN_METRICS, *_REGISTERED) for n in (m.column, m.short)}
    )
    return taken


def _name_problem(m: Metric) -> str | None:
    """Why a plugin metric's names cannot be used as written (spaces, or the gate's own ``name:key`` syntax)."""
    for what, name in (("column", m.column), ("short name", m.short)):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
            return f"its {what} {name!r} is not a name (a letter, then letters, digits and _.- only)"
    return None


@functools.lru_cache(maxsize=4)
def _plugin_metrics(env: str) -> tuple[Metric, ...]:
    """Metrics from the ``bench.metrics`` entry points and ``BENCH_METRICS`` (module:attr, comma-separated).

    A target that cannot load, holds no metric, or names a metric (or its short name) that another already
    has, gives none of its metrics and leaves why in :data:`METRIC_PLUGIN_PROBLEMS`: a plugin never silently
    measures nothing, and never silently loses to a built-in of the same name.
    """
    from hello_bench.plugins import PluginError, load_target

    taken = _reserved_names()
    found: list[Metric] = []
    for label, target in _metric_targets(env):
        METRIC_PLUGIN_PROBLEMS.pop(label, None)  # this loading's word, not an earlier one's
        try:
            obj = load_target(target)
        except PluginError as err:  # a broken plugin costs its metric, not the harness (whatever it raises)
            METRIC_PLUGIN_PROBLEMS[label] = f"cannot load: {err}"
            continue
        held = [m for m in (obj if isinstance(obj, (list, tuple)) else [obj]) if isinstance(m, Metric)]
        held = list({id(m): m for m in held}.values())  # the same metric listed twice is one metric
        if not held:
            METRIC_PLUGIN_PROBLEMS[label] = f"holds no Metric (got {type(obj).__name__})"
        mine: dict[str, str] = {}
        problems = [why for m in held if (why := _name_problem(m))]
        for m in held:
            for name in dict.fromkeys((m.column.lower(), m.short.lower())):
                if name in taken or name in mine:
                    problems.append(f"{name!r} is {taken.get(name) or mine[name]} name")
                mine.setdefault(name, "another of its metrics'")
        if problems:
            METRIC_PLUGIN_PROBLEMS[label] = f"names a metric it cannot have ({'; '.join(problems)}): rename it"
            continue
        taken.update({name: f"{label}'s" for name in mine})
        found += held
    return tuple(found)


#: Why each metric plugin target gave no metric, by how the user names it (filled as the plugins are loaded).
METRIC_PLUGIN_PROBLEMS: dict[str, str] = {}


def named_metric_problems() -> list[str]:
    """Why a metric plugin (an entry point or a ``BENCH_METRICS`` target) gives no metric: a typo or a name
    clash never silently measures nothing."""
    env = os.environ.get("BENCH_METRICS", "")
    _plugin_metrics(env)
    return [f"{label} {METRIC_PLUGIN_PROBLEMS[label]}" for label, _ in _metric_targets(env)
            if label in METRIC_PLUGIN_PROBLEMS]  # fmt: skip


def metrics() -> list[Metric]:
    """Every registered metric: the built-in ones, then registered and plugin metrics."""
    seen: set[str] = set()
    out = []
    for m in (*_BUILTIN_METRICS, *_REGISTERED, *_plugin_metrics(os.environ.get("BENCH_METRICS", ""))):
        if m.column not in seen:
            seen.add(m.column)
            out.append(m)
    return out


def measured_metrics() -> list[Metric]:
    """The metrics a worker measures with a function (stored under ``metrics``)."""
    return [m for m in metrics() if m.measure is not None]


#: The built-in registry, as a list (plugins: :func:`metrics`).
METRICS: list[Metric] = list(_BUILTIN_METRICS)


def _unregistered(column: str) -> Metric:
    """A value under ``metrics`` that no metric here declares (measured by a plugin this process lacks)."""
    return Metric(column, ("metrics", column), column, INDEX, better=None)


def metric_values(record: dict) -> Iterator[tuple[str, Metric, object]]:
    """(column, metric, value) for every registered metric present in ``record``, and unregistered ``metrics``."""
    known = set()
    for m in metrics():
        head, *rest = m.path
        value: object = record.get(head)
        if value is None:
            continue
        if rest == ["*"]:
            if isinstance(value, dict):
                for key, v in value.items():
                    yield m.column_for(key), m, v
            continue
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        if head == "metrics":
            known.add(rest[0])
        if value is not None:
            yield m.column, m, value
    for column, value in (record.get("metrics") or {}).items():
        if column not in known and value is not None:
            yield column, _unregistered(column), value


def metric_for(column: str) -> Metric | None:
    """The registered metric behind a tidy column (``tput_32`` -> the throughput metric)."""
    for m in metrics():
        if m.key_of(column) is not None:
            return m
    return None


def find_metric(name: str) -> tuple[Metric, str | None] | None:
    """The metric a user names by its short name, label or column (``fit``, ``tput``, ``tput:32``), and the
    one column asked for (None: every column of a keyed metric)."""
    head, _, key = name.partition(":")
    for m in metrics():
        if head in (m.short, m.column, m.label):
            if key:
                return (m, m.column_for(key)) if m.keyed and key.isdigit() else None
            return m, None if m.keyed else m.column
        if m.keyed and m.key_of(name) is not None:
            return m, name
    return None


def role(short: str) -> Metric:
    """The metric a reader needs by its short name (``fit``, ``accuracy``, ``p50``): how the read side names one
    without spelling its record field. KeyError naming the short names when there is none."""
    for m in metrics():
        if m.short == short:
            return m
    raise KeyError(f"no metric with the short name {short!r}; short names: {', '.join(m.short for m in metrics())}")


def value_of(data: dict, metric: Metric, key: str = "") -> Any:
    """A metric's value in a record (or a serving path's dict of the same layout); ``key``: a keyed metric's key."""
    head, *rest = metric.path
    value: Any = data.get(head)
    for part in rest:
        value = value.get(key if part == "*" else part) if isinstance(value, dict) else None
    return value


def cpu_twins() -> list[tuple[Metric, Metric]]:
    """(wall metric, its process CPU time twin) for every timed call both clocks measured."""
    by_short = {m.short: m for m in metrics()}
    return [(by_short[m.cpu_of], m) for m in metrics() if m.cpu_of and m.cpu_of in by_short]


def headline_durations() -> list[Metric]:
    """The durations every run is judged by: the gated-by-default durations of one column (fit time, predict p50)."""
    return [m for m in metrics() if m.gated and m.kind == DURATION and not m.keyed]


def calls_of(metric: Metric) -> Metric | None:
    """The call count measured with a metric read from a dict field (``latency``'s ``n`` for its p99)."""
    return next((m for m in metrics() if m.kind == COUNT and len(m.path) > 1 and m.path[0] == metric.path[0]
                 and m is not metric), None)  # fmt: skip


def carrying_fields() -> frozenset[str]:
    """Record fields whose values are metrics read by key (flattened into columns, never kept as JSON)."""
    return frozenset(m.path[0] for m in metrics() if len(m.path) > 1)


def label_of(column: str, unit: bool = True) -> str:
    """A column's label, with its unit by default: ``predict p50 (us)``."""
    m = metric_for(column)
    return column if m is None else m.name(column, unit=unit)


def check_ranges(data: dict) -> str | None:
    """Why a record's metric values are impossible (one outside its valid range); None when all are valid."""
    for column, m, value in metric_values(data):
        why = m.invalid(value)
        if why is not None:
            return f"{m.name(column)} ({column}) = {why}"
    return None


# -- the typed record -------------------------------------------------------------------------
def _struct_type() -> Any:
    import msgspec

    fields: list[tuple] = []
    for f in sorted(FIELDS, key=lambda f: not f.required):  # required fields first (no default)
        fields.append((f.name, f.type) if f.required else (f.name, f.type | None, None))  # type: ignore[operator]
    return msgspec.defstruct(
        "Record", fields, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, module=__name__
    )


@functools.cache
def record_type() -> Any:
    """The ``msgspec.Struct`` class of a record, generated from :data:`FIELDS` (built on first use)."""
    return _struct_type()


class RecordError(ValueError):
    """A record that does not match the schema: names the field and what was wrong."""

    #: Written by a newer bench (not damage: upgrading bench reads it).
    newer: bool = False


def _explain(err: Exception) -> str:
    text = str(err)
    # msgspec: "Expected `int`, got `str` - at `$.split_seed`" / "Object contains unknown field `x`"
    if " - at `$." in text:
        what, _, where = text.partition(" - at `$.")
        return f"field {where.rstrip('`')!r}: {what[0].lower()}{what[1:]}"
    if not text:
        return type(err).__name__
    return text if text[1:2].isupper() else text[0].lower() + text[1:]  # "JSON is malformed" stays as it is


def build(fields: dict) -> Any:
    """A validated record from its fields (the one place a record is assembled); RecordError if not."""
    import msgspec

    try:
        record = msgspec.convert(fields, record_type())
    except msgspec.ValidationError as err:
        raise RecordError(_explain(err)) from None
    return _checked(record)


@functools.cache
def _version_type() -> Any:
    import msgspec

    return msgspec.defstruct("Version", [("schema_version", int)])


def _newer(line: bytes) -> int | None:
    """The schema version of a line written by a newer bench (whose fields this one does not know), else None."""
    import msgspec

    try:
        version = msgspec.json.decode(line, type=_version_type()).schema_version
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return version if version > SCHEMA_VERSION else None


def newer_error(version: int) -> RecordError:
    err = RecordError(f"written by a newer bench (record schema {version}; this bench reads schemas "
                      f"{FIRST_VERSION} to {SCHEMA_VERSION}): upgrade bench to read it")  # fmt: skip
    err.newer = True
    return err


@functools.cache
def _absent_from(version: int) -> tuple[tuple[str, int], ...]:
    """Fields a record of ``version`` cannot hold, with the version that introduced them."""
    return tuple((f.name, f.since) for f in FIELDS if not f.in_version(version))


def _checked(record: Any) -> Any:
    """A decoded record whose version is readable, whose fields belong to that version, and whose metrics are valid."""
    version = record.schema_version
    if version > SCHEMA_VERSION:
        raise newer_error(version)
    if version < FIRST_VERSION:
        raise RecordError(f"schema_version {version!r} is not a version bench ever wrote (1 to {SCHEMA_VERSION})")
    for name, since in _absent_from(version):
        if getattr(record, name) is not None:
            when = f"it came in schema {since}" if since > version else "it was last written in an older schema"
            raise RecordError(f"field {name!r} is not part of record schema {version} ({when})")
    why = _range_problem(record)
    if why is not None:
        raise RecordError(why)
    return record


def _range_problem(record: Any) -> str | None:
    """The first metric value outside its valid range (``accuracy`` 1.7, a negative time); None when all are valid."""
    for name, key, metric in _range_checks(os.environ.get("BENCH_METRICS", ""), len(_REGISTERED)):
        value = getattr(record, name)
        if value is None:
            continue
        values = value.items() if key == "*" else [(key, value.get(key))] if key else [("", value)]
        for k, v in values:
            why = metric.invalid(v)
            if why is not None:
                column = metric.column_for(k) if metric.keyed else metric.column
                return f"field {name!r}: {metric.name(column)} = {why}"
    extra = getattr(record, "metrics", None) or {}
    for column, value in extra.items():  # plugin metrics this process may not know: at least a number
        known = metric_for(column)
        why = (known or _unregistered(column)).invalid(value)
        if why is not None:
            return f"field 'metrics': {column} = {why}"
    return None


@functools.lru_cache(maxsize=4)
def _range_checks(env: str, registered: int) -> tuple[tuple[str, str, Metric], ...]:
    """(field, key, metric) of every metric read from a record field ('' key: the field itself; '*': every key)."""
    return tuple((m.path[0], m.path[1] if len(m.path) > 1 else "", m) for m in metrics() if m.path[0] != "metrics")


def decode(line: bytes) -> Any:
    """One stored line as a validated record; RecordError naming the field when it does not match."""
    import msgspec

    try:
        record = msgspec.json.decode(line, type=record_type())
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        version = _newer(line)
        raise (newer_error(version) if version is not None else RecordError(_explain(err))) from None
    return _checked(record)


@functools.lru_cache(maxsize=16)
def subset_type(fields: tuple[str, ...]) -> Any:
    """A Struct of only some fields (the others skipped while decoding): for readers that need a few nested fields."""
    import msgspec

    declared = {f.name: f for f in FIELDS}
    spec = [(n, declared[n].type | None, None) for n in fields if n in declared]  # type: ignore[operator]
    return msgspec.defstruct("RecordPart", spec, kw_only=True, omit_defaults=True, module=__name__)


def decode_subset(line: bytes, struct: Any) -> Any:
    import msgspec

    try:
        return msgspec.json.decode(line, type=struct)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise RecordError(_explain(err)) from None


def encode(record: Any) -> bytes:
    """A record as one JSON line (no newline); NaN and infinities are stored as null."""
    import msgspec

    return msgspec.json.encode(record)


def as_dict(record: Any) -> dict:
    r"""A record as plain data in today's shape (absent fields left out; older versions :func:`upgrade`\ d)."""
    import msgspec

    return upgrade(msgspec.to_builtins(record))
