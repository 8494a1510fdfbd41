"""Across datasets: mean ranks, Friedman's test, and Nemenyi's post-hoc comparison (Demsar 2006)."""

from __future__ import annotations

import pandas as pd

from hello_bench.analysis import stats
from hello_bench.record import role
from hello_bench.report.document import Doc
from hello_bench.report.tables import fmt, fmt_p


def section(doc: Doc, ok: pd.DataFrame) -> list[tuple[str, stats.FriedmanResult]]:
    """Per device; returns the significant results (for the critical-difference figure)."""
    if ok["dataset"].nunique() < 2:
        return []
    doc.heading("Across datasets")
    significant = []
    for device, g in ok.groupby("device", sort=True):
        means = g.groupby(["adapter", "dataset"])[role("accuracy").column].mean().unstack().dropna(axis=1)
        if means.shape[1] < 2:
            continue
        res = stats.friedman({a: means.loc[a].tolist() for a in means.index})
        doc.para(f"Device {device}, {res.n_datasets} datasets: mean accuracy rank (1 = best).")
        doc.table(
            ["adapter", "mean rank"],
            [[a, f"{r:.2f}"] for a, r in sorted(res.mean_ranks.items(), key=lambda kv: kv[1])],
            f"ranks-{device}",
        )
        doc.para(f"Friedman chi2 = {fmt(res.statistic)}, p = {fmt_p(res.p)}. {res.note}".strip())
        if res.significant:
            pairs = stats.nemenyi_pairs(res.mean_ranks, res.critical_difference)
            doc.para(f"Friedman's test rejects equal ranks, so pairs are compared with Nemenyi's test: critical difference "
                     f"{res.critical_difference:.2f} in mean rank (alpha 0.05).")  # fmt: skip
            doc.table(
                ["A", "B", "rank difference", "different?"],
                [[a, b, f"{d:.2f}", "yes" if s else "no"] for a, b, d, s in pairs],
                f"nemenyi-{device}",
            )
            significant.append((device, res))
        else:
            doc.para("Friedman's test does not reject equal ranks: no post-hoc comparison is made.")
    return significant
