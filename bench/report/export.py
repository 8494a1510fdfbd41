"""``bench export``: runs into the places teams keep them: Parquet (the tidy frame) and MLflow.

Both keep everything: every record of every named run, with its ``run_id``
(counting a split once is the statistics' business, not an export's).

MLflow: one experiment; a **parent MLflow run per bench run** (its settings as
params, its span as start and end time, its environment, config, report and
figures as artifacts) and a **nested MLflow run per trial** (params: the
trial's identity; metrics: every numeric column of the tidy frame; the
learning curve as step metrics ``curve_loss``, ``curve_test_accuracy``,
``curve_train_time_s``, one step per epoch; start and end: the trial's own).
Re-exporting skips what is already there (same run id, trial id, status and
end), and replaces a trial's older export that a later record superseded (a
``--retry-errors`` that fixed it): the old nested run is deleted, not left
beside the new one.

Without ``--tracking-uri`` the store is ``sqlite:///<results>/mlflow/mlflow.db``
with artifacts beside it (never the working folder): MLflow's own client reads
it with default settings (MLflow 3 keeps the file store in maintenance). The
SQL store needs SQLAlchemy and Alembic, which ``pip install ".[mlflow]"``
brings with ``mlflow-skinny``. Where MLflow writes is checked before it is
called, and a remote store's every call has a total deadline
(:mod:`hello_bench.report.mlflow_store`).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import numbers
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hello_bench.analysis.load import Loaded, load_runs
from hello_bench.errors import UserError
from hello_bench.report import mlflow_store
from hello_bench.store.reader import RunFolder
from hello_bench.store.safefs import OutputDir, file_name

PARAM_COLUMNS = ("dataset", "dataset_source", "preprocessing", "adapter", "adapter_name", "profile", "backend", "device", "split_seed",
                 "init_seed", "test_size", "stratify", "framework", "framework_version", "backend_version", "model",
                 "threads_requested", "device_name")  # fmt: skip
TAG_COLUMNS = ("run_id", "trial_id", "status", "reason", "machine", "hostname", "machine_id", "executor")
RUN_SETTINGS = (
    "splits",
    "first_seed",
    "init_seeds",
    "test_size",
    "stratify",
    "threads",
    "devices",
    "trial_timeout_s",
    "quick",
    "description",
)
#: Curve series logged as step metrics (one step per epoch).
CURVE_SERIES = ("loss", "test_accuracy", "train_time_s")
#: Runs asked of the store per call (a page: each call stays small enough for its deadline).
PAGE = 1000


def export_parquet(runs: list[str], results_dir: str | Path, out: str | None) -> dict:
    """Every record of every named run, with its ``run_id`` (no deduplication: that is the statistics' business)."""
    loaded = load_runs(runs, results_dir, kind=None, dedupe_splits=False)
    name = file_name(loaded.file_stem(), limit=190) + ".parquet"
    # A user's --out is one named file; the default goes to bench's own reports folder. Never through a link.
    target = Path(out) if out else Path(results_dir) / "reports" / name
    if target.exists() and target.is_dir():
        raise UserError(f"--out {target} is a folder; give a .parquet file name.")
    folder = OutputDir.user(target.parent, results_dir) if out else OutputDir.owned(target.parent, Path(results_dir))
    if target.suffix.lower() not in (".parquet", ".pq"):  # after the store's own refusals, which say more
        raise UserError(f"--out {out}: a Parquet export's file name ends in .parquet (a reader trusts the name).")
    buffer = io.BytesIO()
    try:
        loaded.frame.to_parquet(buffer, index=False)
    except ImportError as err:
        raise UserError(f"Writing Parquet needs pyarrow ({err}): pip install pyarrow") from None
    path = folder.write(target.name, buffer.getvalue())
    return {"path": str(path), "rows": len(loaded.frame), "run_ids": loaded.names}


# -- MLflow -----------------------------------------------------------------------------------
def _mlflow() -> Any:
    # A plain folder as --tracking-uri is MLflow's file store, which MLflow 3 refuses unless allowed:
    # the user named it, so allow it (the default store is SQLite).
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UserError('MLflow is not installed: pip install ".[mlflow]"') from None
    return MlflowClient


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's and Alembic's INFO lines ("Creating initial MLflow database tables...") stay off the console."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _ms(value: Any) -> int | None:
    """A timestamp (datetime or Unix seconds) in milliseconds, or None."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return int(value.timestamp() * 1000)
    return int(float(value) * 1000)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _params(row: pd.Series, record: dict) -> dict[str, str]:
    params = {c: row[c] for c in PARAM_COLUMNS if c in row and not _missing(row[c])}
    for key, value in (record.get("params") or {}).items():
        params[f"param.{key}"] = value
    return {k: str(v)[:6000] for k, v in params.items()}


def _metrics(row: pd.Series) -> dict[str, float]:
    out = {}
    for column, value in row.items():
        if column in PARAM_COLUMNS or isinstance(value, (bool, str)) or _missing(value):
            continue
        # numpy integers too (a column without gaps stays int64: n_train, n_steps), never numpy booleans
        if isinstance(value, numbers.Real) and not isinstance(value, np.bool_) and math.isfinite(float(value)):
            out[column] = float(value)
    return out


def _series(curve: dict, name: str) -> list:
    """One series of a learning curve, as stored (a list) or as read for reports (an array), as a list."""
    values = curve.get(name)
    return [] if values is None else list(values)


def curve_metrics(record: dict, start_ms: int) -> list[tuple[str, float, int, int]]:
    """(key, value, timestamp ms, step) for each epoch of the learning curve."""
    curve = record.get("curve") or {}
    times = _series(curve, "train_time_s")
    out = []
    for series in CURVE_SERIES:
        for step, value in enumerate(_series(curve, series), start=1):
            if value is not None and math.isfinite(float(value)):
                at = start_ms + int(1000 * float(times[step - 1])) if step <= len(times) else start_ms
                out.append((f"curve_{series}", float(value), at, step))
    return out


class Exporter:
    """One export into one experiment: parents per bench run, a nested run per trial."""

    def __init__(self, client: Any, experiment_id: str, loaded: Loaded, staging: Path, results_dir: Path) -> None:
        self.client, self.experiment_id, self.loaded = client, experiment_id, loaded
        self.staging, self.results_dir = staging, results_dir
        found = all_runs(client, experiment_id)
        #: The nested run of each exported trial, by (bench run id, trial id).
        self.done = {
            (r.data.tags.get("run_id"), r.data.tags.get("trial_id")): r
            for r in found
            if r.data.tags.get("bench.level") == "trial"
        }
        self.parents = {
            r.data.tags.get("run_id"): r.info.run_id for r in found if r.data.tags.get("bench.level") == "run"
        }
        self.created = 0

    def current(self, row: pd.Series) -> bool:
        """Whether the trial's export is already there and is of its latest record; an export of an older
        record (a trial that failed, then was retried) is deleted, so that the new one replaces it."""
        old = self.done.get((row["run_id"], row["trial_id"]))
        if old is None:
            return False
        tags = old.data.tags
        if tags.get("status") == str(row["status"]) and tags.get("bench.finished_at", _stamp(row)) == _stamp(row):
            return True
        self.client.delete_run(old.info.run_id)
        return False

    def parent(self, folder: RunFolder, rows: pd.DataFrame) -> str:
        """The MLflow run of a bench run: its settings, span, environment, config and report."""
        if folder.run_id in self.parents:
            return self.parents[folder.run_id]
        from mlflow.entities import Param

        tags = {
            "run_id": folder.run_id,
            "bench.level": "run",
            "bench.kind": folder.kind(),
            "mlflow.runName": folder.run_id,
        }
        start = _ms(rows["started_at"].min()) if "started_at" in rows else None
        run = self.client.create_run(self.experiment_id, start_time=start, tags=tags, run_name=folder.run_id)
        config = folder.config()
        params = [Param(f"config.{k}", str(config[k])[:6000]) for k in RUN_SETTINGS if k in config]
        self.client.log_batch(run.info.run_id, params=params)
        self._artifacts(run.info.run_id, folder)
        end = _ms(rows["finished_at"].max()) if "finished_at" in rows else None
        self.client.set_terminated(run.info.run_id, "FINISHED", end_time=end)
        self.parents[folder.run_id] = run.info.run_id
        self.created += 1
        return run.info.run_id

    def _artifacts(self, mlflow_run: str, folder: RunFolder) -> None:
        staged = OutputDir.user(self.staging / folder.run_id)
        staged.write("environment.json", json.dumps(folder.environment(), indent=2, sort_keys=True))
        staged.write("config.json", json.dumps(folder.config(), indent=2, sort_keys=True))
        self.client.log_artifact(mlflow_run, str(staged.path / "environment.json"))
        self.client.log_artifact(mlflow_run, str(staged.path / "config.json"))
        report = stage_report(folder, self.results_dir, self.staging / folder.run_id / "report")
        if report is not None:
            self.client.log_artifacts(mlflow_run, str(report), artifact_path="report")

    def trial(self, row: pd.Series, record: dict, parent: str) -> None:
        from mlflow.entities import Metric, Param

        tags = {c: str(row[c])[:5000] for c in TAG_COLUMNS if c in row and not _missing(row[c])}
        tags.update({"mlflow.runName": str(row["trial_id"])[:250], "mlflow.parentRunId": parent, "bench.level": "trial",
                     "bench.schema_version": str(record.get("schema_version", "")), "bench.finished_at": _stamp(row)})  # fmt: skip
        start = _ms(row.get("started_at"))
        # Three calls per trial (a trial's run, its numbers, its end): each call is a transaction of the store, the
        # export's cost at 100,000 trials; the tags go with the run, the parameters with the first metrics.
        run = self.client.create_run(
            self.experiment_id, start_time=start, tags=tags, run_name=str(row["trial_id"])[:250]
        )
        at = start or 0
        metrics = [Metric(k, v, at, 0) for k, v in _metrics(row).items()]
        metrics += [Metric(k, v, t, step) for k, v, t, step in curve_metrics(record, at)]
        params = [Param(k, v) for k, v in _params(row, record).items()]
        for batch_params, batch in _batches(params, metrics):
            self.client.log_batch(run.info.run_id, metrics=batch, params=batch_params)
        status = "FINISHED" if row["status"] in ("ok", "skipped") else "FAILED"
        self.client.set_terminated(run.info.run_id, status, end_time=_ms(row.get("finished_at")))
        self.created += 1


#: What one MLflow batch may hold: metrics and parameters together, and parameters alone.
BATCH_ENTITIES, BATCH_PARAMS = 1000, 100


def _batches(params: list, metrics: list) -> Iterator[tuple[list, list]]:
    """(parameters, metrics) per ``log_batch`` call within MLflow's limits: the parameters with the first metrics."""
    first = True
    while first or params or metrics:
        head, params = params[:BATCH_PARAMS], params[BATCH_PARAMS:]
        room = BATCH_ENTITIES - len(head)
        batch, metrics = metrics[:room], metrics[room:]
        if head or batch:
            yield head, batch
        first = False


def stage_report(folder: RunFolder, results_dir: Path, out: Path) -> Path | None:
    """The run's report (REPORT.md, report.html, figures) written to a staging folder; None for a run without one."""
    if folder.kind() not in ("matrix", "seed"):
        return None
    import numpy as np

    from hello_bench.report.build import write_report

    try:
        with np.errstate(invalid="ignore", divide="ignore"):  # censored times: NaN shows as '-'
            write_report([str(folder.path)], results_dir, out_dir=out)
    except UserError:  # no ok trial to report on: the trials still go to MLflow
        return None
    return out


def all_runs(client: Any, experiment_id: str) -> list[Any]:
    """Every live run of the experiment, a page per call."""
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=PAGE, page_token=token)
        runs += list(page)
        token = getattr(page, "token", None)
        if not token:
            return runs


