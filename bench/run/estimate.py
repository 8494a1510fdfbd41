"""How long a run will take, before it runs: per trial, per worker group and in all; and which trials would pass
their limit (``trial_timeout_s``).

Each worker group gets the best estimate that exists for it:

1. **history**: this machine's (same hardware and hostname) ok records of the same cell (dataset content,
   adapter with its parameters, device) in any stored run: the median trial (start to end) and the median
   start-up of its workers (framework import and warm-up);
2. **per step**: an iterative adapter (one with ``epochs`` and ``batch_size``) that ran here on other data or
   settings: its median seconds per optimiser step there times this trial's steps (epochs x batches of its
   training rows), plus its median measuring time there (the trial minus the fit);
3. **pilot**: three epochs of the first split's real training rows, in a worker of the group's own kind
   (its settings but ``epochs = 3``, no serving paths, no learning curves): the first epoch (which carries
   one-time tracing and compiling) plus the median later epoch times the epochs left, plus that trial's
   measuring time and its worker's start-up. ``bench run --dry-run`` pilots every group the first two do not
   cover; a real run pilots only the groups whose fits are longer than the seed profile's on iris (both
   never with ``--no-pilot``).

Otherwise the group's time is unknown ("?"), and the progress line learns it from the first trials. Serving
paths (built and measured on the first split of each group by default) are left out of the second and third
kinds of estimate: they add seconds per path, once per group.
"""

from __future__ import annotations

import functools
import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from hello_bench.record import role, value_of

if TYPE_CHECKING:
    from hello_bench.run.config import Config
    from hello_bench.run.matrix import Trial

#: A real run pilots a group only when its fits take more optimiser steps than this: the seed MLP on iris
#: (75 training rows, batch size 1, 100 epochs), which every machine here runs in seconds.
PILOT_ABOVE_STEPS = 7_500
#: Epochs a pilot trains: the first carries one-time costs (tracing, compiling), the others time an epoch.
PILOT_EPOCHS = 3


@dataclass(frozen=True)
class GroupEstimate:
    """One worker group's expected time per trial and for its worker's start-up, and where it comes from."""

    group: str
    trial_s: float | None
    startup_s: float = 0.0
    source: str = "unknown"

    def line(self, trials: int, timeout_s: float) -> str:
        if self.trial_s is None:
            return f"{self.group}: {trials} trial(s) of unknown time (no history here, no pilot)"
        over = " OVER trial_timeout_s" if self.trial_s > timeout_s else ""
        return (f"{self.group}: {trials} trial(s) x ~{_duration(self.trial_s)}{over} + start-up "
                f"~{_duration(self.startup_s)} ({self.source})")  # fmt: skip


@dataclass
class Estimate:
    """Every group's estimate (by ``trial.group``)."""

    groups: dict[str, GroupEstimate] = field(default_factory=dict)

    def trial_s(self, trial: Trial) -> float | None:
        if trial.skip_reason:
            return 0.0
        found = self.groups.get(trial.group)
        return found.trial_s if found else None

    def total(self, trials: list[Trial]) -> tuple[float, int]:
        """Seconds for ``trials`` (start-ups included) and how many trials had no estimate."""
        known = [self.trial_s(t) for t in trials]
        started = {t.group for t in trials if not t.skip_reason}
        startup = sum(g.startup_s for name, g in self.groups.items() if name in started)
        return sum(k for k in known if k is not None) + startup, sum(k is None for k in known)

    def over_limit(self, timeout_s: float) -> list[GroupEstimate]:
        return [g for g in self.groups.values() if g.trial_s is not None and g.trial_s > timeout_s]

    def warnings(self, config: Config) -> list[str]:
        """One line per group whose trials are expected to pass their limit, with what would help."""
        return [
            f"warning: {g.group}: a trial is expected to take ~{_duration(g.trial_s or 0)} ({g.source}), past its "
            f"trial_timeout_s={config.trial_timeout_s:g}: raise trial_timeout_s, or train for fewer steps (a larger "
            "batch_size, fewer epochs; max_fit_steps does it for the default matrix)"
            for g in self.over_limit(config.trial_timeout_s)
        ]


def _duration(seconds: float) -> str:
    if math.isinf(seconds):
        return "longer than its limit"
    if seconds < 1:
        return f"{seconds * 1e3:.2g} ms" if seconds < 0.01 else f"{seconds * 1e3:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def n_train(n_samples: int, test_size: float) -> int:
    """Training rows of a split, as ``train_test_split`` counts them (the test side rounds up)."""
    return n_samples - math.ceil(test_size * n_samples)


