"""``bench calibrate``: how often the gate cries wolf on this machine, and what slowdown it catches.

One stored run (kind ``calibration``) of R **repeats**, run one after another; each repeat is a duet-like
run of its own (fresh workers, the same S split seeds, the adapters of each round in a seeded random
order, a control before every round) holding, for every real adapter of the plan, several **sides**:
two identical ones (``a``, ``a2``: slowdown 0) and one per injected slowdown (``b15``: 15%), each the
calibration wrapper of the adapter (:mod:`hello_bench.adapters.calibration`), which adds an exact fraction of its
own measured cost to every timed call. Some repeats are **disturbed**: a second job (a busy loop per
core the trials do not use) shares the machine for the middle third of their rounds.

Then every comparison is gated exactly as ``bench compare --fail-above PCT`` would gate it (one
:class:`~hello_bench.analysis.comparison.Comparison` from :func:`hello_bench.analysis.comparison.build`, under the
plan's :class:`~hello_bench.analysis.policy.GatePolicy`):

- **A/A inside a repeat** (``a`` against ``a2`` and ``a2`` against ``a``: both directions): a FAIL in
  either is a false alarm. One comparison per repeat.
- **A/B inside a repeat** (``a`` against each ``bNN``): a FAIL is a detection. One per repeat and slowdown.
- **A/A between repeats** (side ``a`` of repeat 2i against repeat 2i+1, disjoint pairs so they are
  independent, both directions): two separate runs, gated with the run-to-run variance estimated from
  the *other* repeats (leave the pair out), as ``bench compare`` does for separate runs.

Rates come with Clopper-Pearson intervals (:mod:`hello_bench.analysis.calibration`). The machine's run-to-run
variance (from every repeat's side ``a``) is kept in ``run.json`` under ``calibration``, where
``bench compare`` finds it for two separate runs made on this machine.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from hello_bench.analysis import calibration as calib
from hello_bench.analysis import gate
from hello_bench.analysis import run_variance as rv
from hello_bench.lifeline import end_group, owned
from hello_bench.measure.settings import TimingSettings
from hello_bench.run.config import AdapterSpec, Config, validate
from hello_bench.run.spread import MAX_SPREAD_S, repeats_begun, schedule, wait_until

#: Timing settings of a calibration: the quick config's budgets; no learning curves (the wrapper's slowdown
#: would cover their evaluation), no serving paths (the wrapper covers the adapter's own predict paths only).
TIMING = TimingSettings(warmup=10, latency_min_calls=100, latency_budget_s=0.1, stock_min_calls=5, stock_budget_s=0.1,
                        batch_sizes=(1, 32), throughput_budget_s=0.05, serving=False, curves=False)  # fmt: skip
QUICK_MLP = (("batch_size", 16), ("epochs", 30), ("learning_rate", 0.01))
EXTRA = ("repeat", "side", "slowdown")


@dataclass(frozen=True)
class Plan:
    """What a calibration runs."""

    adapters: tuple[AdapterSpec, ...]
    splits: int
    repeats: int
    slowdowns: tuple[float, ...]
    fail_above: float
    #: Repeats (0-based) that share the machine with a second job for the middle third of their rounds.
    disturbed: tuple[int, ...]
    mode: str = "custom"
    accuracy_drop: float = gate.DEFAULT_ACCURACY_DROP
    timing: TimingSettings = TIMING
    #: ``duet``: twin sides in every repeat (A/A and A/B inside a run); ``separate``: side A only (and any
    #: slowdown sides), for comparisons between repeats.
    kind: str = "duet"
    #: Seconds over which the repeats' starts are spread (0: back to back).
    spread_s: float = 0.0

    def policy(self) -> Any:
        """The gate as ``bench compare --fail-above PCT --fail-accuracy-drop POINTS`` applies it."""
        from hello_bench.analysis.policy import GatePolicy

        return GatePolicy.from_options(fail_above=self.fail_above, accuracy_drop=self.accuracy_drop)

    def sides(self) -> list[tuple[str, float]]:
        twins = [("a", 0.0), ("a2", 0.0)] if self.kind == "duet" else [("a", 0.0)]
        return twins + [(side_name(s), s) for s in self.slowdowns]

    def config(self, repeats: range | None = None) -> Config:
        from hello_bench.adapters.calibration import PREFIX

        specs = []
        for r in repeats if repeats is not None else range(self.repeats):
            for inner in self.adapters:
                for side, slowdown in self.sides():
                    params = tuple(
                        sorted({**dict(inner.params), "repeat": r, "side": side, "slowdown": slowdown}.items())
                    )
                    specs.append(AdapterSpec(PREFIX + inner.name, inner.profile, params, inner.backend))
        return Config(adapters=tuple(specs), devices=("cpu",), splits=self.splits, timing=self.timing,
                      trial_timeout_s=300.0, description=f"bench calibrate ({self.mode})")  # fmt: skip

    def to_dict(self) -> dict:
        return {"adapters": [a.label for a in self.adapters], "splits": self.splits, "repeats": self.repeats,
                "slowdowns": list(self.slowdowns), "fail_above": self.fail_above, "disturbed": list(self.disturbed),
                "mode": self.mode, "accuracy_drop": self.accuracy_drop, "kind": self.kind,
                "spread_s": self.spread_s}  # fmt: skip


def side_name(slowdown: float) -> str:
    return f"b{round(slowdown * 100):02d}"


def every_third(repeats: int) -> tuple[int, ...]:
    return tuple(r for r in range(repeats) if r % 3 == 2)


QUICK = Plan((AdapterSpec("sklearn-lr"), AdapterSpec("torch-mlp", "seed", QUICK_MLP)), splits=10, repeats=5,
             slowdowns=(0.15, 0.25), fail_above=10.0, disturbed=(2,), mode="quick")  # fmt: skip
#: Comparisons that bound a false-alarm rate under 5% (one-sided 95%) when none is a false alarm: 59.
BOUND_5PCT = calib.comparisons_to_bound(0.05)
#: Thorough, for duets: one A/A duet per repeat, so 59 repeats.
THOROUGH = Plan(QUICK.adapters, splits=10, repeats=BOUND_5PCT, slowdowns=(0.10, 0.15, 0.25), fail_above=10.0,
                disturbed=every_third(BOUND_5PCT), mode="thorough")  # fmt: skip
#: Thorough, for separate runs: 59 disjoint pairs of repeats, side A only (best spread in time: --spread).
THOROUGH_SEPARATE = Plan(QUICK.adapters, splits=10, repeats=2 * BOUND_5PCT, slowdowns=(), fail_above=10.0,
                         disturbed=every_third(2 * BOUND_5PCT), mode="thorough-separate", kind="separate")  # fmt: skip


def check_plan(plan: Plan) -> Plan:
    """One-line errors for a plan that cannot run, before anything is written."""
    from hello_bench.errors import UserError

    if plan.repeats < 2 or plan.repeats > 500:
        raise UserError(f"--repeats must be in [2, 500]. Got {plan.repeats}.")
    if plan.splits < gate.MIN_PAIRS:
        raise UserError(
            f"--splits must be at least {gate.MIN_PAIRS} (the gate decides nothing from fewer pairs). Got {plan.splits}."
        )
    if (plan.kind == "duet" and not plan.slowdowns) or any(
        not (math.isfinite(s) and 0 < s <= 10) for s in plan.slowdowns
    ):
        shown = ",".join(f"{100 * x:g}" for x in plan.slowdowns)
        raise UserError(f"--slowdowns must be percentages in (0, 1000], e.g. 15,25. Got {shown}.")
    if len({side_name(s) for s in plan.slowdowns}) != len(plan.slowdowns):
        raise UserError(
            f"--slowdowns must differ by at least 1%. Got {','.join(f'{100 * x:g}' for x in plan.slowdowns)}."
        )
    if not (math.isfinite(plan.fail_above) and plan.fail_above >= 0):
        raise UserError(f"--fail-above must be a percentage >= 0. Got {plan.fail_above}.")
    if any(not 0 <= r < plan.repeats for r in plan.disturbed):
        raise UserError("every disturbed repeat must be one of the repeats.")
    if len(set(plan.disturbed)) != len(plan.disturbed):
        raise UserError(f"--disturbed names a repeat twice: {','.join(str(r + 1) for r in plan.disturbed)}.")
    plan.policy()  # the gate's own checks of --fail-above and --fail-accuracy-drop, as bench compare makes them
    # the adapters as bench run checks them, before the plan is announced (not as their calibration wrappers)
    validate(
        Config(adapters=plan.adapters, devices=("cpu",), splits=plan.splits, timing=plan.timing), "bench calibrate"
    )
    if not (math.isfinite(plan.spread_s) and 0 <= plan.spread_s <= MAX_SPREAD_S):
        raise UserError(f"--spread must be between 0 and {MAX_SPREAD_S / 86400:g} days. Got {plan.spread_s:g} s.")
    return plan


# -- the second job ----------------------------------------------------------------------------------


class SecondJob:
    """Busy loops in separate processes (one per core the trials leave free), started and stopped by round."""

    def __init__(self, processes: int) -> None:
        self.processes = max(1, processes)
        self.running: list[subprocess.Popen] = []

    def start(self) -> None:
        # Owned: they die with bench, even by kill -9 (hello_bench.lifeline); each in a group of its own.
        if not self.running:
            command = owned([sys.executable, "-I", "-c", "while True: pass"])
            self.running = [subprocess.Popen(command, start_new_session=True) for _ in range(self.processes)]

    def stop(self) -> None:
        for proc in self.running:
            end_group(proc)
        self.running = []


def split_of(trial_id: str) -> int:
    """The split seed in a trial id (``.../split-07...``), -1 when there is none."""
    import re

    found = re.search(r"/split-(\d+)", trial_id)
    return int(found.group(1)) if found else -1


def disturbing(job: SecondJob, first: int, last: int) -> Any:
    """A progress display that runs the second job while splits ``first`` to ``last - 1`` run."""
    from hello_bench.run.progress import Quiet

    class Disturbing(Quiet):
        def started(self, trial_id: str) -> None:
            if first <= split_of(trial_id) < last:
                job.start()
            else:
                job.stop()
            super().started(trial_id)

    return Disturbing()


# -- comparisons ---------------------------------------------------------------------------------------


def side_frames(records: list[dict]) -> dict[tuple[int, str], pd.DataFrame]:
    """The run's tidy frame split by (repeat, side), each adapter relabelled as the real adapter it wraps."""
    from hello_bench.adapters.calibration import PREFIX
    from hello_bench.analysis.load import finish, flat_frame

    df = finish(flat_frame(records))
    if df.empty:
        return {}
    params = [json.loads(p) if isinstance(p, str) else {} for p in df["params"]]
    df["repeat"] = [int(p.get("repeat", -1)) for p in params]
    df["side"] = [str(p.get("side", "?")) for p in params]
    df["adapter"] = [
        str(name).removeprefix(PREFIX) + ("(" + ",".join(f"{k}={v}" for k, v in sorted(p.items()) if k not in EXTRA) + ")"
                                          if any(k not in EXTRA for k in p) else "")
        for name, p in zip(df["adapter_name"], params)
    ]  # fmt: skip
    return {(int(r), str(s)): g.copy() for (r, s), g in df.groupby(["repeat", "side"])}


