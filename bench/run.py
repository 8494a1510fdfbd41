"""The local executor: one fresh worker process per group, trials one at a time.

It knows nothing about frameworks: it starts workers, enforces the per-trial
timeout, turns crashes and hangs into records, and appends every record to
the store as soon as it arrives.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .devices import nvidia_gpus
from .matrix import Trial, expand, groups
from .progress import Progress
from .store import RunStore


def static_fields(trial: Trial, config: Config) -> dict:
    """The part of a record known before the trial runs."""
    return {
        "trial_id": trial.trial_id,
        "group": trial.group,
        "dataset": trial.data_label,
        "dataset_source": trial.dataset.source,
        "preprocessing": trial.preprocessing,
        "adapter": trial.adapter.label,
        "adapter_name": trial.adapter.name,
        "profile": trial.adapter.profile,
        "params": trial.adapter.resolved_params(),
        "backend": trial.backend,
        "device": trial.device,
        "split_seed": trial.split_seed,
        "init_seed": trial.init_seed,
        "test_size": config.test_size,
        "threads_requested": config.threads,
    }


@dataclass
class RunResult:
    run_id: str
    path: Path
    statuses: Counter = field(default_factory=Counter)
    resumed: int = 0


def _job(trials: list[Trial], config: Config) -> dict:
    first = trials[0]
    return {
        "adapter": first.adapter.name,
        "backend": first.backend,
        "threads": config.threads,
        "test_size": config.test_size,
        "timing": config.to_dict()["timing"],
        "trials": [
            {
                "trial_id": t.trial_id,
                "dataset": t.dataset.to_dict(),
                "preprocessing": t.preprocessing,
                "device": t.device,
                "split_seed": t.split_seed,
                "init_seed": t.init_seed,
                "params": t.adapter.resolved_params(),
            }
            for t in trials
        ],
    }


def _worker_env(trials: list[Trial], config: Config) -> dict:
    from .threads import THREAD_ENV_VARS

    env = dict(os.environ)
    for var in THREAD_ENV_VARS:
        env[var] = str(config.threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    backend = trials[0].backend
    if backend != "default":
        env["KERAS_BACKEND"] = backend
    # Run from the project root so `-m bench.worker` and registered modules import.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
    return env


def _signal_name(code: int) -> str:
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


class GroupRunner:
    """Runs one group's trials in worker processes, restarting after a crash or hang."""

    def __init__(self, trials, config, sink, progress, on_record, log: Path, extra: dict | None = None):
        """
        Parameters
        ----------
        sink : callable
            Called with each finished record (the store's ``append``, or a list's).
        log : Path
            File that receives the workers' stderr.
        extra : dict, optional
            Fields added to every record (e.g. the executor's view of the machine).
        """
        self.pending = list(trials)
        self.config = config
        self.sink = sink
        self.progress = progress
        self.on_record = on_record
        self.by_id = {t.trial_id: t for t in trials}
        self.log = log
        self.extra = extra or {}

    def finish(self, trial: Trial, record: dict, ran: bool = True) -> None:
        full = {**static_fields(trial, self.config), **self.extra, **record}
        self.sink(full)
        self.pending = [t for t in self.pending if t.trial_id != trial.trial_id]
        self.progress.update(trial.trial_id, full["status"], ran=ran)
        self.on_record(full)
        self._stop_if_over_budget(trial, full)

    def _stop_if_over_budget(self, trial: Trial, record: dict) -> None:
        budget = self.config.stop_after_fit_s
        if budget is None or not self.pending:
            return
        fit = record.get("fit_wall_s")
        over = record["status"] == "timeout" or (fit is not None and fit > budget)
        if over:
            what = "timed out" if record["status"] == "timeout" else f"took {fit:.1f} s to fit"
            reason = f"sweep stopped: {trial.trial_id} {what}, over the {budget:g} s budget"
            for rest in list(self.pending):
                self.finish(rest, {"status": "skipped", "reason": reason}, ran=False)

    def run(self) -> None:
        while self.pending:
            self._run_worker()

    def _run_worker(self) -> None:
        timeout = self.config.trial_timeout_s
        job = json.dumps(_job(self.pending, self.config)).encode()
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=_worker_env(self.pending, self.config),
            )
        assert proc.stdin is not None and proc.stdout is not None  # both are pipes
        try:
            proc.stdin.write(job)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        buffer = b""
        in_flight: Trial | None = None
        hello = False
        deadline = time.monotonic() + timeout
        try:
            while self.pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    proc.kill()
                    proc.wait()
                    victim = in_flight or self.pending[0]
                    what = "the trial" if in_flight else "the worker's start-up (framework import)"
                    self.finish(
                        victim,
                        {
                            "status": "timeout",
                            "reason": f"{what} ran past trial_timeout_s={timeout:g} s; worker killed",
                        },
                    )
                    return
                if not selector.select(timeout=min(remaining, 1.0)):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    code = proc.wait()
                    self._worker_died(code, in_flight, hello)
                    return
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    kind = message["type"]
                    if kind == "hello":
                        hello = True
                    elif kind == "start":
                        in_flight = self.by_id[message["trial_id"]]
                        deadline = time.monotonic() + timeout
                    elif kind == "record":
                        record = message["record"]
                        self.finish(self.by_id[record["trial_id"]], record)
                        in_flight = None
                        if not self.pending:  # e.g. a sweep stopped over budget
                            return
                        deadline = time.monotonic() + timeout
        finally:
            selector.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()

    def _worker_died(self, code: int, in_flight: Trial | None, hello: bool) -> None:
        tail = _tail(self.log)
        reason = f"worker process died ({_signal_name(code)})"
        if tail:
            reason += f"; stderr tail: {tail[-600:]}"
        if not hello:
            # It died before it could run anything (e.g. the framework import
            # failed): a new worker would die the same way, once per trial.
            for trial in list(self.pending):
                self.finish(trial, {"status": "error", "reason": reason + " (before the first trial)"})
            return
        victim = in_flight or self.pending[0]
        self.finish(victim, {"status": "error", "reason": reason})