def steps_per_fit(params: dict, rows: int) -> int | None:
    """Optimiser steps of one fit (epochs x batches), for adapters that train in batches; None otherwise."""
    epochs, batch = params.get("epochs"), params.get("batch_size")
    if not (_count(epochs) and _count(batch)):
        return None
    return epochs * math.ceil(rows / batch)


def _count(value: Any) -> TypeGuard[int]:
    """A positive whole number (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# -- history ------------------------------------------------------------------------------------------
def history(results_dir: str | Path, machine: str, hostname: str) -> Any:
    """This machine's ok records from every stored run, with each trial's duration and steps (a frame)."""
    import json

    import pandas as pd

    from hello_bench.analysis.load import run_frame
    from hello_bench.store.reader import RunFolder, run_dirs

    frames = []
    for path in run_dirs(results_dir, kind="matrix"):
        try:
            frame = run_frame(RunFolder(path))
        except Exception:  # a damaged run says nothing about time; the run's own commands report it
            continue
        if {"machine_id", "hostname", "started_at", "finished_at"} <= set(frame.columns):
            frames.append(frame[(frame["machine_id"] == machine) & (frame["hostname"] == hostname)
                                & (frame["status"] == "ok")])  # fmt: skip
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    df["trial_s"] = df["finished_at"] - df["started_at"]
    df["startup_s"] = sum(df[c].fillna(0) if c in df.columns else 0 for c in _startup())
    params = [{**_defaults(str(a)), **(json.loads(p) if isinstance(p, str) else {})}
              for a, p in zip(df["adapter_name"], df["params"])]  # fmt: skip
    df["steps"] = [steps_per_fit(p, int(n)) if n == n else None for p, n in zip(params, df["n_train"])]
    return df


@functools.lru_cache(maxsize=64)
def _defaults(name: str) -> dict:
    """An adapter's own parameter defaults, where this process can load it (records keep only the ones set)."""
    from hello_bench.adapters import adapter_class
    from hello_bench.plugins import guarded

    try:
        return dict(guarded(lambda: adapter_class(name)().get_params()))
    except Exception:  # not loadable here (a class only an environment has): its records say what they say
        return {}


def from_history(df: Any, trial: Trial, sha: str | None, rows: int) -> GroupEstimate | None:
    """The group's estimate from this machine's records: the same cell, else the same adapter per step."""
    if df.empty:
        return None
    same = df[(df["adapter"] == trial.adapter.label) & (df["device"] == trial.device)
              & (df["dataset"] == trial.data_label)]  # fmt: skip
    if sha is not None and "dataset_sha" in same.columns:
        same = same[same["dataset_sha"] == sha]
    if len(same):
        return GroupEstimate(trial.group, float(same["trial_s"].median()), float(same["startup_s"].median()),
                             f"history: {len(same)} trial(s) on this machine")  # fmt: skip
    steps = steps_per_fit(trial.effective_params(), rows)
    kin = df[(df["adapter_name"] == trial.adapter.name) & (df["backend"] == trial.backend)
             & (df["device"] == trial.device) & df["steps"].notna()]  # fmt: skip
    if steps is None or kin.empty:
        return None
    fit = role("fit").column
    per_step = float((kin[fit] / kin["steps"].astype(float)).median())
    measuring = float((kin["trial_s"] - kin[fit]).median())
    return GroupEstimate(trial.group, per_step * steps + measuring, float(kin["startup_s"].median()),
                         f"per step: {steps:,} steps x {per_step * 1e3:.2g} ms, from {len(kin)} trial(s) here")  # fmt: skip


def _startup() -> tuple[str, str]:
    """The columns of a worker's start-up: the framework's import and the untimed warm-up fit."""
    return role("import").column, role("warmup").column