KEYS = ["dataset", "adapter", "device"]


def gated(a: pd.DataFrame, b: pd.DataFrame, plan: Plan, separate: bool = False, variance: Any = None) -> gate.Verdict:
    """B against A gated by the plan's policy, as ``bench compare`` would gate it (one run, or two separate runs)."""
    from hello_bench.analysis.comparison import DUET, SEPARATE, Context, build

    context = Context(SEPARATE if separate else DUET, variance=variance)
    verdict = build(a, b, KEYS, plan.policy(), context).verdict
    assert verdict is not None
    return verdict


def _fit_fails(v: gate.Verdict) -> bool:
    """Fit time alone failed (the registry's headline duration: the first gated-by-default duration)."""
    from hello_bench.record import metrics

    fit = next(m for m in metrics() if m.gated and m.kind == "duration")
    return any(j.tested.measured.metric == fit.label for j in v.failures)


@dataclass
class Comparison:
    kind: str  # "aa" | "ab" | "aa-separate"
    repeats: tuple[int, ...]
    disturbed: bool
    outcomes: tuple[str, ...]
    slowdown: float = 0.0
    fit_time: bool = False
    lines: tuple[str, ...] = ()

    @property
    def fired(self) -> bool:
        return gate.FAIL in self.outcomes

    def to_dict(self) -> dict:
        return {"kind": self.kind, "repeats": list(self.repeats), "disturbed": self.disturbed, "outcomes": list(self.outcomes),
                "slowdown": self.slowdown, "fired": self.fired, "fit_time": self.fit_time, "lines": list(self.lines)}  # fmt: skip


