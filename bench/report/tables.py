"""Number formatting and Markdown tables (tabulate), shared by every document."""

from __future__ import annotations

import math
from typing import Any

from tabulate import tabulate


def fmt(x: Any, digits: int = 3) -> str:
    """Three significant digits; thousands with separators; '-' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.{digits}g}" if abs(x) < 1e3 else f"{x:,.0f}"
    return str(x)


def fmt_p(p: float) -> str:
    """A p-value: three decimals, '< 0.001' below, '-' when there is none."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_ci(mean: float, low: float, high: float, signed: bool = False) -> str:
    spec = "+.3f" if signed else ".3g"
    if any(v is None or math.isnan(v) for v in (low, high)):
        return f"{mean:{spec}}" if mean == mean else "-"
    return f"{mean:{spec}} [{low:{spec}}, {high:{spec}}]"


def table(rows: list[list], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