# -- pilot --------------------------------------------------------------------------------------------
def pilot(config: Config, trial: Trial, python: str | None, machine: str | None) -> GroupEstimate | None:
    """A few epochs of ``trial`` (or the whole trial) in a fresh worker of its group's kind, scaled to its epochs
    (see the module docstring)."""
    from hello_bench.run.params import freeze_all, thaw_all
    from hello_bench.run.process import WorkerProcess

    given = trial.effective_params().get("epochs")
    epochs = given if _count(given) else 1
    if not _count(given):  # not trained in epochs: the pilot is one whole trial (its limit still holds)
        few, probe = 1, trial
    else:
        few = min(epochs, PILOT_EPOCHS)
        one = replace(trial.adapter, params=freeze_all({**thaw_all(trial.adapter.params), "epochs": few}))
        facts = replace(trial.facts, params={**trial.facts.params, "epochs": few}) if trial.facts is not None else None
        probe = replace(trial, adapter=one, facts=facts)
    quiet = replace(config, timing=replace(config.timing, serving=False, curves=False))
    with tempfile.TemporaryDirectory(prefix="bench-pilot-") as tmp:
        log = Path(tmp) / "pilot.log"
        worker = WorkerProcess.for_trial(quiet, probe, machine, lambda: open(log, "ab"), log, python)
        try:
            fields = worker.run(probe, serve=False).fields
        finally:
            worker.close()
    startup = float(sum(value_of(fields, m) or 0 for m in (role("import"), role("warmup"))))
    if fields.get("status") == "timeout":
        return GroupEstimate(trial.group, math.inf, startup, "pilot: one epoch ran past trial_timeout_s")
    if fields.get("status") != "ok" or value_of(fields, role("fit")) is None:
        return None
    fit = float(value_of(fields, role("fit")))
    measuring = float(fields["finished_at"] - fields["started_at"]) - fit
    if probe is trial:
        return GroupEstimate(trial.group, fit + max(measuring, 0.0), startup, "pilot: one trial")
    first, each = value_of(fields, role("first-epoch")), value_of(fields, role("epoch"))
    if first is None or each is None:  # no per-epoch times: every epoch alike
        first = each = fit / few
    return GroupEstimate(trial.group, first + (epochs - 1) * each + max(measuring, 0.0), startup,
                         f"pilot: {few} epochs, then {_duration(each)} an epoch x {epochs}")  # fmt: skip


def estimate(config: Config, trials: list[Trial], results_dir: str | Path, *, pilots: str = "long",
             pythons: dict[str, str] | None = None, say: Any = None) -> Estimate:  # fmt: skip
    """Each group's estimate for ``trials`` (see the module docstring). ``pilots``: which groups that history
    does not cover get a pilot: ``all``, ``long`` (fits of more than :data:`PILOT_ABOVE_STEPS` steps), ``none``."""
    import socket

    from hello_bench.data.datasets import load_spec
    from hello_bench.measure.machine import machine_id

    machine, host = machine_id(), socket.gethostname()
    df = history(results_dir, machine, host)
    out = Estimate()
    firsts: dict[str, Trial] = {}
    for trial in trials:
        if not trial.skip_reason:
            firsts.setdefault(trial.group, trial)
    for group, trial in firsts.items():
        data = load_spec(trial.dataset)
        rows = n_train(data.n_samples, config.test_size)
        found = from_history(df, trial, data.content_sha, rows)
        steps = steps_per_fit(trial.effective_params(), rows)
        if found is None and (pilots == "all" or (pilots == "long" and (steps or 0) > PILOT_ABOVE_STEPS)):
            if callable(say):
                what = f"{PILOT_EPOCHS} epochs" if steps else "one trial"
                say(f"Estimating {group}: {what} on {trial.data_label} in a worker (no history of it here)")
            found = pilot(config, trial, (pythons or {}).get(trial.environment or ""), machine)
        out.groups[group] = found or GroupEstimate(group, None)
    return out


def summary(estimate: Estimate, trials: list[Trial], config: Config) -> list[str]:
    """Lines for the user: each group, then the whole run."""
    counts: dict[str, int] = {}
    for trial in trials:
        if not trial.skip_reason:
            counts[trial.group] = counts.get(trial.group, 0) + 1
    lines = [estimate.groups[g].line(n, config.trial_timeout_s) for g, n in counts.items() if g in estimate.groups]
    total, unknown = estimate.total(trials)
    if unknown and not total:
        lines.append("Estimated run time: unknown (no history of these trials on this machine, and no pilot timed "
                     "them: bench run --dry-run pilots what bench's own Python can load)")  # fmt: skip
    else:
        lines.append(f"Estimated run time: ~{_duration(total)}" + (f" (+ {unknown} trial(s) of unknown time)"
                                                                   if unknown else ""))  # fmt: skip
    return lines
