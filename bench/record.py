"""The trial record, declared once: fields, types, units, the metrics read from them, and the typed class.

A record is one JSON line per trial in ``records.jsonl``. Its fields fall in
four kinds: **identity** (what ran: dataset, adapter, device, seeds),
**measurement** (what was measured, with units), **provenance** (where and
how: versions, threads, host, limits) and **raw** (kept for old stores;
schema 3 keeps raw per-call durations apart, in ``raw.jsonl``).

:data:`FIELDS` is the one declaration. Each field names the metrics that
readers take from it, so :data:`METRICS` (the registry every plain table,
CSV, comparison, export and ``--json`` iterates) is derived from it. A new
metric is a measuring function plus one registry line: :func:`register`
with ``measure=`` (see :class:`Metric`); its value is stored under the
record's ``metrics`` field and reaches every reader without another change.
Plugins register metrics through the ``bench.metrics`` entry-point group (or
``BENCH_METRICS=module:attr,...``, which worker processes inherit).

:class:`Record` is a ``msgspec.Struct`` generated from :data:`FIELDS`.
msgspec rather than a frozen dataclass: it validates types while decoding
JSON (a wrong type names its field: ``Expected `int`, got `str` - at
`$.split_seed```), rejects undeclared fields, encodes without intermediate
dicts, and decodes a 100,000-line store in seconds; a dataclass would need a
hand-written validator beside it. Records are validated when appended
(:func:`build`) and when read (:func:`decode`).

Schema history (``schema_version`` in every record):

1. First version.
2. Adds ``test_rows_sha``, ``position``, learning curves, serving paths,
   garbage-collection counts, timer overhead and latency drift.
3. Raw per-call durations move to ``raw.jsonl``; adds ``metrics`` (registered
   metrics), ``dataset_sha``, ``trial_timeout_s``, ``startup_timeout_s``,
   ``environment`` and ``order_seed``. Versions 1 and 2 are still read.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

#: Final statuses of a trial: ``ok``, or why there is no measurement.
STATUSES = ("ok", "skipped", "error", "timeout")
Status = Literal["ok", "skipped", "error", "timeout"]
METRIC_ENTRY_POINTS = "bench.metrics"

Number = float | None
Json = Any


@dataclass(frozen=True)
class Metric:
    """One measurement that readers summarise and compare.

    Attributes
    ----------
    column : str
        Column of the tidy frame (``tput_{key}`` expands per key of a dict field).
    path : tuple of str
        Where in the record: ``("latency", "p50_us")``; ``*`` expands dict keys.
    unit, label : str
    better : {"lower", "higher", None}
        None for counts that are not better either way.
    summary : bool
        A column of ``summary.csv`` and of the report's summary table.
    compare : bool
        Compared as a B/A ratio by ``bench compare`` (accuracy is compared as a difference).
    measure : callable, optional
        ``measure(clf, split) -> float | None``, called in the worker after the
        trial's timed work; its value is stored as ``record["metrics"][column]``.
    """

    column: str
    path: tuple[str, ...]
    unit: str
    label: str
    better: str | None = "lower"
    summary: bool = False
    compare: bool = False
    measure: Callable[[Any, Any], float | None] | None = field(default=None, compare=False)

    @classmethod
    def measured(
        cls, column: str, measure: Callable[[Any, Any], float | None], label: str = "", unit: str = "",
        better: str | None = "lower", summary: bool = True, compare: bool = False,
    ) -> Metric:  # fmt: skip
        """A metric measured by ``measure(clf, split)`` in the worker, stored under ``record["metrics"][column]``.

        Plugins expose such objects through the ``bench.metrics`` entry-point group.
        """
        return cls(column, ("metrics", column), unit, label or column, better, summary, compare, measure)

    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"

    @property
    def keyed(self) -> bool:
        return "{key}" in self.column


def metric(
    label: str,
    unit: str | None = None,
    better: str | None = "lower",
    summary: bool = False,
    compare: bool = False,
    key: str = "",
    column: str = "",
    measure: Callable[[Any, Any], float | None] | None = None,
) -> dict:
    """A metric read from the field it is declared on (``key``: a key of a dict field, ``*``: every key)."""
    return dict(label=label, unit=unit, better=better, summary=summary, compare=compare, key=key, column=column,
                measure=measure)  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One top-level record field, with the metrics readers take from it."""

    name: str
    type: Any
    kind: str  # identity | measurement | provenance | raw
    unit: str = ""
    doc: str = ""
    metrics: tuple[dict, ...] = ()
    required: bool = False

    def metric_objects(self) -> list[Metric]:
        out = []
        for m in self.metrics:
            key = m["key"]
            column = m["column"] or (self.name if not key else f"{self.name}_{key}")
            path = (self.name,) if not key else (self.name, key)
            unit = self.unit if m["unit"] is None else m["unit"]
            out.append(Metric(column, path, unit, m["label"], m["better"], m["summary"], m["compare"], m["measure"]))
        return out


