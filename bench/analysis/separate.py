"""Where two separate runs get their run-to-run variance: a calibration of the machine both ran on.

Every split of a run shares that run's machine state, so pairing two separate runs split by split
says nothing about how much a whole run moves. ``bench calibrate`` measures it (repeats of one
matrix on this machine, kept in its ``run.json`` under ``calibration.run_variance``: per metric
column, the variance of the log values between repeats and its degrees of freedom). A comparison of
separate runs uses it only when it can stand for them:

- made on the **machine both runs ran on** (hardware id and hostname), unless named with
  ``--calibration RUN``;
- estimated with **Satterthwaite's degrees of freedom** from at least
  :data:`~hello_bench.analysis.run_variance.MIN_RUNS` repeats, and above zero (a variance truncated to 0 is
  unknown, not "no variance": :mod:`hello_bench.analysis.run_variance`);
- covering the **span** between the two runs: repeats made within six minutes say nothing about two
  runs days apart (this machine's speed moves by up to 2x between days), so beyond the span the
  calibration covered, timing metrics are not tested, and the line says what would decide.

Otherwise the variance is unknown and the comparison's timing metrics are INCONCLUSIVE with the reason.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from hello_bench.analysis import run_variance as rv
from hello_bench.errors import UserError
from hello_bench.record import metric_for
from hello_bench.store.reader import RunFolder, run_dirs


@dataclass
class RunVariance:
    """Run-to-run variance per metric column (of the log values), with its df; or why there is none."""

    source: str
    by_column: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Why it cannot be used for this comparison (None: usable).
    why: str | None = None
    #: Seconds the calibration's repeats spanned, and when it ended (Unix seconds).
    span_s: float = math.nan
    made_at: float = math.nan
    #: Columns the calibration measured whose variance cannot be used, and why (truncated, too few df).
    unusable: dict[str, str] = field(default_factory=dict)

    def extra(self, column: str) -> tuple[float, float] | None:
        """Variance two separate runs add to a mean log ratio (two run offsets) and its df; None when unknown."""
        if self.why is not None:
            return None
        found = self.by_column.get(column)
        metric = metric_for(column)
        if found is None and metric is not None and metric.keyed:
            found = self.by_column.get(metric.prefix.rstrip("_"))  # one pooled entry for every key
        if found is None:
            return None
        var, df = found
        return 2.0 * var, df


def read_calibration(folder: RunFolder) -> dict | None:
    """A calibration run's results (``run.json``'s ``calibration``, written by ``bench calibrate``), or None."""
    data = folder.info().get("calibration")
    return data if isinstance(data, dict) else None


def run_variance_from(data: dict, source: str) -> RunVariance:
    """The variances of a calibration that may gate separate runs (:attr:`hello_bench.analysis.run_variance.Estimate.known`):
    Satterthwaite df, not truncated to 0, from at least :data:`~hello_bench.analysis.run_variance.MIN_RUNS` repeats.
    Entries stored before the df were Satterthwaite's (df = repeats - 1, no count of repeats) are not used."""
    found, unusable = {}, {}
    for column, entry in (data.get("run_variance") or {}).items():
        if not isinstance(entry, dict) or entry.get("df_method") != rv.DF_METHOD:
            continue
        try:
            estimate = rv.Estimate(float(entry["var"]), float(entry["df"]), int(entry["runs"]), int(entry["splits"]),
                                   bool(entry.get("truncated")))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
        if estimate.known:
            found[str(column)] = (estimate.var, estimate.df)
        else:
            unusable[str(column)] = "truncated to 0" if estimate.truncated else f"{estimate.df:.2g} df"
    covered: dict = data["span"] if isinstance(data.get("span"), dict) else {}
    span = covered.get("seconds", data.get("seconds"))
    span_s = float(span) if isinstance(span, (int, float)) and math.isfinite(span) and span > 0 else math.nan
    made = covered.get("last")
    made_at = float(made) if isinstance(made, (int, float)) and math.isfinite(made) else math.nan
    why = None if found else f"calibration {source!r} has no usable run-to-run variance (needs {rv.MIN_RUNS}+ repeats)"
    return RunVariance(source, found, why, span_s, made_at, unusable)


def _machine(env: dict) -> tuple[str, str]:
    return str(env.get("machine_id")), str(env.get("hostname"))


