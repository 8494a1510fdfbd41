"""The read side at scale, checked against the straightforward computations it replaces (issue 32, item 4).

Each fast path here (built to keep 100,000 trials under a minute and 2 GB) is compared, on generated inputs, with
the plain pandas or dense computation it stands for, so that speed never changes a number.
"""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.report import learning

VALUE = st.none() | st.floats(0.0, 1.0)


def long_frame_summary(records: list[dict]) -> pd.DataFrame:
    """The curves' summary as one long frame of every epoch and a pandas group-by (the way it was computed before)."""
    rows = []
    for r in records:
        curve = r.get("curve") if r.get("status") == "ok" else None
        if not curve:
            continue
        t, loss, acc = ([math.nan if v is None else v for v in curve.get(k) or []] for k in
                        ("train_time_s", "loss", "test_accuracy"))  # fmt: skip
        for e in range(min(len(t), len(loss), len(acc))):
            rows.append({"model": f"{r['adapter']} / {r['device']}", "dataset": r["dataset"], "epoch": e + 1,
                         "t": t[e], "acc": acc[e]})  # fmt: skip
    if not rows:
        return pd.DataFrame()
    grouped = pd.DataFrame(rows).groupby(["model", "dataset", "epoch"])
    out = grouped.agg(t_median=("t", "median"), acc_median=("acc", "median")).reset_index()
    quartiles = grouped["acc"].quantile([0.25, 0.75]).unstack()
    out["acc_q1"], out["acc_q3"] = quartiles[0.25].to_numpy(), quartiles[0.75].to_numpy()
    return out


@st.composite
def curve_records(draw: st.DrawFn) -> list[dict]:
    out = []
    for _ in range(draw(st.integers(0, 12))):
        n = draw(st.integers(0, 6))
        series = {k: draw(st.lists(VALUE, min_size=n, max_size=n + draw(st.integers(0, 1))))
                  for k in ("train_time_s", "loss", "test_accuracy")}  # fmt: skip
        out.append({"status": draw(st.sampled_from(["ok", "ok", "error"])), "adapter": draw(st.sampled_from("ab")),
                    "device": "cpu", "dataset": draw(st.sampled_from(["iris", "wine"])),
                    "curve": draw(st.sampled_from([None, series, series]))})  # fmt: skip
    return out


@settings(max_examples=80, deadline=None)
@given(curve_records())
def test_curve_summary_equals_the_long_frame_group_by(records):
    from bench.analysis.load import _arrays

    fast = learning.curve_summary([_arrays(dict(r)) for r in records])
    slow = long_frame_summary(records)
    assert fast.empty == slow.empty
    if not fast.empty:
        pd.testing.assert_frame_equal(fast, slow, check_dtype=False, check_exact=False, rtol=1e-12)
