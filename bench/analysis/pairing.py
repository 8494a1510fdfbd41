"""Pairing: the one way two sets of trials are matched, split by split.

Accuracy and time are compared on the *same* splits. Init seeds are averaged
within each split first, so a split counts once whatever its number of init
seeds (counting each (split, init) pair would pseudo-replicate).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd


def per_split(df: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """``metric`` averaged over init seeds within each (keys..., split_seed)."""
    cols = [*keys, "split_seed"]
    extra = {"n_train": ("n_train", "first"), "n_test": ("n_test", "first"), "n_inits": ("init_seed", "nunique")}
    agg = {metric: (metric, "mean"), **{k: v for k, v in extra.items() if v[0] in df.columns}}
    data = df.dropna(subset=[metric])
    return data.groupby(cols, sort=True, dropna=False).agg(**agg).reset_index()


def pair(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """Rows of ``a`` and ``b`` matched on (keys..., split_seed), init seeds averaged first.

    Returns a frame with the keys, ``split_seed``, ``a`` and ``b`` (the metric
    on each side), and ``n_train``/``n_test`` from side a.
    """
    left = per_split(a, keys, metric).rename(columns={metric: "a"})
    right = per_split(b, keys, metric)[[*keys, "split_seed", metric]].rename(columns={metric: "b"})
    return left.merge(right, on=[*keys, "split_seed"], how="inner")


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
        for key, g in joined.groupby(by, sort=True):
            yield (key if isinstance(key, tuple) else (key,)), adapter, g
