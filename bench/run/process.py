"""The parent's side of the worker protocol: one live worker process per group.

A :class:`WorkerProcess` starts ``bench.measure.worker`` with an explicit import path
(never the current directory), sends it trials one at a time, enforces the
per-trial timeout, and turns a crash or a hang into a record. Executors use
it; it knows nothing about stores, progress or frameworks (the adapter
class's ``worker_env`` hook gives the environment).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.run.matrix import Trial
from bench.store.safefs import open_log

#: Starts the worker without the current directory on sys.path (``-c`` puts
#: '' first; it is removed before anything is imported), so a ``bench/``
#: folder where the user stands is never imported instead of this package.
BOOT = "import sys; del sys.path[0]; from bench.measure.worker import main; raise SystemExit(main())"
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
#: The least time a fresh worker gets to start (import its framework, warm up) before its first trial.
STARTUP_TIMEOUT_S = 120.0


def worker_env(adapter_cls: Any, backend: str, threads: int) -> dict:
    """The worker's environment: this one, the adapter's (threads, backend), this package first on the path."""
    env = dict(os.environ)
    env.update(adapter_cls.worker_env(backend, threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    return env


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
    """One group's worker. ``run(trial)`` returns the trial's record, whatever happens.

    Parameters
    ----------
    header : dict
        The job header (adapter, backend, threads, split and timing settings, warm-up).
    log : Path
        File that receives the worker's stderr.
    timeout_s : float
        Per trial (and for start-up: the framework's import).
    """

    def __init__(self, header: dict, env: dict, log: Path, timeout_s: float):
        self.header = header
        self.env = env
        self.log = log
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen | None = None
        self.hello: dict | None = None
        self.buffer = b""

    def _start(self) -> None:
        with open_log(self.log) as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", BOOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.env,
                start_new_session=False,
            )
        self.hello = None
        self.buffer = b""
        self._send(self.header)

    def _send(self, message: dict) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def _messages(self, deadline: float) -> Iterator[dict]:
        """Messages from the worker until ``deadline``; then ``{"type": "deadline"}`` or ``{"type": "eof"}``."""
        assert self.proc is not None and self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
                remaining = deadline - time.monotonic()
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

    def run(self, trial: Trial, serve: bool = True, on_start: Callable[[Trial], None] | None = None) -> dict:
        """Run one trial; a crash, a hang or a failed start-up becomes its record."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        started = False
        try:
            self._send({"type": "trial", "trial": trial.to_dict(), "serve": serve})
        except (BrokenPipeError, OSError):
            pass  # the worker died: its exit is read below
        # A fresh worker first imports its framework and warms up: that start-up has its own
        # (longer) allowance, so a slow import on a busy machine is not charged to the trial.
        deadline = time.monotonic() + (self.timeout_s if self.hello else max(self.timeout_s, STARTUP_TIMEOUT_S))
        ended = "deadline"
        for message in self._messages(deadline):
            if message["type"] in ("deadline", "eof"):
                ended = message["type"]
                break
            if message["type"] == "hello":
                self.hello = message
                deadline = time.monotonic() + self.timeout_s  # start-up had its own allowance
            elif message["type"] == "start":
                started = True
                deadline = time.monotonic() + self.timeout_s
                if on_start:
                    on_start(trial)
            elif message["type"] == "record":
                return message["record"]
        return self._failed(started, ended)

    def _failed(self, started: bool, ended: str) -> dict:
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
                limit = max(self.timeout_s, STARTUP_TIMEOUT_S)
                reason = f"the worker's start-up (framework import, warm-up) ran past {limit:g} s; worker killed"
            return {"status": "timeout", "reason": reason}
        code = self.proc.wait()
        self.proc = None
        tail = _tail(self.log)
        reason = f"worker process died ({signal_name(code)})"
        if tail:
            reason += f"; stderr tail: {tail[-600:]}"
        if self.hello is None:
            reason += " (before the first trial)"
        return {"status": "error", "reason": reason, "before_start": self.hello is None}

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
            self.proc = None

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
        self.kill()