def run_variances(frames: dict[tuple[int, str], pd.DataFrame], repeats: list[int]) -> dict[str, rv.Estimate]:
    """Run-to-run variance per machine-dependent ratio column (log scale), pooled over the groups, from side ``a`` of ``repeats``
    (:mod:`hello_bench.analysis.run_variance`: Satterthwaite df; truncated or from too few repeats: unknown).

    A keyed metric (throughput per batch size) also gets one pooled entry under its prefix (``tput``), for keys
    the calibration did not run.
    """
    from hello_bench.record import metrics

    sides = [frames[(r, "a")].assign(repeat=r) for r in repeats if (r, "a") in frames]
    if len(sides) < 2:
        return {}
    ok = pd.concat(sides, ignore_index=True)
    ok = ok[ok["status"] == "ok"]
    columns = [(m, c) for m in metrics() if m.machine and m.compared_as == "ratio" for c in m.expand(ok.columns)]
    out = {column: rv.from_frame(ok, column, KEYS, "repeat") for _, column in columns}
    prefixes = {m.prefix.rstrip("_") for m, _ in columns if m.keyed}
    for prefix in prefixes:
        out[prefix] = rv.pooled([out[c] for m, c in columns if m.keyed and m.prefix.rstrip("_") == prefix])
    return {column: e for column, e in out.items() if e.runs > 0}  # a metric this adapter never measured: no entry


