"""The trial record, defined once: its fields, their types and units, and the metric registry.

A record is one JSON line per trial in ``records.jsonl``. Its fields fall in
three kinds: **identity** (what ran: dataset, adapter, device, seeds),
**measurement** (what was measured, with units) and **provenance** (where
and how: versions, threads, host). Every producer (executor, worker,
measurement) writes only fields declared here, and a test checks it.

:data:`METRICS` is the one list of measurements that readers iterate: the
tidy frame's columns, the summary and trials CSVs, the report's tables and
``bench compare`` all come from it, so a new metric is one measuring
function plus one line here.

Schema history (``schema_version`` in every record):

1. First version.
2. Adds ``test_rows_sha``, ``position``, learning curves (``curve``),
   serving paths (``serving``), garbage-collection counts, timer overhead and
   latency drift. Version-1 records are still read (the new fields are absent).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

#: Final statuses of a trial: ``ok``, or why there is no measurement.
STATUSES = ("ok", "skipped", "error", "timeout")


@dataclass(frozen=True)
class Field:
    """One top-level record field."""

    name: str
    type: str
    kind: str  # identity | measurement | provenance | raw
    unit: str = ""
    doc: str = ""


def _fields(kind: str, rows: list[tuple[str, str, str, str]]) -> list[Field]:
    return [Field(name, type_, kind, unit, doc) for name, type_, unit, doc in rows]


FIELDS: list[Field] = [
    *_fields(
        "identity",
        [
            ("schema_version", "int", "", "version of this schema"),
            ("run_id", "str", "", "the run (folder name)"),
            ("trial_id", "str", "", "dataset/adapter/device/split (/init) (@host): stable and readable"),
            ("group", "str", "", "trials sharing one worker process: adapter label and device"),
            ("dataset", "str", "", "dataset label (+std when standard-scaled)"),
            ("dataset_source", "str", "", "bundled name, synthetic spec or file path"),
            ("preprocessing", "str", "", "none | standard"),
            ("adapter", "str", "", "adapter label: name[:profile](params)[backend]"),
            ("adapter_name", "str", "", "registered name or dotted class path"),
            ("profile", "str|null", "", "named parameter set"),
            ("params", "dict", "", "resolved parameters (profile overridden by explicit ones)"),
            ("backend", "str", "", "Keras backend, or 'default'"),
            ("device", "str", "", "cpu | gpu"),
            ("host", "str|null", "", "the machine a trial was pinned to (Dask --each-host)"),
            ("split_seed", "int", "", "seed of the train/test split"),
            ("init_seed", "int", "", "seed of model initialisation and shuffling"),
            ("test_size", "float", "fraction", "share of rows in the test set"),
            ("stratify", "bool", "", "stratified split (the post's split is not)"),
            ("test_rows_sha", "str", "", "hash of the split's test-row indices: the same split everywhere"),
            ("status", "str", "", "ok | skipped | error | timeout"),
            ("reason", "str", "", "why a trial is not ok"),
        ],
    ),  # fmt: skip
    *_fields(
        "measurement",
        [
            ("accuracy", "float", "fraction", "test accuracy"),
            ("f1_macro", "float", "fraction", "test macro-F1"),
            ("log_loss", "float", "nats", "test log loss (float64, normalised probabilities)"),
            ("fit_wall_s", "float", "s", "wall time of fit, learning-curve evaluation excluded"),
            ("fit_cpu_s", "float", "s", "CPU time of fit (all threads), curve evaluation excluded"),
            ("n_epochs", "int", "", "epochs trained"),
            ("first_epoch_s", "float", "s", "wall time of the first epoch"),
            ("epoch_median_s", "float", "s", "median wall time of the other epochs"),
            ("cold_predict_s", "float", "s", "first single-sample predict after fit (tracing, compilation)"),
            ("stock_cold_predict_s", "float", "s", "first single-sample call of the stock API"),
            ("latency", "dict", "us", "single-sample latency through the adapter: p50/p90/p99/mean, n calls"),
            ("stock_latency", "dict", "us", "the same through the framework's stock API"),
            ("throughput_sps", "dict", "samples/s", "predict throughput per batch size"),
            ("rss_peak_mb", "float", "MiB", "peak resident memory of the trial (VmHWM, reset per trial)"),
            ("rss_fit_delta_mb", "float", "MiB", "resident memory growth during fit"),
            ("gpu_peak_mb", "float|null", "MiB", "peak GPU memory"),
            ("curve", "dict", "", "per epoch: train_time_s (cumulative, evaluation excluded), loss, test_accuracy"),
            ("curve_eval_s", "float", "s", "time spent evaluating learning curves (outside fit_wall_s)"),
            (
                "serving",
                "dict",
                "",
                "per serving path: status, export/load/first-call times, latency, throughput, agreement",
            ),
            (
                "stock_agreement",
                "dict",
                "",
                "the stock API's probabilities against the adapter's: max_abs_diff, label_agreement",
            ),
            ("warnings", "list", "", "warnings raised during fit, one line each"),
            ("gc", "dict", "collections", "garbage collections during fit and during the latency loop"),
            ("latency_drift", "float", "ratio", "median of the last third of latency calls / the first third"),
            ("preprocess_s", "float", "s", "StandardScaler fit and transform"),
            ("n_train", "int", "rows", ""),
            ("n_test", "int", "rows", ""),
            ("n_features", "int", "", ""),
            ("n_classes", "int", "", ""),
        ],
    ),  # fmt: skip
    *_fields(
        "raw",
        [
            ("latency_raw_ns", "list[int]", "ns", "every single-sample call's duration"),
            ("stock_latency_raw_ns", "list[int]", "ns", "every stock-API call's duration"),
            ("traceback", "str", "", "end of the traceback of an error"),
        ],
    ),  # fmt: skip
    *_fields(
        "provenance",
        [
            ("framework", "str", "", "the adapter's framework"),
            ("model", "str", "", "model family, the same across frameworks (mlp, logistic-regression, ...)"),
            ("framework_version", "str|null", "", ""),
            ("backend_version", "str|null", "", ""),
            ("threads_requested", "int", "", "threads per framework asked for"),
            ("threads", "dict", "", "thread counts in force, read back from each library"),
            ("gc_disabled_in_latency", "bool", "", "the latency loop ran with the garbage collector off (as timeit)"),
            ("timer_overhead_ns", "float", "ns", "median cost of one perf_counter_ns pair in this worker"),
            ("device_name", "str", "", "CPU model (py-cpuinfo) or GPU name"),
            ("hostname", "str", "", ""),
            ("machine_id", "str", "", "hash of CPU model, cores, GPUs"),
            ("worker_pid", "int", "", ""),
            ("position", "int", "", "order in which the run started this trial"),
            ("import_s", "float", "s", "the framework's import in a fresh worker (cold start)"),
            ("worker_warmup_s", "float|null", "s", "untimed warm-up fit before the worker's first trial"),
            ("load_avg_1m", "float|null", "", "1-minute load average at the trial's start"),
            ("started_at", "float", "unix s", ""),
            ("finished_at", "float", "unix s", ""),
            ("executor", "str", "", "local | dask | ..."),
            ("dask_worker", "str|null", "", ""),
            ("workers_on_host", "int", "", "Dask workers sharing the trial's host"),
            ("pinned_host", "str|null", "", "version-1 spelling of host"),
        ],
    ),  # fmt: skip
]
FIELD_NAMES = frozenset(f.name for f in FIELDS)
RAW_FIELDS = tuple(f.name for f in FIELDS if f.kind == "raw")
NESTED_FIELDS = tuple(f.name for f in FIELDS if f.type.startswith(("dict", "list")))


def undeclared(record: dict) -> list[str]:
    """Top-level keys of ``record`` that this schema does not declare."""
    return sorted(set(record) - FIELD_NAMES)


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
        A column of ``summary.csv`` (median per dataset x adapter x device).
    compare : bool
        Compared as a B/A ratio by ``bench compare`` (accuracy is compared as a difference).
    """

    column: str
    path: tuple[str, ...]
    unit: str
    label: str
    better: str | None = "lower"
    summary: bool = False
    compare: bool = False

    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"


