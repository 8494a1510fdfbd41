"""From two sides' records to the gate's inputs: one :class:`~bench.analysis.gate.Measured` per gated metric and
matched group, and the problems found before any test (nothing matched, B errored, a metric missing).

The verdict itself is :func:`bench.analysis.gate.decide` (pure, mutation-tested); this module only pairs
records (on split identity, :mod:`bench.analysis.pairing`) and turns them into per-split worsening:

- every registered metric with a direction that ``bench compare`` compares (times, latencies,
  throughputs, plugin metrics with ``compare=True``): ``log(B/A)`` when lower is better, ``log(A/B)``
  when higher is better, threshold ``log(1 + PCT/100)``;
- accuracy: ``A - B`` per split (a drop), threshold ``POINTS/100``, with Nadeau and Bengio's
  ``n_test/n_train`` term (the splits overlap).

Two **separate runs** share no machine state split by split, so their difference carries each run's
own offset: the run-to-run variance, estimated on this machine by ``bench calibrate`` (kept in
its ``run.json``), is added to every timing metric's variance (twice: one offset per run). Without
a calibration of the machine both runs ran on, timing metrics are not tested and the gate says why
(``run-to-run variance unknown``). Inside one run (a duet, ``RUN%base`` against ``RUN%head``) the
split-level pairing is valid and nothing is added. Accuracy needs no such term: the same model on the
same rows gives the same accuracy whatever the machine's state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis import gate
from bench.analysis.pairing import match, pair
from bench.record import Metric, label_of, metrics
from bench.store.reader import RunFolder, run_dirs

FAILED = ("error", "timeout")


def gated_columns(a: pd.DataFrame, b: pd.DataFrame) -> list[tuple[str, Metric]]:
    """Every column of a compared metric with a direction, present on A (keyed metrics expanded)."""
    out = []
    for metric in metrics():
        if not metric.compare or metric.better not in ("lower", "higher"):
            continue
        prefix = metric.column.split("{")[0]
        for column in a.columns:
            if column == metric.column or (
                metric.keyed and column.startswith(prefix) and column[len(prefix) :].isdigit()
            ):
                out.append((column, metric))
    return out


def _label(key: Any) -> str:
    return "/".join(map(str, key if isinstance(key, tuple) else (key,)))


@dataclass
class RunVariance:
    """Run-to-run variance per metric column (of the log values), from a calibration, with its degrees of freedom."""

    source: str
    by_column: dict[str, tuple[float, float]] = field(default_factory=dict)

    def extra(self, column: str) -> tuple[float, float] | None:
        """Variance two separate runs add to a mean log ratio (two run offsets) and its df; None when unknown."""
        found = self.by_column.get(column)
        if found is None and column.startswith("tput_"):
            found = self.by_column.get("tput")
        if found is None:
            return None
        var, df = found
        return 2.0 * var, df


def _problems(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> list[gate.Problem]:
    """Groups of A with nothing ok in B, and splits where A was ok and B errored or timed out."""
    problems = []
    a_ok = a[a["status"] == "ok"]
    b_ok = b[b["status"] == "ok"]
    ok_groups = set(map(tuple, b_ok[keys].astype(str).to_numpy().tolist()))
    failed = b[b["status"].isin(FAILED)]
    failed_splits = set(map(tuple, failed[[*keys, "split_seed"]].astype(str).to_numpy().tolist()))
    for key, g in a_ok.groupby(keys, sort=True):
        key_t = tuple(map(str, key if isinstance(key, tuple) else (key,)))
        errored = sum(1 for s in g["split_seed"].astype(str) if (*key_t, s) in failed_splits)
        if errored:
            problems.append(gate.Problem(gate.ERRORED, f"{_label(key)}: {errored} split(s)"))
        elif key_t not in ok_groups:
            problems.append(gate.Problem(gate.NOTHING, f"{_label(key)}: not in B"))
    # The other way round: groups B measured whose baseline never did (every A trial errored or timed out).
    a_groups = set(map(tuple, a_ok[keys].astype(str).to_numpy().tolist()))
    a_failed = a[a["status"].isin(FAILED)]
    for key, g in a_failed.groupby(keys, sort=True):
        key_t = tuple(map(str, key if isinstance(key, tuple) else (key,)))
        if key_t in ok_groups and key_t not in a_groups:
            problems.append(gate.Problem(gate.A_ERRORED, f"{_label(key)}: {len(g)} split(s)"))
    return problems


def _missing(a_ok: pd.DataFrame, b_ok: pd.DataFrame, keys: list[str], columns: list[str]) -> list[gate.Problem]:
    """A gated metric that A's records of a group carry and B's records of the same group do not."""
    problems = []
    b_groups = {tuple(map(str, k if isinstance(k, tuple) else (k,))): g for k, g in b_ok.groupby(keys, sort=True)}
    for key, g in a_ok.groupby(keys, sort=True):
        other = b_groups.get(tuple(map(str, key if isinstance(key, tuple) else (key,))))
        if other is None:
            continue
        for column in columns:
            has_a = column in g.columns and g[column].notna().any()
            has_b = column in other.columns and other[column].notna().any()
            if has_a and not has_b:
                problems.append(
                    gate.Problem(gate.MISSING, f"{_label(key)} {label_of(column, unit=False)}: in A, not in B")
                )
    return problems


def gate_inputs(
    a: pd.DataFrame,
    b: pd.DataFrame,
    keys: list[str],
    fail_above: float | None,
    accuracy_drop: float | None,
    separate: bool,
    run_variance: RunVariance | None = None,
) -> tuple[list[gate.Measured], list[gate.Problem]]:
    """The gate's inputs for B against A (``fail_above`` in percent, ``accuracy_drop`` in points; None: not gated)."""
    a_ok, b_ok = a[a["status"] == "ok"], b[b["status"] == "ok"]
    problems = _problems(a, b, keys)
    measured: list[gate.Measured] = []
    if accuracy_drop is not None:
        matched = match(a_ok, b_ok, keys, "accuracy")
        for key, g in matched.pairs.groupby(keys, sort=True):
            worse = (g["a"] - g["b"]).to_numpy(float)
            correction = (
                float(g["n_test"].iloc[0]) / float(g["n_train"].iloc[0]) if pd.notna(g["n_train"].iloc[0]) else 0.0
            )
            measured.append(gate.Measured(_label(key), "accuracy", tuple(worse), accuracy_drop / 100, gate.DIFFERENCE,
                                          lower_is_better=False, correction=correction))  # fmt: skip
    if fail_above is not None:
        threshold = math.log1p(fail_above / 100)
        columns = gated_columns(a_ok, b_ok)
        problems += _missing(a_ok, b_ok, keys, [c for c, _ in columns])
        for column, metric in columns:
            if column not in b_ok.columns:
                continue
            extra = run_variance.extra(column) if (separate and run_variance is not None) else None
            blocked = gate.RUN_VARIANCE if separate and extra is None else None
            for key, g in pair(a_ok, b_ok, keys, column).groupby(keys, sort=True):
                x, y = g["a"].to_numpy(float), g["b"].to_numpy(float)
                keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
                if not keep.any():
                    continue
                logs = np.log(y[keep] / x[keep])
                worse = logs if metric.lower_is_better else -logs
                var, df = extra if extra is not None else (0.0, math.inf)
                measured.append(gate.Measured(_label(key), label_of(column, unit=False), tuple(worse.tolist()), threshold,
                                              gate.RATIO, metric.lower_is_better, 0.0, var, df, blocked))  # fmt: skip
    return measured, problems