def known(estimates: dict[str, rv.Estimate]) -> dict[str, tuple[float, float]]:
    """The estimates that may gate separate runs, as (variance, df)."""
    return {column: (e.var, e.df) for column, e in estimates.items() if e.known}


def comparisons(records: list[dict], plan: Plan) -> list[Comparison]:
    """Every A/A and A/B comparison of a calibration run, gated (see the module docstring)."""
    from hello_bench.analysis.separate import RunVariance

    frames = side_frames(records)
    done = sorted({r for r, _ in frames})
    out = []
    for r in done:
        if (r, "a") not in frames or (r, "a2") not in frames:
            continue
        a, a2 = frames[(r, "a")], frames[(r, "a2")]
        disturbed = r in plan.disturbed
        there, back = gated(a, a2, plan), gated(a2, a, plan)
        out.append(Comparison("aa", (r,), disturbed, (there.outcome, back.outcome), 0.0,
                              _fit_fails(there) or _fit_fails(back), (gate.line(there), gate.line(back))))  # fmt: skip
        for s in plan.slowdowns:
            if (r, side_name(s)) in frames:
                v = gated(a, frames[(r, side_name(s))], plan)
                out.append(Comparison("ab", (r,), disturbed, (v.outcome,), s, _fit_fails(v), (gate.line(v),)))
    for i, j in zip(done[0::2], done[1::2]):
        others = [r for r in done if r not in (i, j)]
        if len(others) < rv.MIN_RUNS or (i, "a") not in frames or (j, "a") not in frames:
            continue  # the pair could not be gated: not counted as a comparison that raised no alarm
        variance = RunVariance(f"repeats {', '.join(map(str, others))}", known(run_variances(frames, others)))
        there = gated(frames[(i, "a")], frames[(j, "a")], plan, True, variance)
        back = gated(frames[(j, "a")], frames[(i, "a")], plan, True, variance)
        out.append(Comparison("aa-separate", (i, j), i in plan.disturbed or j in plan.disturbed,
                              (there.outcome, back.outcome), 0.0, _fit_fails(there) or _fit_fails(back),
                              (gate.line(there), gate.line(back))))  # fmt: skip
    return out


def _rate(items: list[Comparison], fired: Any = None) -> dict:
    hit = sum(1 for c in items if (fired(c) if fired else c.fired))
    r = calib.clopper_pearson(hit, len(items))
    outcomes: dict[str, int] = {}
    for c in items:
        for o in c.outcomes:
            outcomes[o] = outcomes.get(o, 0) + 1
    return {"k": r.k, "n": r.n, "rate": None if not r.n else r.rate, "low": None if not r.n else r.low,
            "high": None if not r.n else r.high, "upper": None if not r.n else r.upper,
            "lower": None if not r.n else r.lower, "outcomes": outcomes}  # fmt: skip


def span_of(frames: dict[tuple[int, str], pd.DataFrame]) -> dict:
    """When the repeats ran: the span they covered and each repeat's first start (unix seconds)."""
    if not frames:
        return rv.span(pd.DataFrame(), "repeat").to_dict() | {"repeat_starts": []}
    every = pd.concat([g.assign(repeat=r) for (r, _), g in frames.items()], ignore_index=True)
    out = rv.span(every, "repeat").to_dict()
    starts = rv.span_starts(every, "repeat")
    return out | {"repeat_starts": [starts[r] for r in sorted(starts)]}


