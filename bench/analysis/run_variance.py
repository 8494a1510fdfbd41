"""The run-to-run variance of a machine: how much a whole run's timings move, beyond its splits, with its
degrees of freedom. Pure functions over numbers and frames.

Two separate runs share no machine state split by split, so a comparison of them carries each run's own
offset. Its variance comes from R runs of the same matrix (rows) on the same S splits (columns), a
two-way layout without replication on the log scale, ``log y = mean + run + split + error``:
``MS_run = S * var(run means)`` on ``R - 1`` df, ``MS_error`` the residual mean square on
``(R - 1)(S - 1)`` df, and ``var(run) = (MS_run - MS_error) / S`` (the random-effects moment estimate).

- **Degrees of freedom: Satterthwaite's**, ``(MS_run - MS_error)^2 / (MS_run^2 / (R-1) + MS_error^2 /
  ((R-1)(S-1)))``, never more than ``R - 1`` and often far fewer: the estimate is a difference of two
  mean squares, and when the splits scatter about as much as the runs it is barely known (five
  repeats gave 0.35 to 3.7 df here, where ``R - 1`` said 4).
- **A truncated estimate is unknown**, not 0: when ``MS_run <= MS_error`` the moment estimate is not
  positive, which says the runs' spread could not be told from the splits', not that it is 0 (a
  variance of 0 would make two separate runs look paired).
- **Enough runs to mean something**: fewer than :data:`MIN_RUNS` runs give no usable estimate (two
  repeats: at most 1 df, the bound on the variance spans orders of magnitude).
- **Spread over the span it is applied to**: the estimate knows the time its runs covered
  (:class:`Span`); runs made back to back say nothing about how a machine moves between days.

Sources: the repeats of a calibration (:mod:`hello_bench.run.calibrate`), or the stored history of the same
matrix on the same machine (:func:`from_history`), where the runs between two steps of the history form
one segment and the segments' sums of squares are pooled (a code change moves the level, not the noise).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import timezone

import numpy as np
import pandas as pd

#: Fewest runs whose variance may gate separate runs.
MIN_RUNS = 5
#: Fewest (Satterthwaite) df a variance may gate on: below one, its t quantile is astronomical (df 0.3: a 95%
#: bound ~10^4 times the se), so it bounds nothing; such an estimate is reported and not used.
MIN_DF = 1.0
#: A log-scale variance below this (an sd of 1e-8) is floating-point rounding of equal values, not a measurement.
ROUNDING = 1e-16
#: How the stored df were computed: entries without it (df = R - 1) are not used.
DF_METHOD = "satterthwaite"


@dataclass(frozen=True)
class Estimate:
    """A run-to-run variance (log scale) with its Satterthwaite df, from ``runs`` runs x ``splits`` splits."""

    var: float
    df: float
    runs: int
    splits: int
    #: The moment estimate was not positive (MS_run <= MS_error): the variance is unknown, not 0.
    truncated: bool = False

    @property
    def known(self) -> bool:
        """Usable to gate separate runs: positive, finite, on at least MIN_DF df, from at least MIN_RUNS runs."""
        return (
            not self.truncated
            and math.isfinite(self.var)
            and self.var > 0
            and math.isfinite(self.df)
            and self.df >= MIN_DF
            and self.runs >= MIN_RUNS
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "df_method": DF_METHOD}


UNKNOWN = Estimate(math.nan, math.nan, 0, 0)


def satterthwaite_df(ms_run: float, df_run: float, ms_error: float, df_error: float) -> float:
    """df of ``(MS_run - MS_error) / S`` (Satterthwaite; the 1/S cancels); NaN when there is nothing to estimate."""
    denominator = ms_run**2 / df_run + ms_error**2 / df_error
    return (ms_run - ms_error) ** 2 / denominator if denominator > 0 else math.nan


def _sums(table: np.ndarray) -> tuple[float, float, float, float]:
    """(SS_run, df_run, SS_error, df_error) of one R x S table."""
    r, s = table.shape
    row = table.mean(axis=1, keepdims=True)
    col = table.mean(axis=0)
    grand = float(table.mean())
    ss_run = s * float(np.sum((row - grand) ** 2))
    ss_error = float(np.sum((table - row - col + grand) ** 2))
    return ss_run, r - 1.0, ss_error, (r - 1.0) * (s - 1.0)


def segmented(tables: Sequence[Sequence[Sequence[float]]]) -> Estimate:
    """The run variance of several R_k x S tables (segments of one history, the same S splits), their sums
    of squares pooled: each segment has its own level and split effects, all share the runs' variance."""
    arrays = [np.asarray(t) for t in tables]
    arrays = [a for a in arrays if a.ndim == 2 and a.shape[0] >= 2 and a.shape[1] >= 2]
    if not arrays or len({a.shape[1] for a in arrays}) != 1:
        return UNKNOWN
    s = arrays[0].shape[1]
    ss_run = df_run = ss_error = df_error = 0.0
    for a in arrays:
        sr, dr, se, de = _sums(a)
        ss_run, df_run, ss_error, df_error = ss_run + sr, df_run + dr, ss_error + se, df_error + de
    ms_run, ms_error = ss_run / df_run, ss_error / df_error
    runs = sum(a.shape[0] for a in arrays)
    var = (ms_run - ms_error) / s
    if var < ROUNDING:  # not positive beyond rounding
        return Estimate(0.0, 0.0, runs, s, truncated=True)
    return Estimate(var, satterthwaite_df(ms_run, df_run, ms_error, df_error), runs, s)


