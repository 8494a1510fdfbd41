"""Run a config's matrix into a store, on any executor.

Everything that is the same whatever runs the trials lives here, once:
resume (trials with a record are not run again), decided skips, the
fit-time budget of sweeps, positions, progress, counting, and appending each
record to the store the moment it arrives.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure.devices import nvidia_gpus
from bench.run.config import Config
from bench.run.executors import Executor, Job
from bench.run.matrix import Trial, expand, groups
from bench.run.progress import Progress
from bench.store.runstore import RunStore

#: Exit status of ``bench run`` when some trial ended in error or timeout.
EXIT_TRIALS_FAILED = 3
#: What the run's summary keeps of each record (the store keeps everything).
SUMMARY_FIELDS = (
    "trial_id",
    "group",
    "status",
    "reason",
    "accuracy",
    "fit_wall_s",
    "latency",
    "dataset",
    "adapter",
    "device",
)


@dataclass
class RunResult:
    run_id: str
    path: Path
    statuses: Counter = field(default_factory=Counter)
    resumed: int = 0
    total: int = 0
    records: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Trials that ended in error or timeout (not skips by design)."""
        return self.statuses["error"] + self.statuses["timeout"]

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "nothing new to run"
        resumed = f" ({self.resumed} already recorded)" if self.resumed else ""
        return f"{counts}{resumed}"


class _Runner:
    """The hooks executors call; owns counting, budget and the store."""

    def __init__(self, config: Config, store: RunStore, executor: Executor, progress: Progress, result: RunResult):
        self.config = config
        self.store = store
        self.executor = executor
        self.progress = progress
        self.result = result
        self.stopped: dict[str, str] = {}  # group -> why the rest of its sweep is skipped
        self.positions: dict[str, int] = {}

    def skip_reason(self, trial: Trial) -> str | None:
        return self.stopped.get(trial.group)

    def started(self, trial: Trial) -> None:
        self.positions[trial.trial_id] = len(self.positions)
        self.progress.started(trial.trial_id)

    def finished(self, trial: Trial, record: dict) -> None:
        full = {**trial.record_fields(self.config), **self.executor.extra, **record}
        if trial.trial_id in self.positions:
            full["position"] = self.positions[trial.trial_id]
        environment = full.pop("_environment", None)
        if environment:
            self.store.add_environment(environment)
        self.store.append(full)
        self.result.statuses[full["status"]] += 1
        self.result.records.append({k: full.get(k) for k in SUMMARY_FIELDS})
        self.progress.finished(trial.trial_id, full["status"], ran=trial.trial_id in self.positions)
        self._check_budget(trial, full)

    def _check_budget(self, trial: Trial, record: dict) -> None:
        budget = self.config.stop_after_fit_s
        if budget is None or trial.group in self.stopped:
            return
        fit = record.get("fit_wall_s")
        if record["status"] == "timeout" or (fit is not None and fit > budget):
            what = "timed out" if record["status"] == "timeout" else f"took {fit:.1f} s to fit"
            self.stopped[trial.group] = f"sweep stopped: {trial.trial_id} {what}, over the {budget:g} s budget"


def decided_skip(trial: Trial, gpu_present: bool | None) -> str | None:
    """A skip reason known before any worker starts, or None."""
    if trial.skip_reason:
        return trial.skip_reason
    if trial.device == "gpu" and gpu_present is False:
        return "no GPU present on this machine (nvidia-smi found none)"
    return None


def run(config: Config, store: RunStore, executor: Executor, progress: Progress | None = None) -> RunResult:
    """Run every trial of ``config`` that has no record in ``store`` yet, on ``executor``."""
    from bench.measure.machine import control_in_worker, machine_id

    hosts = executor.hosts()
    done = store.finished_ids()
    result = RunResult(store.run_id, store.path)
    todo = []
    for trial in expand(config, hosts):
        result.total += 1
        if trial.trial_id in done:
            result.resumed += 1
        else:
            todo.append(trial)
    progress = progress or Progress(len(todo))
    progress.total = len(todo)
    if result.resumed:
        progress.message(f"Resuming run {store.run_id}: {result.resumed} of {result.total} trials already recorded.")
    runner = _Runner(config, store, executor, progress, result)
    gpu_present = bool(nvidia_gpus()) if executor.local_devices else None
    runnable = []
    for trial in todo:
        reason = decided_skip(trial, gpu_present)
        if reason:
            runner.finished(trial, {"status": "skipped", "reason": reason})
        else:
            runnable.append(trial)
    job = Job(config, store.path / "logs", machine_id() if executor.local_devices else None)
    control = executor.local_devices and bool(runnable)
    if control:
        store.record_control("before", control_in_worker(config.threads))
    with progress:
        executor.run(list(groups(runnable).values()), job, runner)
    if control:
        store.record_control("after", control_in_worker(config.threads))
    for group, records in groups_of(result.records).items():
        progress.message(group_summary(group, records))
    return result


def groups_of(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in records:
        out.setdefault(record.get("group", "?"), []).append(record)
    return out


def group_summary(group: str, records: list[dict]) -> str:
    """One line per group: statuses, mean accuracy, median fit time."""
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
