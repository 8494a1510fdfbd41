"""``bench export``: runs into the places teams keep them: Parquet (the tidy frame) and MLflow.

MLflow: one MLflow run per trial, in one experiment. Params are the trial's
identity (dataset, adapter, its parameters, device, seeds, framework and
versions), metrics every numeric column of the tidy frame (units in
:data:`bench.schema.METRICS`), tags the run id, trial id, status and
machine; the run's environment fingerprint is attached as an artifact.
Re-exporting a trial that is already in the experiment (same run id and
trial id) is skipped, so an export can be repeated. MLflow is an optional
extra (``pip install ".[mlflow]"``). Without ``--tracking-uri`` it writes a
local file store (``./mlruns``), which MLflow 3 keeps in maintenance mode:
bench opts in with ``MLFLOW_ALLOW_FILE_STORE=true``.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.load import load_runs
from bench.errors import UserError
from bench.store.reader import RunFolder
from bench.store.safefs import OutputDir, file_name

PARAM_COLUMNS = ("dataset", "dataset_source", "preprocessing", "adapter", "adapter_name", "profile", "backend", "device", "split_seed",
                 "init_seed", "test_size", "stratify", "framework", "framework_version", "backend_version", "model",
                 "threads_requested", "device_name")  # fmt: skip
TAG_COLUMNS = ("run_id", "trial_id", "status", "reason", "machine", "hostname", "machine_id", "executor")


def export_parquet(runs: list[str], results_dir: str | Path, out: str | None) -> Path:
    loaded = load_runs(runs, results_dir, kind=None)
    name = file_name("+".join(p.name for p in loaded.paths), limit=190) + ".parquet"
    # A user's --out is one named file; the default goes to bench's own reports folder. Never through a link.
    target = Path(out) if out else Path(results_dir) / "reports" / name
    if target.exists() and target.is_dir():
        raise UserError(f"--out {target} is a folder; give a .parquet file name.")
    folder = OutputDir.user(target.parent) if out else OutputDir.owned(target.parent, Path(results_dir))
    buffer = io.BytesIO()
    try:
        loaded.frame.to_parquet(buffer, index=False)
    except ImportError as err:
        raise UserError(f"Writing Parquet needs pyarrow ({err}): pip install pyarrow") from None
    return folder.write(target.name, buffer.getvalue())


#: An unreachable tracking server is one line within seconds, not MLflow's default minutes of retries
#: (set only where the user has not chosen otherwise).
MLFLOW_FAIL_FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def _mlflow() -> tuple[Any, Any]:
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    for key, value in MLFLOW_FAIL_FAST.items():
        os.environ.setdefault(key, value)
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UserError('MLflow is not installed: pip install ".[mlflow]"') from None
    return mlflow, MlflowClient


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
        if isinstance(value, (int, float)) and math.isfinite(float(value)):
            out[column] = float(value)
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def export_mlflow(runs: list[str], results_dir: str | Path, tracking_uri: str | None, experiment: str) -> dict:
    """One MLflow run per trial; returns {'runs': n, 'experiment': name, 'tracking_uri': uri}."""
    mlflow, client_class = _mlflow()
    from mlflow.entities import Metric, Param, RunTag

    loaded = load_runs(runs, results_dir, kind=None)
    uri = tracking_uri or Path("mlruns").resolve().as_uri()
    try:
        client = client_class(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        done = {
            (r.data.tags.get("run_id"), r.data.tags.get("trial_id"))
            for r in client.search_runs([experiment_id], max_results=50000)
        }
    except Exception as err:  # an unreachable server or a bad URI: one line
        raise UserError(f"MLflow at {uri}: {type(err).__name__}: {str(err).splitlines()[0][:200]}") from None
    environments = {p.name: RunFolder(p).environment() for p in loaded.paths}
    by_id = {(r.get("run_id"), r["trial_id"]): r for r in loaded.records}
    now, exported = int(time.time() * 1000), 0
    for _, row in loaded.frame.iterrows():
        key = (row["run_id"], row["trial_id"])
        if key in done:
            continue
        tags = {c: str(row[c])[:5000] for c in TAG_COLUMNS if c in row and not _missing(row[c])}
        tags["mlflow.runName"] = str(row["trial_id"])[:250]
        run = client.create_run(experiment_id, tags=tags, run_name=str(row["trial_id"])[:250])
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in _metrics(row).items()],
            params=[Param(k, v) for k, v in _params(row, by_id.get(key, {})).items()],
            tags=[RunTag("bench.schema_version", str(by_id.get(key, {}).get("schema_version", "")))],
        )
        client.log_text(
            run.info.run_id,
            json.dumps(environments.get(str(row["run_id"]), {}), indent=2, sort_keys=True),
            "environment.json",
        )
        client.set_terminated(run.info.run_id, "FINISHED" if row["status"] in ("ok", "skipped") else "FAILED")
        exported += 1
    return {"runs": exported, "experiment": experiment, "tracking_uri": uri}
