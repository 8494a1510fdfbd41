"""The Dask executor: the same trials as Dask tasks, across workers and machines.

Each trial is one task that runs it exactly as the local executor does (a
fresh ``hello_bench.measure.worker`` process, the same per-trial timeout) and returns the
record; the runner appends each record as it arrives, so an interrupted
client loses nothing already returned, and a rerun resumes. A Dask worker that
dies mid-trial loses only that trial: the scheduler gives the task to another
worker once (``allowed_failures=1`` on clusters this module starts).

With a fit-time budget (``bench scale``) each lane's trials are submitted one
after another, so a sweep stops where it went over budget; otherwise every
trial is submitted at once.

The local cluster this module starts speaks TLS with credentials made for
this process only (``Security.temporary()``), listens on 127.0.0.1, runs no
HTTP server, and ignores Ctrl-C in its workers (the client shuts them down).

Timing honesty: workers should have one thread each (``--nthreads 1``), so a
worker runs one timed trial at a time; a record notes how many workers shared
its host (``workers_on_host``) and reports flag shared machines.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hello_bench.deadline import within
from hello_bench.errors import UserError
from hello_bench.run.executors import Executor, Hooks, Job
from hello_bench.run.process import Outcome

if TYPE_CHECKING:
    from hello_bench.run.matrix import Trial

INSTALL_HINT = 'Dask is not installed: pip install ".[dask]"'
#: Imported by every worker of a cluster bench starts (see that module).
PRELOAD = "hello_bench.run.executors._dask_preload"

#: How long a given scheduler has to answer before the run gives up (one line, nothing written).
CONNECT_S = 10.0
#: How long a host's control may take (a fresh process, imports, the timed spans) before it is left out.
CONTROL_TIMEOUT_S = 120.0


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return distributed


def run_trial_task(trial: dict, job: dict, workers_on_host: int) -> dict:
    """Runs on a Dask worker: one trial in a fresh worker process; returns its outcome as plain data.

    Also returns the machine's fingerprint once per process, for the store's
    per-machine environments.
    """
    from hello_bench.run.matrix import Trial
    from hello_bench.run.process import first_fingerprint

    the_job, the_trial = Job.from_dict(job), Trial.from_dict(trial)
    with tempfile.TemporaryDirectory() as tmp:
        process = the_job.worker(the_trial, Path(tmp))
        try:
            outcome = process.run(the_trial, the_job.serve(the_trial))
        finally:
            process.close()
    outcome.fields.update(executor="dask", dask_worker=_worker_address(), workers_on_host=workers_on_host)
    outcome.environment = first_fingerprint()
    return {"fields": outcome.fields, "raw": outcome.raw, "environment": outcome.environment}


def control_task(threads: int, span_s: float = 0.25) -> dict:
    """Runs on a Dask worker: the control measurement in a fresh process on that worker's machine."""
    import socket

    from hello_bench.run.process import control_in_worker

    return {**control_in_worker(threads, span_s=span_s), "hostname": socket.gethostname()}


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


def security_from_flags(ca: str | None, cert: str | None, key: str | None) -> Any:
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


