"""A worker process: runs one group of trials (same adapter, backend, device).

Started fresh by the executor (``python -m bench.worker``) so that frameworks'
global state, Keras' per-process backend and a crash stay inside one group.
It reads a job (JSON) on stdin and writes one JSON message per line on its
original stdout: ``hello`` once (with the framework's import time), then
``start`` and ``record`` for each trial. Anything the frameworks print goes
to stderr, which the executor saves to the run's logs.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from importlib.metadata import PackageNotFoundError, version


def _version(dist: str) -> str | None:
    for name in (dist, f"{dist}-cpu") if dist == "tensorflow" else (dist,):
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


FRAMEWORK_DIST = {"sklearn": "scikit-learn", "keras": "keras", "torch": "torch"}


def import_framework(cls, backend: str) -> None:
    """Import what the adapter needs (timed by the caller: the cold start)."""
    if cls.framework == "keras":
        from adapters.keras_mlp import import_keras

        import_keras(backend)
    elif cls.framework == "torch":
        import torch  # noqa: F401


def frameworks_to_limit(cls, backend: str) -> tuple[str, ...]:
    names = {cls.framework, backend}
    return tuple(f for f in ("torch", "tensorflow") if f in names)


def device_name(clf, device: str) -> str:
    from .environment import cpu_model

    if device != "gpu":
        return cpu_model()
    if clf.framework == "torch" or getattr(clf, "backend", None) == "torch":
        import torch

        return torch.cuda.get_device_name(0)
    from .devices import nvidia_gpus

    gpus = nvidia_gpus()
    return gpus[0]["name"] if gpus else "gpu"


def gpu_memory_probe(clf, device: str):
    """A callable returning peak GPU memory (MiB) since it was made, or None."""
    if device != "gpu":
        return None
    backend = getattr(clf, "backend", None)
    if clf.framework == "torch" or backend == "torch":
        import torch

        torch.cuda.reset_peak_memory_stats()
        return lambda: torch.cuda.max_memory_allocated() / 2**20
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats("GPU:0")
        return lambda: tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return None


class Worker:
    def __init__(self, job: dict, out):
        self.job = job
        self.out = out
        self.datasets: dict = {}

    def send(self, message: dict) -> None:
        from .store import dumps

        self.out.write(dumps(message) + "\n")
        self.out.flush()

    def split(self, dataset: dict, seed: int, preprocessing: str):
        """The trial's split: stratified, seeded, the same for every adapter.

        With ``preprocessing == "standard"`` a StandardScaler is fitted on the
        training split only (timed separately from ``fit``).
        """
        from sklearn.model_selection import train_test_split

        from .datasets import DatasetSpec, load_spec
        from .measure import Split

        key = json.dumps(dataset, sort_keys=True)
        if key not in self.datasets:
            self.datasets[key] = load_spec(DatasetSpec(**dataset))
        ds = self.datasets[key]
        X_tr, X_te, y_tr, y_te = train_test_split(
            ds.X, ds.y, test_size=self.job["test_size"], random_state=seed, stratify=ds.y
        )
        meta = {
            "n_train": len(X_tr),
            "n_test": len(X_te),
            "n_features": ds.n_features,
            "n_classes": len(ds.classes),
            "preprocess_s": 0.0,
        }
        if preprocessing == "standard":
            from sklearn.preprocessing import StandardScaler

            start = time.perf_counter_ns()
            scaler = StandardScaler().fit(X_tr)
            X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
            meta["preprocess_s"] = (time.perf_counter_ns() - start) / 1e9
        return Split(X_tr, X_te, y_tr, y_te, meta)

    def run(self) -> None:
        from adapters import adapter_class

        from .environment import fingerprint
        from .measure import TimingSettings
        from .threads import limit_threads, set_thread_env

        job = self.job
        threads = job["threads"]
        set_thread_env(threads)
        start = time.perf_counter()
        cls = adapter_class(job["adapter"])
        import_framework(cls, job["backend"])
        import_s = time.perf_counter() - start
        thread_counts = limit_threads(threads, frameworks_to_limit(cls, job["backend"]))
        warmup_s = self.warm_up(cls)
        common = {
            "framework": cls.framework,
            "framework_version": _version(FRAMEWORK_DIST.get(cls.framework, cls.framework)),
            "backend_version": _version(job["backend"]) if job["backend"] != "default" else None,
            "threads": thread_counts,
            "hostname": socket.gethostname(),
            "machine_id": fingerprint(control=False)["machine_id"],
            "worker_pid": os.getpid(),
            "import_s": import_s,
            "worker_warmup_s": warmup_s,
        }
        self.send({"type": "hello", **common})
        settings = TimingSettings.from_dict(job["timing"])
        for trial in job["trials"]:
            self.send({"type": "start", "trial_id": trial["trial_id"]})
            record = {"trial_id": trial["trial_id"], **common, "started_at": time.time()}
            try:
                record.update(self.run_trial(cls, trial, settings))
            except Exception as err:  # recorded, and the group goes on
                record.update(
                    status="error",
                    reason=f"{type(err).__name__}: {err}",
                    traceback="".join(traceback.format_exception(err))[-4000:],
                )
            record["finished_at"] = time.time()
            self.send({"type": "record", "record": record})

    def warm_up(self, cls) -> float | None:
        """One untimed fit and predict on tiny data before the first trial.

        Frameworks initialise lazily (kernels, allocators, autograd); without
        this the first trial of each worker would carry that one-time cost in
        its fit time. Returns its duration (reported as cold start), or None
        if it failed (the trials will then report the error themselves).
        """
        import numpy as np

        first = self.job["trials"][0]
        params = dict(first["params"])
        if "epochs" in params:
            params["epochs"] = 1
        X = np.random.default_rng(0).standard_normal((32, 4))
        y = np.arange(32) % 2
        start = time.perf_counter()
        try:
            clf = cls(**params, device=first["device"], random_state=0)
            if first["device"] == "gpu" and not clf.gpu_available():
                return None
            clf.fit(X, y).predict_proba(X[:1])
            clf.sync()
        except Exception:
            return None
        return time.perf_counter() - start

    def run_trial(self, cls, trial: dict, settings) -> dict:
        from .measure import measure_trial

        device = trial["device"]
        clf = cls(**trial["params"], device=device, random_state=trial["init_seed"])
        if device == "gpu" and not clf.gpu_available():
            return {"status": "skipped", "reason": f"no GPU visible to {cls.framework} in this process"}
        split = self.split(trial["dataset"], trial["split_seed"], trial["preprocessing"])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        metrics = measure_trial(clf, split, settings, gpu_memory=gpu_memory_probe(clf, device))
        return {
            "status": "ok",
            **split.meta,
            "device_name": device_name(clf, device),
            "load_avg_1m": load,
            **metrics,
        }


def main() -> int:
    # Keep the protocol channel for ourselves; whatever else writes to stdout
    # (framework banners, progress bars) goes to stderr instead.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    job = json.loads(sys.stdin.read())
    Worker(job, out).run()
    out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
