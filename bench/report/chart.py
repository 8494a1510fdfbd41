"""The primitives every interactive figure's plotly spec is made of (fonts, colours, axes, numbers for JSON):
shared by :mod:`hello_bench.report.interactive` and the section modules that draw their own spec, which import this
module and never each other."""

from __future__ import annotations

import math
from typing import Any

FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}


def rgb(rgb: tuple[float, float, float]) -> str:
    return "rgb({},{},{})".format(*(round(255 * c) for c in rgb))


def numbers(values: Any) -> list:
    """Floats for JSON: NaN and infinities become null (plotly leaves a gap)."""
    out = []
    for v in values:
        f = float(v) if v is not None else math.nan
        out.append(f if math.isfinite(f) else None)
    return out


def axis(title: str, log: bool) -> dict:
    axis: dict = {"title": {"text": title}, "automargin": True}
    if log:  # plain 1-2-5 ticks, never a row of minor digits
        ticks = [m * 10.0**e for e in range(-7, 9) for m in (1, 2, 5)]
        axis.update(type="log", tickvals=ticks, ticktext=[f"{t:,.7g}" for t in ticks], minor={"showgrid": False})
    return axis


def layout(title: str, x: str, y: str, log_x: bool = False, log_y: bool = False, **extra: Any) -> dict:
    return {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"},
        "font": FONT,
        "height": 420,
        "margin": {"l": 60, "r": 10, "t": 40, "b": 50},
        "hovermode": "closest",
        "xaxis": axis(x, log_x),
        "yaxis": axis(y, log_y),
        "plot_bgcolor": "#fbfbfd",
        **extra,
    }
