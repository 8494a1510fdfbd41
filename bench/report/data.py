"""The report's data section: what each dataset was and what loading did to it, from the runs' own description.

Each run keeps a description of its datasets in ``run.json`` (``datasets``, written when it started, by
:mod:`hello_bench.run.data_info`): rows and columns, classes and their balance, missing cells and what was done
with them, categorical columns, columns dropped, and whether the features were already standardised. Runs
made before bench kept one are described by what their records hold (rows, features and classes).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hello_bench.report.document import Doc
from hello_bench.store.reader import RunFolder


def descriptions(paths: list[Path]) -> dict[str, dict]:
    """Every run's dataset descriptions, by the label its records carry (the first run's wins a repeated label)."""
    out: dict[str, dict] = {}
    for path in paths:
        try:
            found = RunFolder(path).info().get("datasets") or {}
        except Exception:  # a run.json the reader refuses is reported by the settings section, not here
            continue
        for label, described in found.items() if isinstance(found, dict) else []:
            if isinstance(described, dict):
                out.setdefault(str(label), described)
    return out


def _classes(counts: dict) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{label} {n} ({n / total:.0%})" for label, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _missing(info: dict) -> str:
    prep = info.get("preparation") or {}
    cells, labels = prep.get("missing_cells", 0), prep.get("missing_labels", 0)
    if not cells and not labels:
        return "none"
    done = {"drop": f"{prep.get('rows_dropped', 0):,} row(s) dropped",
            "impute": f"{prep.get('imputed_cells', 0):,} number(s) imputed with the column median; a missing "
                      "category is no level"}.get(str(info.get("missing_rule")), "")  # fmt: skip
    return f"{cells:,} cell(s), {labels:,} label(s): {done}".rstrip(": ")


def _categorical(info: dict) -> str:
    prep = info.get("preparation") or {}
    levels = prep.get("categorical") or {}
    dropped = prep.get("dropped_columns") or []
    parts = [f"{c} ({n} levels)" for c, n in levels.items()]
    text = (", ".join(parts) + f" -> {prep.get('onehot_columns', 0)} one-hot columns") if parts else "none"
    return text + (f"; dropped: {', '.join(map(str, dropped))}" if dropped else "")


def _scale(info: dict, preprocessing: str) -> str:
    scale = info.get("scale") or {}
    if preprocessing == "standard":
        return "standardised on each split's training rows (--preprocessing standard)"
    if scale.get("max_abs_mean") is None:
        return "no numeric columns" if scale else "-"
    state = "already standardised" if scale.get("standardised") else "not standardised"
    return (f"{state}: |mean| up to {scale['max_abs_mean']:.3g}, standard deviations "
            f"{scale['std_min']:.3g} to {scale['std_max']:.3g}")  # fmt: skip


def section(doc: Doc, paths: list[Path], df: pd.DataFrame) -> set[str]:
    """The data section; returns the dataset labels whose features are known not to be standardised."""
    described = descriptions(paths)
    labels = sorted(df["dataset"].dropna().astype(str).unique()) if "dataset" in df.columns else []
    if not labels:
        return set()
    doc.heading("The data")
    rows, unscaled = [], set()
    for label in labels:
        base, _, std = label.partition("+")
        info = described.get(base)
        preprocessing = "standard" if std == "std" else "none"
        if info is None:
            rows.append(_from_records(label, df[df["dataset"] == label]))
            continue
        prep = info.get("preparation") or {}
        read = f" of {prep['rows_read']:,} read" if prep.get("rows_read", info["rows"]) != info["rows"] else ""
        rows.append([label, info.get("source", base), f"{info['rows']:,}{read}",
                     f"{info['features']}" + (f" ({prep['feature_columns_read']} read)" if prep else ""),
                     _classes(info.get("classes") or {}), _missing(info), _categorical(info),
                     _scale(info, preprocessing)])  # fmt: skip
        if preprocessing == "none" and (info.get("scale") or {}).get("standardised") is False:
            unscaled.add(label)
    doc.table(["dataset", "source", "rows", "feature columns", "classes (rows)", "missing cells",
               "categorical columns", "features"], rows, "data")  # fmt: skip
    doc.para("Described when each run started, from the data as loaded: rows and feature columns used (one-hot "
             "columns counted) and as read, each class's rows, what was done with missing cells and text columns, and "
             "the scale of the features the models saw (0/1 columns left out). Every split is stratified by the label.")  # fmt: skip
    return unscaled


def _from_records(label: str, rows: pd.DataFrame) -> list:
    """What the records of a run without a data description say about its data."""

    def first(column: str) -> str:
        values = pd.to_numeric(rows[column], errors="coerce").dropna() if column in rows.columns else pd.Series()
        return f"{int(values.iloc[0]):,}" if len(values) else "-"

    total = "-"
    if {"n_train", "n_test"} <= set(rows.columns):
        sizes = (
            pd.to_numeric(rows["n_train"], errors="coerce") + pd.to_numeric(rows["n_test"], errors="coerce")
        ).dropna()
        total = f"{int(sizes.iloc[0]):,}" if len(sizes) else "-"
    unknown = "not recorded (a run made before bench described its data)"
    return [label, "-", total, first("n_features"), f"{first('n_classes')} classes", unknown, unknown, unknown]
