"""The parent's side of the worker protocol: one live worker process per group, owned by one class.

:class:`WorkerProcess` is everything about a worker that is not scheduling:
it builds the worker's typed job (:class:`WorkerJob`) and environment (the
adapter class's ``worker_env`` hook), starts it isolated from the current
folder (``python -I``: no cwd, no user site, no PYTHON* variables beyond the
ones it sets), gives its start-up its own limit (``startup_timeout_s``) and
every trial, the first included, the configured ``trial_timeout_s``, turns a
crash or a hang into an :class:`Outcome`, and makes sure the worker dies with
its parent (a pipe whose write end only the parent holds: when the parent
dies, even by ``kill -9``, the worker reads end-of-file and ends its process
group). A worker leads a process group of its own, so a timeout, an
interrupt or its parent's death ends everything it started too
(:mod:`hello_bench.lifeline`). Executors
only schedule: they create a :class:`WorkerProcess` per group and call
:meth:`~WorkerProcess.run`; there is nothing to copy into a new executor.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hello_bench import lifeline
from hello_bench.isolation import isolated_command, safe_environ
from hello_bench.lifeline import end_group
from hello_bench.measure.protocol import PARENT_FD_VAR, TrialJob, WorkerJob
from hello_bench.record import role

if TYPE_CHECKING:
    from hello_bench.run.config import Config
    from hello_bench.run.matrix import Trial

#: Starts a worker. ``-I`` (isolated mode) keeps the current folder and user site-packages off
#: sys.path before the first import (see :mod:`hello_bench.isolation`).
BOOT = "from hello_bench.measure.worker import main; raise SystemExit(main())"
#: The default time a fresh worker gets to start (import its framework, warm up) before its first trial.
STARTUP_TIMEOUT_S = 120.0


def job_for(config: Config, trial: Trial, machine_id: str | None) -> WorkerJob:
    """The header a worker of ``trial``'s group starts with."""
    return WorkerJob(
        adapter=trial.adapter.name, backend=trial.backend, threads=config.threads, test_size=config.test_size,
        stratify=config.stratify, timing=config.timing.to_dict(), warmup_params=trial.declared()["params"],
        device=trial.device, machine_id=machine_id,
    )  # fmt: skip


def trial_message(trial: Trial) -> dict:
    """What a worker needs of a trial (:class:`hello_bench.measure.protocol.TrialJob`): its parameters resolved here, or
    by its environment's Python for a class only that environment loads."""
    return TrialJob(trial.trial_id, trial.dataset.to_dict(), trial.split_seed, trial.init_seed, trial.device,
                    trial.preprocessing, trial.environment, trial.declared()["params"]).to_dict()  # fmt: skip


@dataclass
class Outcome:
    """What came back for one trial: its measured fields, and beside them what is not part of the record."""

    fields: dict
    raw: dict = field(default_factory=dict)
    #: The worker died before it could run anything: a new one would die the same way.
    dead_on_start: bool = False
    #: The machine's fingerprint, when the trial ran on a machine the run has not seen (Dask).
    environment: dict | None = None


def worker_env(adapter_env: dict[str, str], parent_fd: int) -> dict:
    """The worker's environment: this one plus the adapter's (its ``worker_env`` hook) and the parent pipe."""
    env = safe_environ()
    env.update(adapter_env)
    env[PARENT_FD_VAR] = str(parent_fd)
    return env


def adapter_env(trial: Trial, threads: int) -> dict[str, str]:
    """The adapter's ``worker_env`` hook for ``trial`` (for a class only its environment loads, as it said)."""
    if trial.facts is not None:
        if trial.facts.error is None:
            return dict(trial.facts.worker_env)
        from hello_bench.adapters.base import BenchClassifier  # it will not load there: the harmless default

        return BenchClassifier.worker_env(trial.backend, threads)
    from hello_bench.adapters import adapter_class

    return adapter_class(trial.adapter.name).worker_env(trial.backend, threads)


def signal_name(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:].strip()
    except OSError:
        return ""


