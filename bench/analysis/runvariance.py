"""Where two separate runs get their run-to-run variance: a calibration of the machine both ran on.

Every split of a run shares that run's machine state, so pairing two separate runs split by split
says nothing about how much a whole run moves. ``bench calibrate`` measures it (repeats of one
matrix on this machine, kept in its ``run.json`` under ``calibration.run_variance``: per metric
column, the variance of the log values between repeats and its degrees of freedom). A comparison of
separate runs uses it only when it can stand for them:

- made on the **machine both runs ran on** (hardware id and hostname), unless named with
  ``--calibration RUN``;
- with enough **degrees of freedom** (:data:`MIN_VARIANCE_DF`) and a variance above zero (a variance
  truncated to 0 is unknown, not "no variance");
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

from bench.errors import UserError
from bench.record import metric_for
from bench.store.reader import RunFolder, run_dirs

#: Fewest degrees of freedom of a run-to-run variance that may gate separate runs: from two or three repeats
#: the estimate is often near 0, and a variance of 0 would make separate runs look paired.
MIN_VARIANCE_DF = 4


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
    """The usable variances of a calibration: enough degrees of freedom, a variance above zero, finite numbers."""
    found = {}
    for column, entry in (data.get("run_variance") or {}).items():
        if not isinstance(entry, dict):
            continue
        var, df = entry.get("var"), entry.get("df")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (var, df)):
            continue
        if var > 0 and df >= MIN_VARIANCE_DF:  # type: ignore[operator]
            found[str(column)] = (float(var), float(df))  # type: ignore[arg-type]
    span = data.get("span_s", data.get("seconds"))
    span_s = float(span) if isinstance(span, (int, float)) and math.isfinite(span) and span > 0 else math.nan
    made = data.get("finished_at")
    made_at = float(made) if isinstance(made, (int, float)) and math.isfinite(made) else math.nan
    return RunVariance(source, found, None if found else "the calibration has too few repeats", span_s, made_at)


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
            raise UserError(f"Calibration {folder.run_id!r} has too few repeats to estimate the run-to-run variance "
                            f"(needs {MIN_VARIANCE_DF + 1} or more): run `bench calibrate`.")  # fmt: skip
        return variance
    if _machine(env_a) != _machine(env_b):
        return RunVariance("", why="the runs ran on two machines (a calibration describes one: name one with --calibration)")
    for path in reversed(run_dirs(results_dir, kind="calibration")):
        folder = RunFolder(path)
        data = read_calibration(folder)
        if data is not None and _machine(folder.environment()) == _machine(env_a):
            variance = run_variance_from(data, folder.run_id)
            if variance.by_column:  # a calibration of too few repeats is passed over, not used
                return variance
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