def F(name: str, type_: Any, kind: str, unit: str = "", doc: str = "", *metrics: dict, required: bool = False) -> Field:
    return Field(name, type_, kind, unit, doc, tuple(metrics), required)


_LAT = "single-sample latency: p50/p90/p99/mean in us, n calls"
_CPU = "p50_us, mean_us per call, total_s over the loop, n calls"
IDENTITY, MEASURE, PROV, RAW = "identity", "measurement", "provenance", "raw"

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
    F("dataset_sha", str, IDENTITY, "", "hash of the dataset's content (features and labels) as loaded"),
    F("preprocessing", str, IDENTITY, "", "none | standard"),
    F("adapter", str, IDENTITY, "", "adapter label: name[:profile](params)[backend]"),
    F("adapter_name", str, IDENTITY, "", "registered name or dotted class path"),
    F("adapter_class", str, IDENTITY, "", "module:Class the name resolved to when the trial ran"),
    F("profile", str, IDENTITY, "", "named parameter set"),
    F("stock_profile", str, IDENTITY, "", "the adapter's stock profile (its tuned profiles are compared with it)"),
    F("colour", str, PROV, "", "the figure hue the adapter declares (absent: derived from its name)"),
    F("params", dict[str, Json], IDENTITY, "", "resolved parameters (profile overridden by explicit ones)"),
    F("backend", str, IDENTITY, "", "Keras backend, or 'default'"),
    F("device", str, IDENTITY, "", "cpu | gpu"),
    F("environment", str, IDENTITY, "", "the run's environment (bench run --env NAME=REQ), or absent"),
    F("host", str, IDENTITY, "", "the machine a trial was pinned to (Dask --each-host)"),
    F("split_seed", int, IDENTITY, "", "seed of the train/test split"),
    F("init_seed", int, IDENTITY, "", "seed of model initialisation and shuffling"),
    F("test_size", float, IDENTITY, "fraction", "share of rows in the test set"),
    F("stratify", bool, IDENTITY, "", "stratified split (the post's split is not)"),
    F("test_rows_sha", str, IDENTITY, "", "hash of the split's test-row indices: the same split everywhere"),
    # -- measurement --------------------------------------------------------------------
    F("accuracy", Number, MEASURE, "fraction", "test accuracy", metric("accuracy", better="higher", summary=True)),
    F("f1_macro", Number, MEASURE, "fraction", "test macro-F1", metric("macro-F1", better="higher", summary=True)),
    F("log_loss", Number, MEASURE, "nats", "test log loss (float64, normalised probabilities)", metric("log loss", summary=True)),
    F("fit_wall_s", Number, MEASURE, "s", "wall time of fit, learning-curve evaluation excluded",
      metric("fit time", summary=True, compare=True)),
    F("fit_cpu_s", Number, MEASURE, "s", "CPU time of fit (all threads), curve evaluation excluded", metric("fit CPU time")),
    F("n_epochs", int | None, MEASURE, "", "epochs trained", metric("epochs", better=None)),
    F("first_epoch_s", Number, MEASURE, "s", "wall time of the first epoch", metric("first epoch")),
    F("epoch_median_s", Number, MEASURE, "s", "median wall time of the other epochs", metric("epoch (median)")),
    F("cold_predict_s", Number, MEASURE, "s", "first single-sample predict after fit (tracing, compilation)",
      metric("first predict", summary=True, compare=True)),
    F("cold_predict_cpu_s", Number, MEASURE, "s", "process CPU time of the first single-sample predict (all threads)",
      metric("first predict CPU")),
    F("stock_cold_predict_s", Number, MEASURE, "s", "first single-sample call of the stock API", metric("stock first predict")),
    F("stock_cold_predict_cpu_s", Number, MEASURE, "s", "process CPU time of the stock API's first single-sample call",
      metric("stock first predict CPU")),
    F("latency", dict[str, Number], MEASURE, "us", f"through the adapter: {_LAT}",
      metric("predict p50", key="p50_us", summary=True, compare=True), metric("predict p90", key="p90_us"),
      metric("predict p99", key="p99_us", summary=True, compare=True), metric("predict mean", key="mean_us"),
      metric("predict calls", unit="calls", better=None, key="n")),
    F("stock_latency", dict[str, Number], MEASURE, "us", f"through the framework's stock API: {_LAT}",
      metric("stock predict p50", key="p50_us", summary=True, compare=True), metric("stock predict p90", key="p90_us"),
      metric("stock predict p99", key="p99_us"), metric("stock predict mean", key="mean_us"),
      metric("stock calls", unit="calls", better=None, key="n")),
    F("latency_cpu", dict[str, Number], MEASURE, "us", f"process CPU time of each call of the adapter's latency loop: {_CPU}",
      metric("predict CPU p50", key="p50_us"), metric("predict CPU total", unit="s", better=None, key="total_s")),
    F("stock_latency_cpu", dict[str, Number], MEASURE, "us", f"the same for the stock API's latency loop: {_CPU}",
      metric("stock predict CPU p50", key="p50_us"), metric("stock predict CPU total", unit="s", better=None, key="total_s")),
    F("throughput_sps", dict[str, Number], MEASURE, "samples/s", "predict throughput per batch size",
      metric("throughput batch {key}", better="higher", summary=True, compare=True, key="*", column="tput_{key}")),
    F("throughput_cpu_sps", dict[str, Number], MEASURE, "samples/CPU s",
      "predict throughput per batch size per second of process CPU time (median call; None below the clock's resolution)",
      metric("CPU throughput batch {key}", better="higher", key="*", column="cpu_tput_{key}")),
    F("instructions", dict[str, Json], MEASURE, "instructions",
      "counted under valgrind (opt-in, first trial of each group): fit, predict (mean single-sample call), setup, "
      "calls, tool; or error", metric("instructions in fit", key="fit"),
      metric("instructions per predict", key="predict")),
    F("rss_peak_mb", Number, MEASURE, "MiB", "peak resident memory of the trial (VmHWM, reset per trial)",
      metric("peak RSS", summary=True)),
    F("rss_fit_delta_mb", Number, MEASURE, "MiB", "resident memory growth during fit", metric("RSS growth in fit")),
    F("gpu_peak_mb", Number, MEASURE, "MiB", "peak GPU memory", metric("peak GPU memory")),
    F("curve", dict[str, list[Number]], MEASURE, "",
      "per epoch: train_time_s (cumulative, evaluation excluded), loss, test_accuracy"),
    F("curve_eval_s", Number, MEASURE, "s", "time spent evaluating learning curves (outside fit_wall_s)",
      metric("curve evaluation", better=None)),
    F("serving", dict[str, dict[str, Json]], MEASURE, "",
      "per serving path: status, export/load/first-call times, latency, throughput, agreement"),
    F("stock_agreement", dict[str, Json], MEASURE, "",
      "the stock API's probabilities against the adapter's: max_abs_diff, label_agreement"),
    F("metrics", dict[str, Number], MEASURE, "", "metrics measured by registered functions (bench.record.register)"),
    F("warnings", list[str], MEASURE, "", "warnings raised during fit, one line each"),
    F("gc", dict[str, int | None], MEASURE, "collections", "garbage collections during fit and during the latency loop",
      metric("GC in fit", better=None, key="fit"), metric("GC in latency loop", better=None, key="latency")),
    F("latency_drift", Number, MEASURE, "ratio", "median of the last third of latency calls / the first third",
      metric("latency drift", better=None)),
    F("latency_attempts", list[dict[str, Json]], MEASURE, "",
      "earlier latency measurements of this trial, re-measured because they drifted"),
    F("preprocess_s", Number, MEASURE, "s", "StandardScaler fit and transform"),
    F("n_train", int | None, MEASURE, "rows", "", metric("training rows", better=None)),
    F("n_test", int | None, MEASURE, "rows", "", metric("test rows", better=None)),
    F("n_features", int | None, MEASURE, "", "", metric("features", better=None)),
    F("n_classes", int | None, MEASURE, "", "", metric("classes", better=None)),
    # -- raw (schema <= 2 kept them inline; schema 3 keeps them in raw.jsonl) -----------------
    F("latency_raw_ns", list[int], RAW, "ns", "every single-sample call's duration"),
    F("stock_latency_raw_ns", list[int], RAW, "ns", "every stock-API call's duration"),
    F("traceback", str, RAW, "", "end of the traceback of an error"),
    # -- provenance: where and how --------------------------------------------------------
    F("framework", str, PROV, "", "the adapter's framework"),
    F("model", str, PROV, "", "model family, the same across frameworks (mlp, logistic-regression, ...)"),
    F("framework_version", str, PROV, "", ""),
    F("backend_version", str, PROV, "", ""),
    F("threads_requested", int, PROV, "", "threads per framework asked for"),
    F("threads", dict[str, Json], PROV, "", "thread counts in force, read back from each library"),
    F("gc_disabled_in_latency", bool, PROV, "", "the latency loop ran with the garbage collector off (as timeit)"),
    F("timer_overhead_ns", Number, PROV, "ns", "median cost of one perf_counter_ns pair in this worker",
      metric("timer overhead", better=None)),
    F("device_name", str, PROV, "", "CPU model (py-cpuinfo) or GPU name"),
    F("hostname", str, PROV, "", ""),
    F("machine_id", str, PROV, "", "hash of CPU model, cores, GPUs"),
    F("worker_pid", int, PROV, "", ""),
    F("python", str, PROV, "", "the worker's Python executable (its environment's)"),
    F("position", int, PROV, "", "order in which the run started this trial"),
    F("order_seed", int, PROV, "", "seed of the randomised adapter order within each round"),
    F("trial_timeout_s", Number, PROV, "s", "the limit this trial had (from its start message)"),
    F("startup_timeout_s", Number, PROV, "s", "the limit its worker had to start (import, warm-up)"),
    F("import_s", Number, PROV, "s", "the framework's import in a fresh worker (cold start)", metric("import")),
    F("worker_warmup_s", Number, PROV, "s", "untimed warm-up fit before the worker's first trial",
      metric("worker warm-up")),
    F("load_avg_1m", Number, PROV, "", "1-minute load average at the trial's start", metric("load average", better=None)),
    F("started_at", Number, PROV, "unix s", ""),
    F("finished_at", Number, PROV, "unix s", ""),
    F("executor", str, PROV, "", "local | dask | ..."),
    F("dask_worker", str, PROV, "", ""),
    F("workers_on_host", int, PROV, "", "Dask workers sharing the trial's host"),
    F("pinned_host", str, PROV, "", "version-1 spelling of host"),
]  # fmt: skip

