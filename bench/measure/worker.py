"""A worker process: runs trials of one group (same adapter, backend, device), one at a time.

Started fresh and isolated by :class:`hello_bench.run.process.WorkerProcess`, so
that frameworks' global state, Keras' per-process backend and a crash stay
inside one group. The protocol is JSON lines:

- stdin: a job header (:class:`~hello_bench.measure.protocol.WorkerJob`), then one
  ``trial`` message per trial, sent when the executor wants it run; end of
  input ends the worker.
- the original stdout: ``hello`` once (versions, threads, the framework's
  import time), then ``start`` and ``record`` for each trial. A ``record``
  message carries the trial's measured ``fields`` and, apart, its ``raw``
  per-call durations.

Anything the frameworks print goes to stderr, which the executor saves to the
run's logs. Every framework fact comes from the adapter class's hooks. The
worker exits at once when its parent dies (it watches a pipe only the parent
holds open).
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
import traceback
from typing import Any, TextIO

from hello_bench.lifeline import end_own_group
from hello_bench.measure.protocol import PARENT_FD_VAR, TrialJob, WorkerJob


def json_safe(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalar or 0-d array
        return json_safe(value.item()) if getattr(value, "ndim", 0) == 0 else json_safe(value.tolist())
    return value


def watch_parent() -> None:
    """End as soon as the parent is gone (its end of the pipe closes and the read returns b''), and with this
    worker everything it started: it leads its own process group, and the whole group is killed."""
    fd = os.environ.get(PARENT_FD_VAR)
    if not fd:
        return

    def wait() -> None:
        try:
            while os.read(int(fd), 1):
                pass
        except OSError:
            pass
        end_own_group(70)  # the parent died: nobody will read this worker's results

    threading.Thread(target=wait, name="bench-parent-watch", daemon=True).start()


class Worker:
    def __init__(self, job: WorkerJob, out: TextIO) -> None:
        self.job = job
        self.out = out
        self.datasets: dict = {}
        self.common: dict = {}
        self.warmed: set = set()
        #: Why the adapter did not load in this Python: every trial is then an error saying so.
        self.load_error: str | None = None

    def send(self, message: dict) -> None:
        self.out.write(json.dumps(json_safe(message), allow_nan=False) + "\n")
        self.out.flush()

    # -- start-up ---------------------------------------------------------------
    def start(self) -> None:
        """Import the framework (timed), limit threads, warm up, say hello."""
        from hello_bench.adapters import AdapterLoadError, UnknownAdapterError, adapter_class
        from hello_bench.adapters.registry import identity
        from hello_bench.measure.machine import machine_id

        job = self.job
        begin = time.perf_counter()
        try:
            self.cls = adapter_class(job.adapter)  # the adapter's module imports its estimators
        except (UnknownAdapterError, AdapterLoadError) as err:  # resolved here, in this environment's Python
            self.load_error = str(err)
            self.send({"type": "hello", "load_error": self.load_error, "python": sys.executable})
            return
        self.cls.import_framework(job.backend)
        import_s = time.perf_counter() - begin
        threads = self.cls.limit_threads(job.threads, job.backend)
        warmup_s = self.warm_up()
        costs = self.empty_call_costs() if warmup_s is not None else {}
        self.common = {
            "framework": self.cls.framework,
            "model": self.cls.model_family(),
            "adapter_class": identity(self.cls),
            **self.cls.framework_versions(job.backend),
            "threads": threads,
            "hostname": socket.gethostname(),
            "machine_id": job.machine_id or machine_id(),
            "worker_pid": os.getpid(),
            "python": sys.executable,
            "import_s": import_s,
            "worker_warmup_s": warmup_s,
            **costs,
        }
        self.send({"type": "hello", **self.common})

    def warm_up(self) -> float | None:
        """One untimed fit and predict on tiny data before the first trial.

        Frameworks initialise lazily (kernels, allocators, autograd); without
        this the first trial of each worker would carry that one-time cost in
        its fit time. Uses the group's parameters with the adapter's small
        ``smoke_params``. Returns its duration (reported as cold start), or
        None if it failed (the trials will then report the error themselves).
        """
        import numpy as np

        params = {**self.job.warmup_params, **self.cls.smoke_params}
        X = np.random.default_rng(0).standard_normal((32, 4))
        y = np.arange(32) % 2
        begin = time.perf_counter()
        try:
            clf = self.cls(**params, device=self.job.device, random_state=0)
            if self.job.device == "gpu" and not clf.gpu_available():
                return None
            clf.fit(X, y).predict_proba(X[:1])
            clf.sync()
        except Exception:
            return None
        return time.perf_counter() - begin

    def empty_call_costs(self) -> dict:
        """The framework's cost per optimiser step, per epoch and per predict call with the group's parameters and
        nothing to compute (the adapter's ``empty_call_costs`` hook), measured once, after the warm-up; {} if unknown."""
        # The hook's per-call costs, by the record field each is stored in.
        keys = {"step": "step_overhead_s", "epoch": "epoch_overhead_s", "predict": "predict_overhead_s"}
        begin = time.perf_counter()
        try:
            from hello_bench.measure.settings import TimingSettings

            budget = TimingSettings.from_dict(self.job.timing).call_cost_budget_s
            clf = self.cls(**self.job.warmup_params, device=self.job.device, random_state=0)
            costs = clf.empty_call_costs(budget) or {}
            found = {
                field: float(costs[k]) for k, field in keys.items() if k in costs and math.isfinite(float(costs[k]))
            }
        except Exception:  # a hook that fails costs its numbers, not the trials
            return {}
        return {**found, "overhead_probe_s": time.perf_counter() - begin} if found else {}

    # -- trials ---------------------------------------------------------------
    def dataset(self, trial: Any) -> Any:
        from hello_bench.data.datasets import DatasetSpec, load_spec

        key = json.dumps(trial.dataset, sort_keys=True)
        if key not in self.datasets:
            self.datasets[key] = load_spec(DatasetSpec.from_dict(trial.dataset))
        return self.datasets[key]

    def split(self, trial: Any, rows: dict | None = None) -> Any:
        """The trial's split: the rows the parent decided (or, without them, seeded here), the same for every adapter.

        With ``preprocessing == "standard"`` a StandardScaler is fitted on the
        training split only (timed separately from ``fit``).
        """
        import numpy as np
        from sklearn.model_selection import train_test_split

        from hello_bench.measure.trial import Split, test_rows_sha

        ds = self.dataset(trial)
        if rows is not None:
            train, test = np.asarray(rows["train"], dtype=np.int64), np.asarray(rows["test"], dtype=np.int64)
            if len(train) + len(test) != ds.n_samples or max(train.max(), test.max()) >= ds.n_samples:
                raise ValueError(
                    f"the parent's split has {len(train)} + {len(test)} rows; this dataset has {ds.n_samples}"
                )
        else:
            stratify = ds.y if self.job.stratify else None
            train, test = train_test_split(np.arange(ds.n_samples), test_size=self.job.test_size,
                                           random_state=trial.split_seed, stratify=stratify)  # fmt: skip
        X_tr, X_te, y_tr, y_te = ds.X[train], ds.X[test], ds.y[train], ds.y[test]
        meta = {
            "n_train": len(X_tr),
            "n_test": len(X_te),
            "n_features": ds.n_features,
            "n_classes": len(ds.classes),
            "preprocess_s": 0.0,
            "test_rows_sha": test_rows_sha(test),
            "dataset_sha": ds.content_sha,
        }
        if trial.preprocessing == "standard":
            from sklearn.preprocessing import StandardScaler

            begin = time.perf_counter_ns()
            scaler = StandardScaler().fit(X_tr)
            X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
            meta["preprocess_s"] = (time.perf_counter_ns() - begin) / 1e9
        return Split(X_tr, X_te, y_tr, y_te, meta)

    def handle(self, message: dict) -> None:
        """Run one trial message and send its record (an error is a record, not a crash)."""
        trial = TrialJob.from_dict(message["trial"])
        self.send({"type": "start", "trial_id": trial.trial_id})
        fields = {**self.common, "started_at": time.time()}
        raw: dict = {}
        if self.load_error is not None:
            where = f"environment {trial.environment!r}" if trial.environment else "bench's Python"
            fields.update(status="error", reason=f"{where} ({sys.executable}): {self.load_error}")
            self.send({"type": "record", "fields": {**fields, "finished_at": time.time()}, "raw": raw})
            return
        try:
            fields.update(self.run_trial(trial, message.get("serve", True), raw, message.get("rows")))
        except Exception as err:  # recorded, and the group goes on
            fields.update(
                status="error",
                reason=f"{type(err).__name__}: {err}",
                traceback="".join(traceback.format_exception(err))[-4000:],
            )
        fields["finished_at"] = time.time()
        self.send({"type": "record", "fields": fields, "raw": raw})

    def run_trial(self, trial: Any, serve: bool, raw: dict, rows: dict | None = None) -> dict:
        from hello_bench.measure.devices import cpu_model
        from hello_bench.measure.settings import TimingSettings
        from hello_bench.measure.trial import measure_trial

        device = trial.device
        clf = self.cls(**(trial.params or {}), device=device, random_state=trial.init_seed)
        if device == "gpu" and not clf.gpu_available():
            return {"status": "skipped", "reason": f"no GPU visible to {self.cls.framework} in this process"}
        split = self.split(trial, rows)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        settings = TimingSettings.from_dict(self.job.timing)
        shape_warmup_s = self.warm_up_shape(trial, split)
        metrics = measure_trial(clf, split, settings, threads=self.job.threads, serve=serve)
        for name in ("latency_raw_ns", "stock_latency_raw_ns"):
            if name in metrics:
                raw[name] = metrics.pop(name)
        return {
            "status": "ok",
            **split.meta,
            "device_name": clf.device_name(device) or (gpu_name() if device == "gpu" else cpu_model()),
            "load_avg_1m": load,
            **({"shape_warmup_s": shape_warmup_s} if shape_warmup_s is not None else {}),
            **metrics,
        }

    def warm_up_shape(self, trial: Any, split: Any) -> float | None:
        """The adapter's untimed fit on the trial's own data (``shape_warmup_params``), once per worker and data
        shape, before the first timed fit on it; its duration, or None where there was none."""
        params = self.cls.shape_warmup_params(trial.params or {})
        key = (split.X_train.shape, len(set(split.y_train.tolist())))
        if params is None or key in self.warmed:
            return None
        self.warmed.add(key)
        begin = time.perf_counter()
        try:
            clf = self.cls(**params, device=trial.device, random_state=trial.init_seed)
            clf.fit(split.X_train, split.y_train)
            clf.sync()
        except Exception:  # the timed fit will meet the same problem and record it
            return None
        return time.perf_counter() - begin


def gpu_name() -> str:
    from hello_bench.measure.devices import nvidia_gpus

    gpus = nvidia_gpus()
    return gpus[0]["name"] if gpus else "gpu"


def main() -> int:
    # Keep the protocol channel for ourselves; whatever else writes to stdout
    # (framework banners, progress bars) goes to stderr instead.
    from hello_bench.measure.protocol import protocol_stdout

    watch_parent()
    out = protocol_stdout()
    worker = Worker(WorkerJob.from_dict(json.loads(sys.stdin.readline())), out)
    worker.start()
    for line in sys.stdin:
        if line.strip():
            worker.handle(json.loads(line))
    out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
