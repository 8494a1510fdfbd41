"""What a data file's columns are: numeric, categorical or unusable, decided once per column.

CSV and Parquet files hold more than numbers and text: nullable booleans and
integers, decimals, lists, structs, bytes, dates. Each column is classified
once, from its dtype and (for ``object`` columns) from the Python types of its
values, and everything downstream follows from that one decision:

- **numeric**: numbers, booleans (nullable too) and decimals become float64,
  a missing value becomes NaN (so ``--missing`` handles it like any other);
- **categorical**: text and categories, for ``--categorical``;
- **unusable**: nested values (lists, structs, arrays), bytes, dates and
  times, complex numbers: one line naming the column and what it holds.

Labels are one scalar per row: a label column of lists, structs or mixed
text and numbers is refused the same way, and so is one whose parsing merged
two spellings of a class (``01`` and ``1``).
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from hello_bench.errors import UserError

NUMERIC, CATEGORICAL = "numeric", "categorical"
_NUMBERS = (bool, int, float, decimal.Decimal, np.bool_, np.number)
_NESTED = {list: "lists", tuple: "lists", np.ndarray: "lists", dict: "structs", set: "sets"}
_DATES = (datetime.date, datetime.time, datetime.timedelta, pd.Timestamp, pd.Timedelta, np.datetime64)


def kind(series: pd.Series) -> str:
    """``numeric``, ``categorical``, or what makes the column unusable ("lists", "dates and times", ...)."""
    dtype = series.dtype
    if pdt.is_complex_dtype(dtype):
        return "complex numbers"
    if pdt.is_bool_dtype(dtype) or pdt.is_numeric_dtype(dtype):
        return NUMERIC
    if pdt.is_datetime64_any_dtype(dtype) or pdt.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "dates and times"
    if isinstance(dtype, pd.CategoricalDtype):
        return _object_kind(pd.Series(dtype.categories, dtype=object), categorical=True)
    if pdt.is_object_dtype(dtype):
        return _object_kind(series, categorical=False)
    if pdt.is_string_dtype(dtype):
        return CATEGORICAL
    return f"values of type {dtype}"


def _object_kind(series: pd.Series, categorical: bool) -> str:
    types = {type(v) for v in series.dropna().tolist()}
    if not types:
        return NUMERIC  # every value missing: NaN, for --missing to handle
    for cls, what in _NESTED.items():
        if any(issubclass(t, cls) for t in types):
            return f"nested values ({what})"
    if any(issubclass(t, (bytes, bytearray, memoryview)) for t in types):
        return "bytes"
    if any(issubclass(t, _DATES) for t in types):
        return "dates and times"
    if all(issubclass(t, _NUMBERS) for t in types):
        return CATEGORICAL if categorical else NUMERIC
    if all(issubclass(t, (str, *_NUMBERS)) for t in types):
        return CATEGORICAL
    return "values of type " + ", ".join(sorted(t.__name__ for t in types))


def as_float(series: pd.Series) -> pd.Series:
    """A numeric column (booleans, nullable integers, decimals) as float64, missing values as NaN."""
    if pdt.is_object_dtype(series.dtype):
        return pd.to_numeric(series.map(lambda v: None if _missing(v) else float(v)), errors="raise").astype(float)
    return pd.Series(series.astype("Float64").to_numpy("float64", na_value=np.nan), index=series.index)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_text(series: pd.Series) -> pd.Series:
    """A categorical column's values as text (numbers among text are categories too), missing kept."""
    return series.map(lambda v: v if _missing(v) else str(v)).astype(object)


def labels(series: pd.Series, where: str) -> pd.Series:
    """The label column, one scalar per row (bools, numbers or text, not mixed); missing values kept as NA."""
    what = kind(series)
    name = series.name
    if what not in (NUMERIC, CATEGORICAL):
        raise UserError(f"{where}: the label column {name!r} holds {what}; a label is one value per row (text, a number or a boolean).")  # fmt: skip
    if pdt.is_object_dtype(series.dtype) or isinstance(series.dtype, pd.CategoricalDtype):
        values = series.astype(object)
        types = {type(v) for v in values.dropna().tolist()}
        has_text = any(issubclass(t, str) for t in types)
        if has_text and not all(issubclass(t, str) for t in types):
            raise UserError(f"{where}: the label column {name!r} mixes text and numbers; make it one or the other.")
        if not has_text and any(issubclass(t, decimal.Decimal) for t in types):
            return as_float(values)
        return values
    if pdt.is_bool_dtype(series.dtype):
        return series.astype(object).where(series.notna(), None)  # True/False (NA kept as missing)
    return series


def one_spelling_per_label(parsed: pd.Series, written: pd.Series, where: str) -> None:
    """Refuse a label column whose parsing merged two spellings into one class: a CSV's ``01`` and ``1`` (or
    ``1.0``, ``+1``, ``1e0``) are one number to pandas, ``True`` and ``true`` one boolean. Silently one class
    is wrong either way, so the file must say which it means. Surrounding spaces are not a spelling."""
    both = pd.DataFrame({"value": parsed.astype(object), "text": written.astype(object)}).dropna()
    both["text"] = both["text"].map(lambda t: str(t).strip())
    counts = both.groupby("value", sort=True)["text"].nunique()
    merged = counts[counts > 1]
    if merged.empty:
        return
    value = merged.index[0]
    shown_value = value.item() if isinstance(value, np.generic) else value
    texts = sorted(both.loc[both["value"] == value, "text"].unique())
    shown = " and ".join(repr(t) for t in texts[:4]) + (" ..." if len(texts) > 4 else "")
    raise UserError(
        f"{where}: the label column {parsed.name!r} writes one class several ways ({shown} all read as {shown_value!r}); "
        f"{len(merged)} class(es) would merge silently. Write each class one way, or make them text (e.g. 'c01')."
    )


def onehot_width(features: pd.DataFrame, columns: list[str]) -> dict[str, int]:
    """The number of one-hot columns each categorical column would become (counted, nothing allocated)."""
    return {c: int(features[c].nunique(dropna=True)) for c in columns}


def label_array(y: pd.Series) -> np.ndarray:
    """Labels (no missing left) as the array models get: booleans as a bool array, others as pandas gives them."""
    values = y.tolist()
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=bool)
    return y.to_numpy()