FIELD_NAMES = frozenset(f.name for f in FIELDS)
RAW_FIELDS = tuple(f.name for f in FIELDS if f.kind == "raw" and f.name != "traceback")
NESTED_FIELDS = tuple(
    f.name for f in FIELDS if getattr(f.type, "__origin__", f.type) in (dict, list) or f.type in (dict, list)
)
SCALAR_FIELDS = tuple(f.name for f in FIELDS if f.name not in NESTED_FIELDS and f.name not in RAW_FIELDS)


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
) -> Metric:
    """Register a metric measured by ``measure(clf, split)`` in the worker; returns it.

    Its value lands in ``record["metrics"][column]`` and, from there, in the
    tidy frame, the report's summary table, the CSVs, ``bench compare`` (with
    ``compare=True``), the exports and ``--json``.
    """
    if column in {m.column for m in metrics()}:
        raise ValueError(f"a metric named {column!r} is already registered")
    m = Metric.measured(column, measure, label, unit, better, summary, compare)
    _REGISTERED.append(m)
    return m


@functools.lru_cache(maxsize=4)
def _plugin_metrics(env: str) -> tuple[Metric, ...]:
    """Metrics from the ``bench.metrics`` entry points and ``BENCH_METRICS`` (module:attr, comma-separated)."""
    targets = [ep.value for ep in entry_points(group=METRIC_ENTRY_POINTS)]
    targets += [t.strip() for t in env.split(",") if t.strip()]
    from bench.plugins import PluginError, load_target

    found = []
    for target in targets:
        try:
            obj = load_target(target)
        except PluginError:  # a broken plugin costs its metric, not the harness (whatever it raises)
            continue
        found += [m for m in (obj if isinstance(obj, (list, tuple)) else [obj]) if isinstance(m, Metric)]
    return tuple(found)


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
                    yield m.column.format(key=key), m, v
            continue
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        if head == "metrics":
            known.add(rest[0])
        if value is not None:
            yield m.column, m, value
    for column, value in (record.get("metrics") or {}).items():
        if column not in known and value is not None:  # measured by a plugin this process does not have
            yield column, Metric(column, ("metrics", column), "", column, None), value