def _m(
    column: str,
    path: str,
    unit: str,
    label: str,
    better: str | None = "lower",
    summary: bool = False,
    compare: bool = False,
) -> Metric:
    return Metric(column, tuple(path.split(".")), unit, label, better, summary, compare)


METRICS: list[Metric] = [
    _m("accuracy", "accuracy", "fraction", "accuracy", "higher", summary=True),
    _m("f1_macro", "f1_macro", "fraction", "macro-F1", "higher", summary=True),
    _m("log_loss", "log_loss", "nats", "log loss", summary=True),
    _m("fit_wall_s", "fit_wall_s", "s", "fit time", summary=True, compare=True),
    _m("fit_cpu_s", "fit_cpu_s", "s", "fit CPU time"),
    _m("first_epoch_s", "first_epoch_s", "s", "first epoch"),
    _m("epoch_median_s", "epoch_median_s", "s", "epoch (median)"),
    _m("cold_predict_s", "cold_predict_s", "s", "first predict", summary=True, compare=True),
    _m("stock_cold_predict_s", "stock_cold_predict_s", "s", "stock first predict"),
    _m("latency_p50_us", "latency.p50_us", "us", "predict p50", summary=True, compare=True),
    _m("latency_p90_us", "latency.p90_us", "us", "predict p90"),
    _m("latency_p99_us", "latency.p99_us", "us", "predict p99", summary=True, compare=True),
    _m("latency_mean_us", "latency.mean_us", "us", "predict mean"),
    _m("latency_n", "latency.n", "calls", "predict calls", None),
    _m("stock_latency_p50_us", "stock_latency.p50_us", "us", "stock predict p50", summary=True, compare=True),
    _m("stock_latency_p90_us", "stock_latency.p90_us", "us", "stock predict p90"),
    _m("stock_latency_p99_us", "stock_latency.p99_us", "us", "stock predict p99"),
    _m("stock_latency_mean_us", "stock_latency.mean_us", "us", "stock predict mean"),
    _m("stock_latency_n", "stock_latency.n", "calls", "stock calls", None),
    _m("tput_{key}", "throughput_sps.*", "samples/s", "throughput batch {key}", "higher", summary=True, compare=True),
    _m("import_s", "import_s", "s", "import"),
    _m("worker_warmup_s", "worker_warmup_s", "s", "worker warm-up"),
    _m("rss_peak_mb", "rss_peak_mb", "MiB", "peak RSS", summary=True),
    _m("rss_fit_delta_mb", "rss_fit_delta_mb", "MiB", "RSS growth in fit"),
    _m("gpu_peak_mb", "gpu_peak_mb", "MiB", "peak GPU memory"),
    _m("curve_eval_s", "curve_eval_s", "s", "curve evaluation", None),
    _m("latency_drift", "latency_drift", "ratio", "latency drift", None),
    _m("gc_fit", "gc.fit", "collections", "GC in fit", None),
    _m("gc_latency", "gc.latency", "collections", "GC in latency loop", None),
    _m("timer_overhead_ns", "timer_overhead_ns", "ns", "timer overhead", None),
    _m("load_avg_1m", "load_avg_1m", "", "load average", None),
    _m("n_train", "n_train", "rows", "training rows", None),
    _m("n_test", "n_test", "rows", "test rows", None),
    _m("n_features", "n_features", "", "features", None),
    _m("n_classes", "n_classes", "", "classes", None),
    _m("n_epochs", "n_epochs", "", "epochs", None),
]


def metric_values(record: dict) -> Iterator[tuple[str, Metric, object]]:
    """(column, metric, value) for every registered metric present in ``record``."""
    for metric in METRICS:
        head, *rest = metric.path
        value: object = record.get(head)
        if value is None:
            continue
        if rest == ["*"]:
            if isinstance(value, dict):
                for key, v in value.items():
                    yield metric.column.format(key=key), metric, v
            continue
        for part in rest:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            yield metric.column, metric, value


def metric_for(column: str) -> Metric | None:
    """The registered metric behind a tidy column (``tput_32`` -> the throughput metric)."""
    for metric in METRICS:
        if metric.column == column:
            return metric
        if "{key}" in metric.column:
            prefix = metric.column.split("{key}")[0]
            if column.startswith(prefix) and column[len(prefix) :].isdigit():
                return metric
    return None


def label_of(column: str, unit: bool = True) -> str:
    """A column's label, with its unit by default: ``predict p50 (us)``."""
    metric = metric_for(column)
    if metric is None:
        return column
    key = column[len(metric.column.split("{key}")[0]) :] if "{key}" in metric.column else ""
    text = metric.label.format(key=key)
    return f"{text} ({metric.unit})" if metric.unit and unit else text