def summarise(found: list[Comparison], plan: Plan, records: list[dict], machine: dict | None = None) -> dict:
    """The calibration's numbers, as stored in run.json and quoted by the README."""
    aa = [c for c in found if c.kind == "aa"]
    separate = [c for c in found if c.kind == "aa-separate"]
    detections = {}
    for s in plan.slowdowns:
        items = [c for c in found if c.kind == "ab" and c.slowdown == s]
        detections[side_name(s)] = {"slowdown": s, **_rate(items), "fit_time": _rate(items, lambda c: c.fit_time),
                                    "undisturbed": _rate([c for c in items if not c.disturbed])}  # fmt: skip
    rates = {v["slowdown"]: calib.Rate(v["k"], v["n"], v["low"] or 0.0, v["high"] or 0.0) for v in detections.values()}
    smallest = calib.smallest_detected(rates)
    frames = side_frames(records)
    return {
        "plan": plan.to_dict(),
        "aa": {**_rate(aa), "undisturbed": _rate([c for c in aa if not c.disturbed]),
               "disturbed": _rate([c for c in aa if c.disturbed]), "fit_time": _rate(aa, lambda c: c.fit_time)},
        "aa_separate": {**_rate(separate), "undisturbed": _rate([c for c in separate if not c.disturbed]),
                        "disturbed": _rate([c for c in separate if c.disturbed])},
        "ab": detections,
        "smallest_detected": {"observed": smallest.observed, "shown": smallest.shown, "level": calib.DETECTION},
        "to_bound_5pct": calib.comparisons_to_bound(0.05),
        "run_variance": {k: e.to_dict() for k, e in run_variances(frames, sorted({r for r, _ in frames})).items()},
        "span": span_of(frames),
        "machine": {k: (machine or {}).get(k) for k in ("machine_id", "hostname")},
        "comparisons": [c.to_dict() for c in found],
    }  # fmt: skip


# -- running it --------------------------------------------------------------------------------------


@dataclass
class Calibrated:
    run_id: str
    path: Any
    summary: dict
    failed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def calibrate(plan: Plan, results_dir: str, run_id: str, executor: Any, say: Any, command: str) -> Calibrated:
    """Run the plan's repeats into one stored run, gate every comparison, store and return the numbers.

    With ``plan.spread_s``, repeat r starts ``r x spread / (repeats - 1)`` after the first one did (waiting
    between repeats, with progress); interrupted, the same command resumes on the same schedule.
    """
    from hello_bench.adapters.calibration import register
    from hello_bench.measure.machine import fingerprint
    from hello_bench.run.progress import Quiet
    from hello_bench.run.runner import run
    from hello_bench.store.reader import check_reusable
    from hello_bench.store.writer import RunStore, dumps

    register(sorted({a.name for a in plan.adapters}))
    config = validate(plan.config(), "bench calibrate")
    from pathlib import Path

    check_reusable(Path(results_dir) / "runs" / run_id, run_id, json.loads(dumps(config.to_dict())), "calibration")
    from hello_bench.run.order import order_seed

    base_seed = order_seed(None, run_id)
    start = time.monotonic()
    free = max(1, (os.cpu_count() or 1) - config.threads)
    job = SecondJob(free)
    failed = 0
    machine = fingerprint()
    with executor, RunStore.open(results_dir, run_id, config.to_dict(), machine, kind="calibration",
                                 info={"command": command, "plan": plan.to_dict()}) as store:  # fmt: skip
        begun = repeats_begun(store.folder.records())
        when = schedule(min(begun.values(), default=time.time()), plan.repeats, plan.spread_s)
        for r in range(plan.repeats):
            if r not in begun:
                wait_until(when[r], f"repeat {r + 1}/{plan.repeats}", say)
            repeat_config = replace(plan.config(range(r, r + 1)), order_seed=(base_seed + 7919 * (r + 1)) % (2**31 - 1))
            third = max(1, plan.splits // 3)
            progress: Any = disturbing(job, third, plan.splits - third) if r in plan.disturbed else Quiet()
            try:
                result = run(repeat_config, store, executor, progress)
            finally:
                job.stop()
            failed = result.failed
            say(f"repeat {r + 1}/{plan.repeats}{' (disturbed by a second job)' if r in plan.disturbed else ''}: "
                f"{sum(result.new.values())} trials, {time.monotonic() - start:.0f} s so far")  # fmt: skip
        records = store.folder.records()
        found = comparisons(records, plan)
        summary = {**summarise(found, plan, records, machine), "seconds": time.monotonic() - start, "command": command}
        store.write_json("run.json", {**store.folder.info(), "calibration": summary})
    return Calibrated(run_id, store.path, summary, failed, summary["seconds"])
