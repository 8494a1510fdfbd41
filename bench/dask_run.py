"""The Dask executor: the same trials on a Dask cluster, across workers and machines.

Each trial is one Dask task. The task runs the trial exactly as the local
executor does (a fresh ``bench.worker`` process, the same per-trial timeout)
and returns the record; the client appends each record to the store as soon
as it arrives, so an interrupted client loses nothing already returned, and a
rerun resumes. A Dask worker that dies mid-trial loses only that trial: the
scheduler gives the task to another worker once (``allowed_failures=1`` on
clusters this module starts); past that, the trial is recorded as ``error``.

Timing honesty: workers should have one thread each (``--nthreads 1``), so a
worker runs one timed trial at a time; a record notes how many workers shared
its host (``workers_on_host``) and reports flag shared machines.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from .config import Config
from .errors import UserError
from .matrix import Trial, expand
from .progress import Progress
from .run import GroupRunner, RunResult, decided_skip, static_fields
from .store import RunStore

INSTALL_HINT = 'Dask is not installed: pip install ".[dask]"'


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return distributed


class _Quiet:
    def update(self, *a, **k):
        pass

    def message(self, *a, **k):
        pass


_ENV_CACHE: dict = {}


def run_trial_task(trial: Trial, config: Config, workers_on_host: int) -> dict:
    """Runs on a Dask worker: one trial in a fresh worker process; returns its record.

    Also returns the machine's fingerprint once per process (under
    ``_environment``), for the store's per-machine environments.
    """
    from .environment import fingerprint

    records: list[dict] = []
    extra = {"executor": "dask", "dask_worker": _worker_address(), "workers_on_host": workers_on_host}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "worker.log"
        GroupRunner([trial], config, records.append, _Quiet(), lambda r: None, log, extra).run()
    record = records[0]
    if not _ENV_CACHE:
        _ENV_CACHE.update(fingerprint())
        record["_environment"] = dict(_ENV_CACHE)
    return record


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


def make_client(scheduler: str | None, security=None, n_workers: int | None = None):
    """A client for ``scheduler``, or for a new LocalCluster bound to localhost."""
    distributed = _import_distributed()
    import dask

    if scheduler:
        try:
            return distributed.Client(scheduler, security=security, timeout="20s"), None
        except OSError as err:
            raise UserError(f"Cannot reach the Dask scheduler at {scheduler}: {err}") from None
    # One worker per core, one thread each; never listening beyond this machine.
    dask.config.set({"distributed.scheduler.allowed-failures": 1})
    cluster = distributed.LocalCluster(
        n_workers=n_workers or max(1, (os.cpu_count() or 1)),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    return distributed.Client(cluster), cluster


def workers_by_host(client) -> dict[str, list[str]]:
    """Worker addresses grouped by the hostname each worker reports."""
    import socket

    hosts: dict[str, list[str]] = {}
    for address, name in client.run(socket.gethostname).items():
        hosts.setdefault(name, []).append(address)
    return hosts


def run_matrix_dask(
    config: Config,
    store: RunStore,
    client,
    each_host: bool = False,
    progress_stream=None,
) -> RunResult:
    """Run the trials without records in ``store`` on the cluster behind ``client``.

    Parameters
    ----------
    each_host : bool
        Run the whole matrix once on every host (pinned with Dask's worker
        restrictions); trial ids get ``@<host>`` so one run compares machines.
    """
    distributed = _import_distributed()
    hosts = workers_by_host(client)
    if not hosts:
        raise UserError("The Dask cluster has no workers.")
    base = expand(config)
    targets: list[tuple[Trial, str | None]] = []
    for trial in base:
        for host in sorted(hosts) if each_host else [None]:
            targets.append((trial, host))
    done = store.finished_ids()

    def tid(trial, host):
        return trial.trial_id + (f"@{host}" if host else "")

    todo = [(t, h) for t, h in targets if tid(t, h) not in done]
    result = RunResult(store.run_id, store.path, Counter(), resumed=len(targets) - len(todo))
    progress = Progress(len(todo), stream=progress_stream)
    futures = {}
    for trial, host in todo:
        reason = decided_skip(trial, gpu_present=True)  # GPU presence is each worker's business
        if reason:
            record = {
                **static_fields(trial, config),
                "trial_id": tid(trial, host),
                "status": "skipped",
                "reason": reason,
            }
            store.append(record)
            result.statuses["skipped"] += 1
            progress.update(record["trial_id"], "skipped", ran=False)
            continue
        workers = hosts[host] if host else None
        n_on_host = len(hosts[host]) if host else max(len(v) for v in hosts.values())
        future = client.submit(
            run_trial_task, trial, config, n_on_host, key=f"trial-{tid(trial, host)}-{time.time_ns()}",
            workers=workers, allow_other_workers=False, retries=1, pure=False,
        )  # fmt: skip
        futures[future] = (trial, host)
    for future in distributed.as_completed(futures):
        trial, host = futures[future]
        try:
            record = future.result()
        except Exception as err:  # the task failed twice, or its workers died
            record = {**static_fields(trial, config), "status": "error", "reason": f"{type(err).__name__}: {err}"}
        environment = record.pop("_environment", None)
        if environment:
            store.add_environment(environment)
        record["trial_id"] = tid(trial, host)
        if host:
            record["pinned_host"] = host
        store.append(record)
        result.statuses[record["status"]] += 1
        progress.update(record["trial_id"], record["status"])
    return result


def security_from_flags(ca: str | None, cert: str | None, key: str | None):
    """Dask ``Security`` for TLS, or None when no files are given."""
    if not (ca or cert or key):
        return None
    if not (ca and cert and key):
        raise UserError("TLS needs all three of --tls-ca, --tls-cert and --tls-key.")
    for path in (ca, cert, key):
        if not Path(path).is_file():
            raise UserError(f"TLS file {path} does not exist.")
    distributed = _import_distributed()
    return distributed.Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
