"""The report's findings: its verdicts with their uncertainty, in a few lines, read from its own tables.

Every sentence here is assembled from the typed cells of tables the report
already holds (:func:`bench.report.document.table_data`), so the findings
can never say more, or other, than the tables below them; a table that is
missing (no baseline comparison, no learning curves) gives no sentence.
"""

from __future__ import annotations

from typing import Any

from bench.report.document import Doc, slug, table_data
from bench.report.tables import fmt

CARE = "Measurements to read with care"


def tables(doc: Doc) -> dict[str, list[dict]]:
    return {b[1].name: table_data(b[1])["rows"] for b in doc.blocks if b[0] == "table" and b[1].name}


def _num(value: Any) -> float | None:
    value = value.get("value") if isinstance(value, dict) else value
    return float(value) if isinstance(value, (int, float)) else None


def _interval(value: Any, signed: bool = False, unit: str = "") -> str:
    """'+0.004 [-0.050, +0.058]' from a typed cell."""
    if not isinstance(value, dict) or value.get("value") is None:
        return "-"
    spec = "+.3f" if signed else ".3g"
    if value.get("low") is None or value.get("high") is None:
        return f"{value['value']:{spec}}{unit}"
    return f"{value['value']:{spec}}{unit} [{value['low']:{spec}}, {value['high']:{spec}}]"


def accuracy(rows: list[dict], baseline: str) -> str | None:
    if not rows:
        return None
    verdicts = [str(r.get("verdict") or "") for r in rows]
    significant = [r for r, v in zip(rows, verdicts) if v and "not significant" not in v and "identical" not in v and "constant" not in v and v != "-"]  # fmt: skip
    detectable = [d for d in (_num(r.get("detectable")) for r in rows) if d is not None]
    text = f"**Accuracy** against `{baseline}` (paired over the same splits, corrected 95% CI, Holm-adjusted): "
    if significant:
        listed = "; ".join(
            f"`{r['adapter']}` {_interval(r.get('accuracy_difference'), True)} ({r.get('verdict')})"
            for r in significant
        )
        text += f"{len(significant)} of {len(rows)} differences are significant: {listed}."
    else:
        text += f"none of the {len(rows)} differences is significant"
        text += (
            f" (a difference had to be {fmt(min(detectable))}-{fmt(max(detectable))} to be detected 80% of the time)."
            if detectable
            else "."
        )
        text += " *Not significant* means these splits cannot tell them apart, not that they are equal."
    return text


def _extremes(rows: list[dict], metric: str) -> tuple[dict, dict] | None:
    chosen = [r for r in rows if r.get("metric") == metric and _num(r.get("ratio_to_baseline")) is not None]
    if not chosen:
        return None
    chosen.sort(key=lambda r: _num(r["ratio_to_baseline"]) or 0.0)
    return chosen[0], chosen[-1]


def ratios(rows: list[dict], baseline: str) -> str | None:
    parts = []
    for metric in ("fit time", "predict p50"):
        ends = _extremes(rows, metric)
        if ends is None:
            continue
        low, high = ends
        parts.append(
            f"{metric} from {_interval(low['ratio_to_baseline'], unit='x')} (`{low['adapter']}`, {low.get('verdict')}) to "
            f"{_interval(high['ratio_to_baseline'], unit='x')} (`{high['adapter']}`, {high.get('verdict')})"
        )
    return (
        f"**Time** relative to `{baseline}` (geometric mean of per-split ratios, 95% CI): " + "; ".join(parts) + "."
        if parts
        else None
    )


def time_to_accuracy(rows: list[dict]) -> str | None:
    timed = [r for r in rows if _num(r.get("time_to_target_s_median")) is not None]
    if not timed:
        return None
    timed.sort(key=lambda r: _num(r["time_to_target_s_median"]) or 0.0)
    best, worst = timed[0], timed[-1]
    target = _num(best.get("target"))
    return (
        f"**Time to {fmt(target)} accuracy** (median over splits [IQR], censored splits counted): fastest `{best['adapter']}` "
        f"{_interval(best['time_to_target_s_median'], unit=' s')} (reached {best.get('reached')}), slowest `{worst['adapter']}` "
        f"{_interval(worst['time_to_target_s_median'], unit=' s')} (reached {worst.get('reached')})."
    )


def add(doc: Doc, baseline: str) -> None:
    """Set the doc's findings from its tables (a few lines; nothing when the tables are absent)."""
    held = tables(doc)
    items = [
        accuracy(held.get("significance", []), baseline),
        ratios(held.get("ratios", []), baseline),
        time_to_accuracy(held.get("time-to-accuracy", [])),
    ]
    if any(b[0] == "h" and b[2] == CARE for b in doc.blocks):
        items.append(f"Some timings are flagged: see [{CARE.lower()}](#{slug(CARE)}).")
    doc.findings([i for i in items if i])
