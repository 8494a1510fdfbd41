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
from typing import Any

from hello_bench import record as rec
from hello_bench.data.datasets import load_spec
from hello_bench.errors import UserError
from hello_bench.measure.devices import nvidia_gpus
from hello_bench.run.config import Config
from hello_bench.run.estimate import Estimate
from hello_bench.run.executors import Executor, Job
from hello_bench.run.matrix import Trial, expand, groups
from hello_bench.run.order import order_seed
from hello_bench.run.process import Outcome
from hello_bench.run.progress import Progress
from hello_bench.run.resolve import Facts
from hello_bench.store.writer import RunStore

#: Exit status of ``bench run`` when some trial ended in error or timeout.
EXIT_TRIALS_FAILED = 3
FAILED = ("error", "timeout")


@dataclass
class RunResult:
    """A run's outcome, counted from all of its records (not only this invocation's)."""

    run_id: str
    path: Path
    statuses: Counter = field(default_factory=Counter)
    new: Counter = field(default_factory=Counter)
    resumed: int = 0
    total: int = 0
    records: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Trials of the run whose latest record is an error or a timeout (not skips by design)."""
        return sum(self.statuses[s] for s in FAILED)

    @property
    def failed_ids(self) -> list[str]:
        return sorted(r["trial_id"] for r in self.records if r.get("status") in FAILED)

    def summary(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items())) or "no trials"
        ran = ", ".join(f"{n} {s}" for s, n in sorted(self.new.items())) or "nothing new"
        return f"{counts} in the run ({ran} this time{f'; {self.resumed} already recorded' if self.resumed else ''})"

    def read_back(self, store: RunStore) -> RunResult:
        """Take the statuses from the run's stored records: a rerun of a failed run still reports its failures."""
        self.records = store.folder.records()
        self.statuses = Counter(r["status"] for r in self.records)
        return self


def assemble(fields: dict) -> Any:
    """The one place a record is assembled and validated; a producer's schema mistake becomes an error record."""
    try:
        return rec.build(fields)
    except rec.RecordError as err:
        keep = {k: fields[k] for k in IDENTITY_FIELDS if k in fields}
        return rec.build({**keep, "status": "error", "reason": f"the trial's record did not match the schema: {err}"})


def _name_unmeasured_plugins(fields: dict, trial: Trial) -> None:
    """A plugin metric this process knows but the worker's Python could not load (an environment without the
    plugin) is named in the trial's warnings: a metric is never silently absent."""
    if fields.get("status") != "ok":
        return
    got = fields.get("metrics") or {}
    where = f"environment {trial.environment!r}" if trial.environment else "the worker's Python"
    missing = [f"metric {m.column} not measured: its plugin does not load in {where} (install it there)"
               for m in rec.measured_metrics() if m.column not in got]  # fmt: skip
    if missing:
        fields["warnings"] = sorted({*(fields.get("warnings") or []), *missing})


IDENTITY_FIELDS = tuple(f.name for f in rec.FIELDS if f.kind == rec.IDENTITY and f.name not in ("status", "reason"))


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
        self.order_seed: int | None = None
        self.controls: Any = None  # RoundControls, for runs on this machine that take turns round by round

    def skip_reason(self, trial: Trial) -> str | None:
        return self.stopped.get(trial.group)

    def started(self, trial: Trial) -> None:
        if self.controls is not None:
            self.controls.before(trial)
        self.positions[trial.trial_id] = len(self.positions)
        self.progress.started(trial.trial_id)

    def finished(self, trial: Trial, outcome: Outcome) -> None:
        fields = {"schema_version": rec.SCHEMA_VERSION, "run_id": self.store.run_id,
                  **trial.record_fields(self.config), "executor": self.executor.name, **outcome.fields}  # fmt: skip
        if trial.trial_id in self.positions:
            fields["position"] = self.positions[trial.trial_id]
            fields["order_seed"] = self.order_seed
        if outcome.environment:
            self.store.add_environment(outcome.environment)
        _name_unmeasured_plugins(fields, trial)
        record = assemble(fields)
        self.store.append(record, outcome.raw)
        self.result.new[record.status] += 1
        self.progress.finished(trial.trial_id, record.status, ran=trial.trial_id in self.positions)
        self._check_budget(trial, record)

    def _check_budget(self, trial: Trial, record: Any) -> None:
        budget = self.config.stop_after_fit_s
        if budget is None or trial.group in self.stopped:
            return
        fit = record.fit_wall_s
        if record.status == "timeout" or (fit is not None and fit > budget):
            what = "timed out" if record.status == "timeout" else f"took {fit:.1f} s to fit"
            self.stopped[trial.group] = f"sweep stopped: {trial.trial_id} {what}, over the {budget:g} s budget"