def metric_for(column: str) -> Metric | None:
    """The registered metric behind a tidy column (``tput_32`` -> the throughput metric)."""
    for m in metrics():
        if m.column == column:
            return m
        if m.keyed:
            prefix = m.column.split("{key}")[0]
            if column.startswith(prefix) and column[len(prefix) :].isdigit():
                return m
    return None


def label_of(column: str, unit: bool = True) -> str:
    """A column's label, with its unit by default: ``predict p50 (us)``."""
    m = metric_for(column)
    if m is None:
        return column
    key = column[len(m.column.split("{key}")[0]) :] if m.keyed else ""
    text = m.label.format(key=key)
    return f"{text} ({m.unit})" if m.unit and unit else text


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
        return msgspec.convert(fields, record_type())
    except msgspec.ValidationError as err:
        raise RecordError(_explain(err)) from None


def decode(line: bytes) -> Any:
    """One stored line as a validated record; RecordError naming the field when it does not match."""
    import msgspec

    try:
        record = msgspec.json.decode(line, type=record_type())
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise RecordError(_explain(err)) from None
    if record.schema_version not in READABLE_VERSIONS:
        raise RecordError(
            f"schema_version {record.schema_version!r} is not one this version of bench reads "
            f"({READABLE_VERSIONS[0]}..{READABLE_VERSIONS[-1]}); upgrade bench to read it"
        )
    return record


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
    """A record as plain data (absent fields left out)."""
    import msgspec

    return msgspec.to_builtins(record)