def decided_skip(trial: Trial, gpu_present: bool) -> str | None:
    """A skip reason known before any worker starts, or None."""
    if trial.skip_reason:
        return trial.skip_reason
    if trial.device == "gpu" and not gpu_present:
        return "no GPU present on this machine (nvidia-smi found none)"
    return None


def run_matrix(config: Config, store: RunStore, progress_stream=None) -> RunResult:
    """Run every trial of ``config`` that has no record in ``store`` yet."""
    trials = expand(config)
    done = store.finished_ids()
    todo = [t for t in trials if t.trial_id not in done]
    result = RunResult(store.run_id, store.path, resumed=len(trials) - len(todo))
    progress = Progress(len(todo), stream=progress_stream)
    if result.resumed:
        progress.message(f"Resuming run {store.run_id}: {result.resumed} of {len(trials)} trials already recorded.")
    gpu_present = bool(nvidia_gpus())
    for group, group_trials in groups(todo).items():
        records: list[dict] = []

        def on_record(record, records=records):
            records.append(record)
            result.statuses[record["status"]] += 1

        log = store.path / "logs" / (group.replace("/", "_") + ".log")
        runner = GroupRunner(group_trials, config, store.append, progress, on_record, log)
        reason = decided_skip(group_trials[0], gpu_present)
        if reason:
            for trial in group_trials:
                runner.finish(trial, {"status": "skipped", "reason": reason}, ran=False)
        else:
            runner.run()
        progress.message(group_summary(group, records))
    return result


def group_summary(group: str, records: list[dict]) -> str:
    """One line per finished group: statuses, mean accuracy, median fit time."""
    counts = Counter(r["status"] for r in records)
    text = f"{group}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    ok = [r for r in records if r["status"] == "ok"]
    if ok:
        acc = statistics.mean(r["accuracy"] for r in ok)
        fit = statistics.median(r["fit_wall_s"] for r in ok)
        lat = statistics.median(r["latency"]["p50_us"] for r in ok)
        text += f"; accuracy {acc:.3f}, fit {fit:.2f} s, predict p50 {lat:.0f} us"
    reasons = sorted({r.get("reason", "") for r in records if r["status"] != "ok"})
    if reasons:
        text += f" ({'; '.join(r[:120] for r in reasons)})"
    return text
