"""The local executor: one live worker process per group, taking turns on this machine.

Only one trial runs at a time (timings stay honest). With ``interleave`` (the
default) the groups' workers stay alive and take turns, split by split, so a
load drift during the run spreads over every adapter instead of landing on
whichever group runs last; each record notes its ``position``. Without it,
each group runs to the end before the next starts (``bench scale``'s sweeps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hello_bench.run.executors import Executor, Hooks, Job
from hello_bench.run.order import running_order
from hello_bench.run.process import Outcome, WorkerProcess

if TYPE_CHECKING:
    from hello_bench.run.matrix import Trial


class LocalExecutor(Executor):
    name = "local"

    def run(self, lanes: list[list[Trial]], job: Job, hooks: Hooks) -> None:
        workers: dict[int, WorkerProcess] = {}
        dead: dict[int, str] = {}
        try:
            for index, trial in running_order(lanes, job.config.interleave, job.order_seed):
                reason = dead.get(index) or hooks.skip_reason(trial)
                if reason:
                    hooks.finished(
                        trial, Outcome({"status": "error" if index in dead else "skipped", "reason": reason})
                    )
                    continue
                if index not in workers:
                    workers[index] = job.worker(trial)
                hooks.started(trial)
                outcome = workers[index].run(trial, job.serve(trial))
                if outcome.dead_on_start:
                    # It died before it could run anything (e.g. the framework import
                    # failed): a new worker would die the same way, once per trial.
                    dead[index] = outcome.fields["reason"]
                    workers.pop(index).kill()
                hooks.finished(trial, outcome)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) or failed: every worker's tree ends now, unasked
            for worker in workers.values():
                worker.kill()
            raise
        finally:
            for worker in workers.values():
                worker.close()


EXECUTOR = LocalExecutor


def from_args(args: Any) -> LocalExecutor:
    return LocalExecutor()
