"""Pairing: the one way two sets of trials are matched, split by split, on the split's identity.

Accuracy and time are compared on the *same* splits. A split seed alone does
not make a split: two runs with the same seeds but another test size,
dataset version or stratification hold other test rows. A split is the same
only when its identity agrees: the hash of its test rows, n_test, n_train,
and the dataset's content hash (:data:`IDENTITY`). A field is compared when
both sides carry it (older records have no hash), so absence never passes
for agreement where a field is present on both.

Records that claim one split seed with different identities are **never
paired and reported as unpaired, with the reason and both runs** (not an
error): one mismatched group should not stop a report whose other
comparisons are sound, and the list says exactly what was left out and
why. (:func:`hello_bench.analysis.load.dedupe` still stops with an error when the
*same trial* appears in two runs with different rows: that is one result
claimed twice, not two results.)

Init seeds are averaged within each split first, so a split counts once
whatever its number of init seeds (counting each (split, init) pair would
pseudo-replicate).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

#: What makes a split the same split, beyond its seed.
IDENTITY = ("test_rows_sha", "n_test", "n_train", "dataset_sha")


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _same(x: Any, y: Any) -> bool:
    """Equal values; numbers by value (a frame column turns 75 into 75.0)."""
    if isinstance(x, numbers.Number) and isinstance(y, numbers.Number):
        return float(x) == float(y)  # type: ignore[arg-type]
    return str(x) == str(y)


def identity_conflict(a: dict, b: dict) -> str | None:
    """Why two claims of one split seed are not the same split; None when they agree.

    Each identity field is compared only when both sides carry it.
    """
    for name in IDENTITY:
        x, y = a.get(name), b.get(name)
        if _known(x) and _known(y) and not _same(x, y):
            return f"{name} {_show(x)} vs {_show(y)}"
    return None


def _show(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


@dataclass(frozen=True)
class Unpaired:
    """A split seed that could not be paired: where, why, and which runs."""

    key: tuple
    split_seed: Any
    reason: str

    def describe(self) -> str:
        where = "/".join(map(str, self.key))
        return f"{where + ' ' if where else ''}split {self.split_seed}: {self.reason}"


def _identities(group: pd.DataFrame) -> list[dict]:
    """The distinct identities claimed within one (keys, split seed) group, with their runs."""
    present = [c for c in IDENTITY if c in group.columns]
    out: list[dict] = []
    for _, row in group.iterrows():
        ident = {c: row[c] for c in present if _known(row[c])}
        run = str(row["run_id"])
        match = next((o for o in out if identity_conflict(o, ident) is None), None)
        if match is None:
            out.append({**ident, "runs": {run}})
        else:
            match.update(ident)
            match["runs"].add(run)
    return out


def _describe_runs(ident: dict) -> str:
    return "run " + ", ".join(sorted(ident["runs"]))


def per_split_matched(df: pd.DataFrame, keys: list[str], metric: str) -> tuple[pd.DataFrame, list[Unpaired]]:
    """``metric`` averaged over init seeds within each (keys..., split_seed); the split's identity kept.

    A (keys, split seed) group whose records disagree on the split's identity
    is left out and returned as unpaired, naming the runs on each side.
    Vectorised (one groupby), so a run of 100,000 trials pairs in seconds;
    only the conflicting groups, which are rare, are examined record by record.
    """
    cols = [*keys, "split_seed"]
    out_cols = [*cols, metric, *IDENTITY, "n_inits", "runs"]
    data = df.dropna(subset=[metric])
    if data.empty:
        return pd.DataFrame(columns=out_cols), []
    present = [c for c in IDENTITY if c in data.columns]
    # dropna=False: a record with a missing key (say, no device) is still a split, never silently dropped.
    grouped = data.groupby(cols, dropna=False, sort=True)
    conflict = (grouped[present].nunique(dropna=True) > 1).any(axis=1).to_numpy() if present else None
    # One reduction per column, not named aggregation: pandas' keyword path costs more than the means themselves
    # (a comparison pairs every metric: calibrate's 32 comparisons took 7 s in it).
    table = grouped[[metric]].mean()
    table["n_inits"] = grouped["init_seed"].nunique()
    if present:
        table[present] = grouped[present].first()
    table = table.reset_index()
    table["runs"] = _group_runs(data, grouped)
    unpaired: list[Unpaired] = []
    if conflict is not None and conflict.any():
        bad = data[pd.Series(conflict[grouped.ngroup().to_numpy()], index=data.index)]
        unpaired = _conflicting_groups(bad, cols)
        table = table[~conflict]
    for c in IDENTITY:
        if c not in table.columns:
            table[c] = math.nan
    table["n_inits"] = table["n_inits"].astype(int)
    return table[out_cols].reset_index(drop=True), unpaired


def _group_runs(data: pd.DataFrame, grouped: Any) -> Any:
    """The runs behind each group, as text (one run: the same text for every group, without a Python loop)."""
    runs = data["run_id"].astype(str) if "run_id" in data.columns else pd.Series("", index=data.index)
    if runs.nunique() <= 1:
        return runs.iloc[0] if len(runs) else ""
    return grouped["run_id"].agg(lambda s: ", ".join(sorted({str(v) for v in s}))).to_numpy()


def _conflicting_groups(bad: pd.DataFrame, cols: list[str]) -> list[Unpaired]:
    out = []
    for key, g in bad.groupby(cols, dropna=False):
        a, b = _identities(g)[:2]
        reason = f"{identity_conflict(a, b)} ({_describe_runs(a)} vs {_describe_runs(b)})"
        out.append(Unpaired(key[:-1], key[-1], reason))
    return out


def per_split(df: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """``metric`` averaged over init seeds within each (keys..., split_seed); conflicting splits left out."""
    return per_split_matched(df, keys, metric)[0]


@dataclass
class Pairing:
    """Rows matched split by split, and the split seeds that could not be matched, with why."""

    pairs: pd.DataFrame
    unpaired: list[Unpaired]


def match(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], metric: str) -> Pairing:
    """Rows of ``a`` and ``b`` matched on (keys..., split_seed) whose split identities agree.

    ``pairs`` has the keys, ``split_seed``, ``a`` and ``b`` (the metric on
    each side, init seeds averaged), the split's identity fields (either
    side's where one lacks them) and ``n_train``/``n_test``.
    """
    left, bad_a = per_split_matched(a, keys, metric)
    right, bad_b = per_split_matched(b, keys, metric)
    cols = [*keys, "split_seed"]
    joined = left.merge(right, on=cols, suffixes=("_a", "_b"))  # inner: split seeds both sides hold
    differs = pd.Series(False, index=joined.index)
    for c in IDENTITY:
        differs |= _disagree(joined[f"{c}_a"], joined[f"{c}_b"])
    unpaired = [*bad_a, *bad_b]
    for _, r in joined[differs].iterrows():  # rare: examined one by one, for the reason
        side_a, side_b = ({c: r[f"{c}_{s}"] for c in IDENTITY} for s in "ab")
        reason = f"{identity_conflict(side_a, side_b)} (run {r['runs_a']} vs run {r['runs_b']})"
        unpaired.append(Unpaired(tuple(r[c] for c in keys), r["split_seed"], reason))
    good = joined[~differs]
    pairs = good[cols].assign(a=good[f"{metric}_a"], b=good[f"{metric}_b"])
    for c in IDENTITY:
        pairs[c] = good[f"{c}_a"].where(good[f"{c}_a"].notna(), good[f"{c}_b"])
    return Pairing(pairs.reset_index(drop=True)[[*cols, "a", "b", *IDENTITY]], unpaired)


def _disagree(x: pd.Series, y: pd.Series) -> pd.Series:
    """Both sides know the field and it differs (numbers by value: a frame turns 75 into 75.0)."""
    known = x.notna() & y.notna()
    if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
        return known & (x.astype(float) != y.astype(float))
    return known & (x.map(_canonical) != y.map(_canonical))


def _canonical(value: Any) -> str:
    """A value as compared by :func:`_same`: numbers by value, anything else as text."""
    return repr(float(value)) if isinstance(value, (int, float)) else str(value)


def pair(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """The matched rows of :func:`match` (unpaired split seeds left out)."""
    return match(a, b, keys, metric).pairs


def split_conflicts(df: pd.DataFrame, by: list[str] | None = None) -> list[Unpaired]:
    """Split seeds claimed with different identities anywhere within (by...): never paired, listed once."""
    by = by or ["dataset", "device"]
    cols = [*by, "split_seed"]
    present = [c for c in IDENTITY if c in df.columns]
    if df.empty or not present:
        return []
    grouped = df.groupby(cols, dropna=False, sort=True)
    conflict = (grouped[present].nunique(dropna=True) > 1).any(axis=1).to_numpy()
    if not conflict.any():
        return []
    out = []
    bad = df[pd.Series(conflict[grouped.ngroup().to_numpy()], index=df.index)]
    for key, g in bad.groupby(cols, dropna=False):  # rare: one by one, for the reasons
        idents = _identities(g)
        for other in idents[1:]:
            reason = f"{identity_conflict(idents[0], other)} ({_describe_runs(idents[0])} vs {_describe_runs(other)})"
            out.append(Unpaired(key[:-1], key[-1], reason))
    return out


def against(
    ok: pd.DataFrame, baseline: str, metric: str, by: list[str] | None = None
) -> Iterator[tuple[tuple, str, pd.DataFrame]]:
    """Every other adapter paired with ``baseline`` on shared splits, per (by...).

    Yields ``(key_values, adapter, paired_frame)``.
    """
    by = by or ["dataset", "device"]
    base = ok[ok["adapter"] == baseline]
    for adapter in sorted(set(ok["adapter"]) - {baseline}):
        joined = pair(base, ok[ok["adapter"] == adapter], by, metric)
        for key, g in joined.groupby(by):
            yield key, adapter, g