def find_calibration(results_dir: str | Path, env_a: dict, env_b: dict, name: str | None = None) -> RunVariance:
    """The run-to-run variance of the machine both sides ran on: the named calibration run, or the newest
    calibration of that machine (hardware id and hostname) under ``results_dir``; its ``why`` says when none fits."""
    if name is not None:
        folder = RunFolder.resolve(name, results_dir)
        data = read_calibration(folder)
        if data is None:
            raise UserError(f"Run {folder.run_id!r} holds no calibration results; run `bench calibrate`.")
        variance = run_variance_from(data, folder.run_id)
        if not variance.by_column:
            raise UserError(f"Calibration {folder.run_id!r} has no usable run-to-run variance (needs {rv.MIN_RUNS} or more "
                            "repeats, stored with Satterthwaite's df): run `bench calibrate`.")  # fmt: skip
        return variance
    if _machine(env_a) != _machine(env_b):
        return RunVariance(
            "", why="the runs ran on two machines (a calibration describes one: name one with --calibration)"
        )
    passed = []  # calibrations of this machine without a usable variance: passed over, and named
    for path in reversed(run_dirs(results_dir, kind="calibration")):
        folder = RunFolder(path)
        data = read_calibration(folder)
        if data is not None and _machine(folder.environment()) == _machine(env_a):
            variance = run_variance_from(data, folder.run_id)
            if variance.by_column:
                return variance
            passed.append(folder.run_id)
    if passed:
        return RunVariance("", why=f"no usable calibration of this machine ({', '.join(map(repr, passed))}: none "
                                   f"holds a run-to-run variance from {rv.MIN_RUNS}+ repeats with Satterthwaite's df; "
                                   "run `bench calibrate`)")  # fmt: skip
    return RunVariance("", why="no calibration of this machine (run `bench calibrate`)")


def within_span(variance: RunVariance, apart_s: float) -> RunVariance:
    """The variance, or why it cannot stand for two runs ``apart_s`` seconds apart (beyond what it covered)."""
    if variance.why is not None or not math.isfinite(apart_s) or not math.isfinite(variance.span_s):
        return variance
    if apart_s > variance.span_s:
        variance.why = (f"the runs started {duration(apart_s)} apart, beyond the {duration(variance.span_s)} calibration "
                        f"{variance.source!r} covered (calibrate over a longer span, or run both sides in one run: --env)")  # fmt: skip
    return variance


def age(variance: RunVariance, now: float | None = None) -> str:
    """How old the calibration is, in words ('-' when unknown)."""
    if not math.isfinite(variance.made_at):
        return "-"
    return duration((now if now is not None else time.time()) - variance.made_at)


def duration(seconds: float) -> str:
    """A duration in its largest sensible unit: 45 s, 6.0 min, 3.2 h, 2.1 days."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def from_stored_history(
    results_dir: str | Path, config: dict, env: dict, compared: tuple[Path, Path], starts: tuple[float, float]
) -> RunVariance:
    """The run-to-run variance of the stored history of one matrix on one machine (every other run whose config
    is ``config``, on ``env``'s machine; the two ``compared`` runs left out, as a calibration leaves its pair out:
    they are what is tested): usable when it holds enough runs and its runs span the two compared (their first
    trials' ``starts``, Unix seconds), so it stands for how far apart they are. Its own ``why`` says when not."""
    from hello_bench.analysis.load import load_runs
    from hello_bench.record import metrics

    left_out = {p.resolve() for p in compared}
    first, last = starts
    same = [p.name for p in run_dirs(results_dir, kind="matrix")
            if p.resolve() not in left_out and RunFolder(p).config() == config]  # fmt: skip
    if len(same) < rv.MIN_RUNS:
        return RunVariance("", why=f"{len(same)} stored run(s) of this matrix on this machine, not {rv.MIN_RUNS}")
    frame = load_runs(same, results_dir, kind=None, dedupe_splits=False).frame
    ok = frame[frame["status"] == "ok"]
    columns = [c for m in metrics() if m.machine and m.compared_as == "ratio" for c in m.expand(ok.columns)]
    machine_id, hostname = _machine(env)
    found, covered = rv.from_history(ok, columns, ["dataset", "adapter", "device"], machine_id, hostname)
    usable = {c: (e.var, e.df) for c, e in found.items() if e.known}
    source = f"the history of this matrix ({covered.runs} runs)"
    if not usable:
        return RunVariance(source, why=f"{source} gives no usable run-to-run variance")
    if not (covered.first <= min(first, last) and covered.last >= max(first, last)):  # NaN: never spanned
        return RunVariance(source, why=f"{source} does not span the two runs compared")
    return RunVariance(source, usable, None, covered.seconds, covered.last)