def _stamp(row: pd.Series) -> str:
    """When the trial's record ended, as a tag (what tells a retried trial's record from the one it replaced)."""
    value = row.get("finished_at")
    return "" if _missing(value) else str(value)


def export_mlflow(runs: list[str], results_dir: str | Path, tracking_uri: str | None, experiment: str) -> dict:
    """A parent MLflow run per bench run, a nested run per trial; returns what was written where."""
    if not experiment.strip():
        raise UserError("--experiment is empty: name the MLflow experiment (default: hello-bench).")
    client_class = _mlflow()
    loaded = load_runs(runs, results_dir, kind=None, dedupe_splits=False)
    store = mlflow_store.resolve(tracking_uri, results_dir)  # every path MLflow will write, checked; nothing written
    uri = store.uri
    with _quiet(), tempfile.TemporaryDirectory(prefix="bench-mlflow-") as staging:
        try:
            client = mlflow_store.client(store, client_class)
            found = client.get_experiment_by_name(experiment)
            if found is not None:
                mlflow_store.check_artifacts(found.artifact_location, results_dir)
                experiment_id = found.experiment_id
            else:
                experiment_id = client.create_experiment(experiment, artifact_location=store.artifacts)
                mlflow_store.check_artifacts(client.get_experiment(experiment_id).artifact_location, results_dir)
            exporter = Exporter(client, experiment_id, loaded, Path(staging), Path(results_dir))
            trials = _export_trials(exporter, loaded)
        except UserError:
            raise
        except Exception as err:  # a bad URI, a server error: one line
            raise UserError(f"MLflow at {uri}: {type(err).__name__}: {str(err).splitlines()[0][:200]}") from None
    return {"tracking_uri": uri, "experiment": experiment, "experiment_id": experiment_id, "mlflow_runs": exporter.created,
            "trials": trials, "run_ids": [p.name for p in loaded.paths]}  # fmt: skip


#: The record fields a trial's MLflow run takes besides the frame's columns.
TRIAL_FIELDS = ("params", "schema_version", "curve")


def _export_trials(exporter: Exporter, loaded: Loaded) -> int:
    """Each trial not exported yet, its record fields streamed from the records file (never every record in memory)."""
    exported = 0
    for folder in loaded.folders:
        rows = loaded.frame[loaded.frame["run_id"] == folder.run_id]
        todo = rows[np.array([not exporter.current(row) for _, row in rows.iterrows()], dtype=bool)]
        if todo.empty:
            continue
        parent = exporter.parent(folder, rows)
        where = {trial_id: i for i, trial_id in enumerate(todo["trial_id"].astype(str))}
        for record in loaded.views(TRIAL_FIELDS, todo):
            exporter.trial(todo.iloc[where[str(record["trial_id"])]], record, parent)
            exported += 1
    return exported
