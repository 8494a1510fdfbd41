"""Number formatting and Markdown tables (tabulate), shared by every document.

Every formatter returns a :class:`Cell`: the text a reader sees, carrying the
numbers it shows (``value``, and ``low``/``high`` for an interval) at full
precision, so the JSON output (:meth:`hello_bench.report.document.Doc.data`) gives
numbers as numbers while Markdown and HTML show the rounded text.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from tabulate import tabulate


class Cell(str):
    """Display text that remembers its numbers: ``value`` and, for an interval, ``low``, ``high`` and its ``level``
    (a confidence level such as 0.95, or ``"IQR"`` for an interquartile range; None: the column's)."""

    value: float | None
    low: float | None
    high: float | None
    level: float | str | None

    def __new__(
        cls, text: str, value: Any = None, low: Any = None, high: Any = None, level: float | str | None = None
    ) -> Cell:
        cell = super().__new__(cls, text)
        cell.value, cell.low, cell.high = _number(value), _number(low), _number(high)
        cell.level = level
        return cell

    def note(self, text: str) -> Cell:
        """The same numbers with a note after the text (``9,999 (n<100)``): the JSON keeps the number."""
        return Cell(f"{self}{text}", self.value, self.low, self.high, self.level)

    @property
    def interval(self) -> bool:
        return self.low is not None or self.high is not None


def _number(x: Any) -> float | None:
    """A finite float, or None (missing, NaN, infinite or not a number)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def fmt(x: Any, digits: int = 3) -> Cell:
    """Three significant digits; thousands with separators; '-' for missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return Cell("-")
    if isinstance(x, float):
        if math.isinf(x):
            return Cell("inf" if x > 0 else "-inf")
        return Cell(f"{x:.{digits}g}" if abs(x) < 1e3 else f"{x:,.0f}", x)
    return Cell(str(x), x if isinstance(x, numbers.Real) and not isinstance(x, bool) else None)


def fmt_p(p: float) -> Cell:
    """A p-value: three decimals, '< 0.001' below, '-' when there is none."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return Cell("-")
    return Cell("< 0.001" if p < 0.001 else f"{p:.3f}", p)


def fmt_ci(mean: float, low: float, high: float, signed: bool = False, level: float = 0.95) -> Cell:
    spec = "+.3f" if signed else ".3g"
    if any(v is None or math.isnan(v) for v in (low, high)):
        return Cell(f"{mean:{spec}}", mean) if mean == mean else Cell("-")
    return Cell(f"{mean:{spec}} [{low:{spec}}, {high:{spec}}]", mean, low, high, level)


def fmt_range(middle: float, low: float, high: float, level: float | str = "IQR") -> Cell:
    """A median with its spread, ``fmt`` style: '1.2 [0.9, 1.5]' (an interquartile range by default)."""
    if middle is None or (isinstance(middle, float) and math.isnan(middle)):
        return Cell("-")
    return Cell(f"{fmt(middle)} [{fmt(low)}, {fmt(high)}]", middle, low, high, level)


def table(rows: list[list], headers: list[str]) -> str:
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