def check_scheduler_address(address: str) -> str:
    """``tcp://host:port`` or ``tls://host:port``; anything else is one line."""
    scheme, sep, rest = address.partition("://")
    host, colon, port = rest.rpartition(":")
    if (
        not sep
        or scheme not in ("tcp", "tls")
        or not colon
        or not host
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise UserError(f"Bad --scheduler {address!r}: expected tcp://HOST:PORT or tls://HOST:PORT.")
    return address


def reach(address: str, security: Any = None) -> None:
    """One round trip to the scheduler within :data:`CONNECT_S`, or one line.

    A ``Client`` waits on its own terms: a peer that accepts the connection and
    never answers held it for minutes. This asks the scheduler who it is under
    one hard deadline before any Client is made.
    """
    import asyncio

    from distributed.core import rpc

    args = security.get_connection_args("client") if security is not None else {}

    async def identity() -> Any:
        remote = rpc(address, connection_args=args)
        try:
            return await asyncio.wait_for(remote.identity(), CONNECT_S)
        finally:
            await remote.close_rpc()

    try:
        asyncio.run(identity())
    except (asyncio.TimeoutError, TimeoutError):
        raise UserError(f"Cannot reach the Dask scheduler at {address}: no answer within {CONNECT_S:g} s.") from None
    except Exception as err:  # refused, reset, TLS mismatch, not a Dask scheduler: one line
        raise UserError(f"Cannot reach the Dask scheduler at {address}: {type(err).__name__}: {err}") from None


def local_cluster(n_workers: int | None) -> tuple[Any, Any]:
    """A LocalCluster only this process can use: TLS with temporary credentials, 127.0.0.1, no HTTP."""
    distributed = _import_distributed()
    import dask

    try:
        security = distributed.Security.temporary()
    except ImportError:
        raise UserError(
            'The local Dask cluster needs "cryptography" for its TLS credentials: pip install ".[dask]"'
        ) from None
    from hello_bench.run.executors import _dask_preload

    _dask_preload.no_http_servers()  # the scheduler and nannies live in this process
    dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.worker.preload": [PRELOAD]})
    cluster = distributed.LocalCluster(
        n_workers=n_workers or max(1, (os.cpu_count() or 1)),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        protocol="tls://",
        security=security,
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    return distributed.Client(cluster, security=security), cluster


class DaskExecutor(Executor):
    """Trials as Dask tasks on a scheduler (given) or a local cluster (started here)."""

    name = "dask"
    local_devices = False  # GPU presence is each worker's business

    def __init__(
        self, scheduler: str | None = None, security: Any = None, n_workers: int | None = None, each_host: bool = False
    ) -> None:
        self.scheduler = check_scheduler_address(scheduler) if scheduler else None
        if self.scheduler and self.scheduler.startswith("tls://") and security is None:  # checked before any run
            raise UserError(f"--scheduler {self.scheduler} speaks TLS: give --tls-ca, --tls-cert and --tls-key.")
        self.security = security
        self.n_workers = n_workers
        self.each_host = each_host
        self.client: Any = None
        self.cluster: Any = None
        self._hosts: dict[str, list[str]] = {}

    def __enter__(self) -> DaskExecutor:
        distributed = _import_distributed()
        if self.scheduler:
            reach(self.scheduler, self.security)
            # Each call to a given scheduler under a total deadline: one that answered who it is may still
            # send the rest a byte at a time.
            what = f"The Dask scheduler at {self.scheduler}"
            try:
                self.client = within(CONNECT_S * 2, what, lambda: distributed.Client(
                    self.scheduler, security=self.security, timeout=f"{CONNECT_S:g}s"))  # fmt: skip
            except (OSError, TimeoutError) as err:
                raise UserError(f"Cannot reach the Dask scheduler at {self.scheduler}: {err}") from None
            self._hosts = within(CONNECT_S * 2, what, lambda: workers_by_host(self.client))
        else:
            self.client, self.cluster = local_cluster(self.n_workers)
            self._hosts = workers_by_host(self.client)
        if not self._hosts:
            raise UserError("The Dask cluster has no workers.")
        return self

    def __exit__(self, exc_type: object = None, *exc: object) -> None:
        if exc_type is KeyboardInterrupt:  # quiet: no tracebacks from a cluster we are tearing down
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing must not hide the run's own outcome
                    pass

    def describe(self) -> str:
        workers = sum(len(v) for v in self._hosts.values())
        return f"dask, {self.scheduler or f'a local cluster ({workers} workers on 127.0.0.1, TLS)'}"

    def hosts(self) -> list[str] | None:
        return sorted(self._hosts) if self.each_host else None

    def controls(self, threads: int, span_s: float = 0.25) -> dict[str, dict]:
        """The control measured on each host of the cluster (one worker each, one at a time), by hostname."""
        assert self.client is not None
        out = {}
        # The workers as they are now: one that died during the run (and its nanny's replacement, under a
        # new address) must not be asked, or the task waits forever for a worker that is gone.
        for host, workers in sorted(workers_by_host(self.client).items()):
            future = self.client.submit(control_task, threads, span_s, workers=[sorted(workers)[0]], allow_other_workers=False,
                                        pure=False, key=f"control-{host}-{time.time_ns()}")  # fmt: skip
            try:
                measured = future.result(timeout=CONTROL_TIMEOUT_S + 20 * span_s)
            except Exception:  # a host that cannot measure (or not in time) has no control; its trials still run
                future.cancel()
                continue
            if measured:
                out[host] = measured
        return out

    def run(self, lanes: list[list[Trial]], job: Job, hooks: Hooks) -> None:
        distributed = _import_distributed()
        assert self.client is not None
        sequential = job.config.stop_after_fit_s is not None
        queues = [list(lane) for lane in lanes]
        futures: dict = {}
        ready = distributed.as_completed()
        for index, lane in enumerate(queues):
            for _ in range(1 if sequential else len(lane)):
                self._submit_next(index, queues, job, hooks, futures, ready)
        for future in ready:
            index, trial = futures.pop(future)
            try:
                outcome = Outcome(**future.result())
            except Exception as err:  # the task failed twice, or its workers died
                outcome = Outcome({"status": "error", "reason": f"{type(err).__name__}: {err}"})
            hooks.finished(trial, outcome)
            if sequential:
                self._submit_next(index, queues, job, hooks, futures, ready)

    def _submit_next(
        self, index: int, queues: list[list[Trial]], job: Job, hooks: Hooks, futures: dict, ready: Any
    ) -> None:
        while queues[index]:
            trial = queues[index].pop(0)
            reason = hooks.skip_reason(trial)
            if reason:
                hooks.finished(trial, Outcome({"status": "skipped", "reason": reason}))
                continue
            host = trial.host
            workers = self._hosts[host] if host else None
            on_host = len(self._hosts[host]) if host else max(len(v) for v in self._hosts.values())
            hooks.started(trial)
            assert self.client is not None
            future = self.client.submit(
                run_trial_task, trial.to_dict(), job.to_dict(), on_host, key=f"trial-{trial.trial_id}-{time.time_ns()}",
                workers=workers, allow_other_workers=False, retries=1, pure=False,
            )  # fmt: skip
            futures[future] = (index, trial)
            ready.add(future)
            return


def workers_by_host(client: Any) -> dict[str, list[str]]:
    """Worker addresses grouped by the hostname each worker reports."""
    import socket

    hosts: dict[str, list[str]] = {}
    for address, name in client.run(socket.gethostname).items():
        hosts.setdefault(name, []).append(address)
    return hosts


EXECUTOR = DaskExecutor


def add_arguments(group: Any) -> None:
    group.add_argument(
        "--scheduler",
        help="Dask scheduler address, tcp://HOST:PORT or tls://HOST:PORT (default: start a local TLS cluster on 127.0.0.1)",
    )
    group.add_argument(
        "--dask-workers", type=int, metavar="N", help="workers of the local cluster (default: one per core)"
    )
    group.add_argument(
        "--each-host", action="store_true", help="run the whole matrix on every host of the cluster (compare machines)"
    )
    group.add_argument("--tls-ca", metavar="FILE", help="CA certificate for a tls:// scheduler")
    group.add_argument("--tls-cert", metavar="FILE", help="client certificate for a tls:// scheduler")
    group.add_argument("--tls-key", metavar="FILE", help="client key for a tls:// scheduler")


def from_args(args: Any) -> DaskExecutor:
    _import_distributed()
    if args.dask_workers is not None and args.dask_workers < 1:
        raise UserError(f"--dask-workers must be >= 1. Got {args.dask_workers}.")
    security = security_from_flags(args.tls_ca, args.tls_cert, args.tls_key)
    return DaskExecutor(args.scheduler, security, args.dask_workers, args.each_host)
