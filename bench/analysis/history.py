"""History: every stored run (and every environment of a run) as one point per adapter and metric.

A point is a run's estimate of a metric for one dataset x adapter x device
over its splits (init seeds averaged within a split). What is shown: for a
statistic of the test rows (accuracy, macro-F1, log loss: ``Metric.test_rows``)
the mean with its Nadeau-Bengio corrected interval, as the report shows it
(the splits share training rows; the plain interval is far too narrow); for
times, speeds and the rest the geometric mean with its 95% interval. What the
step detection is fed, for every metric: the log of the geometric mean and its
standard error. Points are ordered by when the run ran
(``by="time"``), labelled by the user's git commit (``by="commit"``), or
ordered by a package's version (``by=<package>``, from each environment's
exact versions). Steps are found by :mod:`hello_bench.analysis.steps`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from packaging.version import InvalidVersion, Version
from scipy import stats as sps

from hello_bench.analysis import stats
from hello_bench.analysis.load import Loaded
from hello_bench.analysis.pairing import per_split
from hello_bench.analysis.steps import MIN_POINTS, detect_steps
from hello_bench.errors import UserError
from hello_bench.metrics import DIFFERENCE, EXACT, RATIO
from hello_bench.record import find_metric, metric_for
from hello_bench.record import metrics as all_metrics
from hello_bench.store.reader import RunFolder

KEYS = ["dataset", "adapter", "device"]


def default_metrics() -> tuple[str, ...]:
    """What history follows by default: the registry's gated-by-default metrics that are one column each."""
    return tuple(m.short for m in all_metrics() if m.gated and not m.keyed)


@dataclass(frozen=True)
class Point:
    """One position of the history: a run, or one environment of a run."""

    run: str
    label: str
    order: tuple
    environment: str | None


def _version(text: str | None) -> tuple:
    try:
        return (0, Version(str(text))) if text else (1, Version("0"))
    except InvalidVersion:
        return (1, Version("0"))


def points(loaded: Loaded, by: str) -> dict[tuple[str, str | None], Point]:
    """The history's points, keyed by (run id, environment)."""
    frame = loaded.frame
    envs = frame["environment"] if "environment" in frame.columns else pd.Series(None, index=frame.index)
    out: dict[tuple[str, str | None], Point] = {}
    for folder in loaded.folders:
        info, environment = folder.info(), folder.environment()
        mask = frame["run_id"] == folder.run_id
        started = pd.to_datetime(frame.loc[mask, "started_at"]).min() if "started_at" in frame.columns else None
        names: list[str | None] = [*sorted({e for e in envs[mask] if isinstance(e, str)})] or [None]
        for env_name in names:
            label = folder.run_id + (f"%{env_name}" if env_name else "")
            packages = (info.get("environments", {}).get(env_name or "", {}) or {}).get("packages") or environment.get(
                "packages", {}
            )
            when: tuple = (str(started), env_name or "")
            order: tuple
            if by == "time":
                order, shown = when, label
            elif by == "commit":
                project = info.get("project") or {}
                commit = (project.get("commit") or "?")[:10] + ("-dirty" if project.get("dirty") else "")
                order, shown = when, f"{label} ({commit})"
            else:
                version = packages.get(by) or packages.get(by.lower())
                order, shown = (_version(version), *when), f"{label} ({by} {version or '?'})"
            out[(folder.run_id, env_name)] = Point(folder.run_id, shown, order, env_name)
    if by not in ("time", "commit") and not any(_has_package(folder, by) for folder in loaded.folders):
        raise UserError(f"--by {by!r}: no run here records a package of that name (as pip names it, e.g. "
                        "scikit-learn); or use --by time or --by commit.")  # fmt: skip
    return out


def _has_package(folder: RunFolder, name: str) -> bool:
    envs = [e.get("packages") or {} for e in (folder.info().get("environments") or {}).values() if isinstance(e, dict)]
    return any((p.get(name) or p.get(name.lower())) for p in [*envs, folder.environment().get("packages") or {}])