class WorkerProcess:
    """One group's worker. ``run(trial)`` returns the trial's :class:`Outcome`, whatever happens.

    Parameters
    ----------
    job : WorkerJob
    adapter_env : dict
        The adapter's environment variables (its ``worker_env`` hook: threads, backend).
    log : callable
        Opens the file that receives the worker's stderr (append, binary).
    log_path : Path
        That file's path, to quote its tail when the worker dies.
    timeout_s : float
        Per trial, the first included.
    startup_timeout_s : float
        For the worker's start-up (framework import, warm-up), before its first trial.
    """

    def __init__(
        self, job: WorkerJob, adapter_env: dict[str, str], log: Callable[[], BinaryIO], log_path: Path, timeout_s: float,
        startup_timeout_s: float = STARTUP_TIMEOUT_S, python: str | None = None,
    ) -> None:  # fmt: skip
        self.job = job
        self.adapter_env = adapter_env
        self.log = log
        self.log_path = log_path
        self.timeout_s = timeout_s
        self.startup_timeout_s = startup_timeout_s
        self.python = python
        self.proc: subprocess.Popen | None = None
        self.hello: dict | None = None
        self.buffer = b""
        self._parent_w: int | None = None
        #: Decides a trial's rows in this (the parent) process; None: the worker splits by seed itself.
        self.rows: Callable[[Trial], dict] | None = None

    @classmethod
    def for_trial(
        cls, config: Config, trial: Trial, machine_id: str | None, log: Callable[[], BinaryIO], log_path: Path,
        python: str | None = None,
    ) -> WorkerProcess:  # fmt: skip
        job = job_for(config, trial, machine_id)
        return cls(job, adapter_env(trial, config.threads), log, log_path, config.trial_timeout_s,
                   config.startup_timeout_s, python)  # fmt: skip

    @property
    def limits(self) -> dict:
        return {"trial_timeout_s": self.timeout_s, "startup_timeout_s": self.startup_timeout_s}

    def _start(self) -> None:
        read_end, self._parent_w = os.pipe()  # both non-inheritable; only read_end is passed on
        env = worker_env(self.adapter_env, read_end)
        try:
            with self.log() as log:
                # The leader of its own process group: what it starts is ended with it (hello_bench.lifeline).
                self.proc = subprocess.Popen(
                    isolated_command(BOOT, python=self.python), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=log, env=env, pass_fds=(read_end,), start_new_session=True,
                )  # fmt: skip
        finally:
            os.close(read_end)
        self.hello = None
        self.buffer = b""
        self._send(self.job.to_dict())

    def _send(self, message: dict) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def _messages(self, deadline: Callable[[], float]) -> Iterator[dict]:
        """Messages from the worker until ``deadline()``; then ``{"type": "deadline"}`` or ``{"type": "eof"}``."""
        assert self.proc is not None and self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
                remaining = deadline() - time.monotonic()
                if remaining <= 0:
                    yield {"type": "deadline"}
                    return
                if not selector.select(timeout=min(remaining, 1.0)):
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    yield {"type": "eof"}
                    return
                self.buffer += chunk
        finally:
            selector.close()

    def run(self, trial: Trial, serve: bool = True, on_start: Callable[[Trial], None] | None = None) -> Outcome:
        """Run one trial; a crash, a hang or a failed start-up becomes its outcome."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        rows = self.rows(trial) if self.rows is not None else None
        try:
            self._send({"type": "trial", "trial": trial_message(trial), "serve": serve, "rows": rows})
        except (BrokenPipeError, OSError):
            pass  # the worker died: its exit is read below
        # A fresh worker first imports its framework and warms up, under its own limit; the
        # trial's limit starts when the worker says it started the trial.
        limit = {"at": time.monotonic() + (self.timeout_s if self.hello else self.startup_timeout_s)}
        started, ended = False, "deadline"
        for message in self._messages(lambda: limit["at"]):
            kind = message["type"]
            if kind in ("deadline", "eof"):
                ended = kind
                break
            if kind == "hello":
                self.hello = message
                limit["at"] = time.monotonic() + self.timeout_s
            elif kind == "start":
                started = True
                limit["at"] = time.monotonic() + self.timeout_s
                if on_start:
                    on_start(trial)
            elif kind == "record":
                return Outcome({**message["fields"], **self.limits}, message.get("raw") or {})
        return self._failed(started, ended)

    def _failed(self, started: bool, ended: str) -> Outcome:
        assert self.proc is not None
        if ended == "eof":  # its output closed: it is exiting, give it a moment to be reaped
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:  # still running: it hung
            self.kill()
            if started or self.hello:
                reason = f"the trial ran past trial_timeout_s={self.timeout_s:g} s; worker killed"
            else:
                reason = (
                    f"the worker's start-up (framework import, warm-up) ran past startup_timeout_s="
                    f"{self.startup_timeout_s:g} s; worker killed"
                )
            return Outcome({"status": "timeout", "reason": reason, **self.limits})
        code = self.proc.wait()
        self.kill()
        tail = _tail(self.log_path)
        reason = f"worker process died ({signal_name(code)})"
        if tail:
            reason += f"; stderr tail: {tail[-600:]}"
        if self.hello is None:
            reason += " (before the first trial)"
        return Outcome({"status": "error", "reason": reason, **self.limits}, dead_on_start=self.hello is None)

    def kill(self) -> None:
        """Kill the worker and everything it started (its process group), then reap it."""
        if self.proc is not None:
            end_group(self.proc)
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
            self.proc = None
        if self._parent_w is not None:
            os.close(self._parent_w)
            self._parent_w = None

    def close(self) -> None:
        """End the worker: close its input (it exits), or kill it if it does not."""
        if self.proc is None:
            return
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()  # and what it started and left behind (a process pool): its group


_FINGERPRINTED: list[bool] = []


def first_fingerprint() -> dict | None:
    """This machine's fingerprint the first time a process asks (for the run's per-machine environments), then None."""
    if _FINGERPRINTED:
        return None
    from hello_bench.measure.machine import fingerprint

    _FINGERPRINTED.append(True)
    return fingerprint()


#: The control measurement in a fresh, isolated process at the trials' thread count.
CONTROL_BOOT = (
    "import json; from threadpoolctl import threadpool_limits; "
    "threadpool_limits(int(sys.argv[1])); from hello_bench.measure.machine import control_measurement; "
    "print(json.dumps(control_measurement(int(sys.argv[1]), float(sys.argv[2]))))"
)


def control_in_worker(threads: int, python: str | None = None, span_s: float = 0.25) -> dict:
    """The control measurement in a fresh worker process at ``threads`` threads (as trials run)."""
    env = safe_environ()
    env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    try:
        out = lifeline.run(
            isolated_command(CONTROL_BOOT, str(threads), repr(span_s), python=python), capture_output=True, text=True, env=env,
            timeout=120,
        )  # fmt: skip
        data = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return {}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {**data, "threads": threads, role("load").column: load, "at": time.time()}