def check_resumable(config: Config, records: list[dict], run_id: str) -> None:
    """A resumed run must run the same code on the same data as its records: UserError when it would not.

    Refused: an adapter name that now maps to another class than the records
    say (``adapter_class``), and a file or bundled dataset whose content
    changed (``dataset_sha``). Synthetic data is its parameters, already part
    of the config that a resume must match.
    """
    from hello_bench.adapters import AdapterLoadError, UnknownAdapterError, adapter_class
    from hello_bench.adapters.registry import identity

    resolved_there = {spec.name for spec in config.adapters if config.in_environments(spec)}
    for name, stored in sorted(_stored_values(records, "adapter_name", "adapter_class").items()):
        if name in resolved_there:  # never imported here; each worker records what it loaded
            continue
        try:
            now = identity(adapter_class(name))
        except (UnknownAdapterError, AdapterLoadError) as err:
            raise UserError(f"Run {run_id!r} ran adapter {name!r}, which cannot be loaded now: {err}") from None
        if stored != {now} and not _legacy_wrapped(stored, now):
            raise UserError(
                f"Run {run_id!r}: adapter {name!r} now maps to {now}, but the run's records were made with "
                f"{', '.join(sorted(stored))}; resuming would mix two models under one name. Use another --run-id."
            )
    datasets = _stored_values(records, "dataset_source", "dataset_sha")
    for spec in config.datasets:
        if spec.kind == "synthetic" or spec.source not in datasets:
            continue
        now = load_spec(spec).content_sha
        if datasets[spec.source] != {now}:
            raise UserError(
                f"Run {run_id!r}: dataset {spec.source} changed since the run's records were made (content "
                f"{', '.join(sorted(datasets[spec.source]))} then, {now} now); resuming would mix two datasets. "
                "Use another --run-id."
            )


def check_environments(stored: dict, built: dict, records: list[dict], run_id: str) -> None:
    """A resumed run must run each environment that has records as it was built for them: the same
    specification (its requirements, the content of a local project, the pins). The CI recipe rerun after
    an edit of the working tree would otherwise resume, measure nothing, and compare the old head."""
    recorded = {r.get("environment") for r in records}
    for name, env in sorted(built.items()):
        entry = stored.get(name)
        then = entry.get("spec_hash") if isinstance(entry, dict) else None
        if name in recorded and then and then != env.spec_hash:
            raise UserError(
                f"Run {run_id!r}: environment {name!r} is not what its records were made with (specification "
                f"{then} then, {env.spec_hash} now: its requirements or a local project changed); resuming would "
                "mix two versions under one name. Use another --run-id, or remove the run's folder to start over."
            )