def _estimate(values: np.ndarray) -> tuple[float, float, int]:
    """Log of the geometric mean and its standard error."""
    logs = np.log(values[values > 0])
    n = len(logs)
    if n == 0:
        return math.nan, math.nan, 0
    return float(logs.mean()), float(logs.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan, n


def columns_of(names: tuple[str, ...], ok: pd.DataFrame) -> list[str]:
    """The frame columns the named metrics (short names, labels or columns) hold; UserError naming an unknown one."""
    out = []
    for name in names:
        found = find_metric(name)
        columns = ([found[1]] if found[1] else found[0].expand(ok.columns)) if found else []
        if not found or not any(c in ok.columns for c in columns):
            known = ", ".join(dict.fromkeys(m.short_name(c) for m in all_metrics() for c in m.expand(ok.columns)
                                            if ok[c].notna().any()))  # fmt: skip
            raise UserError(f"No metric {name!r} in these runs. Metrics: {known or 'none'}.")
        out += [c for c in columns if c in ok.columns and c not in out]
    return out


def series(loaded: Loaded, by: str, metrics: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per (metric, dataset, adapter, device, point): log mean, its standard error, the point's order."""
    pts = points(loaded, by)
    ok = loaded.frame[loaded.frame["status"] == "ok"].copy()
    if "environment" not in ok.columns:
        ok["environment"] = None
    ok["point"] = [pts[(r, e if isinstance(e, str) else None)].label for r, e in zip(ok["run_id"], ok["environment"])]
    rank = {p.label: i for i, p in enumerate(sorted(pts.values(), key=lambda p: p.order))}
    rows = []
    for metric in columns_of(metrics or default_metrics(), ok):
        splits = per_split(ok.dropna(subset=[metric]), [*KEYS, "point"], metric)
        exact = (m := metric_for(metric)) is not None and m.compared_as == EXACT
        for key, g in splits.groupby([*KEYS, "point"], sort=False):
            values = g[metric].to_numpy(float)
            # a count (0 included) is compared as it is: its mean stands in for the log mean, which steps never read
            mean, se, n = (float(values.mean()), 0.0, len(values)) if exact else _estimate(values)
            rows.append({"metric": metric, **dict(zip([*KEYS, "point"], key)), "log_mean": mean, "se": se, "n": n,
                         "rank": rank[key[-1]], **shown(metric, g)})  # fmt: skip
    return pd.DataFrame(rows).sort_values(["metric", *KEYS, "rank"]).reset_index(drop=True) if rows else pd.DataFrame()


#: The level of every point's interval.
LEVEL = 0.95
#: Which mean a point's value is (the ``mean`` column): the arithmetic mean with its Nadeau-Bengio corrected
#: t-interval, or the geometric mean with the normal interval of its log.
ARITHMETIC, GEOMETRIC = "arithmetic", "geometric"


def shown(metric: str, splits: pd.DataFrame) -> dict:
    """A point's value and 95% interval as the report shows them, from one point's per-split values (init seeds
    averaged): the corrected interval of the mean for a statistic of the test rows, the geometric mean otherwise."""
    m = metric_for(metric)
    values = splits[metric].to_numpy(float)
    if m is not None and m.compared_as == EXACT:  # a count: its mean, compared exactly (no interval)
        return {"value": float(np.mean(values)), "low": math.nan, "high": math.nan, "mean": ARITHMETIC}
    if m is not None and m.test_rows:
        sizes = [pd.to_numeric(splits[c], errors="coerce").dropna() for c in ("n_train", "n_test")]
        if any(s.empty for s in sizes):  # records without the split's sizes: no correction, so no interval
            return {"value": float(np.mean(values)), "low": math.nan, "high": math.nan, "mean": ARITHMETIC}
        ci = stats.corrected_mean_ci(values, int(sizes[0].iloc[0]), int(sizes[1].iloc[0]), LEVEL, bounds=m.valid)
        return {"value": ci.mean, "low": ci.low, "high": ci.high, "mean": ARITHMETIC}
    log_mean, se, _ = _estimate(values)
    half = float(sps.norm.ppf(0.5 + LEVEL / 2)) * se
    return {"value": math.exp(log_mean), "low": math.exp(log_mean - half), "high": math.exp(log_mean + half),
            "mean": GEOMETRIC}  # fmt: skip


SERIES = ["metric", *KEYS]


def undecided(frame: pd.DataFrame) -> list[dict]:
    """The series too short to decide on (fewer than MIN_POINTS points): no step found there means nothing."""
    if frame.empty:
        return []
    sizes = frame.dropna(subset=["log_mean"]).groupby(SERIES, sort=True).size()
    counts = sizes.reindex(frame.groupby(SERIES, sort=True).size().index, fill_value=0)
    return [{**dict(zip(SERIES, key)), "points": int(n)} for key, n in counts.items() if n < points_needed(key[0])]


def points_needed(metric: str) -> int:
    """Points a series needs before its steps mean something: a count changes exactly between any two."""
    m = metric_for(metric)
    return 2 if m is not None and m.compared_as == EXACT else MIN_POINTS


def steps(frame: pd.DataFrame) -> list[dict]:
    """Every step found, per metric and adapter: the point after it, the after/before ratio and its interval, and
    the change in the metric's own terms (``change``: a ratio for times, rates and memory; a difference for a
    statistic of the test rows; for a count, every change between two points, exactly, with no p-value)."""
    found = []
    for (metric, dataset, adapter, device), g in frame.groupby(SERIES, sort=True):
        g = g.dropna(subset=["log_mean"])
        m = metric_for(metric)
        where = {"metric": metric, "dataset": dataset, "adapter": adapter, "device": device,
                 "better": (m.better if m else None)}  # fmt: skip
        if m is not None and m.compared_as == EXACT:
            found += _count_changes(g, where)
            continue
        se = g["se"].to_numpy(float)
        fill = float(np.nanmedian(se)) if np.isfinite(se).any() else 0.1
        for step in detect_steps(list(g["log_mean"].to_numpy(float)), list(np.where(np.isfinite(se), se, fill))):
            before = float(g["value"].iloc[step.index - 1])
            change = ((before * (step.ratio - 1), before * (step.low - 1), before * (step.high - 1))
                      if m is not None and m.compared_as == DIFFERENCE else (step.ratio, step.low, step.high))  # fmt: skip
            found.append({
                "run": str(g["point"].iloc[step.index]), "before": str(g["point"].iloc[step.index - 1]), **where,
                "value": step.ratio, "low": step.low, "high": step.high, "p": step.p,
                "compared_as": m.compared_as if m is not None else RATIO, "change": change,
            })  # fmt: skip
    return found


def _count_changes(g: pd.DataFrame, where: dict) -> list[dict]:
    """A count (deterministic) steps wherever it changes between two consecutive points, by exactly that much."""
    values, labels = g["value"].to_numpy(float), [str(p) for p in g["point"]]
    return [{"run": labels[i], "before": labels[i - 1], **where, "value": values[i] / values[i - 1] if values[i - 1]
             else math.inf, "low": math.nan, "high": math.nan, "p": None, "compared_as": EXACT,
             "change": (values[i] - values[i - 1],) * 3} for i in range(1, len(values)) if values[i] != values[i - 1]]  # fmt: skip


def change_text(step: dict) -> str:
    """A step's change as a reader reads its metric: ``x1.3 [1.2, 1.4]``, ``-11 points [-14, -8.6]``, ``+3 exactly``."""
    value, low, high = step["change"]
    if step["compared_as"] == EXACT:
        return f"{value:+g} exactly"
    m = metric_for(step["metric"])
    if step["compared_as"] == DIFFERENCE:
        scale, unit = (100.0, " points") if m is not None and m.kind == "fraction" else (1.0, "")
        return f"{value * scale:+.3g}{unit} [{low * scale:+.3g}, {high * scale:+.3g}]"
    return f"x{value:.3g} [{low:.3g}, {high:.3g}]"