def two_way(table: Sequence[Sequence[float]]) -> Estimate:
    """The run variance of R runs x S splits of log values (see the module docstring); unknown under 2 x 2."""
    if len(table) < 2 or len({len(row) for row in table}) != 1:
        return UNKNOWN
    return segmented([table])


def pooled(estimates: Iterable[Estimate]) -> Estimate:
    """The mean of several groups' variances, on the fewest df and runs among them (the groups share each run's
    offset, so their estimates are not independent). A truncated group's variance is unknown and does not
    enter the mean; when every group's is, the result is truncated too (and so not :attr:`Estimate.known`)."""
    given = [e for e in estimates if e.runs]
    found = [e for e in given if not e.truncated and math.isfinite(e.var)]
    if not found:
        return Estimate(0.0, 0.0, min(e.runs for e in given), min(e.splits for e in given), True) if given else UNKNOWN
    return Estimate(
        sum(e.var for e in found) / len(found),
        min(e.df for e in found),
        min(e.runs for e in found),
        min(e.splits for e in found),
    )


def tables(
    frame: pd.DataFrame, column: str, keys: list[str], run: str, split: str = "split_seed"
) -> list[pd.DataFrame]:
    """Per group of ``keys``: the runs x splits table of log values of ``column`` (ok trials, positive values,
    init seeds averaged, only the splits every run measured). Too small a table gives an unknown estimate."""
    ok = frame[(frame["status"] == "ok") & (frame[column] > 0)] if column in frame.columns else frame.iloc[:0]
    return [np.log(g.pivot_table(index=run, columns=split, values=column).dropna(axis=1)) for _, g in ok.groupby(keys)]


def from_frame(
    frame: pd.DataFrame, column: str, keys: list[str], run: str, segments: Sequence[Sequence[object]] = ()
) -> Estimate:
    """The run variance of ``column``, pooled over the groups of ``keys``; ``run`` names each run's column.

    ``segments``: groups of run labels that share a level (a history cut at its steps); default one segment.
    """
    found = []
    for table in tables(frame, column, keys, run):
        if segments:
            parts = [table.loc[[r for r in seg if r in table.index]] for seg in segments]
            found.append(segmented([p.to_numpy() for p in parts]))
        else:
            found.append(two_way(table.to_numpy().tolist()))
    return pooled(found)


@dataclass(frozen=True)
class Span:
    """The time a set of runs covered: when the first started and the last finished (unix seconds)."""

    first: float
    last: float
    runs: int

    @property
    def seconds(self) -> float:
        return self.last - self.first

    def to_dict(self) -> dict:
        return {"first": self.first, "last": self.last, "seconds": self.seconds, "runs": self.runs}


def duration_text(seconds: float) -> str:
    """``2h05m``, ``4m10s``, ``12s`` (rounded to the second)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def span(frame: pd.DataFrame, run: str) -> Span:
    """The span of the runs in ``frame`` (``started_at``, ``finished_at`` as unix seconds or datetimes)."""
    if frame.empty or "started_at" not in frame.columns:
        return Span(math.nan, math.nan, 0)
    start = _seconds(frame["started_at"])
    end = _seconds(frame["finished_at"]) if "finished_at" in frame.columns else start
    end = end.fillna(start)
    return Span(float(start.min()), float(end.max()), int(frame[run].nunique()))


def span_starts(frame: pd.DataFrame, run: str) -> dict:
    """Each run's first start (unix seconds)."""
    if frame.empty or "started_at" not in frame.columns:
        return {}
    return {key: float(v) for key, v in _seconds(frame["started_at"]).groupby(frame[run]).min().items()}


def _seconds(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):  # the tidy frame's (UTC); whatever its resolution
        return (pd.to_datetime(values, utc=True) - pd.Timestamp(0, tz=timezone.utc)).dt.total_seconds()
    return pd.to_numeric(values)


def same_machine(frame: pd.DataFrame, machine_id: str | None, hostname: str | None) -> pd.DataFrame:
    """The rows of ``frame`` measured on one machine (hardware id and hostname, where the frame records them)."""
    keep = np.ones(len(frame), dtype=bool)
    for column, value in (("machine_id", machine_id), ("hostname", hostname)):
        if value is not None and column in frame.columns:
            keep &= (frame[column].astype(str) == str(value)).to_numpy()
    return frame[keep]


def from_history(
    frame: pd.DataFrame,
    columns: Sequence[str],
    keys: list[str],
    machine_id: str | None,
    hostname: str | None,
    breaks: Sequence[str] = (),
) -> tuple[dict[str, Estimate], Span]:
    """Run-to-run variance per column from the stored history of one matrix on one machine.

    ``frame``: the tidy frame of the history's runs (``run_id``, ``split_seed``, ``started_at``, the
    columns; a run without ``started_at`` is not used); only rows of the machine named are used. ``breaks``: run ids where the history steps (a
    code change; from :mod:`hello_bench.analysis.steps`): each starts a new segment, whose level is its own.
    Returns the estimates and the span of the runs they came from.
    """
    mine = same_machine(frame, machine_id, hostname)
    starts = span_starts(mine, "run_id")
    segments: list[list[str]] = [[]]
    for run_id in sorted(starts, key=lambda r: (starts[r], r)):  # in the order they ran
        if run_id in breaks and segments[-1]:
            segments.append([])
        segments[-1].append(run_id)
    found = {c: from_frame(mine, c, keys, "run_id", segments) for c in columns}
    return found, span(mine, "run_id")