def _stored_values(records: list[dict], key: str, value: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for record in records:
        if record.get(key) and record.get(value):
            out.setdefault(record[key], set()).add(record[value])
    return out


def _legacy_wrapped(stored: set[str], now: str) -> bool:
    """Records from before ``adapter_class`` named the wrapped class said ``hello_bench.adapters.wrapped:Wrapped<Name>``."""
    return stored == {f"hello_bench.adapters.wrapped:Wrapped{now.rsplit(':', 1)[-1].rsplit('.', 1)[-1]}"}


def decided_skip(trial: Trial, gpu_present: bool | None) -> str | None:
    """A skip reason known before any worker starts, or None."""
    if trial.skip_reason:
        return trial.skip_reason
    if trial.device == "gpu" and gpu_present is False:
        return "no GPU present on this machine (nvidia-smi found none)"
    return None


def run(
    config: Config, store: RunStore, executor: Executor, progress: Progress | None = None, retry_errors: bool = False,
    pythons: dict[str, str] | None = None, facts: Facts | None = None, expected: Estimate | None = None,
) -> RunResult:  # fmt: skip
    """Run every trial of ``config`` that has no record in ``store`` yet (``retry_errors``: or only a failed one).

    ``pythons``: each environment's interpreter; ``facts``: what they said about the adapters they resolve;
    ``expected``: each group's estimated time (:mod:`hello_bench.run.estimate`), which the progress line's ETA uses.
    """
    from hello_bench.measure.machine import machine_id
    from hello_bench.run.process import control_in_worker

    hosts = executor.hosts()
    done = store.finished_ids(("ok", "skipped") if retry_errors else rec.STATUSES)
    result = RunResult(store.run_id, store.path)
    todo = []
    for trial in expand(config, hosts, facts):
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
            runner.finished(trial, Outcome({"status": "skipped", "reason": reason}))
        else:
            runnable.append(trial)
    if expected is not None:
        progress.expect({t.trial_id: (t.group, expected.trial_s(t)) for t in runnable},
                        {g: e.startup_s for g, e in expected.groups.items()})  # fmt: skip
    seed = order_seed(config.order_seed, store.run_id)
    job = Job(config, store, machine_id() if executor.local_devices else None, seed, pythons or {})
    runner.order_seed = seed
    control = executor.local_devices and bool(runnable)
    if control and config.interleave:
        from hello_bench.run.controls import RoundControls

        runner.controls = RoundControls(store, config.threads, span_s=config.timing.control_span_s)
    elif control:
        store.record_control("before", control_in_worker(config.threads, span_s=config.timing.control_span_s))
    remote = getattr(executor, "controls", None) if not executor.local_devices and runnable else None
    if remote is not None:
        _host_controls(store, remote(config.threads, config.timing.control_span_s), "before")
    with progress:
        executor.run(list(groups(runnable).values()), job, runner)
    if remote is not None:
        _host_controls(store, remote(config.threads, config.timing.control_span_s), "after")
    if runner.controls is not None:
        runner.controls.after()
    elif control:
        store.record_control("after", control_in_worker(config.threads, span_s=config.timing.control_span_s))
    result.read_back(store)
    for group, records in groups_of(result.records).items():
        progress.message(group_summary(group, records))
    return result


def _host_controls(store: RunStore, measured: dict[str, dict], phase: str) -> None:
    """Each host's control (a cluster's machines), kept among control.json's rounds with its host."""
    for host, m in sorted(measured.items()):
        store.record_control("round", {**m, "host": host, "phase": phase})


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
    parts = []
    for metric, spec in (
        (rec.role("accuracy"), "{:.3f}"),
        (rec.role("fit"), "{:.3g} s"),  # three significant digits: 0.0123 s and 0.0159 s stay apart
        (rec.role("p50"), "{:.3g} us"),
    ):
        numbers = [v for v in (rec.value_of(r, metric) for r in ok) if isinstance(v, (int, float))]
        if numbers:  # a fraction's mean, a time's median
            middle = statistics.mean(numbers) if metric.kind == "fraction" else statistics.median(numbers)
            parts.append(f"{metric.short} {spec.format(middle)}")
    if parts:
        text += "; " + ", ".join(parts)
    reasons = sorted({r.get("reason", "") for r in records if r["status"] != "ok"})
    if reasons:
        text += f" ({'; '.join(r[:120] for r in reasons)})"
    return text
