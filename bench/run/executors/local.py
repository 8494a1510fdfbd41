"""The local executor: one live worker process per group, taking turns on this machine.

Only one trial runs at a time (timings stay honest). With ``interleave`` (the
default) the groups' workers stay alive and take turns, split by split, so a
load drift during the run spreads over every adapter instead of landing on
whichever group runs last; each record notes its ``position``. Without it,
each group runs to the end before the next starts (``bench scale``'s sweeps).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.run.executors import Executor, Hooks, Job
from bench.run.matrix import Trial
from bench.run.process import WorkerProcess, worker_env


def turns(lanes: list[list[Trial]], interleave: bool) -> Iterator[tuple[int, Trial]]:
    """(lane index, trial) in running order: round-robin across lanes, or lane after lane."""
    if not interleave:
        for index, lane in enumerate(lanes):
            for trial in lane:
                yield index, trial
        return
    for row in itertools.zip_longest(*lanes):
        for index, trial in enumerate(row):
            if trial is not None:
                yield index, trial


def log_path(job: Job, trial: Trial) -> Path:
    folder = job.logs or Path(tempfile.gettempdir())
    return folder / (trial.group.replace("/", "_") + ".log")


class LocalExecutor(Executor):
    name = "local"

    def run(self, lanes: list[list[Trial]], job: Job, hooks: Hooks) -> None:
        from adapters import adapter_class

        workers: dict[int, WorkerProcess] = {}
        dead: dict[int, str] = {}
        try:
            for index, trial in turns(lanes, job.config.interleave):
                reason = dead.get(index) or hooks.skip_reason(trial)
                if reason:
                    status = "error" if index in dead else "skipped"
                    hooks.finished(trial, {"status": status, "reason": reason})
                    continue
                if index not in workers:
                    env = worker_env(adapter_class(trial.adapter.name), trial.backend, job.config.threads)
                    workers[index] = WorkerProcess(
                        job.header(trial), env, log_path(job, trial), job.config.trial_timeout_s
                    )
                hooks.started(trial)
                record = workers[index].run(trial, job.serve(trial))
                if record.pop("before_start", False):
                    # It died before it could run anything (e.g. the framework import
                    # failed): a new worker would die the same way, once per trial.
                    dead[index] = record["reason"]
                    workers.pop(index).kill()
                hooks.finished(trial, record)
        finally:
            for worker in workers.values():
                worker.close()


EXECUTOR = LocalExecutor


def from_args(args: Any) -> LocalExecutor:
    return LocalExecutor()