# -- calibrations: the run-to-run variance of this machine ---------------------------------------


def _machine(env: dict) -> tuple[str, str]:
    return str(env.get("machine_id")), str(env.get("hostname"))


def read_calibration(folder: RunFolder) -> dict | None:
    """A calibration run's results (``run.json``'s ``calibration``, written by ``bench calibrate``), or None."""
    data = folder.info().get("calibration")
    return data if isinstance(data, dict) else None


def run_variance_from(data: dict, source: str) -> RunVariance:
    """The variances of a calibration that may gate separate runs (:attr:`bench.analysis.run_variance.Estimate.known`):
    Satterthwaite df, not truncated to 0, from at least MIN_RUNS repeats. Entries stored before the df were
    Satterthwaite's (df = repeats - 1, no count of repeats) are not used."""
    from bench.analysis import run_variance as rv

    found = {}
    for column, entry in (data.get("run_variance") or {}).items():
        if not isinstance(entry, dict) or entry.get("df_method") != rv.DF_METHOD:
            continue
        try:
            estimate = rv.Estimate(float(entry["var"]), float(entry["df"]), int(entry["runs"]), int(entry["splits"]),
                                   bool(entry.get("truncated")))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            continue
        if estimate.known:
            found[column] = (estimate.var, estimate.df)
    return RunVariance(source, found)


def find_calibration(results_dir: str | Path, env_a: dict, env_b: dict, name: str | None = None) -> RunVariance | None:
    """The run-to-run variance of the machine both sides ran on: the named calibration run, or the newest
    calibration of that machine (hardware id and hostname) under ``results_dir``; None when there is none."""
    if name is not None:
        folder = RunFolder.resolve(name, results_dir)
        data = read_calibration(folder)
        if data is None:
            from bench.errors import UserError

            raise UserError(f"Run {folder.run_id!r} holds no calibration results; run `bench calibrate`.")
        variance = run_variance_from(data, folder.run_id)
        if not variance.by_column:
            from bench.analysis.run_variance import MIN_RUNS
            from bench.errors import UserError

            raise UserError(f"Calibration {folder.run_id!r} holds no usable run-to-run variance (it needs {MIN_RUNS} or "
                            "more repeats whose spread stands out from the splits'): run `bench calibrate`.")  # fmt: skip
        return variance
    if _machine(env_a) != _machine(env_b):
        return None
    for path in reversed(run_dirs(results_dir, kind="calibration")):
        folder = RunFolder(path)
        data = read_calibration(folder)
        if data is not None and _machine(folder.environment()) == _machine(env_a):
            variance = run_variance_from(data, folder.run_id)
            if variance.by_column:  # a calibration of too few repeats is passed over, not used
                return variance
    return None
